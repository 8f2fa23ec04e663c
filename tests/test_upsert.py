"""db.upsert() / session.upsert(): insert-or-update on the primary key or a
unique constraint, on SQLite and PostgreSQL (ON CONFLICT) and MySQL/MariaDB
(ON DUPLICATE KEY UPDATE).

Every test checks the rows with raw SQL, the objects returned (keys, values,
identity), and where the statement count is promised (one INSERT per chunk,
plus one SELECT per chunk where the backend has no RETURNING), the log."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Annotated, Optional

import pytest

from activerel import (AutoIncrement, IntegrityError, Model, PrimaryKey, QueryError, Unique,
                       ValidationError, Version, inspect)
from tests.models import Course, Enrollment, Post, Student, User


class Member(Model, table="upsert_members"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    email: Annotated[str, Unique]
    name: str = ""
    visits: int = 0
    handle: Annotated[Optional[str], Unique] = None


class Label(Model, table="upsert_labels", unique=[("owner", "name")]):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    owner: str
    name: str
    color: str = ""


class Counter(Model, table="upsert_counters"):
    name: Annotated[str, PrimaryKey]
    hits: int = 0
    version: Annotated[int, Version] = 0


MODELS = [Member, Label, Counter]


@pytest.fixture
def mdb(make_db):
    return make_db(MODELS)


def rows(db, sql):
    return [tuple(r) for r in db.execute(sql)]


def inserts(sql_log, table):
    return [s for s in sql_log.statements if s.lstrip().upper().startswith("INSERT")
            and table in s.split("(")[0]]


def selects(sql_log, table):
    return [s for s in sql_log.statements if s.lstrip().upper().startswith("SELECT") and table in s]


# -- the basic forms -------------------------------------------------------------------

def test_inserts_new_rows_and_updates_existing_ones_on_a_unique_field(mdb, sql_log):
    mdb.execute("INSERT INTO upsert_members (email, name, visits) VALUES (?, ?, ?)",
                ["ada@x.org", "Ada", 7])
    sql_log.clear()
    ada = Member(email="ada@x.org", name="Ada Lovelace", visits=1)
    bob = Member(email="bob@x.org", name="Bob", visits=2)
    out = mdb.upsert([ada, bob], on=("email",), update=("name",))
    sent = (len(inserts(sql_log, "upsert_members")), len(selects(sql_log, "upsert_members")))
    assert sent == (1, 0 if mdb.dialect.features.returning else 1)
    assert out == [ada, bob] and out[0] is ada and out[1] is bob
    # the existing row's key; its visits were not in update=, so they stay (and are read back)
    assert (ada.id, ada.name, ada.visits) == (1, "Ada Lovelace", 7)
    assert (bob.email, bob.name, bob.visits) == ("bob@x.org", "Bob", 2) and bob.id > 1
    assert inspect(ada).is_persistent and inspect(bob).is_persistent
    assert not inspect(ada).is_dirty and inspect(ada).key == 1
    assert rows(mdb, "SELECT id, email, name, visits FROM upsert_members ORDER BY email") == [
        (1, "ada@x.org", "Ada Lovelace", 7), (bob.id, "bob@x.org", "Bob", 2)]


def test_the_clause_is_the_dialects(mdb, sql_log):
    mdb.upsert([Member(email="a@x.org", name="A")], on="email", update=["name"])
    (stmt,) = inserts(sql_log, "upsert_members")
    assert mdb.dialect.upsert_clause("upsert_members", ("email",), ("name",)) in stmt
    if mdb.dialect.name == "mysql":
        assert "ON DUPLICATE KEY UPDATE" in stmt and "VALUES(" in stmt
    else:
        assert "ON CONFLICT" in stmt and "excluded." in stmt


def test_on_defaults_to_the_primary_key_and_update_to_every_other_column(mdb):
    Counter(name="home", hits=3).persist()
    out = mdb.upsert([Counter(name="home", hits=10), Counter(name="about", hits=1)])
    assert [(c.name, c.hits) for c in out] == [("home", 10), ("about", 1)]
    assert rows(mdb, "SELECT name, hits FROM upsert_counters ORDER BY name") == [
        ("about", 1), ("home", 10)]


def test_a_version_field_is_bumped_on_update_and_read_back(mdb):
    Counter(name="home", hits=3).persist()
    home, new = mdb.upsert([Counter(name="home", hits=4), Counter(name="new", hits=1)])
    assert (home.hits, home.version) == (4, 1)
    assert (new.hits, new.version) == (1, 0)
    assert rows(mdb, "SELECT name, hits, version FROM upsert_counters ORDER BY name") == [
        ("home", 4, 1), ("new", 1, 0)]
    with pytest.raises(QueryError, match="Version"):
        mdb.upsert([Counter(name="x")], update=("version",))


def test_one_object_and_the_list_returned(mdb):
    out = mdb.upsert(Member(email="solo@x.org", name="Solo"), on="email")
    assert isinstance(out, list) and len(out) == 1
    assert rows(mdb, "SELECT email, name FROM upsert_members") == [("solo@x.org", "Solo")]
    assert mdb.upsert([], on="email") == []


def test_a_composite_unique_constraint(mdb):
    Label(owner="ann", name="urgent", color="red").persist()
    out = mdb.upsert([Label(owner="ann", name="urgent", color="orange"),
                      Label(owner="bob", name="urgent", color="blue")],
                     on=("owner", "name"), update=("color",))
    assert [(x.id, x.owner, x.color) for x in out] == [(1, "ann", "orange"),
                                                       (out[1].id, "bob", "blue")]
    assert rows(mdb, "SELECT owner, name, color FROM upsert_labels ORDER BY owner") == [
        ("ann", "urgent", "orange"), ("bob", "urgent", "blue")]
    # the order of the fields does not matter, the set does
    mdb.upsert([Label(owner="ann", name="urgent", color="green")], on=("name", "owner"))
    assert rows(mdb, "SELECT color FROM upsert_labels WHERE owner = 'ann'") == [("green",)]


def test_a_primary_key_made_of_references(db):
    s = Student(name="Sam")
    c = Course(code="cs1", title="CS")
    db.persist(s, c)
    first = db.upsert([Enrollment(student=s, course=c, grade="B")])
    again = db.upsert([Enrollment(student=s, course=c, grade="A")], update=("grade",))
    assert first[0].grade == "B" and again[0].grade == "A"
    assert inspect(again[0]).key == (s.id, "cs1")
    assert rows(db, "SELECT student_id, course_id, grade FROM enrollments") == [(s.id, "cs1", "A")]


def test_the_model_in_the_shared_schema(db, sql_log):
    User(username="ada", created=datetime(2020, 5, 5)).persist()
    sql_log.clear()
    out = db.upsert([User(username="ada", created=datetime(2024, 2, 2)), User(username="bob")],
                    on="username")
    assert [(u.id, u.username, u.created) for u in out] == [
        (1, "ada", datetime(2024, 2, 2)), (out[1].id, "bob", datetime(2024, 1, 1, 12, 0))]
    stored = rows(db, "SELECT username, created FROM users ORDER BY username")
    if db.dialect.name == "sqlite":  # datetimes are ISO text there
        assert stored == [("ada", "2024-02-02 00:00:00"), ("bob", "2024-01-01 12:00:00")]
    else:
        assert stored == [("ada", datetime(2024, 2, 2)), ("bob", datetime(2024, 1, 1, 12))]


# -- the identity map --------------------------------------------------------------------

def test_an_object_already_loaded_for_the_row_is_the_one_updated_and_returned(mdb, sql_log):
    mdb.execute("INSERT INTO upsert_members (email, name, visits) VALUES (?, ?, ?)",
                ["ada@x.org", "Ada", 7])
    with mdb.session() as s:
        loaded = Member.query().filter(email="ada@x.org").find_one()
        given = Member(email="ada@x.org", name="Countess", visits=9)
        (out,) = s.upsert([given], on="email", update=("name", "visits"))
        assert out is loaded
        assert (loaded.name, loaded.visits) == ("Countess", 9) and not inspect(loaded).is_dirty
        # the object given is left as it was: new, its row is the loaded one's
        assert inspect(given).is_new and given.id == 0
        sql_log.clear()
        assert mdb.get(Member, loaded.id) is loaded
        assert sql_log.count() == 0
        loaded.visits = 10  # still tracked: flushed with the session
    assert rows(mdb, "SELECT name, visits FROM upsert_members") == [("Countess", 10)]


def test_a_new_object_takes_the_existing_rows_key_and_joins_the_identity_map(mdb, sql_log):
    mdb.execute("INSERT INTO upsert_members (email, name, visits) VALUES (?, ?, ?)",
                ["ada@x.org", "Ada", 7])
    with mdb.session():
        given = Member(email="ada@x.org", name="Ada L.")
        (out,) = mdb.upsert([given], on="email", update=("name",))
        assert out is given and given.id == 1 and given.visits == 7
        sql_log.clear()
        assert Member.get(1) is given and sql_log.count() == 0
        assert Member.query().filter(email="ada@x.org").find_one() is given
        given.name = "Ada Lovelace"
    assert rows(mdb, "SELECT id, name, visits FROM upsert_members") == [(1, "Ada Lovelace", 7)]


def test_back_references_of_upserted_objects_are_not_loaded_afterwards(db):
    u = User(username="ada")
    u.persist()
    Post(author=u, title="first").persist()
    (again,) = db.upsert([User(username="ada")], on="username")
    # its row already had posts: the empty list it was built with would be wrong
    with pytest.raises(Exception, match="posts"):
        again.posts  # noqa: B018
    with db.session():
        again = User.query().filter(username="ada").join_with("posts").find_one()
        assert [p.title for p in again.posts] == ["first"]


# -- checks, before any SQL -------------------------------------------------------------------

def test_on_must_be_the_primary_key_or_a_unique_constraint(mdb, sql_log):
    with pytest.raises(QueryError, match=r"Member\.name is not the primary key or a unique "
                                         r"constraint of Member") as e:
        mdb.upsert([Member(email="a@x.org", name="A")], on=("name",))
    assert "(id), (email), (handle)" in str(e.value)  # its unique keys are listed
    with pytest.raises(QueryError, match="Member has no column field 'nope'"):
        mdb.upsert([Member(email="a@x.org")], on="nope")
    with pytest.raises(QueryError, match="owner"):
        mdb.upsert([Label(owner="a", name="b")], on=("owner",))
    with pytest.raises(QueryError, match="primary key"):
        mdb.upsert([Member(email="a@x.org")], on="email", update=("id",))
    assert not inserts(sql_log, "upsert_members")


def test_values_are_checked_like_persist(mdb):
    with pytest.raises(ValidationError, match="generated key"):
        mdb.upsert([Member(email="a@x.org")])  # on the primary key, which is not set
    with pytest.raises(ValidationError, match="two Member objects"):
        mdb.upsert([Member(email="a@x.org"), Member(email="a@x.org")], on="email")
    with pytest.raises(ValidationError, match="one model"):
        mdb.upsert([Member(email="a@x.org"), Counter(name="c")], on="email")
    m = Member(email="b@x.org")
    m.persist()
    with pytest.raises(ValidationError, match="persistent"):
        mdb.upsert([m], on="email")
    with pytest.raises(ValidationError, match="cannot be set|must be"):
        Member(email="c@x.org", visits="many")  # the constructor checks, as always
    assert rows(mdb, "SELECT email FROM upsert_members") == [("b@x.org",)]


def test_references_must_have_rows_and_relations_are_not_written(db):
    ghost = User(username="ghost")
    with pytest.raises(ValidationError, match="persist it first"):
        db.upsert([Post(author=ghost, title="t", id=1)])
    u = User(username="ada")
    u.posts.append(Post(author=u, title="t"))
    with pytest.raises(ValidationError, match="relations"):
        db.upsert([u], on="username")
    assert rows(db, "SELECT COUNT(*) FROM users") == [(0,)]


# -- chunks, the SELECT path, failures --------------------------------------------------------

def test_many_rows_go_in_chunks_by_the_parameter_limit(mdb, sql_log, monkeypatch):
    mdb.upsert([Member(email=f"m{i}@x.org", name="old") for i in range(0, 25, 2)], on="email")
    # 4 columns per new row (email, name, visits, handle): 10 rows per statement
    monkeypatch.setattr(mdb.dialect, "features", replace(mdb.dialect.features, param_limit=40))
    sql_log.clear()
    out = mdb.upsert([Member(email=f"m{i}@x.org", name="new", visits=i) for i in range(25)],
                     on="email", update=("name",))
    sent = (len(inserts(sql_log, "upsert_members")), len(selects(sql_log, "upsert_members")))
    assert sent == (3, 0 if mdb.dialect.features.returning else 3)
    assert [m.email for m in out] == [f"m{i}@x.org" for i in range(25)]
    # existing rows keep their visits (0), new rows got theirs
    assert [m.visits for m in out] == [0 if i % 2 == 0 else i for i in range(25)]
    assert rows(mdb, "SELECT COUNT(*), MIN(name), MAX(name) FROM upsert_members") == [
        (25, "new", "new")]
    assert len({m.id for m in out}) == 25


def test_without_returning_the_keys_are_read_by_one_select_per_chunk(mdb, sql_log, monkeypatch):
    mdb.execute("INSERT INTO upsert_members (email, name, visits) VALUES (?, ?, ?)",
                ["ada@x.org", "Ada", 7])
    monkeypatch.setattr(mdb.dialect, "features",
                        replace(mdb.dialect.features, returning=False, param_limit=8))
    sql_log.clear()
    out = mdb.upsert([Member(email=e, name=e[:3]) for e in ("ada@x.org", "bob@x.org", "cy@x.org")],
                     on="email", update=("name",))
    assert len(inserts(sql_log, "upsert_members")) == 2
    assert len(selects(sql_log, "upsert_members")) == 2
    assert all("RETURNING" not in s for s in inserts(sql_log, "upsert_members"))
    assert [(m.id, m.name, m.visits) for m in out][0] == (1, "ada", 7)
    assert sorted(rows(mdb, "SELECT email, name FROM upsert_members")) == [
        ("ada@x.org", "ada"), ("bob@x.org", "bob"), ("cy@x.org", "cy@")]


def test_a_failed_upsert_leaves_the_objects_and_the_rows_as_they_were(mdb, monkeypatch):
    mdb.execute("INSERT INTO upsert_members (email, name, visits, handle) VALUES "
                "(?, ?, ?, ?), (?, ?, ?, ?)",
                ["ada@x.org", "Ada", 7, "ada", "bob@x.org", "Bob", 1, "bob"])
    monkeypatch.setattr(mdb.dialect, "features", replace(mdb.dialect.features, param_limit=4))
    with mdb.session() as s:
        loaded = Member.query().filter(email="ada@x.org").find_one()
        given = [Member(email="ada@x.org", name="changed"),   # chunk 1: fine
                 Member(email="cy@x.org", name="Cy", handle="bob")]  # chunk 2: handle taken
        with pytest.raises(IntegrityError):
            s.upsert(given, on="email", update=("name",))
        assert loaded.name == "Ada" and not inspect(loaded).is_dirty
        assert all(inspect(g).is_new and g.id == 0 for g in given)
        assert [g.name for g in given] == ["changed", "Cy"]
        assert Member.query().filter(email="ada@x.org").find_one() is loaded
    assert rows(mdb, "SELECT email, name FROM upsert_members ORDER BY email") == [
        ("ada@x.org", "Ada"), ("bob@x.org", "Bob")]


def test_inside_a_savepoint_a_failure_undoes_the_savepoint_only(mdb):
    with mdb.session() as s:
        Member(email="first@x.org").persist()
        s.flush()
        with pytest.raises(IntegrityError):
            with s.savepoint():
                s.upsert([Member(email="x@x.org", handle="h"), Member(email="y@x.org", handle="h")],
                         on="email")
    assert rows(mdb, "SELECT email FROM upsert_members") == [("first@x.org",)]


def test_objects_returned_are_tracked_like_loaded_ones(mdb):
    with mdb.session() as s:
        out = s.upsert([Member(email="a@x.org", name="A")], on="email")
        out[0].visits = 5
    assert rows(mdb, "SELECT email, visits FROM upsert_members") == [("a@x.org", 5)]



def test_an_object_with_its_own_key_matched_on_another_row_is_refused(mdb):
    """A row keeps its key: an upsert by email of an object that carries the
    key of another row fails, and nothing is written."""
    ada, bob = mdb.upsert([Member(email="ada@x", name="Ada"), Member(email="bob@x", name="Bob")],
                          on=("email",))
    with pytest.raises(IntegrityError, match="a row keeps its key|another unique key"):
        mdb.upsert([Member(id=bob.id, email="ada@x", name="Eve")], on=("email",))
    assert sorted((m.id, m.email, m.name) for m in Member.query().find()) == [
        (ada.id, "ada@x", "Ada"), (bob.id, "bob@x", "Bob")]
