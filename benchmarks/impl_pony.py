"""Pony ORM: entities with ``Set`` relations (the many-to-many one mapped onto
the ``post_tags`` table), ``db_session`` as the unit of work and identity
cache, ``prefetch()`` for eager loading.

- W1 creates the objects (the tags of a post passed to its constructor) and
  lets ``db_session`` flush them at its end; Pony sends one INSERT per row.
- W5: Pony's ``prefetch`` cannot limit a collection per parent and its
  query language has no window functions, so the closest normal way is one
  query for every published post, newest first, with its comments and their
  authors prefetched, and the first 3 of each user's kept in Python. It
  loads every published post (about half the posts, instead of at most 3
  per user) and their comments.
- W4 pages through the posts, because of a bug in Pony's many-to-many
  prefetch (see ``w4``).
- W7 is the query's ``delete(bulk=True)``: one DELETE, and the database's
  ON DELETE CASCADE does the rest (without ``bulk`` Pony loads every user,
  post and comment to delete them one by one).
- On PostgreSQL Pony needs psycopg2 (it does not support psycopg 3), so its
  figures there include a different driver from the others'.
- W9 runs each request in a ``db_session`` of its own: ``User[pk]``, the
  user's posts with ``prefetch(Post.tags)``, an assignment and a new
  ``Comment``, committed at the end of the ``db_session``.
- W10 runs its 2,000 queries in one ``db_session`` (as W8):
  ``User.get(name=...)``, ``Post.select(lambda ...)`` with ``order_by`` and
  ``limit``, ``count()`` of a selection and ``Comment.exists(lambda ...)``.
  Pony translates each lambda once and reuses the translation for new
  parameter values; its per-``db_session`` result cache does not help,
  since every query of a kind has new parameters (at N >= 500).
- W12 is Pony's aggregate in a query: ``select((u, count(u.posts)) for u
  in User)``, which Pony sends as one LEFT JOIN with GROUP BY.
- W13 orders by a path through the relation: ``order_by(lambda p:
  (p.author.name, p.id))``, one JOIN.
- W14: Pony has no upsert (no ``ON CONFLICT`` in its API). Its normal way
  is one query for the users that exist among the names, an assignment to
  those, new objects for the rest, flushed at the end of ``db_session``
  (one UPDATE or INSERT per row).
- W15: Pony has no streaming or server-side cursor: every query loads its
  whole result into the ``db_session`` cache. The normal way through a big
  table is pages by key, each in a ``db_session`` of its own so the cache
  stays small, 1,000 comments a page with ``prefetch(Comment.post)``.
- W16: Pony's query language has no recursive CTE, and its documented way
  for SQL it cannot express is ``Entity.select_by_sql``: one recursive CTE
  loads the categories of the tree into the ``db_session``, and the tree
  is built from each one's ``parent`` (already loaded: no query). Pony
  cannot mark a ``Set`` as loaded from rows loaded this way, so the
  ``children`` collections are not used; filling them would take
  ``prefetch(Category.children)``, one more query over the same rows."""
from __future__ import annotations

from typing import Any

import pony
from pony import orm
from pony.orm import PrimaryKey, Required, Set, count, db_session, desc, select

from .backend import Target
from .data import NEWEST, STREAM_BATCH, CheckFailed, Dataset

NAME = "pony"
LABEL = "Pony"

db = orm.Database()


class User(db.Entity):
    _table_ = "users"
    id = PrimaryKey(int, auto=True)
    name = Required(str, unique=True)
    age = Required(int)
    posts = Set("Post", reverse="author")
    comments_written = Set("Comment", reverse="author")


class Post(db.Entity):
    _table_ = "posts"
    id = PrimaryKey(int, auto=True)
    author = Required(User, column="author_id")
    title = Required(str)
    published = Required(bool)
    comments = Set("Comment", reverse="post")
    tags = Set("Tag", table="post_tags", column="tag_id")


class Comment(db.Entity):
    _table_ = "comments"
    id = PrimaryKey(int, auto=True)
    post = Required(Post, column="post_id")
    author = Required(User, column="author_id")
    text = Required(str)


class Tag(db.Entity):
    _table_ = "tags"
    id = PrimaryKey(int, auto=True)
    name = Required(str)
    posts = Set(Post, column="post_id")


class Category(db.Entity):
    _table_ = "categories"
    id = PrimaryKey(int, auto=True)
    parent = orm.Optional("Category", column="parent_id", reverse="children")
    name = Required(str)
    children = Set("Category", reverse="parent")


_bound = False


def available() -> None:
    return None


def versions(target: Target) -> dict[str, str]:
    out = {"Pony": pony.__version__}
    if target.kind == "postgresql":
        import psycopg2
        out["psycopg2 (Pony's driver)"] = psycopg2.__version__.split()[0]
    return out


def setup(target: Target) -> None:
    global _bound
    if _bound:
        # Pony binds a Database once per process; the run's target never changes
        return
    if target.kind == "sqlite":
        db.bind(provider="sqlite", filename=target.path)
    elif target.kind == "postgresql":
        params = target.pg_params()
        params["database"] = params.pop("dbname")
        db.bind(provider="postgres", **params)
    else:
        params = target.mysql_params()
        params["db"] = params.pop("database")
        if "password" in params:
            params["passwd"] = params.pop("password")
        db.bind(provider="mysql", **params)
    db.generate_mapping(check_tables=True, create_tables=False)
    _bound = True


def teardown() -> None:
    db.disconnect()


def w1(d: Dataset) -> None:
    with db_session:
        users = {uid: User(name=name, age=age) for uid, name, age in d.users}
        tags = {tid: Tag(name=name) for tid, name in d.tags}
        tags_of = d.tags_of
        posts = {pid: Post(author=users[author_id], title=title, published=published,
                           tags=[tags[t] for t in tags_of[pid]])
                 for pid, author_id, title, published in d.posts}
        for _, post_id, author_id, text in d.comments:
            Comment(post=posts[post_id], author=users[author_id], text=text)
    return None


def w2(d: Dataset) -> list:
    with db_session:
        users = User.select().prefetch(User.posts)[:]
        return [(u.name, u.age, [p.title for p in u.posts]) for u in users]


def w3(d: Dataset) -> list:
    with db_session:
        posts = Post.select().prefetch(Post.author)[:]
        return [(p.title, p.author.name) for p in posts]


def w4(d: Dataset) -> list:
    # Pony 0.7.20's prefetch of a many-to-many collection raises a false
    # UnrepeatableReadError ("Phantom object ... disappeared") once it needs
    # more than two batches of parents (2 x 999 on SQLite): page through the
    # posts by key, one batch at a time.
    page = db.provider.max_params_count
    out = []
    with db_session:
        last = 0
        while True:
            posts = (Post.select(lambda p: p.id > last).order_by(Post.id)
                     .prefetch(Post.tags).limit(page))
            if not posts:
                break
            out.extend((p.title, [t.name for t in p.tags]) for p in posts)
            last = posts[-1].id
    return out


def w5(d: Dataset) -> list:
    with db_session:
        users = User.select()[:]
        posts = (Post.select(lambda p: p.published).order_by(desc(Post.id))
                 .prefetch(Post.comments, Comment.author)[:])
        newest: dict[Any, list] = {}
        for p in posts:
            kept = newest.setdefault(p.author, [])
            if len(kept) < NEWEST:
                kept.append(p)
        return [(u.name, [(p.title, [(c.text, c.author.name) for c in p.comments])
                          for p in newest.get(u, ())])
                for u in users]


def w6(d: Dataset) -> int:
    edited = d.edited_post_ids
    changed = 0
    with db_session:
        for post in Post.select()[:]:
            if post.id in edited:
                post.title = d.edited_title(post.title)
                changed += 1
    return changed


def w7(d: Dataset) -> int:
    ids = d.deleted_user_ids
    with db_session:
        return User.select(lambda u: u.id in ids).delete(bulk=True)


def w8(d: Dataset) -> list:
    ids = d.lookup_ids
    with db_session:
        first = [User[pk] for pk in ids]
        second = [User[pk] for pk in ids]
        if any(a is not b for a, b in zip(first, second)):
            raise CheckFailed("Pony returned two objects for one user in one db_session")
        return [(u.id, u.name) for u in first] + [(u.id, u.name) for u in second]


def w9(d: Dataset) -> int:
    for uid, index, text in d.requests:
        with db_session:
            user = User[uid]
            posts = (Post.select(lambda p: p.author == user).order_by(Post.id)
                     .prefetch(Post.tags)[:])
            post = posts[index]
            post.title = d.request_title(post.title, [t.name for t in post.tags])
            Comment(post=post, author=user, text=text)
    return len(d.requests)


def w10(d: Dataset) -> list:
    out: list = []
    add = out.append
    with db_session:
        for name, author, counted, asked, who in d.queries:
            u = User.get(name=name)
            add((u.id, u.name, u.age))
            posts = (Post.select(lambda p: p.author.id == author and p.published)
                     .order_by(desc(Post.id)).limit(NEWEST))
            add([(p.id, p.title) for p in posts])
            add(Comment.select(lambda c: c.post.id == counted).count())
            add(Comment.exists(lambda c: c.post.id == asked and c.author.id == who))
    return out


def w12(d: Dataset) -> list:
    with db_session:
        return [(u.name, n) for u, n in select((u, count(u.posts)) for u in User)]


def w13(d: Dataset) -> list:
    with db_session:
        return [p.id for p in Post.select().order_by(lambda p: (p.author.name, p.id))]


def w14(d: Dataset) -> None:
    names = [name for name, _ in d.upserts]
    with db_session:
        existing = {u.name: u for u in User.select(lambda u: u.name in names)}
        for name, age in d.upserts:
            user = existing.get(name)
            if user is None:
                User(name=name, age=age)
            else:
                user.age = age
    return None


def w15(d: Dataset) -> list:
    out = []
    last = 0
    while True:
        with db_session:
            page = (Comment.select(lambda c: c.id > last).order_by(Comment.id)
                    .prefetch(Comment.post).limit(STREAM_BATCH))
            if not page:
                return out
            out.extend((c.text, c.post.title) for c in page)
            last = page[-1].id


_TREE = ("WITH RECURSIVE tree (id, parent_id, name) AS ("
         "SELECT id, parent_id, name FROM categories WHERE parent_id IS NULL UNION ALL "
         "SELECT c.id, c.parent_id, c.name FROM categories c JOIN tree t ON c.parent_id = t.id) "
         "SELECT id, parent_id, name FROM tree")


def w16(d: Dataset) -> list:
    with db_session:
        nodes = Category.select_by_sql(_TREE)
        children: dict[Any, list] = {}
        for node in nodes:
            children.setdefault(node.parent, []).append(node)

        def branch(c: Any) -> tuple:
            return (c.name, [branch(k) for k in children.get(c, ())])
        return [branch(root) for root in children.get(None, ())]
