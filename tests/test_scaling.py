"""The work of a flush grows linearly with the graph (issue 19): no
per-object step scans a list or grows with the graph's size. Measured by
counting Python function calls (``sys.setprofile``: every call, and every
resumption of a generator such as ``any(o is x for o in lst)``), never by
timing: persisting a graph four times as large must cost at most about
four times the calls."""
from __future__ import annotations

import sys
from typing import Annotated, Any, Callable

from activerel import AutoIncrement, BackReference, Model, PrimaryKey, Reference


class ScAuthor(Model, table="sc_authors"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str
    posts: Annotated[list["ScPost"], BackReference(mapped_by="author")]


class ScTag(Model, table="sc_tags"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    label: str
    posts: Annotated[list["ScPost"], BackReference(via="ScPostTag")]


class ScPost(Model, table="sc_posts"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    author: Reference[ScAuthor]
    title: str
    tags: Annotated[list[ScTag], BackReference(via="ScPostTag")]


class ScPostTag(Model, table="sc_post_tags"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    post: Annotated[ScPost, Reference(on_delete="CASCADE")]
    tag: Annotated[ScTag, Reference(on_delete="CASCADE")]


def _graph(n: int) -> list[ScAuthor]:
    """``n`` authors with 5 posts each; every post has 3 of 10 tags, so each
    tag's list of posts grows with ``n`` (the many-to-many walk's worst case)."""
    tags = [ScTag(label=f"t{i}") for i in range(10)]
    authors = []
    for i in range(n):
        a = ScAuthor(name=f"a{i}")
        for j in range(5):
            p = ScPost(author=a, title=f"p{i}.{j}")
            p.tags.extend(tags[(i + j + k) % 10] for k in range(3))
        authors.append(a)
    return authors


def _calls(fn: Callable[[], Any]) -> int:
    count = 0

    def profile(frame: Any, event: str, arg: Any) -> None:
        nonlocal count
        if event == "call":
            count += 1

    sys.setprofile(profile)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return count


def test_persisting_a_graph_costs_the_same_per_object_at_any_size(make_db):
    db = make_db([ScAuthor, ScTag, ScPost, ScPostTag])
    db.persist(*_graph(5))  # generated code and statements made once
    small_graph, large_graph = _graph(100), _graph(400)
    small = _calls(lambda: db.persist(*small_graph))
    large = _calls(lambda: db.persist(*large_graph))
    assert ScPostTag.query().count() == 3 * 5 * 505
    # 4x the objects: 4x the calls, with a little room for chunking
    assert large <= 4.4 * small, (small, large, large / small)


def test_deleting_loaded_children_costs_the_same_per_child_at_any_size(make_db):
    """Deleted rows leave the loaded lists that held them all at once: one
    scan and rebuild of the parent's list per deleted child was O(n²)."""
    db = make_db([ScAuthor, ScTag, ScPost, ScPostTag])

    def delete_posts(n: int) -> int:
        with db.session():
            author = ScAuthor(name=f"a{n}")
            for j in range(n):
                ScPost(author=author, title=f"p{j}")
            db.persist(author)
        with db.session() as s:
            author = ScAuthor.query().filter(ScAuthor.name == f"a{n}").join_with("posts").find_one()
            posts = list(author.posts)
            calls = _calls(lambda: (db.delete(*posts), s.flush()))
            assert author.posts == [] and author.posts.baseline == ()
        return calls

    delete_posts(5)  # generated code and statements made once
    small, large = delete_posts(200), delete_posts(800)
    assert ScPost.query().count() == 0
    assert large <= 4.4 * small, (small, large, large / small)


def test_unlinking_a_tag_from_loaded_posts_costs_the_same_per_post_at_any_size(make_db):
    """Each post that drops a tag also leaves the tag's loaded list of posts
    (the inverse side). Taken out one at a time, that scanned and rebuilt
    the tag's list of n posts n times; the walk now takes them out together."""
    db = make_db([ScAuthor, ScTag, ScPost, ScPostTag])

    def unlink(n: int) -> int:
        label = f"u{n}"
        with db.session():
            tag, author = ScTag(label=label), ScAuthor(name=label)
            for j in range(n):
                ScPost(author=author, title=f"p{j}").tags.append(tag)
            db.persist(author)
        with db.session() as s:
            tag = ScTag.query().filter(ScTag.label == label).join_with("posts").find_one()
            posts = (ScPost.query().filter(ScPost.author.name == label)
                     .join_with("tags").find())
            assert len(tag.posts) == n and all(p.tags == [tag] for p in posts)
            for p in posts:
                p.tags.remove(tag)
            calls = _calls(s.flush)
            assert tag.posts == [] and list(tag.posts.baseline) == []
        assert ScPostTag.query().filter(ScPostTag.tag.label == label).count() == 0
        fresh = ScTag.query().filter(ScTag.label == label).join_with("posts").find_one()
        assert fresh.posts == []
        return calls

    unlink(5)  # generated code and statements made once
    small, large = unlink(200), unlink(800)
    assert large <= 4.4 * small, (small, large, large / small)
