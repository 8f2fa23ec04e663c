"""A guided tour of activerel on SQLite: ``python -m activerel demo``.

This module is meant to be read. It declares a small blog schema, creates
it in an SQLite file, persists a whole object graph with a single call,
then queries, updates and deletes it. Every step prints what it did and how
many SQL statements it sent; the count comes from the ``activerel.sql``
logger, which receives one record per statement (``record.sql`` holds the
text and ``record.params`` the bound parameters).

Run by :mod:`activerel.__main__`; uses only the public API of :mod:`activerel`."""
from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Iterator, Optional

from activerel import (AutoIncrement, BackReference, Database, Field, Index, Model,
                       PrimaryKey, Reference, Unique, field)

# --------------------------------------------------------------------------
# 1. The schema. Annotations are read once, when each class is created;
#    names that are not defined yet (Post, Comment, ...) resolve lazily,
#    so the classes can refer to each other in any order.
#
#    Field[T], Reference[T] and BackReference[T] type the fields for pyright
#    and mypy (docs/typing.md): post.author is a User, Post.author an
#    expression for queries; defaults are written with field(default=...),
#    and back references get BackReference(...) as their value, so that a
#    constructor call may leave them out.
# --------------------------------------------------------------------------


class User(Model, table="demo_users"):
    id: Annotated[Field[int], PrimaryKey, AutoIncrement] = field(default=0)
    username: Annotated[Field[str], Unique]
    joined: Field[datetime] = field(default_factory=datetime.now)
    # Post has two references to User, so each back reference names its own.
    posts: BackReference[list[Post]] = BackReference(mapped_by="author")
    edited: BackReference[list[Post]] = BackReference(mapped_by="editor")
    comments: BackReference[list[Comment]] = BackReference()


class Post(Model, table="demo_posts"):
    id: Annotated[Field[int], PrimaryKey, AutoIncrement] = field(default=0)
    # Deleting a user deletes their posts ...
    author: Reference[User] = Reference(on_delete="CASCADE")
    # ... but only forgets them as the editor of someone else's post.
    editor: Reference[Optional[User]] = Reference(on_delete="SET NULL", default=None)
    title: Annotated[Field[str], Index]
    published: Field[bool] = field(default=False)
    comments: BackReference[list[Comment]] = BackReference()
    # Many-to-many through the pivot model PostTag (named: it comes later).
    tags: BackReference[list[Tag]] = BackReference(via="PostTag")


class Comment(Model, table="demo_comments"):
    id: Annotated[Field[int], PrimaryKey, AutoIncrement] = field(default=0)
    post: Reference[Post] = Reference(on_delete="CASCADE")
    author: Reference[User] = Reference(on_delete="CASCADE")
    text: Field[str] = field(default="")


class Tag(Model, table="demo_tags"):
    id: Annotated[Field[int], PrimaryKey, AutoIncrement] = field(default=0)
    name: Annotated[Field[str], Unique]
    posts: BackReference[list[Post]] = BackReference(via="PostTag")


class PostTag(Model, table="demo_post_tags"):
    """The pivot: one row per (post, tag) pair."""
    id: Annotated[Field[int], PrimaryKey, AutoIncrement] = field(default=0)
    post: Reference[Post] = Reference(on_delete="CASCADE")
    tag: Reference[Tag] = Reference(on_delete="CASCADE")


DEMO_MODELS = [User, Post, Comment, Tag, PostTag]


# --------------------------------------------------------------------------
# Counting statements: a logging handler on "activerel.sql".
# --------------------------------------------------------------------------


class StatementCounter(logging.Handler):
    """Collects the statements activerel sends, one log record each."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.statements.append(getattr(record, "sql", record.getMessage()))


@contextmanager
def step(title: str) -> Iterator[None]:
    """Print a step's title, run it, then print the statements it sent."""
    print()
    print(f"== {title}")
    logger = logging.getLogger("activerel.sql")
    counter = StatementCounter()
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(counter)
    try:
        yield
    finally:
        logger.removeHandler(counter)
        logger.setLevel(old_level)
    n = len(counter.statements)
    print(f"   -> {n} SQL statement{'' if n == 1 else 's'}")
    for sql in counter.statements:
        print(f"        {_describe(sql)}")


def _describe(sql: str) -> str:
    """A one-line summary of a statement: its verb and table, and the number
    of rows of a multi-row INSERT."""
    text = " ".join(sql.split())
    if text.upper().startswith("INSERT"):
        rows = text.count("),(") + 1
        return f"{text.split(' (')[0]} ({rows} row{'' if rows == 1 else 's'})"
    if text.upper().startswith("CREATE"):
        return text.split(" (")[0] + " (...)"
    if text.upper().startswith("SELECT") and " FROM " in text:
        columns, rest = text[len("SELECT "):].split(" FROM ", 1)
        return f"SELECT {columns if len(columns) <= 12 else '...'} FROM {rest}"
    return text if len(text) <= 72 else text[:69] + "..."


# --------------------------------------------------------------------------
# The tour.
# --------------------------------------------------------------------------


def run_demo(db_path: str = "activerel-demo.db") -> int:
    path = os.path.abspath(db_path)
    if os.path.exists(path):
        os.remove(path)  # start from an empty file every time

    print("activerel demo: a blog on SQLite")

    # -- 2. The database -----------------------------------------------------
    with step(f"Create the schema in {db_path}: db.migrate()"):
        db = Database(f"sqlite:///{path}", models=DEMO_MODELS)
        db.migrate()
        print(f"   tables: {', '.join(m.__name__ for m in DEMO_MODELS)}")

    try:
        # -- 3. An object graph, persisted with one call ---------------------
        with step("Build a graph of new objects and persist it with ONE call"):
            ada = User(username="ada")
            grace = User(username="grace")
            linus = User(username="linus")

            python, sql, orm = Tag(name="python"), Tag(name="sql"), Tag(name="orm")

            intro = Post(author=ada, title="Hello, activerel", published=True)
            intro.tags.extend([python, orm])
            joins = Post(author=grace, editor=linus, title="Joins without tears",
                         published=True)
            joins.tags.extend([sql, orm])
            kernel = Post(author=linus, editor=ada, title="Notes on a kernel")
            kernel.tags.append(python)

            comments = [
                Comment(post=intro, author=grace, text="Great start!"),
                Comment(post=intro, author=linus, text="Where are the joins?"),
                Comment(post=joins, author=ada, text="Great, very clear."),
                Comment(post=kernel, author=grace, text="Publish it!"),
            ]

            # The comments are the roots of this graph: nothing refers to
            # them, and from them the unit of work reaches every post (via
            # Comment.post), every user (via author/editor) and every tag
            # (via the Post.tags pivot collection). One call inserts it all,
            # parents before children, batched per table, in one transaction.
            db.persist(*comments)
            print(f"   generated keys written back: ada.id={ada.id}, "
                  f"intro.id={intro.id}, comments={[c.id for c in comments]}")

        # -- 4. Queries --------------------------------------------------------
        with step("Query: published posts, newest first"):
            posts = Post.query().filter(published=True).order_by("-id").find()
            for post in posts:
                # post.author is an unloaded reference: only its key is known,
                # and reading it never issues a query.
                print(f"   #{post.id} {post.title!r} by user #{post.author.id}")

        with step("Query: count comments that say 'Great'"):
            n = Comment.query().filter(Comment.text.like("Great%")).count()
            print(f"   {n} comments start with 'Great'")

        with step("Query: how many posts did ada write?"):
            n = Post.query().filter(Post.author == ada).count()
            print(f"   ada wrote {n} post(s)")

        with step("Model.get(pk): load one user by primary key"):
            user = User.get(grace.id)
            print(f"   User.get({grace.id}) -> {user.username!r}, "
                  f"joined {user.joined:%Y-%m-%d %H:%M}")

        # -- 5. An update inside a session -------------------------------------
        with step("Update a loaded object inside `with db.session():`"):
            with db.session():
                draft = Post.query().filter(title="Notes on a kernel").find_one()
                print(f"   loaded #{draft.id} {draft.title!r}, "
                      f"published={draft.published}")
                # The identity map: one row, one object. The session already
                # holds this post, so get() returns it without a query.
                same = Post.get(draft.id)
                print(f"   Post.get({draft.id}) is the very same object: {same is draft}")
                draft.title = "Notes on a kernel, revised"
                draft.published = True
                # Nothing is written yet: the session flushes the changed
                # columns (and only those) when the block exits.

        with step("Check it: reload the post"):
            post = Post.get(kernel.id)
            print(f"   #{post.id} {post.title!r}, published={post.published}")

        # -- 6. A delete with referential actions ----------------------------
        victim = User.query().filter(username="linus").find_one()
        before = _counts()
        with step("Delete user 'linus': CASCADE and SET NULL applied by the unit of work"):
            # The unit of work finds what depends on linus, set-based, before
            # the database sees the DELETE: his posts (CASCADE), their
            # comments and tag links (CASCADE), his own comments (CASCADE),
            # and the post he edits (SET NULL). All in one transaction.
            victim.delete()
        after = _counts()
        for name in before:
            print(f"   {name:<9} {before[name]} -> {after[name]}")
        with step("Post 'Joins without tears' lost its editor (SET NULL)"):
            post = Post.query().filter(title="Joins without tears").find_one()
            print(f"   editor: {post.editor}")
    finally:
        db.close()

    print()
    print(f"Done. The database is at {path}")
    return 0


def _counts() -> dict[str, int]:
    """Rows per table, measured quietly between the steps."""
    return {
        "users": User.query().count(),
        "posts": Post.query().count(),
        "comments": Comment.query().count(),
        "tags": Tag.query().count(),
        "post tags": PostTag.query().count(),
    }


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(run_demo())
