"""peewee: models with ``ForeignKeyField`` back-references, its documented
eager loading, and its object save paths. peewee has no unit of work and no
identity map, which shapes W1, W6 and W8:

- W1 creates the objects and saves them with ``Model.bulk_create`` (one
  multi-row INSERT per batch), table by table inside ``db.atomic()``: a
  foreign key takes the key of its target when the object is assigned, so
  users, tags and posts are saved before the objects that point at them are
  built. ``bulk_create`` reads the generated keys back with RETURNING
  (``returning_clause=True`` on SQLite, always on PostgreSQL); peewee's
  MySQL database has no RETURNING, so there users, tags and posts are saved
  one by one with ``save()`` (their keys are needed) and comments and pivot
  rows with ``bulk_create``.
- W2 to W5 load relations with one query per relation: peewee 4's
  ``with_related()``, or ``prefetch()`` where that measured faster on the
  backend (``_PREFETCH`` below; joining the author into the posts' SELECT
  was slower than both for W3). W5's per-user limit is
  ``Load(..., per_parent=3)``, ranked with ``ROW_NUMBER()`` in SQL.
- W6 loads every post, changes 10% and writes them with ``bulk_update`` in
  one transaction (peewee's way to flush many changed objects).
- W7 is ``User.delete().where(...)``; the database cascades (peewee opens
  SQLite with ``foreign_keys`` on).
- W8: no identity map, so each lookup is a query (``get_by_id``), both passes.
- W9 runs each request in ``db.atomic()``: ``get_by_id`` for the user, its
  posts with their pivot rows and tags through ``prefetch``, ``save()`` of
  the changed post and ``Comment.create``.
- W10 runs its 2,000 queries in one ``db.atomic()`` (as W8): ``User.get``
  by name, ``select().where().order_by().limit()``, ``.count()`` and
  ``.exists()`` of a ``select()``.
- W12 is peewee's documented aggregate of a relation: the users with
  ``fn.COUNT(Post.id)``, ``LEFT OUTER`` joined and grouped by the user.
- W13 joins the author for the ORDER BY (``Post.select().join(User)``).
- W14 is ``insert_many(...).on_conflict(conflict_target=[User.name],
  preserve=[User.age])`` (on MySQL without the target, which peewee
  refuses there: ``ON DUPLICATE KEY UPDATE``), 1,000 rows a statement, in
  ``db.atomic()``.
- W15 selects the comments with their post joined in and iterates with
  ``iterator()`` (no result cache). On PostgreSQL peewee streams through a
  server-side cursor with ``playhouse.postgres_ext.ServerSide``, which
  takes ``PostgresqlExtDatabase`` (used there for every workload) and a
  transaction; peewee has no server-side cursor on MySQL, where the driver
  buffers the whole result before the first row.
- W16 is the recursive CTE of peewee's documentation (its tree example)
  selected into ``Category`` objects, each category's ``children`` filled
  from them in Python the way peewee's own ``with_related()`` fills a back
  reference. (``with_related`` itself cannot recurse: it would take a
  ``Load(Category.children)`` chain as deep as the tree, a query per level.)"""
from __future__ import annotations

from typing import Any

import peewee
from peewee import (JOIN, BooleanField, CharField, CompositeKey, DatabaseProxy, ForeignKeyField,
                    IntegerField, Load, Model, chunked, fn, prefetch)

from .backend import Target
from .data import NEWEST, STREAM_BATCH, Dataset

NAME = "peewee"
LABEL = "peewee"

proxy = DatabaseProxy()
BATCH = 1000


class Base(Model):
    class Meta:
        database = proxy


class User(Base):
    name = CharField(unique=True)
    age = IntegerField()

    class Meta:
        table_name = "users"


class Post(Base):
    author = ForeignKeyField(User, backref="posts", on_delete="CASCADE", column_name="author_id")
    title = CharField()
    published = BooleanField()

    class Meta:
        table_name = "posts"


class Comment(Base):
    post = ForeignKeyField(Post, backref="comments", on_delete="CASCADE", column_name="post_id")
    author = ForeignKeyField(User, backref="comments_written", on_delete="CASCADE",
                             column_name="author_id")
    text = CharField()

    class Meta:
        table_name = "comments"


class Tag(Base):
    name = CharField()

    class Meta:
        table_name = "tags"


class PostTag(Base):
    post = ForeignKeyField(Post, backref="post_tags", on_delete="CASCADE", column_name="post_id")
    tag = ForeignKeyField(Tag, backref="tag_posts", on_delete="CASCADE", column_name="tag_id")

    class Meta:
        table_name = "post_tags"
        primary_key = CompositeKey("post", "tag")


class Category(Base):
    parent = ForeignKeyField("self", null=True, backref="children", on_delete="CASCADE",
                             column_name="parent_id")
    name = CharField()

    class Meta:
        table_name = "categories"


db: Any = None
_kind = "sqlite"

#: (workload, backend) where prefetch() measured faster than with_related()
_PREFETCH = {("W2", "postgresql"), ("W3", "postgresql"), ("W3", "mysql")}


def available() -> None:
    return None


def versions(target: Target) -> dict[str, str]:
    return {"peewee": peewee.__version__}


def setup(target: Target) -> None:
    global db, _kind
    _kind = target.kind
    if target.kind == "sqlite":
        db = peewee.SqliteDatabase(target.path, pragmas={"foreign_keys": 1},
                                   returning_clause=True)
    elif target.kind == "postgresql":
        from playhouse.postgres_ext import PostgresqlExtDatabase   # for ServerSide (W15)
        params = target.pg_params()
        db = PostgresqlExtDatabase(params.pop("dbname"), prefer_psycopg3=True, **params)
    else:
        params = target.mysql_params()
        db = peewee.MySQLDatabase(params.pop("database"), **params)
    proxy.initialize(db)
    db.connect()


def teardown() -> None:
    global db
    if db is not None:
        db.close()
        db = None


def _save_all(model: type, objs: list) -> None:
    if db.returning_clause:
        model.bulk_create(objs, batch_size=BATCH)
    else:
        for obj in objs:
            obj.save()


def w1(d: Dataset) -> None:
    with db.atomic():
        users = {uid: User(name=name, age=age) for uid, name, age in d.users}
        _save_all(User, list(users.values()))
        tags = {tid: Tag(name=name) for tid, name in d.tags}
        _save_all(Tag, list(tags.values()))
        posts = {pid: Post(author=users[author_id], title=title, published=published)
                 for pid, author_id, title, published in d.posts}
        _save_all(Post, list(posts.values()))
        Comment.bulk_create([Comment(post=posts[post_id], author=users[author_id], text=text)
                             for _, post_id, author_id, text in d.comments], batch_size=BATCH)
        PostTag.bulk_create([PostTag(post=posts[post_id], tag=tags[tag_id])
                             for post_id, tag_id in d.post_tags], batch_size=BATCH)
    return None


def w2(d: Dataset) -> list:
    if ("W2", _kind) in _PREFETCH:
        users = prefetch(User.select(), Post.select())
    else:
        users = User.select().with_related(User.posts)
    return [(u.name, u.age, [p.title for p in u.posts]) for u in users]


def w3(d: Dataset) -> list:
    if ("W3", _kind) in _PREFETCH:
        posts = prefetch(Post.select(), User.select())
    else:
        posts = Post.select().with_related(Post.author)
    return [(p.title, p.author.name) for p in posts]


def w4(d: Dataset) -> list:
    posts = Post.select().with_related(Load(Post.post_tags).then(PostTag.tag))
    return [(p.title, [pt.tag.name for pt in p.post_tags]) for p in posts]


def w5(d: Dataset) -> list:
    newest = Post.select().where(Post.published == True).order_by(Post.id.desc())  # noqa: E712
    users = User.select().with_related(
        Load(User.posts, newest, per_parent=NEWEST).then(Load(Post.comments).then(Comment.author)))
    return [(u.name, [(p.title, [(c.text, c.author.name) for c in p.comments]) for p in u.posts])
            for u in users]


def w6(d: Dataset) -> int:
    edited = d.edited_post_ids
    with db.atomic():
        changed = []
        for post in Post.select():
            if post.id in edited:
                post.title = d.edited_title(post.title)
                changed.append(post)
        Post.bulk_update(changed, fields=[Post.title], batch_size=BATCH)
    return len(changed)


def w7(d: Dataset) -> int:
    with db.atomic():
        return User.delete().where(User.id.in_(d.deleted_user_ids)).execute()


def w8(d: Dataset) -> list:
    ids = d.lookup_ids
    with db.atomic():
        first = [User.get_by_id(pk) for pk in ids]
        second = [User.get_by_id(pk) for pk in ids]
    return [(u.id, u.name) for u in first] + [(u.id, u.name) for u in second]


def w9(d: Dataset) -> int:
    for uid, index, text in d.requests:
        with db.atomic():
            user = User.get_by_id(uid)
            posts = prefetch(Post.select().where(Post.author == user).order_by(Post.id),
                             PostTag.select(), Tag.select())
            post = posts[index]
            post.title = d.request_title(post.title, [pt.tag.name for pt in post.post_tags])
            post.save()
            Comment.create(post=post, author=user, text=text)
    return len(d.requests)


def w10(d: Dataset) -> list:
    out: list = []
    add = out.append
    with db.atomic():
        for name, author, counted, asked, who in d.queries:
            u = User.get(User.name == name)
            add((u.id, u.name, u.age))
            posts = (Post.select()
                     .where((Post.author == author) & (Post.published == True))  # noqa: E712
                     .order_by(Post.id.desc()).limit(NEWEST))
            add([(p.id, p.title) for p in posts])
            add(Comment.select().where(Comment.post == counted).count())
            add(Comment.select().where((Comment.post == asked) & (Comment.author == who))
                .exists())
    return out


def w12(d: Dataset) -> list:
    users = (User.select(User, fn.COUNT(Post.id).alias("post_count"))
             .join(Post, JOIN.LEFT_OUTER)
             .group_by(User))
    return [(u.name, u.post_count) for u in users]


def w13(d: Dataset) -> list:
    return [p.id for p in Post.select().join(User).order_by(User.name, Post.id)]


def w14(d: Dataset) -> None:
    if _kind == "mysql":
        conflict = {"preserve": [User.age]}
    else:
        conflict = {"conflict_target": [User.name], "preserve": [User.age]}
    with db.atomic():
        for rows in chunked(d.upserts, BATCH):
            User.insert_many(rows, fields=[User.name, User.age]).on_conflict(**conflict).execute()
    return None


def w15(d: Dataset) -> list:
    query = Comment.select(Comment, Post).join(Post)
    out = []
    if _kind == "postgresql":
        from playhouse.postgres_ext import ServerSide
        with db.atomic():       # a named cursor streams inside a transaction
            for c in ServerSide(query, array_size=STREAM_BATCH):
                out.append((c.text, c.post.title))
        return out
    for c in query.iterator():
        out.append((c.text, c.post.title))
    return out


def _branch(c: Category) -> tuple:
    return (c.name, [_branch(k) for k in c.children])


def w16(d: Dataset) -> list:
    top = (Category.select(Category.id, Category.parent, Category.name)
           .where(Category.parent.is_null())
           .cte("tree", recursive=True, columns=("id", "parent_id", "name")))
    below = Category.alias()
    tree = top.union_all(below.select(below.id, below.parent, below.name)
                         .join(top, on=(below.parent == top.c.id)))
    nodes = list(Category.select(tree.c.id, tree.c.parent_id, tree.c.name)
                 .from_(tree).with_cte(tree))
    children: dict[Any, list] = {}
    for node in nodes:
        children.setdefault(node.parent_id, []).append(node)
    for node in nodes:
        node.children = children.get(node.id, [])   # as with_related() sets a back reference
    return [_branch(root) for root in children.get(None, ())]
