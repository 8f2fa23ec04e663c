"""The statement cache (issue 19): a query's SQL is rendered once per shape
and reused with new values; results stay exact, and what cannot be cached
(a list, a path, a relation filter) is rendered each time."""
from __future__ import annotations

import sys
import threading
from typing import Any

import pytest

from activerel import Database, IntegrityError, inspect
from tests import factories as f
from tests.models import ALL_MODELS, Comment, Everything, Post, User, Warehouse


def _cache(db: Database) -> dict:
    return db.dialect.statement_cache


def test_one_shape_is_rendered_once_and_reused_with_new_values(db, sql_log):
    ada, bob = f.UserFactory(username="ada"), f.UserFactory(username="bob")
    f.PostFactory(author=ada, title="a1", published=True)
    f.PostFactory(author=bob, title="b1", published=False)
    _cache(db).clear()
    assert User.query().filter(username="ada").find_one().id == ada.id
    size = len(_cache(db))
    assert size == 1
    sql_log.clear()
    assert User.query().filter(username="bob").find_one().id == bob.id
    assert len(_cache(db)) == size
    [select] = [s for s in sql_log.statements if s.startswith("SELECT")]
    [record] = [r for r in sql_log.records if r.sql == select]
    assert list(record.params) == ["bob"]
    # the same shape with other values, None, & | ~, count and exists
    q = Post.query().filter((Post.published == True) | (Post.author == bob))  # noqa: E712
    assert sorted(p.title for p in q.find()) == ["a1", "b1"]
    assert Post.query().filter((Post.published == True) | (Post.author == ada)).count() == 1  # noqa: E712
    assert Post.query().filter(Post.reviewer.is_null()).count() == 2
    assert Post.query().filter(reviewer=None).count() == 2
    assert Post.query().filter(reviewer=ada).count() == 0
    assert Post.query().filter(~(Post.title == "a1")).exists()
    assert not Post.query().filter(~(Post.title != "a1") & (Post.author == bob)).exists()


def test_what_depends_on_its_values_is_rendered_each_time(db):
    ada = f.UserFactory(username="ada")
    f.PostFactory(author=ada, title="a1")
    _cache(db).clear()
    assert Post.query().filter(Post.id.in_([1, 2, 3])).count() == 1
    assert Post.query().filter(Post.author.username == "ada").count() == 1
    assert User.query().filter(User.posts.some(Post.title == "a1")).count() == 1
    assert len(_cache(db)) == 0


def test_relation_loads_reuse_their_statement_with_new_keys(db, sql_log):
    ada, bob = f.UserFactory(username="ada"), f.UserFactory(username="bob")
    for title in ("a1", "a2"):
        f.PostFactory(author=ada, title=title)
    f.PostFactory(author=bob, title="b1")
    _cache(db).clear()
    [u] = User.query().filter(username="ada").join_with("posts").find()
    size = len(_cache(db))
    assert sorted(p.title for p in u.posts) == ["a1", "a2"]
    sql_log.clear()
    [u] = User.query().filter(username="bob").join_with("posts").find()
    assert [p.title for p in u.posts] == ["b1"]
    assert len(_cache(db)) == size  # the root and the posts' SELECT, both reused
    posts_select = [r for r in sql_log.records if r.sql.startswith(("SELECT", "WITH"))][-1]
    # keyed by bob's key, or (one statement for both) the users' branch and
    # the posts' key set, or (reads batched) by the query's own condition
    features = db.dialect.features
    assert list(posts_select.params) == (["bob", "bob"] if features.union_reads else
                                         ["bob"] if features.batch_reads else [bob.id])


# --------------------------------------------------------------------------
# patch_many and delete_many


def _writes(sql_log) -> list:
    return [r for r in sql_log.records if r.sql.startswith(("UPDATE", "DELETE"))]


def test_patch_many_renders_once_per_shape_and_updates_rows_and_loaded_objects(db, sql_log):
    ada, bob = f.UserFactory(username="ada"), f.UserFactory(username="bob")
    for author, title in ((ada, "a1"), (ada, "a2"), (bob, "b1"), (bob, "b2")):
        f.PostFactory(author=author, title=title)
    _cache(db).clear()
    assert Post.query().filter(Post.author == ada).patch_many(published=True, title="x") == 2
    assert len(_cache(db)) == 1
    sql_log.clear()
    assert Post.query().filter(Post.author == bob).patch_many(published=True, title="y") == 2
    assert len(_cache(db)) == 1
    [update] = _writes(sql_log)
    assert update.sql in _cache(db).values()
    assert list(update.params) == [True, "y", bob.id]  # the SET values, then the WHERE values
    assert db.execute('SELECT title, published FROM "posts" ORDER BY id') == [
        ("x", True), ("x", True), ("y", True), ("y", True)]
    # loaded objects take the new values; an unsaved change is kept
    with db.session():
        posts = Post.query().order_by("id").find()
        size = len(_cache(db))
        # with objects loaded, the rows' keys are selected first: one more shape
        assert Post.query().filter(Post.author == ada).patch_many(published=False, title="z") == 2
        assert len(_cache(db)) == size + 1
        size += 1
        assert [(p.title, p.published) for p in posts] == [
            ("z", False), ("z", False), ("y", True), ("y", True)]
        assert not any(inspect(p).is_dirty for p in posts)
        posts[2].title = "mine"  # flushed before the UPDATE, which then overwrites it
        assert Post.query().filter(Post.author == bob).patch_many(published=False, title="w") == 2
        assert len(_cache(db)) == size
        assert [(p.title, p.published) for p in posts] == [
            ("z", False), ("z", False), ("w", False), ("w", False)]
        assert not any(inspect(p).is_dirty for p in posts)
    assert db.execute('SELECT title, published FROM "posts" ORDER BY id') == [
        ("z", False), ("z", False), ("w", False), ("w", False)]
    # other fields set: another shape
    assert Post.query().filter(Post.author == bob).patch_many(title="b") == 2
    assert len(_cache(db)) == size + 1
    assert db.execute('SELECT title FROM "posts" ORDER BY id') == [("z",), ("z",), ("b",), ("b",)]


def test_patch_many_with_computed_values_renders_once_per_expression_shape(db, sql_log):
    for s, i in (("a", 1), ("b", 10), ("c", 100), ("d", 1000)):
        Everything(s=s, i=i).persist()
    _cache(db).clear()
    assert Everything.query().filter(Everything.s == "a").patch_many(i=Everything.i * 2 + 1) == 1
    assert len(_cache(db)) == 1
    sql_log.clear()
    assert Everything.query().filter(Everything.s == "b").patch_many(i=Everything.i * 3 + 5) == 1
    assert len(_cache(db)) == 1
    [update] = _writes(sql_log)
    assert list(update.params) == [3, 5, "b"]
    # the same field computed another way: its own statement
    assert Everything.query().filter(Everything.s == "c").patch_many(i=7 - Everything.i) == 1
    assert Everything.query().filter(Everything.s == "d").patch_many(i=Everything.i - 7) == 1
    assert len(_cache(db)) == 3
    assert db.execute('SELECT s, i FROM "everything" ORDER BY id') == [
        ("a", 3), ("b", 35), ("c", -93), ("d", 993)]


def _blog_of_four() -> list:
    """u0..u3; u<i> wrote "by u<i>", reviewed by u<i+1>, and the comment
    "on u<i>" on their post is by u<i+2> (mod 4)."""
    users = [f.UserFactory(username=f"u{i}") for i in range(4)]
    posts = [f.PostFactory(author=users[i], title=f"by u{i}", reviewer=users[(i + 1) % 4])
             for i in range(4)]
    for i in range(4):
        f.CommentFactory(post=posts[i], author=users[(i + 2) % 4], text=f"on u{i}")
    return users


def test_delete_many_renders_once_per_shape_with_its_referential_actions(db, sql_log):
    u = _blog_of_four()
    _cache(db).clear()
    assert User.query().filter(username="u0").delete_many() == 1
    size = len(_cache(db))
    assert size > 0
    assert db.execute('SELECT username FROM "users" ORDER BY id') == [("u1",), ("u2",), ("u3",)]
    assert db.execute('SELECT title, reviewer_id FROM "posts" ORDER BY id') == [
        ("by u1", u[2].id), ("by u2", u[3].id), ("by u3", None)]
    assert db.execute('SELECT text FROM "comments" ORDER BY id') == [("on u1",), ("on u3",)]
    sql_log.clear()
    assert User.query().filter(username="u1").delete_many() == 1
    assert len(_cache(db)) == size
    writes = _writes(sql_log)
    assert writes and all(r.sql in _cache(db).values() for r in writes)
    assert list(writes[-1].params) == ["u1"]  # DELETE FROM users WHERE username = ?, last
    assert db.execute('SELECT username FROM "users" ORDER BY id') == [("u2",), ("u3",)]
    assert db.execute('SELECT title, reviewer_id FROM "posts" ORDER BY id') == [
        ("by u2", u[3].id), ("by u3", None)]
    assert db.execute('SELECT text FROM "comments"') == []
    # nothing matches: nothing deleted, no new statement
    assert User.query().filter(username="nobody").delete_many() == 0
    assert len(_cache(db)) == size
    # loaded objects are marked deleted and lose their reference, as before
    with db.session():
        posts = Post.query().order_by("id").find()
        assert User.query().filter(username="u3").delete_many() == 1
        assert [inspect(p).is_deleted for p in posts] == [False, True]
        assert posts[0].reviewer is None and not inspect(posts[0]).is_dirty
    assert db.execute('SELECT username FROM "users"') == [("u2",)]
    assert db.execute('SELECT title, reviewer_id FROM "posts"') == [("by u2", None)]


def test_delete_many_refusals_and_set_default_reuse_their_statements(db):
    w0, w1, w2, w3 = (f.WarehouseFactory(name=f"w{i}") for i in range(4))
    f.ItemFactory(name="i0", warehouse=w0, archive=w1)
    f.ItemFactory(name="i1", warehouse=w2, overflow=w2)
    f.ItemFactory(name="i2", warehouse=w2, archive=w3)
    items = 'SELECT name, warehouse_id, overflow_id, archive_id FROM "items" ORDER BY id'
    _cache(db).clear()
    with pytest.raises(IntegrityError, match="Item row"):
        Warehouse.query().filter(name="w2").delete_many()
    size = len(_cache(db))
    with pytest.raises(IntegrityError, match="Item row"):
        Warehouse.query().filter(name="w0").delete_many()
    assert len(_cache(db)) == size
    assert Warehouse.query().filter(name="w1").delete_many() == 1
    size = len(_cache(db))
    assert db.execute(items) == [
        ("i0", w0.id, None, None), ("i1", w2.id, w2.id, None), ("i2", w2.id, None, w3.id)]
    assert Warehouse.query().filter(name="w3").delete_many() == 1
    assert len(_cache(db)) == size
    assert db.execute('SELECT name FROM "warehouses" ORDER BY id') == [("w0",), ("w2",)]
    assert db.execute(items) == [
        ("i0", w0.id, None, None), ("i1", w2.id, w2.id, None), ("i2", w2.id, None, None)]


# --------------------------------------------------------------------------
# a changed shape never reuses another shape's statement


def test_a_changed_shape_gets_its_own_statement(db):
    ada, bob, cyd = (f.UserFactory(username=n) for n in ("ada", "bob", "cyd"))
    a1 = f.PostFactory(author=ada, title="a1", published=True, reviewer=bob)
    a2 = f.PostFactory(author=ada, title="a2", published=False)
    b1 = f.PostFactory(author=bob, title="b1", published=True)
    c1 = f.PostFactory(author=cyd, title="c1", published=False, reviewer=ada)
    _cache(db).clear()
    P = Post.query

    def titles(q) -> list[str]:
        return [p.title for p in q.order_by("id").find()]

    # == / !=, an added condition, & / |, None / a value, ~
    assert titles(P().filter(Post.author == ada)) == ["a1", "a2"]
    assert titles(P().filter(Post.author != ada)) == ["b1", "c1"]
    assert titles(P().filter(Post.author == bob)) == ["b1"]
    published = Post.published == True  # noqa: E712
    assert titles(P().filter(Post.author == ada).filter(Post.published == False)) == [  # noqa: E712
        "a2"]
    assert titles(P().filter((Post.author == ada) & published)) == ["a1"]
    assert titles(P().filter((Post.author == ada) | published)) == ["a1", "a2", "b1"]
    assert titles(P().filter(Post.reviewer.is_null())) == ["a2", "b1"]
    assert titles(P().filter(Post.reviewer == bob)) == ["a1"]
    assert titles(P().filter(Post.reviewer == None)) == ["a2", "b1"]  # noqa: E711
    assert titles(P().filter(Post.reviewer.is_not_null())) == ["a1", "c1"]
    assert titles(P().filter(Post.reviewer != ada)) == ["a1"]
    assert titles(P().filter(~(Post.title == "a1"))) == ["a2", "b1", "c1"]
    # order, paging
    by_ada = P().filter(Post.author == ada)
    assert [p.title for p in by_ada.order_by("title").find()] == ["a1", "a2"]
    assert [p.title for p in by_ada.order_by("-title").find()] == ["a2", "a1"]
    assert [p.title for p in by_ada.order_by("title").limit(1).find()] == ["a1"]
    assert [p.title for p in by_ada.order_by("-title").limit(1).find()] == ["a2"]
    assert [p.title for p in by_ada.order_by("title").limit(1).skip(1).find()] == ["a2"]
    assert by_ada.order_by("-title").first().title == "a2"
    assert by_ada.order_by("title").first().title == "a1"
    # count, exists, find_one
    assert P().filter(Post.reviewer.is_null()).count() == 2
    assert P().filter(Post.reviewer == ada).count() == 1
    assert P().filter(Post.reviewer == cyd).count() == 0
    assert P().filter(Post.reviewer.is_null(), Post.author == bob).count() == 1
    assert P().filter(Post.reviewer.is_null()).exists()
    assert not P().filter(Post.reviewer == cyd).exists()
    assert P().filter(Post.reviewer == ada).find_one().id == c1.id
    assert P().filter(Post.reviewer.is_not_null(), Post.author == ada).find_one().id == a1.id

    # patch_many
    def patched(cond) -> tuple[int, list[str]]:
        P().patch_many(published=False)
        n = P().filter(cond).patch_many(published=True)
        rows = db.execute('SELECT title, published FROM "posts" ORDER BY id')
        return n, [t for t, published in rows if published]

    assert patched(Post.author == ada) == (2, ["a1", "a2"])
    assert patched(Post.author != ada) == (2, ["b1", "c1"])
    assert patched(Post.author == cyd) == (1, ["c1"])
    assert patched((Post.author == ada) & (Post.title == "a2")) == (1, ["a2"])
    assert patched((Post.author == ada) | (Post.title == "b1")) == (3, ["a1", "a2", "b1"])
    assert patched(Post.reviewer.is_null()) == (2, ["a2", "b1"])
    assert patched(Post.reviewer == bob) == (1, ["a1"])
    assert patched(Post.reviewer.is_not_null()) == (2, ["a1", "c1"])
    assert patched(~(Post.title == "a1")) == (3, ["a2", "b1", "c1"])
    assert patched(Post.title == "a1") == (1, ["a1"])

    # delete_many
    for text, post, author in (("c0", a1, ada), ("c1", a1, bob), ("c2", b1, ada),
                               ("c3", b1, cyd), ("c4", c1, bob), ("c5", c1, cyd)):
        f.CommentFactory(post=post, author=author, text=text)

    def deleted(cond) -> tuple[int, list[str]]:
        n = Comment.query().filter(cond).delete_many()
        return n, [t for (t,) in db.execute('SELECT text FROM "comments" ORDER BY id')]

    assert deleted(Comment.text == "c0") == (1, ["c1", "c2", "c3", "c4", "c5"])
    assert deleted(Comment.text == "c1") == (1, ["c2", "c3", "c4", "c5"])
    assert deleted((Comment.author == ada) | (Comment.text == "c5")) == (2, ["c3", "c4"])
    assert deleted((Comment.author == bob) & (Comment.text == "c3")) == (0, ["c3", "c4"])
    assert deleted(Comment.text != "c3") == (1, ["c3"])

    def deleted_posts(cond) -> tuple[int, list[str]]:
        n = P().filter(cond).delete_many()
        return n, [t for (t,) in db.execute('SELECT title FROM "posts" ORDER BY id')]

    assert deleted_posts(Post.reviewer == bob) == (1, ["a2", "b1", "c1"])
    assert deleted_posts(Post.reviewer.is_null()) == (2, ["c1"])
    assert db.execute('SELECT text FROM "comments"') == []  # c3 went with b1
    assert deleted_posts(Post.reviewer != None) == (1, [])  # noqa: E711
    assert a2.id  # every post was made


# --------------------------------------------------------------------------
# threads racing on first render


THREADS = 8
ROUNDS = 12


@pytest.fixture
def tdb(backend: str, db: Database, tmp_path: Any) -> Any:
    """The shared models for threads: on SQLite in a file (the in-memory
    database's shared cache locks tables without waiting a busy timeout)."""
    if backend != "sqlite":
        yield db
        return
    database = Database(f"sqlite:///{tmp_path / 'cache.db'}?timeout=30", models=ALL_MODELS)
    database.migrate()
    yield database
    database.close()


def test_threads_share_the_cache_and_every_result_is_exact(tdb, backend):
    n = THREADS
    users = [User(username=f"u{i}") for i in range(n)]
    for i, user in enumerate(users):
        for k in range(3):
            # the middle post of an even user is reviewed by the next user
            reviewer = users[(i + 1) % n] if k == 1 and i % 2 == 0 else None
            Post(author=user, title=f"u{i}-p{k}", published=k == 0, reviewer=reviewer)
    tdb.persist(*users)
    for i in range(n):
        Everything(s=f"e{i}", i=0).persist()
    ids = [u.id for u in users]
    write = backend == "sqlite"  # SQLite: one writer at a time, its lock taken up front
    errors: list[BaseException] = []
    start = threading.Barrier(n)

    def work(t: int) -> None:
        try:
            start.wait()
            for r in range(ROUNDS):
                j = (t + r) % n
                with tdb.session():
                    found = Post.query().filter(Post.author == ids[j]).order_by("title").find()
                    assert [p.title for p in found] == [f"u{j}-p0", f"u{j}-p1", f"u{j}-p2"]
                    published = Post.published == True  # noqa: E712
                    assert Post.query().filter((Post.author == ids[j]) & published).count() == 1
                    assert Post.query().filter(Post.reviewer == ids[j]).exists() == (j % 2 == 1)
                    assert Post.query().filter(Post.reviewer == ids[j]).count() == (j % 2)
                    assert User.query().filter(User.username == f"u{j}").find_one().id == ids[j]
                    [loaded] = User.query().filter(User.username == f"u{(j + 1) % n}").join_with(
                        "posts").find()
                    assert sorted(p.title for p in loaded.posts) == [
                        f"u{(j + 1) % n}-p{k}" for k in range(3)]
                    assert User.get(ids[(j + 2) % n]).username == f"u{(j + 2) % n}"
                with tdb.session(write=write):
                    mine = Everything.query().filter(Everything.s == f"e{t}")
                    assert mine.patch_many(i=Everything.i + 1) == 1
                    assert mine.patch_many(maybe=f"{t}-{r}") == 1
        except BaseException as exc:  # noqa: B036 - collected for the assertion
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    _cache(tdb).clear()
    try:
        threads = [threading.Thread(target=work, args=(t,)) for t in range(n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []
    assert tdb.execute('SELECT s, i, maybe FROM "everything" ORDER BY id') == [
        (f"e{t}", ROUNDS, f"{t}-{ROUNDS - 1}") for t in range(n)]
    # every shape was stored once: one more round adds no statement
    size = len(_cache(tdb))
    assert size > 0
    start = threading.Barrier(1)
    work(0)
    assert errors == []
    assert len(_cache(tdb)) == size
