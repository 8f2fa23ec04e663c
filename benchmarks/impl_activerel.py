"""activerel, through its public API only: models declared with Annotated
markers, ``persist`` of the object graph, ``join_with`` / ``use_join_with``
for relations, ``with db.session()`` as the unit of work.

The workloads of issue 17 use its query features: ``with_count("posts")``
(W12), a path through a reference in ``order_by("author.name")`` (W13),
``db.upsert(..., on=("name",), update=("age",))`` (W14),
``join_with("post").iterate(batch_size=1000)`` (W15) and the recursive
path ``join_with("children*")`` (W16).

W9 runs each request in ``with db.session(write=True):``, as docs/web.md
asks of a request that writes (``@db.per_request(write=True)``): the user
by ``User.get``, its posts with ``join_with("tags")``, an assignment and a
new comment's ``persist()``, committed when the session ends. W10 runs its
2,000 queries in one ``with db.session():`` (as W8), each built from
``Model.query()`` with ``filter`` and ended by ``find_one``, ``find``,
``count`` or ``exists``."""
from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any, Optional

from activerel import AutoIncrement, BackReference, Database, Model, PrimaryKey, Reference, Unique

from .backend import Target
from .data import NEWEST, STREAM_BATCH, CheckFailed, Dataset

NAME = "activerel"
LABEL = "activerel"


class User(Model, table="users"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: Annotated[str, Unique]
    age: int
    posts: BackReference[list["Post"]]


class Post(Model, table="posts"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    author: Annotated[User, Reference(on_delete="CASCADE")]
    title: str
    published: bool = False
    comments: BackReference[list["Comment"]]
    tags: Annotated[list["Tag"], BackReference(via="PostTag")]


class Comment(Model, table="comments"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    post: Annotated[Post, Reference(on_delete="CASCADE")]
    author: Annotated[User, Reference(on_delete="CASCADE")]
    text: str


class Tag(Model, table="tags"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str


class PostTag(Model, table="post_tags"):
    post: Annotated[Post, PrimaryKey, Reference(on_delete="CASCADE")]
    tag: Annotated[Tag, PrimaryKey, Reference(on_delete="CASCADE")]


class Category(Model, table="categories"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str
    parent: Annotated[Optional["Category"], Reference(on_delete="CASCADE")] = None
    children: Annotated[list["Category"], BackReference(mapped_by="parent")]


MODELS = [User, Post, Comment, Tag, PostTag, Category]

db: Optional[Database] = None


def available() -> None:
    return None


def versions(target: Target) -> dict[str, str]:
    import activerel
    return {"activerel": activerel.__version__}


def setup(target: Target) -> None:
    global db
    if target.kind == "postgresql":
        url = target.url_with("postgresql",
                              query=f"options=-csearch_path%3D{target.namespace}")
    elif target.kind == "mysql":
        url = target.url_with("mysql", database=target.namespace)
    else:
        url = target.url_with("sqlite")
    db = Database(url, models=MODELS)
    if target.no_returning:
        db.execute("SELECT 1")  # the dialect reads what the server offers on connecting
        db.dialect.features = replace(db.dialect.features, returning=False)
        db.dialect.consecutive_ids = False


def teardown() -> None:
    global db
    if db is not None:
        db.close()
        db = None


def w1(d: Dataset) -> int:
    users = {uid: User(name=name, age=age) for uid, name, age in d.users}
    tags = {tid: Tag(name=name) for tid, name in d.tags}
    posts = {}
    for pid, author_id, title, published in d.posts:
        posts[pid] = Post(author=users[author_id], title=title, published=published)
    for post_id, tag_id in d.post_tags:
        posts[post_id].tags.append(tags[tag_id])
    comments = [Comment(post=posts[post_id], author=users[author_id], text=text)
                for _, post_id, author_id, text in d.comments]
    with db.session():
        db.persist(*users.values(), *tags.values(), *posts.values(), *comments)
    return None


def w2(d: Dataset) -> list:
    users = User.query().join_with("posts").find()
    return [(u.name, u.age, [p.title for p in u.posts]) for u in users]


def w3(d: Dataset) -> list:
    posts = Post.query().join_with("author").find()
    return [(p.title, p.author.name) for p in posts]


def w4(d: Dataset) -> list:
    posts = Post.query().join_with("tags").find()
    return [(p.title, [t.name for t in p.tags]) for p in posts]


def w5(d: Dataset) -> list:
    users = (User.query()
             .use_join_with("posts")
                 .filter(Post.published == True)  # noqa: E712 - a column expression
                 .order_by("-id")
                 .limit(NEWEST)
                 .join_with("comments.author")
             .end()
             .find())
    return [(u.name, [(p.title, [(c.text, c.author.name) for c in p.comments]) for p in u.posts])
            for u in users]


def w6(d: Dataset) -> int:
    edited = d.edited_post_ids
    changed = 0
    with db.session():
        for post in Post.query().find():
            if post.id in edited:
                post.title = d.edited_title(post.title)
                changed += 1
    return changed


def w7(d: Dataset) -> Any:
    return User.query().filter(User.id.in_(d.deleted_user_ids)).delete_many()


def w8(d: Dataset) -> list:
    ids = d.lookup_ids
    with db.session():
        first = [User.get(pk) for pk in ids]
        second = [User.get(pk) for pk in ids]
        if any(a is not b for a, b in zip(first, second)):
            raise CheckFailed("activerel returned two objects for one user in one session")
        return [(u.id, u.name) for u in first] + [(u.id, u.name) for u in second]


def w9(d: Dataset) -> int:
    for uid, index, text in d.requests:
        with db.session(write=True):
            user = User.get(uid)
            posts = Post.query().filter(Post.author == user).order_by("id").join_with("tags").find()
            post = posts[index]
            post.title = d.request_title(post.title, [t.name for t in post.tags])
            Comment(post=post, author=user, text=text).persist()
    return len(d.requests)


def w10(d: Dataset) -> list:
    out: list = []
    add = out.append
    with db.session():
        for name, author, counted, asked, who in d.queries:
            u = User.query().filter(User.name == name).find_one()
            add((u.id, u.name, u.age))
            posts = (Post.query()
                     .filter(Post.author == author, Post.published == True)  # noqa: E712
                     .order_by("-id").limit(NEWEST).find())
            add([(p.id, p.title) for p in posts])
            add(Comment.query().filter(Comment.post == counted).count())
            add(Comment.query().filter(Comment.post == asked, Comment.author == who).exists())
    return out


def w12(d: Dataset) -> list:
    users = User.query().with_count("posts").find()
    return [(u.name, u.posts_count) for u in users]    # <relation>_count: docs/aggregates.md


def w13(d: Dataset) -> list:
    return [p.id for p in Post.query().order_by("author.name", "id").find()]


def w14(d: Dataset) -> None:
    db.upsert([User(name=name, age=age) for name, age in d.upserts], on=("name",),
              update=("age",))
    return None


def w15(d: Dataset) -> list:
    out = []
    for c in Comment.query().join_with("post").iterate(batch_size=STREAM_BATCH):
        out.append((c.text, c.post.title))
    return out


def _branch(c: Category) -> tuple:
    return (c.name, [_branch(k) for k in c.children])


def w16(d: Dataset) -> list:
    roots = Category.query().filter(Category.parent.is_(None)).join_with("children*").find()
    return [_branch(root) for root in roots]
