"""Joined relations read in the query's own round trip. Where the backend
reads relations in the query's own statement (MySQL and MariaDB;
PostgreSQL with one relation), an unpaged lookup and its relations'
SELECTs are the branches of one UNION ALL. Where it batches reads (PostgreSQL's pipeline mode), each
joined back reference's SELECT of the other queries an index serves goes
with the query's, naming its parents by the query itself as a subquery,
with one marker row per parent it saw. Elsewhere the relations follow,
keyed by the parents just read. All must load exactly the same objects,
and a parent that changes between two statements must still get its own
rows, whole."""
from __future__ import annotations

import enum
from datetime import date, datetime, time
from decimal import Decimal
from typing import Annotated, Optional
from uuid import UUID

import pytest

from activerel import (ActiverelError, AutoIncrement, BackReference, Index, Model, PrimaryKey,
                       Reference, field)
from activerel.session import Session
from tests.models import Course, Enrollment, Post, Student, User
from tests.test_relations import blog  # noqa: F401 - the same users, posts, groups and comments


def _one_statement(db, relations: int) -> bool:
    """Whether the backend reads an unpaged lookup with ``relations`` joined
    relations in one statement (PostgreSQL: with one relation only)."""
    f = db.dialect.features
    return f.union_reads and (f.union_relations is None or relations <= f.union_relations)


def _view(users) -> list:
    return [(u.username, [(p.title, [c.text for c in p.comments]) for p in u.posts],
             [g.name for g in u.groups],
             u.credentials.password if u.credentials is not None else None) for u in users]


def _read_ahead(sql_log) -> list[str]:
    """The tables of the relations read in their query's round trip (their
    SELECT names the parents by the query's own, in a WITH)."""
    return [r.sql.split(" FROM ")[-1].split()[0].strip('"`')
            for r in sql_log.records if r.sql.startswith("WITH")]


def test_a_filtered_paged_query_and_its_relations(blog, db, sql_log):
    sql_log.clear()
    q = (User.query().filter(User.username.in_(["ada", "cyd", "dan"])).join_with("posts.comments")
         .join_with("groups").join_with("credentials"))
    assert _view(q.order_by("-username").find()) == [
        ("dan", [], [], None),
        ("cyd", [], ["readers"], None),
        ("ada", [("a1", ["nice", "meh", "thanks"]), ("a2", []), ("a3", ["ok"])],
         ["admins", "editors"], "pw-ada")]
    assert _view(q.order_by("username").skip(1).limit(1).find()) == [
        ("cyd", [], ["readers"], None)]
    assert _view([q.order_by("username").find_one()]) == [
        ("ada", [("a1", ["nice", "meh", "thanks"]), ("a2", []), ("a3", ["ok"])],
         ["admins", "editors"], "pw-ada")]
    assert q.filter(User.username == "zed").find() == []
    # an index finds the users: their posts, groups and credentials go with
    # them (the comments wait for the posts' keys): in the users' own
    # statement where the backend reads three relations so (paged ones too
    # where it does not batch reads), else in their round trip where it does
    one, batched = _one_statement(db, 3), db.dialect.features.batch_reads
    unions = [r for r in sql_log.records if r.sql.startswith("SELECT") and " UNION ALL " in r.sql]
    assert len(unions) == (0 if not one else 2 if batched else 4)
    assert len(_read_ahead(sql_log)) == (0 if not batched else 6 if one else 12)


def test_a_query_no_index_serves_waits_for_its_keys(blog, db, sql_log):
    sql_log.clear()
    users = User.query().filter(User.username != "bob").join_with("posts").order_by("id").find()
    assert [(u.username, [p.title for p in u.posts]) for u in users] == [
        ("ada", ["a1", "a2", "a3"]), ("cyd", []), ("dan", [])]
    # its SELECT would be run again for the posts: they are read by its keys
    assert _read_ahead(sql_log) == []
    posts = [r for r in sql_log.records if "posts" in r.sql.split(" FROM ")[-1]]
    assert [list(r.params) for r in posts] == [[1, 3, 4]]


def test_shaped_joins_and_a_correlated_condition(blog, db):
    users = (User.query().filter(User.id.in_([1, 2, 3]),
                                 User.posts.some(Post.published == True))  # noqa: E712
             .use_join_with("posts").filter(Post.title != "a1").order_by("-title").limit(1).end()
             .use_join_with("groups").order_by("-name").end()
             .order_by("id").find())
    assert [(u.username, [p.title for p in u.posts], [g.name for g in u.groups])
            for u in users] == [("ada", ["a3"], ["editors", "admins"]),
                                ("bob", ["b2"], ["editors"])]


def test_the_same_statement_with_other_values(blog, db):
    def posts_of(name: str) -> list[str]:
        [u] = User.query().filter(User.username == name).join_with("posts").find()
        return [p.title for p in u.posts]

    assert [posts_of(n) for n in ("ada", "bob", "cyd", "ada")] == [
        ["a1", "a2", "a3"], ["b1", "b2"], [], ["a1", "a2", "a3"]]


def _between_the_statements(monkeypatch, change) -> None:
    """Run ``change()`` (in the session's own transaction) right after the
    query's SELECT, before the relations' SELECTs, however they are sent: a
    commit of another transaction lands there on a server whose statements
    each see the latest commit."""
    fetch = Session.fetch
    done: list[bool] = []

    def fetch_then_change(self, sql, params=()):
        rows = fetch(self, sql, params)
        if not done:
            done.append(True)
            change()
        return rows

    monkeypatch.setattr(Session, "fetch", fetch_then_change)
    monkeypatch.setattr(Session, "fetch_batch", lambda self, statements: [
        fetch_then_change(self, sql, params) for sql, params in statements])


def test_parents_that_change_between_the_statements_keep_their_own_rows(blog, db, monkeypatch):
    def rename() -> None:
        # bob and cyd leave the query's condition; ada joins it
        db.execute("UPDATE users SET username = 'bob0' WHERE username = 'bob'")
        db.execute("UPDATE users SET username = 'cyd0' WHERE username = 'cyd'")
        db.execute("UPDATE users SET username = 'bob' WHERE username = 'ada'")

    with db.session() as s:
        _between_the_statements(monkeypatch, rename)
        # (paged: where reads are batched, in the pipeline, with marker rows)
        users = (User.query().filter(User.username.in_(["bob", "cyd"]))
                 .join_with("posts").join_with("groups").order_by("id").limit(10).find())
        monkeypatch.undo()
        # the objects are as the query's SELECT read them, each with its own rows
        assert [(u.id, u.username, [p.title for p in u.posts], [g.name for g in u.groups])
                for u in users] == [(2, "bob", ["b1", "b2"], ["editors"]),
                                    (3, "cyd", [], ["readers"])]
        # ada (now named bob) was not part of the result: nothing of hers was kept
        assert sorted(p.title for p in s.identity.objects() if isinstance(p, Post)) == ["b1", "b2"]
        # the lists are whole: changing one writes exactly the change
        bob = users[0]
        bob.groups = []
        s.flush()
        assert db.execute("SELECT user_id, group_id FROM user_groups ORDER BY user_id, group_id") == [
            (1, 1), (1, 2), (3, 3)]
        s.rollback()


def test_a_commit_between_the_pipelined_statements(backend, blog, db, monkeypatch):
    """PostgreSQL: a real second connection commits after the pipeline's
    first statement ran and before its second, which sees that commit."""
    if not db.dialect.features.batch_reads:
        pytest.skip(f"{backend} sends a query's relations after its rows (no batched reads)")
    other = db.engine.acquire()  # a pooled connection of its own, autocommitting
    batch = type(db.dialect).fetch_batch

    def split(self, conn, cursor, statements, begin):
        first = batch(self, conn, cursor, statements[:1], begin)
        other.execute("UPDATE users SET username = 'gone' WHERE username = 'bob'")
        other.execute("INSERT INTO posts (author_id, title, published) VALUES (2, 'b3', false)")
        return first + batch(self, conn, cursor, statements[1:], False)

    try:
        monkeypatch.setattr(type(db.dialect), "fetch_batch", split)
        with db.session():
            # (paged: an unpaged lookup would be one statement, not a pipeline)
            users = User.query().filter(User.username.in_(["ada", "bob"])).join_with("posts") \
                .order_by("id").limit(10).find()
            monkeypatch.undo()
            # bob's posts were read again by his key, at the later commit: b3 is there
            assert [(u.username, [p.title for p in u.posts]) for u in users] == [
                ("ada", ["a1", "a2", "a3"]), ("bob", ["b1", "b2", "b3"])]
    finally:
        db.engine.release(other)


def test_a_relation_read_ahead_that_fails_rolls_back_and_the_connection_goes_on(backend, blog,
                                                                                db):
    """PostgreSQL: a real lock held by another connection makes the posts'
    statement of the pipeline time out after the users' ran: the error is
    raised, the session's transaction rolled back, and the next session on
    that connection reads normally."""
    if not db.dialect.features.batch_reads:
        pytest.skip(f"{backend} sends a query's relations after its rows (no batched reads)")
    other = db.engine.acquire()
    other.execute("BEGIN")
    other.execute("LOCK TABLE posts IN ACCESS EXCLUSIVE MODE")
    # (paged: an unpaged lookup would be one statement, not a pipeline)
    query = User.query().filter(User.username.in_(["ada"])).join_with("posts").limit(10)
    try:
        with pytest.raises(ActiverelError, match="lock timeout"):
            with db.session():
                db.execute("SET LOCAL lock_timeout = '100ms'")
                query.find()
    finally:
        other.execute("ROLLBACK")
        db.engine.release(other)
    [ada] = query.find()
    assert [p.title for p in ada.posts] == ["a1", "a2", "a3"]


def test_a_lookup_with_a_path_condition_and_a_path_order(blog, db, sql_log):
    sql_log.clear()
    posts = (Post.query().filter(Post.id.in_([1, 2, 3, 4, 5]), Post.author.username != "bob")
             .order_by("-author.username", "-id").join_with("comments").limit(2).find())
    assert [(p.title, [c.text for c in p.comments]) for p in posts] == [
        ("a3", ["ok"]), ("a2", [])]
    assert len(_read_ahead(sql_log)) == (1 if db.dialect.features.batch_reads else 0)


# -- one statement for a query and its relations (MySQL, MariaDB) ---------------------------

def _selects(sql_log) -> list[str]:
    return [r.sql for r in sql_log.records if r.sql.startswith(("SELECT", "WITH"))]


def test_one_statement_reads_a_lookup_and_its_relations(blog, db, sql_log):
    """A query an index serves, unpaged: its posts (whose comments follow,
    keyed by the posts), groups (through the pivot) and credentials (one to
    one) come in its own statement where the backend reads relations so."""
    sql_log.clear()
    users = (User.query().filter(User.username.in_(["ada", "bob", "cyd", "dan"]))
             .join_with("posts.comments").join_with("groups").join_with("credentials")
             .order_by("-username").find())
    assert _view(users) == [
        ("dan", [], [], None),
        ("cyd", [], ["readers"], None),
        ("bob", [("b1", ["great"]), ("b2", [])], ["editors"], "pw-bob"),
        ("ada", [("a1", ["nice", "meh", "thanks"]), ("a2", []), ("a3", ["ok"])],
         ["admins", "editors"], "pw-ada")]
    selects = _selects(sql_log)
    if _one_statement(db, 3):
        # the users with their posts, groups and credentials; then the posts' comments
        assert len(selects) == 2 and selects[0].count(" UNION ALL ") == 3
        assert "UNION" not in selects[1] and "comments" in selects[1].split(" FROM ")[1]
    else:  # the users, one SELECT per relation (in one pipeline where reads are batched)
        assert len(selects) == 5


def test_one_statement_keeps_each_order_and_parents_without_rows(blog, db, sql_log):
    sql_log.clear()
    users = (User.query().filter(User.id.in_([4, 1, 2]))
             .use_join_with("posts").order_by("-title").end()
             .use_join_with("groups").order_by("-name").end()
             .order_by("-id").find())
    assert [(u.username, [p.title for p in u.posts], [g.name for g in u.groups])
            for u in users] == [("dan", [], []),
                                ("bob", ["b2", "b1"], ["editors"]),
                                ("ada", ["a3", "a2", "a1"], ["editors", "admins"])]
    assert len(_selects(sql_log)) == (1 if _one_statement(db, 2) else 3)


def test_one_statement_orders_by_columns_it_does_not_return(blog, db, sql_log):
    """Users ordered by a column the query does not load, their posts by
    one the join does not load: each branch of the statement numbers its
    rows in its own order (ROW_NUMBER()), since the UNION cannot order by
    columns it does not return."""
    sql_log.clear()
    users = (User.query().select("username").filter(User.id.in_([1, 2, 3]))
             .use_join_with("posts").select("title").order_by("-published", "-id").end()
             .order_by("-created", "id").find())
    assert [(u.username, [p.title for p in u.posts]) for u in users] == [
        ("ada", ["a3", "a1", "a2"]), ("bob", ["b1", "b2"]), ("cyd", [])]
    if _one_statement(db, 1):
        [statement] = _selects(sql_log)
        assert statement.count("ROW_NUMBER()") == 2 and statement.count(" UNION ALL ") == 1


def test_queries_one_statement_cannot_serve_read_their_relations_after(blog, db, sql_log):
    """Filtered per parent, or found by no index: the relations are read by
    the keys of the rows, as everywhere, with the same results."""
    sql_log.clear()
    published = (User.query().filter(User.id.in_([1, 2]))
                 .use_join_with("posts").filter(Post.published == True).end()  # noqa: E712
                 .order_by("id"))
    assert [(u.username, [p.title for p in u.posts]) for u in published.find()] == [
        ("ada", ["a1", "a3"]), ("bob", ["b1"])]
    scan = User.query().filter(User.username != "ada").join_with("posts").order_by("id")
    assert [(u.username, [p.title for p in u.posts]) for u in scan.find()] == [
        ("bob", ["b1", "b2"]), ("cyd", []), ("dan", [])]
    if not db.dialect.features.batch_reads:
        selects = _selects(sql_log)
        assert len(selects) == 4 and not [sql for sql in selects if "UNION" in sql]


def test_paged_lookups_and_their_relations(blog, db, sql_log):
    """limit(), skip() (skip(0) too), first() and find_one(): where reads
    are not batched but the backend reads relations in the query's own
    statement (MySQL), the statement's first branch reads the page from a
    derived table with its own ORDER BY and LIMIT, and the relations' key
    set reads the same page through a derived table (MySQL takes no LIMIT in
    an IN subquery itself); where reads are batched, the pipeline serves
    them."""
    base = User.query().filter(User.id.in_([1, 2, 3, 4])).join_with("posts").join_with("groups")

    def view(users) -> list:
        return [(u.username, [p.title for p in u.posts], [g.name for g in u.groups])
                for u in users]

    ada = ("ada", ["a1", "a2", "a3"], ["admins", "editors"])
    bob, cyd = ("bob", ["b1", "b2"], ["editors"]), ("cyd", [], ["readers"])
    sql_log.clear()
    assert view(base.order_by("id").limit(2).find()) == [ada, bob]
    assert view(base.order_by("id").skip(1).limit(2).find()) == [bob, cyd]
    assert view(base.order_by("-username").skip(2).find()) == [bob, ada]
    assert view(base.order_by("id").skip(0).find()) == [ada, bob, cyd, ("dan", [], [])]
    assert view([base.order_by("-id").skip(1).first()]) == [cyd]
    assert view([base.filter(User.username == "bob").find_one()]) == [bob]
    assert base.order_by("id").limit(0).find() == []
    # a page by a column the query does not return: each branch numbered
    assert [u.username for u in base.select("username").order_by("-created", "-id").limit(2)
            .find()] == ["dan", "cyd"]
    features = db.dialect.features
    if features.union_reads and not features.batch_reads:
        unions = [sql for sql in _selects(sql_log) if " UNION ALL " in sql]
        assert len(unions) == 7 and len(_selects(sql_log)) == 8  # limit(0): the users only
        # the page: a derived table the first branch reads (every statement
        # still begins with SELECT, as statement counters expect)
        assert "LIMIT 2)" in unions[0].split(" UNION ALL ")[0]
    elif not features.batch_reads:
        assert len(_selects(sql_log)) == 3 * 6 + 1 + 3  # limit(0): the users' SELECT only


def test_a_filtered_join_beside_one_statement_leaves_no_cache_entry_per_query(blog, db):
    """The filtered join is read after the statement, by the users' keys;
    its conditions (new objects each time) key nothing in the statement
    cache, so asking many times does not grow it."""
    cache = db.dialect.statement_cache

    def ask(uid: int) -> list:
        users = (User.query().filter(User.id == uid)
                 .use_join_with("posts").filter(Post.published == True).end()  # noqa: E712
                 .join_with("groups").find())
        return [(u.username, [p.title for p in u.posts], [g.name for g in u.groups])
                for u in users]

    assert ask(1) == [("ada", ["a1", "a3"], ["admins", "editors"])]
    size = len(cache)
    assert [ask(uid) for uid in (2, 3, 1)] == [[("bob", ["b1"], ["editors"])],
                                               [("cyd", [], ["readers"])],
                                               [("ada", ["a1", "a3"], ["admins", "editors"])]]
    assert len(cache) == size


def test_a_lookup_with_a_join_one_statement_cannot_take(blog, db, sql_log):
    """The groups go in the users' statement, the filtered posts after it,
    by the users' keys; where reads are batched, the pipeline takes both in
    the users' round trip instead (a UNION would cost the filtered one a
    round trip of its own)."""
    sql_log.clear()
    users = (User.query().filter(User.id.in_([1, 2])).join_with("groups")
             .use_join_with("posts").filter(Post.published == True).end()  # noqa: E712
             .order_by("id").find())
    assert [(u.username, [g.name for g in u.groups], [p.title for p in u.posts])
            for u in users] == [("ada", ["admins", "editors"], ["a1", "a3"]),
                                ("bob", ["editors"], ["b1"])]
    unions = [sql for sql in _selects(sql_log) if " UNION ALL " in sql and sql.startswith("SELECT")]
    if db.dialect.features.batch_reads:
        assert unions == []  # the groups' and the posts' SELECTs both in the users' pipeline
    elif db.dialect.features.union_reads:
        assert len(unions) == 1 and "groups" in unions[0]


def test_a_lookup_whose_parameters_would_pass_the_limit_in_one_statement(blog, db, sql_log):
    """Each branch repeats the query's parameters: where twice as many would
    pass the dialect's limit, the relation is read by its own statement."""
    names = ["ada", "bob"] + [f"nobody-{i}" for i in range(40_000)]
    query = User.query().filter(User.username.in_(names)).join_with("posts").order_by("id")
    sql_log.clear()
    assert [(u.username, [p.title for p in u.posts]) for u in query.find()] == [
        ("ada", ["a1", "a2", "a3"]), ("bob", ["b1", "b2"])]
    too_many = 2 * len(query.sql().params) > db.dialect.features.param_limit
    unions = [sql for sql in _selects(sql_log) if " UNION ALL " in sql and sql.startswith("SELECT")]
    assert len(unions) == (1 if _one_statement(db, 1) and not too_many else 0)


def test_ordering_by_part_of_a_composite_key_is_completed_by_the_rest(db):
    """The primary key completes every order, so pages are stable and the
    rows a statement's branches pick agree: ordering by one field of a
    composite key adds the others (it used to add none)."""
    ada, bob = Student(name="ada"), Student(name="bob")
    courses = {c: Course(code=c) for c in ("c3", "c1", "c2")}
    db.persist(ada, bob, *courses.values(),
               *(Enrollment(student=s, course=courses[c]) for s in (bob, ada)
                 for c in ("c2", "c3", "c1")))
    by_student = Enrollment.query().join_with("student").join_with("course").order_by("student")
    assert [(e.student.name, e.course.code) for e in by_student.find()] == [
        ("ada", "c1"), ("ada", "c2"), ("ada", "c3"), ("bob", "c1"), ("bob", "c2"), ("bob", "c3")]
    assert [(e.student.name, e.course.code) for e in by_student.skip(2).limit(2).find()] == [
        ("ada", "c3"), ("bob", "c1")]
    assert [(e.student.name, e.course.code)
            for e in Enrollment.query().join_with("student").join_with("course")
            .order_by("-course").find()] == [
        ("ada", "c3"), ("bob", "c3"), ("ada", "c2"), ("bob", "c2"), ("ada", "c1"), ("bob", "c1")]


class UnionShelf(Model, table="union_shelves"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    label: Annotated[str, Index] = ""
    pieces: Annotated[list["UnionPiece"], BackReference(mapped_by="shelf")]
    spares: Annotated[list["UnionPiece"], BackReference(mapped_by="spare_of")]


class Shade(enum.Enum):
    DARK = "dark"
    LIGHT = "light"


class UnionPiece(Model, table="union_pieces"):
    """A column of every type, read through a relation."""
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    shelf: Reference[Optional[UnionShelf]] = None
    spare_of: Reference[Optional[UnionShelf]] = None
    i: int = 0
    f: float = 0.0
    b: bool = False
    s: str = ""
    raw: bytes = b""
    dec: Decimal = Decimal("0")
    dt: datetime = datetime(2000, 1, 1)
    d: date = date(2000, 1, 1)
    t: time = time(0, 0)
    uid: Optional[UUID] = None
    shade: Shade = Shade.DARK
    data: dict = field(default_factory=dict)
    maybe: Optional[str] = None


def _fields(piece: UnionPiece) -> tuple:
    return tuple((n, type(v), v) for n, v in piece.to_dict().items())


def test_every_column_type_comes_back_the_same_through_a_relation(make_db, sql_log):
    db = make_db([UnionShelf, UnionPiece])
    top, empty = UnionShelf(label="top"), UnionShelf(label="empty")
    db.persist(top, empty,
               UnionPiece(shelf=top, i=-7, f=2.5, b=True, s="ü ' \\ %s", raw=b"\x00\xff",
                          dec=Decimal("12.50"), dt=datetime(2024, 2, 29, 23, 59, 58, 123456),
                          d=date(1999, 12, 31), t=time(7, 8, 9, 10),
                          uid=UUID("12345678-1234-5678-1234-567812345678"), shade=Shade.LIGHT,
                          data={"k": [1, None, "x"]}, maybe="set"),
               UnionPiece(shelf=top))
    with db.session():
        alone = sorted((_fields(p) for p in UnionPiece.query().find()), key=lambda f: f[0][2])
    sql_log.clear()
    with db.session():
        shelves = (UnionShelf.query().filter(UnionShelf.label.in_(["top", "empty"]))
                   .join_with("pieces").order_by("label").find())
        assert [s.label for s in shelves] == ["empty", "top"]
        assert shelves[0].pieces == []
        assert [_fields(p) for p in shelves[1].pieces] == alone
    # the pieces' columns third, behind the spares' branch: NULL in both
    # branches before them (MySQL takes a column's type from any branch)
    with db.session():
        shelves = (UnionShelf.query().filter(UnionShelf.label.in_(["top", "empty"]))
                   .join_with("spares").join_with("pieces").order_by("label").find())
        assert [(s.label, s.spares) for s in shelves] == [("empty", []), ("top", [])]
        assert [_fields(p) for p in shelves[1].pieces] == alone
    # one relation, then two: one statement each, or the shelves' and one per relation
    assert len(_selects(sql_log)) == ((1 if _one_statement(db, 1) else 2)
                                      + (1 if _one_statement(db, 2) else 3))
