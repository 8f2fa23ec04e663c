"""SQLAlchemy 2.x ORM: declarative models with ``Mapped[]``, one ``Session``
per workload, ``add_all`` + ``commit`` for writes, and for each relation
the faster of ``selectinload`` and ``joinedload`` as measured on each backend
at N = 2,000 (``_LOADER`` below; see docs/benchmarks.md).

- W5 uses the documented "row-limited relationship with window functions"
  pattern: a view-only relationship to an aliased ``Post`` over a
  ``ROW_NUMBER()`` subquery, so the per-user limit runs in SQL.
- W7 is an ORM-enabled bulk ``delete(User).where(...)``; the database's
  ON DELETE CASCADE removes posts, comments and pivot rows
  (``passive_deletes=True`` on the relationships). On SQLite, foreign keys
  are switched on for every connection with the ``connect`` event, as
  SQLAlchemy's documentation shows.
- W8 uses ``Session.get``, served from the identity map the second time.
- W9 opens a ``Session`` per request: ``Session.get`` for the user, its
  posts with ``selectinload(Post.tags)``, an assignment, ``add`` of the new
  comment, ``commit``.
- W10 runs its 2,000 statements in one ``Session`` (as W8): ``select(User)``
  by name, ``select(Post)`` with ``order_by`` and ``limit``,
  ``select(func.count())`` and ``select(exists().where(...))``, each a new
  statement object built with the round's parameters.
- W12 selects each user with its count from a grouped subquery joined to
  the users (``select(User, count)``), the form SQLAlchemy's documentation
  gives for an entity with an aggregate of a relation.
- W13 joins the author for the ORDER BY (``select(Post).join(Post.author)``).
- W14 is the dialect's upsert construct (``insert(User).values([...])``
  with ``on_conflict_do_update``, ``on_duplicate_key_update`` on MySQL),
  executed through the session: the documented "ORM upsert".
- W15 streams with ``yield_per`` (a server-side cursor on PostgreSQL and
  MySQL), the post joined in (``joinedload``; ``yield_per`` takes no
  eager loader of collections, and the post is a many-to-one).
- W16 loads the tree with one recursive CTE from the root, mapped onto
  ``Category`` with ``aliased``, and fills each category's ``children``
  collection from the loaded rows with ``set_committed_value`` (the hook
  the documentation gives for loading schemes of one's own). The
  alternative, ``selectinload(Category.children, recursion_depth=...)``,
  sends a query per level and is "alpha" in SQLAlchemy 2.x."""
from __future__ import annotations

from typing import Any, Optional

import sqlalchemy
from sqlalchemy import (Boolean, Column, ForeignKey, String, Table, and_, create_engine, delete,
                        event, exists, func, select)
from sqlalchemy.orm import (DeclarativeBase, Mapped, Session, aliased, joinedload,
                            mapped_column, relationship, selectinload)
from sqlalchemy.orm.attributes import set_committed_value

from .backend import Target
from .data import NEWEST, STREAM_BATCH, CheckFailed, Dataset

NAME = "sqlalchemy"
LABEL = "SQLAlchemy"


class Base(DeclarativeBase):
    pass


post_tags = Table(
    "post_tags", Base.metadata,
    Column("post_id", ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    age: Mapped[int]
    posts: Mapped[list["Post"]] = relationship(back_populates="author", passive_deletes=True,
                                               cascade="all, delete-orphan")


class Post(Base):
    __tablename__ = "posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(255))
    published: Mapped[bool] = mapped_column(Boolean)
    author: Mapped[User] = relationship(back_populates="posts")
    comments: Mapped[list["Comment"]] = relationship(back_populates="post", passive_deletes=True,
                                                     cascade="all, delete-orphan")
    tags: Mapped[list["Tag"]] = relationship(secondary=post_tags, passive_deletes=True)


class Comment(Base):
    __tablename__ = "comments"
    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(String(255))
    post: Mapped[Post] = relationship(back_populates="comments")
    author: Mapped[User] = relationship()


class Tag(Base):
    __tablename__ = "tags"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))


class Category(Base):
    __tablename__ = "categories"
    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("categories.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    parent: Mapped[Optional["Category"]] = relationship(back_populates="children",
                                                        remote_side="Category.id")
    children: Mapped[list["Category"]] = relationship(back_populates="parent",
                                                      passive_deletes=True)


# W5: each user's NEWEST newest published posts, ranked in SQL
_ranked = (select(Post, func.row_number()
                  .over(partition_by=Post.author_id, order_by=Post.id.desc()).label("rn"))
           .where(Post.published == True)  # noqa: E712 - a column expression
           .subquery())
NewestPost = aliased(Post, _ranked)
User.newest_published = relationship(
    NewestPost,
    primaryjoin=and_(NewestPost.author_id == User.id, _ranked.c.rn <= NEWEST),
    order_by=NewestPost.id.desc(),
    viewonly=True,
)

engine: Any = None
_kind = "sqlite"

#: (workload, backend) -> the faster loader there, where it is not the default
#: (W2: selectinload, W3/W4: joinedload, W5 comment authors: selectinload)
_LOADER = {("W2", "postgresql"): joinedload, ("W5", "postgresql"): joinedload}


def _loader(workload: str, default: Any) -> Any:
    return _LOADER.get((workload, _kind), default)


def available() -> None:
    return None


def versions(target: Target) -> dict[str, str]:
    out = {"SQLAlchemy": sqlalchemy.__version__}
    return out


def setup(target: Target) -> None:
    global engine, _kind
    _kind = target.kind
    if target.kind == "sqlite":
        engine = create_engine(target.url_with("sqlite+pysqlite"))

        @event.listens_for(engine, "connect")
        def _fk_on(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.execute("PRAGMA foreign_keys = ON")
    elif target.kind == "postgresql":
        engine = create_engine(target.url_with("postgresql+psycopg"),
                               connect_args={"options": f"-c search_path={target.namespace}"})
    else:
        engine = create_engine(target.url_with("mysql+mysqldb", database=target.namespace,
                                               query="charset=utf8mb4"))
        if target.no_returning:
            with engine.connect():  # the dialect reads what the server offers on connecting
                pass
            engine.dialect.insert_returning = False
            engine.dialect.insert_executemany_returning = False
            engine.dialect.insert_executemany_returning_sort_by_parameter_order = False


def teardown() -> None:
    global engine
    if engine is not None:
        engine.dispose()
        engine = None


def w1(d: Dataset) -> Optional[int]:
    users = {uid: User(name=name, age=age) for uid, name, age in d.users}
    tags = {tid: Tag(name=name) for tid, name in d.tags}
    posts = {}
    for pid, author_id, title, published in d.posts:
        posts[pid] = Post(author=users[author_id], title=title, published=published)
    for post_id, tag_id in d.post_tags:
        posts[post_id].tags.append(tags[tag_id])
    comments = [Comment(post=posts[post_id], author=users[author_id], text=text)
                for _, post_id, author_id, text in d.comments]
    with Session(engine) as session:
        session.add_all(users.values())
        session.add_all(tags.values())
        session.add_all(posts.values())
        session.add_all(comments)
        session.commit()
    return None


def w2(d: Dataset) -> list:
    with Session(engine) as session:
        users = session.scalars(
            select(User).options(_loader("W2", selectinload)(User.posts))).unique().all()
        return [(u.name, u.age, [p.title for p in u.posts]) for u in users]


def w3(d: Dataset) -> list:
    with Session(engine) as session:
        posts = session.scalars(select(Post).options(_loader("W3", joinedload)(Post.author))).all()
        return [(p.title, p.author.name) for p in posts]


def w4(d: Dataset) -> list:
    with Session(engine) as session:
        posts = session.scalars(
            select(Post).options(_loader("W4", joinedload)(Post.tags))).unique().all()
        return [(p.title, [t.name for t in p.tags]) for p in posts]


def w5(d: Dataset) -> list:
    with Session(engine) as session:
        users = session.scalars(
            select(User).options(
                selectinload(User.newest_published)
                .selectinload(NewestPost.comments)
                .options(_loader("W5", selectinload)(Comment.author)))).all()
        return [(u.name, [(p.title, [(c.text, c.author.name) for c in p.comments])
                          for p in u.newest_published])
                for u in users]


def w6(d: Dataset) -> int:
    edited = d.edited_post_ids
    changed = 0
    with Session(engine) as session:
        for post in session.scalars(select(Post)):
            if post.id in edited:
                post.title = d.edited_title(post.title)
                changed += 1
        session.commit()
    return changed


def w7(d: Dataset) -> int:
    with Session(engine) as session:
        result = session.execute(delete(User).where(User.id.in_(d.deleted_user_ids)))
        session.commit()
        return result.rowcount


def w8(d: Dataset) -> list:
    ids = d.lookup_ids
    with Session(engine) as session:
        first = [session.get(User, pk) for pk in ids]
        second = [session.get(User, pk) for pk in ids]
        if any(a is not b for a, b in zip(first, second)):
            raise CheckFailed("SQLAlchemy returned two objects for one user in one session")
        return [(u.id, u.name) for u in first] + [(u.id, u.name) for u in second]


def w9(d: Dataset) -> int:
    for uid, index, text in d.requests:
        with Session(engine) as session:
            user = session.get(User, uid)
            posts = session.scalars(select(Post).where(Post.author_id == user.id)
                                    .order_by(Post.id).options(selectinload(Post.tags))).all()
            post = posts[index]
            post.title = d.request_title(post.title, [t.name for t in post.tags])
            session.add(Comment(post=post, author=user, text=text))
            session.commit()
    return len(d.requests)


def w10(d: Dataset) -> list:
    out: list = []
    add = out.append
    with Session(engine) as session:
        for name, author, counted, asked, who in d.queries:
            u = session.scalars(select(User).where(User.name == name)).one()
            add((u.id, u.name, u.age))
            posts = session.scalars(
                select(Post).where(Post.author_id == author, Post.published == True)  # noqa: E712
                .order_by(Post.id.desc()).limit(NEWEST)).all()
            add([(p.id, p.title) for p in posts])
            add(session.scalar(select(func.count()).select_from(Comment)
                               .where(Comment.post_id == counted)))
            add(session.scalar(select(exists().where(Comment.post_id == asked,
                                                     Comment.author_id == who))))
    return out


# W12: the number of posts of each author, grouped once and joined to the users
_post_counts = (select(Post.author_id, func.count(Post.id).label("posts"))
                .group_by(Post.author_id).subquery())


def w12(d: Dataset) -> list:
    with Session(engine) as session:
        rows = session.execute(
            select(User, func.coalesce(_post_counts.c.posts, 0))
            .outerjoin(_post_counts, _post_counts.c.author_id == User.id))
        return [(u.name, count) for u, count in rows]


def w13(d: Dataset) -> list:
    with Session(engine) as session:
        posts = session.scalars(select(Post).join(Post.author).order_by(User.name, Post.id))
        return [p.id for p in posts]


def w14(d: Dataset) -> None:
    rows = [{"name": name, "age": age} for name, age in d.upserts]
    if _kind == "mysql":
        from sqlalchemy.dialects.mysql import insert as mysql_insert
        stmt = mysql_insert(User).values(rows)
        stmt = stmt.on_duplicate_key_update(age=stmt.inserted.age)
    else:
        if _kind == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        stmt = insert(User).values(rows)
        stmt = stmt.on_conflict_do_update(index_elements=[User.name],
                                          set_={"age": stmt.excluded.age})
    with Session(engine) as session:
        session.execute(stmt)
        session.commit()
    return None


def w15(d: Dataset) -> list:
    out = []
    with Session(engine) as session:
        comments = session.scalars(select(Comment).options(joinedload(Comment.post))
                                   .execution_options(yield_per=STREAM_BATCH))
        for c in comments:
            out.append((c.text, c.post.title))
    return out


# W16: the subtree under the root categories, one recursive CTE
_top = select(Category).where(Category.parent_id.is_(None)).cte("tree", recursive=True)
_tree = _top.union_all(select(Category).join(_top, Category.parent_id == _top.c.id))
TreeNode = aliased(Category, _tree)


def _branch(c: Category) -> tuple:
    return (c.name, [_branch(k) for k in c.children])


def w16(d: Dataset) -> list:
    with Session(engine) as session:
        nodes = session.scalars(select(TreeNode)).all()
        children: dict[Optional[int], list] = {}
        for node in nodes:
            children.setdefault(node.parent_id, []).append(node)
        for node in nodes:
            set_committed_value(node, "children", children.get(node.id, []))
        return [_branch(root) for root in children.get(None, ())]
