"""The Database object: URLs, the default binding, raw ``execute``,
transactions, driver errors, statement logging and ``echo``, and bad input to
its entry points."""
from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

import activerel
from activerel import (ActiverelError, Database, IntegrityError, NotFound,
                       ValidationError)
from tests import factories as f
from tests.support import count
from tests.backends import tables
from tests.models import ALL_MODELS, Enrollment, Everything, Post, User

ROOT = Path(__file__).resolve().parent.parent






def driver_error(database, integrity: bool = False) -> type:
    """The driver's (integrity) error class for ``database``'s backend."""
    error, integrity_error = database.dialect.driver_errors()
    return integrity_error if integrity else error


# --------------------------------------------------------------------------
# URLs


def test_memory_url_gives_an_independent_database_each_time():
    first = Database("sqlite://", models=ALL_MODELS)
    other = Database("sqlite://", models=ALL_MODELS)
    try:
        first.migrate()
        assert tables(other) == set()
        other.migrate()
        other.persist(User(username="only-in-other"))
        assert count(other, "users") == 1
        assert count(first, "users") == 0
    finally:
        other.close()
        first.close()


def test_file_url_persists_across_databases(tmp_path):
    path = tmp_path / "app.db"
    url = f"sqlite:///{path}"
    first = Database(url, models=ALL_MODELS)
    first.migrate()
    u = f.UserFactory(username="durable")
    first.close()
    assert path.is_file()

    con = sqlite3.connect(path)
    try:
        assert con.execute('SELECT id, username FROM "users"').fetchall() == [(u.id, "durable")]
    finally:
        con.close()

    second = Database(url, models=ALL_MODELS)
    try:
        second.migrate()                       # nothing to do, data kept
        assert User.get(u.id).username == "durable"
    finally:
        second.close()


def test_relative_file_url(tmp_path, monkeypatch):
    name = f"activerel-rel-{uuid.uuid4().hex}.db"
    monkeypatch.chdir(tmp_path)
    database = Database(f"sqlite:///{name}", models=[Everything])
    try:
        database.migrate()
        assert (tmp_path / name).is_file()
    finally:
        database.close()
        stray = Path("/") / name
        if stray.exists():                     # wrong interpretation: clean up
            stray.unlink()


@pytest.mark.parametrize("url, scheme", [
    ("oracle://user:pw@host/db", "oracle"),
    ("mssql://x", "mssql"),
    ("sqlite3://", "sqlite3"),
])
def test_unknown_scheme_is_rejected(url, scheme, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ActiverelError) as info:
        Database(url)
    assert scheme in str(info.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("url", ["", "not a url", "app.db"])
def test_malformed_url_is_rejected(url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ActiverelError):
        Database(url)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------
# the default database


def test_creating_a_database_makes_it_the_default():
    db = Database("sqlite://", models=ALL_MODELS)
    db.migrate()
    other = Database("sqlite://", models=ALL_MODELS)
    try:
        other.migrate()
        User(username="where").persist()
        assert count(other, "users") == 1
        assert count(db, "users") == 0
        db.bind()
        assert User.query().count() == 0
        User(username="here").persist()
        assert count(db, "users") == 1
        other.bind()
        assert [u.username for u in User.query().find()] == ["where"]
    finally:
        other.close()
        db.close()


def test_explicit_database_methods_ignore_the_default(db):
    other = Database("sqlite://", models=ALL_MODELS)
    other.migrate()
    db.bind()                                  # db is the default, other is not
    try:
        u = User(username="explicit")
        other.persist(u)
        assert u.id > 0
        assert count(other, "users") == 1
        assert count(db, "users") == 0
        assert other.get(User, u.id).username == "explicit"
        assert other.query(User).count() == 1
        assert User.query().count() == 0
        with pytest.raises(NotFound):
            User.get(u.id)
        other.delete(other.get(User, u.id))
        assert count(other, "users") == 0
    finally:
        other.close()
        db.bind()


def test_closing_the_default_releases_it():
    database = Database("sqlite://", models=ALL_MODELS)
    database.migrate()
    database.close()
    with pytest.raises(ActiverelError):
        User.query().count()
    with pytest.raises(ActiverelError):
        User(username="nowhere").persist()


def test_close_twice_is_harmless():
    database = Database("sqlite://", models=ALL_MODELS)
    database.close()
    database.close()


def test_db_query_equals_model_query(db):
    a = f.UserFactory(username="a")
    f.UserFactory(username="b")
    assert db.query(User).filter(username="a").ids() == [a.id]
    assert User.query().filter(username="a").ids() == [a.id]
    assert db.get(User, a.id).username == "a"


# --------------------------------------------------------------------------
# models served by default: every registered model (clean interpreter)


def test_default_models_are_every_registered_model():
    script = textwrap.dedent('''
        from __future__ import annotations
        from typing import Annotated
        from activerel import Model, Database, PrimaryKey, AutoIncrement, Reference, BackReference

        class Shelf(Model, table="shelves"):
            id: Annotated[int, PrimaryKey, AutoIncrement] = 0
            books: BackReference[list[Book]]

        class Book(Model):
            id: Annotated[int, PrimaryKey, AutoIncrement] = 0
            shelf: Reference[Shelf]

        db = Database("sqlite://")
        db.migrate()
        names = sorted(r[0] for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'", ()))
        print(names)
        s = Shelf()
        Book(shelf=s).persist()
        print(db.execute('SELECT shelf_id FROM "book"', ()) == [(s.id,)])
    ''')
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["['book', 'shelves']", "True"]


# --------------------------------------------------------------------------
# execute


def test_execute_returns_rows_as_tuples(db):
    assert db.execute("SELECT ?, ?, ?", (1, "two", None)) == [(1, "two", None)]
    db.execute('INSERT INTO "groups" ("name") VALUES (?)', ("g1",))
    db.execute('INSERT INTO "groups" ("name") VALUES (?)', ("g2",))
    result = db.execute('SELECT "id", "name" FROM "groups" ORDER BY "id"', ())
    assert isinstance(result, list)
    assert all(type(r) is tuple for r in result)
    assert result == [(1, "g1"), (2, "g2")]
    assert db.execute('SELECT "name" FROM "groups" WHERE "name" = ?', ("none",)) == []


def test_execute_binds_values_safely(db):
    evil = "x'); DROP TABLE \"groups\"; --"
    db.execute('INSERT INTO "groups" ("name") VALUES (?)', (evil,))
    assert db.execute('SELECT "name" FROM "groups"', ()) == [(evil,)]
    assert "groups" in tables(db)


def test_execute_outside_a_session_is_committed(tmp_path):
    path = tmp_path / "c.db"
    database = Database(f"sqlite:///{path}", models=ALL_MODELS)
    try:
        database.migrate()
        database.execute('INSERT INTO "groups" ("name") VALUES (?)', ("seen",))
        con = sqlite3.connect(path, timeout=0.1)
        try:
            assert con.execute('SELECT "name" FROM "groups"').fetchall() == [("seen",)]
        finally:
            con.close()
        f.UserFactory(username="also-seen")
        con = sqlite3.connect(path, timeout=0.1)
        try:
            assert con.execute('SELECT "username" FROM "users"').fetchall() == [("also-seen",)]
        finally:
            con.close()
    finally:
        database.close()


def test_execute_runs_in_the_session_transaction(db):
    with pytest.raises(RuntimeError):
        with db.session():
            db.execute('INSERT INTO "groups" ("name") VALUES (?)', ("rolled back",))
            assert count(db, "groups") == 1
            raise RuntimeError("boom")
    assert count(db, "groups") == 0

    with db.session():
        db.execute('INSERT INTO "groups" ("name") VALUES (?)', ("kept",))
    assert db.execute('SELECT "name" FROM "groups"', ()) == [("kept",)]


def test_execute_sees_flushed_session_changes(db):
    with db.session() as session:
        u = User(username="pending")
        u.persist()
        session.flush()
        assert db.execute('SELECT "id", "username" FROM "users"', ()) == [(u.id, "pending")]
    assert count(db, "users") == 1


def test_session_rollback_writes_nothing_and_keeps_objects_new(db):
    u = User(username="never")
    with pytest.raises(RuntimeError):
        with db.session():
            u.persist()
            f.GroupFactory(name="never either")
            raise RuntimeError("boom")
    assert count(db, "users") == 0
    assert count(db, "groups") == 0
    assert activerel.inspect(u).is_new is True


# --------------------------------------------------------------------------
# driver errors


def test_foreign_keys_are_enforced_on_raw_sql(db):
    if db.dialect.name == "sqlite":
        assert db.execute("PRAGMA foreign_keys", ()) == [(1,)]
    with pytest.raises(IntegrityError) as info:
        db.execute('INSERT INTO "posts" ("author_id", "title", "published") VALUES (?, ?, ?)',
                   (999, "orphan", False))
    assert isinstance(info.value.__cause__, driver_error(db, integrity=True))
    assert isinstance(info.value, ActiverelError)
    assert count(db, "posts") == 0


def test_unique_violation_through_persist(db, sql_log):
    f.UserFactory(username="taken")
    author = User(username="taken")
    post = Post(author=author, title="never written")
    with pytest.raises(IntegrityError) as info:
        post.persist()
    assert isinstance(info.value.__cause__, driver_error(db, integrity=True))
    assert count(db, "users") == 1
    assert count(db, "posts") == 0
    assert activerel.inspect(author).is_new is True
    assert activerel.inspect(post).is_new is True


def test_raw_error_inside_a_session_rolls_everything_back(db):
    with pytest.raises(IntegrityError):
        with db.session():
            f.UserFactory(username="lost")
            db.execute('INSERT INTO "posts" ("author_id", "title", "published") VALUES (?, ?, ?)',
                       (12345, "orphan", False))
    assert count(db, "users") == 0
    assert count(db, "posts") == 0


# --------------------------------------------------------------------------
# bad input to the entry points


def test_get_missing_row_raises_not_found(db):
    with pytest.raises(NotFound) as info:
        db.get(User, 999)
    assert "User" in str(info.value)
    assert "999" in str(info.value)
    with pytest.raises(NotFound):
        User.get(999)


def test_get_composite_key_needs_a_tuple(db):
    e = Enrollment(student=f.StudentFactory(), course=f.CourseFactory(code="K1"))
    e.persist()
    assert db.get(Enrollment, (e.student.id, "K1")).course.code == "K1"
    with pytest.raises((TypeError, ActiverelError)):
        db.get(Enrollment, e.student.id)
    with pytest.raises((TypeError, ActiverelError)):
        db.get(Enrollment, (e.student.id,))


def test_persist_rejects_non_models_and_writes_nothing(db, sql_log):
    good = User(username="good")
    sql_log.clear()
    with pytest.raises((TypeError, ActiverelError)):
        db.persist(good, 5)
    with pytest.raises((TypeError, ActiverelError)):
        db.persist("user")
    assert sql_log.count("INSERT") == 0
    assert count(db, "users") == 0
    assert activerel.inspect(good).is_new is True


def test_delete_rejects_non_models(db):
    u = f.UserFactory()
    with pytest.raises((TypeError, ActiverelError)):
        db.delete(u, object())
    assert count(db, "users") == 1


def test_query_and_get_reject_non_models(db):
    with pytest.raises((TypeError, ActiverelError)):
        db.query(dict)
    with pytest.raises((TypeError, ActiverelError)):
        db.get(str, 1)


def test_get_with_a_key_of_the_wrong_type(db, sql_log):
    sql_log.clear()
    with pytest.raises(ValidationError) as info:
        db.get(User, "abc")
    assert "User" in str(info.value)
    with pytest.raises(ValidationError):
        User.get(1.5)
    assert not any("SELECT" in s for s in sql_log.statements)


@pytest.mark.parametrize("sql, params", [
    ("SELEC 1", ()),
    ("SELECT ?", ()),
    ('SELECT * FROM "no_such_table"', ()),
])
def test_execute_driver_errors_are_wrapped(db, sql, params):
    with pytest.raises(ActiverelError) as info:
        db.execute(sql, params)
    assert isinstance(info.value.__cause__, driver_error(db))
    assert str(info.value)
    # the connection is still usable afterwards
    assert db.execute("SELECT 1", ()) == [(1,)]


def test_driver_error_in_a_session_rolls_back(db):
    with pytest.raises(ActiverelError):
        with db.session():
            f.UserFactory(username="gone")
            db.execute('INSERT INTO "groups" ("name") VALUES (?)', ("gone",))
            db.execute("SELEC 1", ())
    assert count(db, "users") == 0
    assert count(db, "groups") == 0


def test_unreachable_file_fails_cleanly(tmp_path):
    target = tmp_path / "missing-dir" / "x.db"
    with pytest.raises(ActiverelError):
        database = Database(f"sqlite:///{target}", models=[Everything])
        try:
            database.migrate()
        finally:
            database.close()
    assert not target.parent.exists()


def test_database_rejects_non_models_in_models(tmp_path, monkeypatch):
    with pytest.raises((TypeError, ActiverelError)):
        Database("sqlite://", models=[User, int])


def test_validation_error_is_raised_before_any_sql(db, sql_log):
    sql_log.clear()
    with pytest.raises(ValidationError):
        db.persist(User(username=42))  # type: ignore[arg-type]
    assert sql_log.count() == 0
    assert count(db, "users") == 0


# --------------------------------------------------------------------------
# logging and echo


def test_every_statement_is_one_debug_record(db, sql_log):
    sql_log.clear()
    db.execute("SELECT ?, ?", (7, "seven"))
    # transaction control (BEGIN/COMMIT) may be logged around it, as statements of their own
    mine = [r for r in sql_log.records if "SELECT" in r.sql]
    assert len(mine) == 1
    assert all(r.sql.strip().upper().split()[0] in ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE")
               for r in sql_log.records if r is not mine[0])
    record = mine[0]
    assert record.name == "activerel.sql"
    assert record.levelno == logging.DEBUG
    assert record.sql in ("SELECT ?, ?", "SELECT %s, %s")  # as sent to the driver
    assert tuple(record.params) == (7, "seven")


def test_orm_statements_are_logged_with_bound_parameters(db, sql_log):
    sql_log.clear()
    u = User(username="ada'lovelace")
    u.persist()
    inserts = [r for r in sql_log.records if r.sql.lstrip().upper().startswith("INSERT")]
    assert len(inserts) == 1
    assert '"users"' in inserts[0].sql or "`users`" in inserts[0].sql   # quoted
    assert "ada'lovelace" not in inserts[0].sql
    assert "ada'lovelace" in list(inserts[0].params)

    sql_log.clear()
    User.query().filter(username="ada'lovelace").find()
    selects = [r for r in sql_log.records if r.sql.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1
    assert "ada'lovelace" not in selects[0].sql
    assert "ada'lovelace" in list(selects[0].params)

    sql_log.clear()
    u.username = "grace"
    u.persist()
    updates = [r for r in sql_log.records if r.sql.lstrip().upper().startswith("UPDATE")]
    assert len(updates) == 1
    assert "grace" in list(updates[0].params)
    assert u.id in list(updates[0].params)


def test_migrate_is_logged(sql_log):
    database = Database("sqlite://", models=[Everything])
    try:
        sql_log.clear()
        database.migrate()
        assert sql_log.count("CREATE TABLE") == 1
        assert all(hasattr(r, "params") for r in sql_log.records)
    finally:
        database.close()


def test_echo_prints_statements(capsys):
    database = Database("sqlite://", models=[Everything], echo=True)
    try:
        database.migrate()
        database.execute("SELECT ? AS marker", ("zebra-42",))
        out = capsys.readouterr().out
        assert 'CREATE TABLE' in out and '"everything"' in out
        assert "SELECT ? AS marker" in out
        assert "zebra-42" in out
    finally:
        database.close()


def test_no_echo_prints_nothing(capsys):
    capsys.readouterr()
    database = Database("sqlite://", models=[Everything])
    try:
        database.migrate()
        database.execute("SELECT ? AS marker", ("quiet",))
        Everything().persist()
        captured = capsys.readouterr()
        assert captured.out == ""
        assert "quiet" not in captured.err
    finally:
        database.close()

