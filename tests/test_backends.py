"""What must hold identically on every backend, and the backend-specific
paths behind it: URLs and connection settings, isolation between sessions,
bounded statements for a large graph, and MySQL's generated keys without
RETURNING."""
from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from typing import Annotated

import pytest

from activerel import (ActiverelError, AutoIncrement, ConfigurationError, ConnectionLost, Database,
                       Model, PrimaryKey, Query, inspect)
from activerel.errors import MigrationError
from activerel.schema.operations import RunSQL
from activerel.schema.tables import Schema
from activerel.schema_apply import apply_operations
from activerel.url import URL
from tests import factories as f
from tests.backends import namespace_url, require
from tests.models import ALL_MODELS, Comment, Post, User


# -- URLs and connection settings (no server needed) ---------------------------

def test_server_urls_are_parsed_into_their_parts():
    url = URL.parse("postgresql://ada:s%40cret@db.example:6543/app?sslmode=require")
    assert (url.scheme, url.user, url.password, url.host, url.port, url.database, url.options) == (
        "postgresql", "ada", "s@cret", "db.example", 6543, "app", {"sslmode": "require"})
    assert url.safe == "postgresql://ada:***@db.example:6543/app?sslmode=require"
    url = URL.parse("mariadb://root@127.0.0.1/test")
    assert (url.scheme, url.user, url.password, url.host, url.port, url.database) == (
        "mariadb", "root", None, "127.0.0.1", None, "test")


@pytest.mark.parametrize("url, fragment", [
    ("postgresql://u@h:5432/db?sslmod=require", "unknown PostgreSQL connection option(s) sslmod"),
    ("postgresql://u@h:5432", "names no database"),
    ("mysql://u@h:3306/db?colour=red", "unknown MySQL connection option(s) colour"),
    ("mariadb://u@h:3306", "names no database"),
    ("mysql://u@h:notaport/db", "bad port"),
    ("oracle://u@h/db", "unsupported database URL scheme 'oracle'"),
])
def test_bad_connection_settings_are_clear_errors(url, fragment):
    with pytest.raises(ConfigurationError, match=re.escape(fragment)):
        Database(url)


def test_a_server_that_does_not_answer_is_a_configuration_error():
    pytest.importorskip("psycopg", reason="needs the PostgreSQL driver: pip install -e '.[postgresql]'")
    db = Database("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2", models=[User])
    try:
        with pytest.raises(ConfigurationError, match="cannot connect to postgresql://nobody@127.0.0.1:1/none"):
            db.migrate()
    finally:
        db.close()


# -- isolation --------------------------------------------------------------------

@pytest.fixture
def isolated_db(backend, db, tmp_path):
    """The shared database on a server; on SQLite a file, where a second
    connection reads the last committed state while a writer is busy (an
    in-memory SQLite database locks the tables its writer touched instead)."""
    if backend != "sqlite":
        yield db
        return
    database = Database(f"sqlite:///{tmp_path / 'isolation.db'}", models=ALL_MODELS)
    database.migrate()
    yield database
    database.close()


def test_two_sessions_do_not_see_each_others_uncommitted_changes(backend, isolated_db):
    database = isolated_db
    database.persist(User(username="committed"))
    with database.session() as a:
        a.persist(User(username="pending-a"))
        a.flush()
        assert sorted(u.username for u in Query(User, session=a).find()) == ["committed", "pending-a"]
        with database.session() as b:
            assert [u.username for u in Query(User, session=b).find()] == ["committed"]
            if database.dialect.features.concurrent_writers:  # SQLite: one writer at a time
                b.persist(User(username="pending-b"))
                b.flush()
                assert sorted(u.username for u in Query(User, session=a).find()) == ["committed", "pending-a"]
    names = sorted(r[0] for r in database.execute('SELECT username FROM "users"'))
    assert names == (["committed", "pending-a", "pending-b"]
                     if database.dialect.features.concurrent_writers else ["committed", "pending-a"])


def test_a_failed_flush_writes_nothing_and_leaves_objects_as_they_were(db):
    ada = f.UserFactory(username="ada")
    with db.session():
        loaded = User.get(ada.id)
        loaded.username = "ada-renamed"
    fresh = User(username="fresh")
    post = Post(author=fresh, title="t")
    clash = User(username="ada-renamed")  # violates the unique username
    with pytest.raises(Exception) as exc:
        db.persist(fresh, clash)
    assert type(exc.value).__name__ == "IntegrityError"
    assert db.execute('SELECT username FROM "users" ORDER BY id') == [("ada-renamed",)]
    assert db.execute('SELECT COUNT(*) FROM "posts"') == [(0,)]
    for obj in (fresh, post, clash):
        assert inspect(obj).is_new and obj.id == 0
    assert fresh.posts == [post]


# -- statements for a large graph -----------------------------------------------------

def test_a_10000_object_graph_costs_one_insert_per_table(db, sql_log):
    users = []
    for i in range(1000):
        u = User(username=f"u{i}")
        for j in range(3):
            p = Post(author=u, title=f"p{i}-{j}")
            Comment(post=p, author=u, text="a")
            Comment(post=p, author=u, text="b")
        users.append(u)
    sql_log.clear()
    db.persist(*users)
    inserts = [r.sql for r in sql_log.records if r.sql.startswith("INSERT")]
    # 1,000 users x 2 columns, 3,000 posts x 4 and 6,000 comments x 3 all fit
    # one statement each under every backend's parameter limit
    limit = db.dialect.features.param_limit
    assert max(1000 * 2, 3000 * 4, 6000 * 3) <= limit
    assert len(inserts) == 3
    assert [s.split()[2].strip('"`') for s in inserts] == ["users", "posts", "comments"]
    assert db.execute('SELECT COUNT(*) FROM "users"') == [(1000,)]
    assert db.execute('SELECT COUNT(*) FROM "posts"') == [(3000,)]
    assert db.execute('SELECT COUNT(*) FROM "comments"') == [(6000,)]
    # every generated key was written back onto the right object
    stored = dict(db.execute('SELECT p.title, u.username FROM "posts" p '
                             'JOIN "users" u ON u.id = p.author_id'))
    assert stored == {p.title: u.username for u in users for p in u.posts}
    assert (users[0].id, users[999].posts[2].id) == (1, 3000)


# -- MySQL generated keys without RETURNING -------------------------------------------

@pytest.fixture
def mysql_db():
    require("mysql")
    database = Database(namespace_url("mysql", "_keys", fresh=True), models=[User, Post, Comment])
    database.migrate()
    yield database
    database.close()


@pytest.mark.parametrize("consecutive", [True, False], ids=["lock-mode-0-or-1", "lock-mode-2"])
def test_mysql_without_returning_still_writes_back_every_key(mysql_db, sql_log, consecutive):
    dialect = mysql_db.dialect
    saved = (dialect.features, dialect.consecutive_ids)
    dialect.features = replace(dialect.features, returning=False)
    dialect.consecutive_ids = consecutive
    try:
        users = [User(username=f"m{i}") for i in range(50)]
        for u in users:
            Post(author=u, title=f"by {u.username}")
        sql_log.clear()
        mysql_db.persist(*users)
    finally:
        dialect.features, dialect.consecutive_ids = saved
    inserts = [r for r in sql_log.records if r.sql.startswith("INSERT")]
    assert [r.sql.count("(%s") for r in inserts] == ([50, 50] if consecutive else [1, 1])
    if not consecutive:
        # one statement per row, all 50 of a table sent in one multi-statement batch
        assert [len(r.params) for r in inserts] == [50, 50]
    assert not any("RETURNING" in r.sql for r in inserts)
    rows = dict(mysql_db.execute('SELECT username, id FROM "users"'))
    assert {u.username: u.id for u in users} == rows
    posts = dict(mysql_db.execute('SELECT title, author_id FROM "posts"'))
    assert {p.title: p.author.id for u in users for p in u.posts} == posts


# -- the same answers everywhere ----------------------------------------------------

def test_like_and_equality_are_case_sensitive_on_every_backend(db):
    f.UserFactory(username="Ada")
    f.UserFactory(username="ada")
    assert [u.username for u in User.query().filter(User.username.like("A%")).find()] == ["Ada"]
    assert [u.username for u in User.query().filter(username="ada").find()] == ["ada"]


def test_sqlite_urls_take_no_options():
    with pytest.raises(ConfigurationError, match="sqlite URLs take no options but timeout=, got mode"):
        Database("sqlite:///x.db?mode=ro")


def test_limit_and_skip_page_to_many_joins_only(db):
    from activerel import QueryError
    with pytest.raises(QueryError, match="Post.author is to-one"):
        Post.query().use_join_with("author").limit(1)
    with pytest.raises(QueryError, match="Post.author is to-one"):
        Post.query().use_join_with("author").skip(1)


# -- deletes: set-based, and left to the database where it enforces the actions ----------

@pytest.fixture
def three_users(db):
    users = [f.UserFactory(username=f"u{i}") for i in range(3)]
    for u in users:
        post = f.PostFactory(author=u, title=f"by {u.username}",
                             reviewer=users[(users.index(u) + 1) % 3])
        f.CommentFactory(post=post, author=u, text=f"on {u.username}")
    return users


def _writes(sql_log) -> list[str]:
    return [r.sql.split(" WHERE")[0].replace("`", '"') for r in sql_log.records
            if r.sql.startswith(("DELETE", "UPDATE", "INSERT"))]


def test_delete_many_of_unloaded_rows_sends_no_keys_back_and_forth(db, sql_log, three_users):
    sql_log.clear()
    assert User.query().filter(User.username.in_(["u0", "u1"])).delete_many() == 2
    if not db.dialect.features.database_cascades_faster:
        # one statement per table, children first, rows found by subqueries
        assert _writes(sql_log) == [
            'UPDATE "posts" SET "reviewer_id"=null', 'DELETE FROM "user_credentials"',
            'DELETE FROM "user_groups"', 'DELETE FROM "comments"', 'DELETE FROM "posts"',
            'DELETE FROM "users"']
    else:
        # the catalog shows the server applies every action itself
        assert _writes(sql_log) == ['DELETE FROM "users"']
    assert not [r for r in sql_log.records if r.sql.startswith('SELECT "id" FROM')
                or r.sql.startswith("SELECT `id` FROM")]
    assert db.execute('SELECT username FROM "users"') == [("u2",)]
    assert db.execute('SELECT title, reviewer_id FROM "posts"') == [("by u2", None)]
    assert db.execute('SELECT text FROM "comments"') == [("on u2",)]


def test_delete_many_reflects_the_delete_on_loaded_objects(db, three_users):
    with db.session():
        loaded = Post.query().order_by("id").find()
        assert User.query().filter(username="u0").delete_many() == 1
        assert [inspect(p).is_deleted for p in loaded] == [True, False, False]
        assert loaded[2].reviewer is None and not inspect(loaded[2]).is_dirty
    assert db.execute('SELECT title, reviewer_id FROM "posts" ORDER BY id') == [
        ("by u1", three_users[2].id), ("by u2", None)]


def test_without_foreign_keys_in_the_database_the_unit_of_work_cascades(make_db, sql_log):
    db = make_db([User, Post, Comment])
    for sql in db.dialect.drop_tables_sql(["comments", "posts"]):
        db.execute(sql)
    # the same tables, but with no FOREIGN KEY clauses
    db.execute('CREATE TABLE "posts" ("id" INTEGER PRIMARY KEY, "author_id" INTEGER NOT NULL, '
               '"reviewer_id" INTEGER, "title" VARCHAR(100) NOT NULL, "published" BOOLEAN NOT NULL)')
    db.execute('CREATE TABLE "comments" ("id" INTEGER PRIMARY KEY, "post_id" INTEGER NOT NULL, '
               '"author_id" INTEGER NOT NULL, "text" VARCHAR(100) NOT NULL)')
    db.migrate()  # forgets what it knew of the catalog
    ada, bob = User(username="ada"), User(username="bob")
    p = Post(id=1, author=ada, title="a", reviewer=bob)
    db.persist(Comment(id=1, post=p, author=bob, text="x"), Post(id=2, author=bob, title="b", reviewer=ada))
    sql_log.clear()
    assert User.query().filter(username="ada").delete_many() == 1
    assert len(_writes(sql_log)) > 1
    assert db.execute('SELECT id, reviewer_id FROM "posts"') == [(2, None)]
    assert db.execute('SELECT COUNT(*) FROM "comments"') == [(0,)]


def test_mysql_runs_one_statement_per_execute(mysql_db):
    # connections take multi-statement scripts (the flush's held writes), but
    # a text holding ';' is sent with multi-statements off: the server parses
    # it as one statement, and stacked statements are its syntax error, so an
    # injection through a raw SQL string cannot stack a second statement
    mysql_db.persist(User(username="ada"))
    with pytest.raises(ActiverelError, match="syntax"):
        mysql_db.execute("SELECT 1; SELECT 2")
    name = "x'; DELETE FROM users; COMMIT; -- "
    with pytest.raises(ActiverelError, match="syntax"):
        mysql_db.execute("SELECT id FROM users WHERE username = '" + name + "'")
    with pytest.raises(ActiverelError, match="syntax"):
        mysql_db.raw(User, "SELECT * FROM users; DELETE FROM users")
    with mysql_db.session() as s:  # the session's own statements too
        for run in (s.execute, s.fetch):
            with pytest.raises(ActiverelError, match="syntax"):
                run("SELECT id FROM users WHERE username = '" + name + "'")
    assert mysql_db.execute("SELECT username FROM users") == [("ada",)]
    # one statement holding ';' runs, and the connection stays in step
    assert mysql_db.execute("SELECT 3;") == [(3,)]
    assert mysql_db.execute("SELECT ';', 4 -- a comment; not a statement") == [(";", 4)]
    assert mysql_db.execute("SELECT id FROM users WHERE username = ?", (name,)) == []
    assert mysql_db.execute("SELECT ?", ("a;b",)) == [("a;b",)]
    assert [u.username for u in mysql_db.raw(User, "SELECT * FROM users;")] == ["ada"]
    with mysql_db.session():
        User.get(1).username = "ada;2"  # a held write and the COMMIT: one script
    assert mysql_db.execute("SELECT username FROM users") == [("ada;2",)]


def test_raw_sql_is_one_statement_on_every_backend(db):
    """A raw SQL string built with a value in it (an injection, here) cannot
    stack a second statement on any backend, outside a session, inside one,
    or through the session's own execute and fetch: SQLite's driver refuses
    it, PostgreSQL's extended protocol does (psycopg would send a query
    without parameters by the simple protocol, which runs them all; the
    connections' cursor forces the extended one), and MySQL's server with
    multi-statements off. One statement holding ';' runs."""
    f.UserFactory(username="ada")
    name = "x'; DELETE FROM users; COMMIT; -- "
    stacked = "SELECT id FROM users WHERE username = '" + name + "'"
    with pytest.raises(ActiverelError):
        db.execute(stacked)
    with pytest.raises(ActiverelError):
        with db.session() as s:
            assert db.execute("SELECT 1") == [(1,)]  # (the transaction's first statement)
            db.execute(stacked)
    for run in ("execute", "fetch"):
        with pytest.raises(ActiverelError):
            with db.session() as s:
                s.fetch("SELECT 1")
                getattr(s, run)(stacked)
    with pytest.raises(ActiverelError):
        db.raw(User, "SELECT * FROM users; DELETE FROM users")
    # odd call shapes: parameters that name no placeholder, the text as bytes
    for odd in ((stacked, {"x": 1}), (stacked.encode(),)):
        with pytest.raises(Exception):
            with db.session() as s:
                s.fetch("SELECT 1")
                s.fetch(*odd)
    assert db.execute("SELECT username FROM users") == [("ada",)]
    with db.session() as s:
        s.fetch("SELECT 1")
        assert db.execute("SELECT 3;") == [(3,)]
        assert db.execute("SELECT ';', 4 -- a comment; not a statement") == [(";", 4)]
        assert db.execute("SELECT username FROM users WHERE username <> ';'") == [("ada",)]
    assert db.execute("SELECT id FROM users WHERE username = ?", (name,)) == []


def test_mysql_one_statement_rule_after_a_pending_result_and_for_executemany(mysql_db):
    # a procedure's CALL leaves a second result pending; a text holding ';'
    # next reads it off first (else the connection is out of step)
    mysql_db.execute("CREATE PROCEDURE ar_two() BEGIN SELECT 1; END")
    insert = "INSERT INTO users (username, created) VALUES (%s, %s)"
    rows = [("x;1", datetime(2025, 1, 1)), ("x2", datetime(2025, 1, 1))]
    try:
        with mysql_db.session() as s:
            assert s.fetch("CALL ar_two()") == [(1,)]
            assert s.fetch("SELECT ';'") == [(";",)]
            # mysqlclient sends a multi-row INSERT as bytes, through execute()
            s.executemany(insert, rows)
            with pytest.raises(ActiverelError, match="syntax"):
                s.executemany(insert + "; DELETE FROM users", rows)
        assert mysql_db.execute("SELECT username FROM users ORDER BY id") == [("x;1",), ("x2",)]
    finally:
        mysql_db.execute("DROP PROCEDURE ar_two")


def test_mysql_a_connection_that_cannot_switch_scripts_back_on_is_closed(mysql_db, monkeypatch):
    """Sent with multi-statements off, a text holding ';' switches them on
    again after it; a connection where that fails is closed, never given
    back to the pool with them off (every later script would fail)."""
    import MySQLdb
    import MySQLdb.connections as mc
    real = mc.Connection.set_server_option

    def fails_once(conn, option):
        if option == 0:  # on
            monkeypatch.setattr(mc.Connection, "set_server_option", real)
            raise MySQLdb.OperationalError(2013, "Lost connection to server during query")
        return real(conn, option)

    mysql_db.persist(User(username="ada"), User(username="bob"))
    with pytest.raises(ConnectionLost):
        with mysql_db.session() as s:
            assert s.fetch("SELECT 1") == [(1,)]  # (a first statement would be retried)
            raw = s.connection.conn
            monkeypatch.setattr(mc.Connection, "set_server_option", fails_once)
            s.fetch("SELECT ';'")
    assert not raw.open
    with mysql_db.session():  # two held writes and the COMMIT: one script, on another connection
        ada, bob = User.get(1), User.get(2)
        ada.username, bob.created = "ada2", datetime(2025, 1, 1)
    assert mysql_db.execute("SELECT username FROM users ORDER BY id") == [("ada2",), ("bob",)]


def test_mysql_a_migration_runs_one_statement_per_sql_string(mysql_db):
    mysql_db.persist(User(username="ada"))
    with pytest.raises(MigrationError, match="syntax"):
        apply_operations(mysql_db, [RunSQL("UPDATE users SET username = 'a'; DROP TABLE users")],
                         Schema())
    # one statement holding ';' (a trigger's body, a literal); a list, each on its own
    apply_operations(mysql_db, [
        RunSQL("CREATE TRIGGER users_bi BEFORE UPDATE ON users FOR EACH ROW BEGIN "
               "SET NEW.username = CONCAT(NEW.username, '!'); "
               "SET NEW.username = REPLACE(NEW.username, ';', ','); END"),
        RunSQL(["UPDATE users SET username = 'b;e'", "UPDATE users SET username = 'bea'"])],
        Schema())
    assert mysql_db.execute("SELECT username FROM users") == [("bea!",)]
    mysql_db.execute("DROP TRIGGER users_bi")


def test_mysql_a_failing_row_in_a_batch_of_single_row_inserts_writes_nothing(mysql_db):
    from activerel import IntegrityError
    dialect = mysql_db.dialect
    saved = (dialect.features, dialect.consecutive_ids)
    dialect.features = replace(dialect.features, returning=False)
    dialect.consecutive_ids = False
    mysql_db.persist(User(username="taken"))
    users = [User(username=f"m{i}") for i in range(5)] + [User(username="taken")]
    users += [User(username=f"n{i}") for i in range(5)]
    try:
        with pytest.raises(IntegrityError, match="taken"):
            mysql_db.persist(*users)
    finally:
        dialect.features, dialect.consecutive_ids = saved
    assert mysql_db.execute('SELECT username FROM "users" ORDER BY id') == [("taken",)]
    assert [inspect(u).is_new for u in users] == [True] * 11
    assert [u.id for u in users] == [0] * 11
    # the connection is in step after the failed batch; raw SQL stays one statement
    with pytest.raises(ActiverelError, match="syntax"):
        mysql_db.execute("SELECT 1; SELECT 2")
    mysql_db.persist(*users[:5])
    assert mysql_db.execute('SELECT COUNT(*) FROM "users"') == [(6,)]


class SemiColon(Model, table="semi;colon"):
    """A table whose quoted name holds ';' (the one-statement rule of MySQL
    must not trip on it, nor must a stream's unbuffered cursor)."""
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str = ""


def test_a_table_whose_name_holds_a_semicolon_works_on_every_backend(make_db):
    db = make_db([SemiColon])
    db.persist(*[SemiColon(name=f"s{i}") for i in range(5)])
    assert [r.name for r in SemiColon.query().order_by("id").iterate(batch_size=2)] == [
        "s0", "s1", "s2", "s3", "s4"]
    with db.session():
        rows = SemiColon.query().order_by("id").find()
        rows[0].name, rows[1].name = "first", "second;"
        rows[4].delete()
    assert [(r.id, r.name) for r in SemiColon.query().order_by("id").find()] == [
        (1, "first"), (2, "second;"), (3, "s2"), (4, "s3")]
