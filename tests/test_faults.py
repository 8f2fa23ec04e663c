"""Real faults in the middle of a unit of work, and what must hold after them.

Every test makes a fault that happens in production, not a mock of one: the
server ends the session's own connection (PostgreSQL's pg_terminate_backend,
MySQL/MariaDB's KILL, sent from a second connection), another SQLite
connection holds the read lock a COMMIT needs, a pooled connection dies while
idle, every connection of a bounded pool is in use. Afterwards the database
must hold exactly what it held before, every Python object must be exactly
as it was before the flush, the same changes must succeed when persisted
again, and the same ``Database`` must go on working.

On SQLite, whose connection cannot be killed, a statement of the flush fails
by an exception raised just before it is sent (from a handler on the
``activerel.sql`` logger, which logs every statement just before sending
it); its COMMIT fails for real, on a lock."""
from __future__ import annotations

import logging
import sqlite3
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import pytest

from activerel import (ActiverelError, ConnectionLost, Database, FieldNotLoaded, Model,
                       PoolExhausted, inspect)
from tests.backends import (SERVERS, URLS, connection_id_sql, kill_connection, namespace_url,
                            require)
from tests.models import Comment, Group, Post, User, UserCredentials, UserGroup

MODELS = [User, Post, Comment, Group, UserGroup, UserCredentials]
#: the file of fault_db on SQLite, in the test's tmp_path
SQLITE_FILE = "faults.db"
TABLES = ["users", "posts", "comments", "groups", "user_groups", "user_credentials"]

#: the columns compared by value: every column but users.created and
#: posts.published, whose driver types differ between backends
COLUMNS = {
    "users": "id, username",
    "posts": "id, author_id, reviewer_id, title",
    "comments": "id, post_id, author_id, text",
    "groups": "id, name",
    "user_groups": "id, user_id, group_id",
    "user_credentials": "user_id, password",
}

#: the committed starting state (build_start), table by table
START = {
    "users": [(1, "ada"), (2, "bob"), (3, "cyd")],
    "posts": [(1, 1, 2, "hello"), (2, 2, None, "tips")],
    "comments": [(1, 2, 1, "thanks"), (2, 1, 2, "nice"), (3, 1, 3, "+1")],
    "groups": [(1, "admins"), (2, "staff")],
    "user_groups": [(1, 1, 1), (2, 2, 2)],
    "user_credentials": [],
}


# -- helpers ---------------------------------------------------------------------------

class InjectedFault(Exception):
    """Raised on SQLite just before a statement is sent (a connection that
    cannot be killed)."""


class _OnStatement(logging.Handler):
    def __init__(self, callback: Callable[[logging.LogRecord], None]) -> None:
        super().__init__(logging.DEBUG)
        self.callback = callback

    def emit(self, record: logging.LogRecord) -> None:
        self.callback(record)


@contextmanager
def on_statement(callback: Callable[[logging.LogRecord], None]) -> Iterator[None]:
    """Call ``callback(record)`` for every statement activerel is about to send."""
    logger = logging.getLogger("activerel.sql")
    handler = _OnStatement(callback)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


class FaultAt:
    """Counts the statements logged while armed and calls ``fault(record)``
    on the ``k``-th (from 0), once."""

    def __init__(self, k: int, fault: Callable[[logging.LogRecord], None]) -> None:
        self.k = k
        self.fault = fault
        self.armed = False
        self.seen: list[str] = []
        self.fired: str | None = None

    def __call__(self, record: logging.LogRecord) -> None:
        if not self.armed:
            return
        self.seen.append(record.sql)
        if len(self.seen) - 1 == self.k:
            self.fired = record.sql
            self.fault(record)


def reset(database: Database) -> None:
    """Empty the tables and restart their generated keys."""
    with database.session() as s:
        for sql in database.dialect.truncate_sql(TABLES):
            s.execute(sql)


def build_start(database: Database) -> None:
    """Three users, two posts (one reviewed by bob), three comments, two
    groups with one member each; committed."""
    ada, bob, cyd = User(username="ada"), User(username="bob"), User(username="cyd")
    admins, staff = Group(name="admins"), Group(name="staff")
    hello = Post(author=ada, title="hello", reviewer=bob)
    tips = Post(author=bob, title="tips")
    ada.groups.append(admins)
    bob.groups.append(staff)
    Comment(post=tips, author=ada, text="thanks")
    Comment(post=hello, author=bob, text="nice")
    Comment(post=hello, author=cyd, text="+1")
    database.persist(ada, bob, cyd)


def rows(database: Database) -> dict[str, list[tuple]]:
    """Every compared column of every table, read with raw SQL in one new session."""
    with database.session():
        return {t: database.execute(f'SELECT {COLUMNS[t]} FROM "{t}" ORDER BY 1') for t in TABLES}


def full_rows(database: Database) -> dict[str, list[tuple]]:
    """Every column of every table, as the driver returns them."""
    with database.session():
        return {t: database.execute(f'SELECT * FROM "{t}" ORDER BY 1') for t in TABLES}


def make_changes(s: Any) -> dict[str, Any]:
    """The mixed change, in session ``s``: a new user with two posts (one
    reviewed by a loaded user), a loaded user renamed, a many-to-many link
    added and one removed through that user's loaded pivot collection, and a
    user deleted whose posts, comments, memberships and reviews cascade
    (CASCADE and SET NULL)."""
    ada = User.query().join_with("groups").join_with("posts").filter(username="ada").find_one()
    hello = Post.query().join_with("comments").filter(title="hello").find_one()
    staff = Group.query().filter(name="staff").find_one()
    bob = User.query().filter(username="bob").find_one()
    assert ada.posts == [hello] and hello.reviewer is bob
    nice, plus_one = hello.comments
    assert (nice.text, nice.author, plus_one.text) == ("nice", bob, "+1")
    dora = User(username="dora")
    d1 = Post(author=dora, title="d1")
    d2 = Post(author=dora, title="d2", reviewer=ada)
    ada.username = "ada2"
    admins = ada.groups[0]
    assert admins.name == "admins"
    ada.groups.remove(admins)
    ada.groups.append(staff)
    s.persist(dora)
    s.delete(bob)
    return {"ada": ada, "hello": hello, "nice": nice, "plus_one": plus_one, "staff": staff,
            "admins": admins, "bob": bob, "dora": dora, "d1": d1, "d2": d2}


def persist_again(database: Database, objs: dict[str, Any]) -> None:
    """The same changes, in a new session, through the same objects."""
    with database.session() as s:
        s.persist(objs["dora"], objs["ada"])
        s.delete(objs["bob"])


def expected_after(objs: dict[str, Any], pivot_id: int) -> dict[str, list[tuple]]:
    """The rows the changes leave (new rows with the keys their objects got;
    ``pivot_id``: the key of the new user_groups row)."""
    dora, d1, d2 = objs["dora"], objs["d1"], objs["d2"]
    return {
        "users": [(1, "ada2"), (3, "cyd"), (dora.id, "dora")],
        "posts": [(1, 1, None, "hello"), (d1.id, dora.id, None, "d1"), (d2.id, dora.id, 1, "d2")],
        "comments": [(3, 1, 3, "+1")],
        "groups": [(1, "admins"), (2, "staff")],
        "user_groups": [(pivot_id, 1, 2)],
        "user_credentials": [],
    }


#: the fields of each model whose values the snapshots compare
FIELDS = {
    User: ("id", "username", "created", "posts", "reviewed", "comments", "groups", "credentials"),
    Post: ("id", "author", "reviewer", "title", "published", "comments"),
    Group: ("id", "name", "users"),
    Comment: ("id", "post", "author", "text"),
}


def _value(v: Any) -> Any:
    if isinstance(v, Model):
        return ("object", id(v))  # the same object, not an equal one
    if isinstance(v, list):
        return ("list", id(v), [_value(x) for x in v])
    return v


def snapshot(obj: Any) -> dict[str, Any]:
    """What can be seen of ``obj``: its state, its key, its unsaved changes,
    its field values and its lists' contents (objects compared by identity;
    a relation that is not loaded stays not loaded)."""
    st = inspect(obj)
    out: dict[str, Any] = {
        "status": (st.is_new, st.is_persistent, st.is_deleted, st.is_stub, st.is_dirty),
        "key": st.key,
        "changes": {k: _value(v) for k, v in st.changes.items()},
    }
    for name in FIELDS[type(obj)]:
        try:
            out[name] = _value(getattr(obj, name))
        except FieldNotLoaded:
            out[name] = "<not loaded>"
    return out


def snapshots(objs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: snapshot(obj) for name, obj in objs.items()}


def _is_closed(conn: Any) -> bool:
    """Whether a DB-API connection of psycopg or mysqlclient was closed."""
    closed = getattr(conn, "closed", None)
    if isinstance(closed, bool):
        return closed  # psycopg
    return not conn.open  # mysqlclient


def _sqlite_lock_free(path: str) -> None:
    """No lock is left on the SQLite file: another connection, waiting for
    nothing, can write and commit at once."""
    probe = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("CREATE TABLE IF NOT EXISTS lock_probe (n INTEGER)")
        probe.execute("INSERT INTO lock_probe VALUES (1)")
        probe.execute("COMMIT")
    finally:
        probe.close()


def _sqlite_lock_free_while_read_held(path: str) -> None:
    """While the other reader still holds its read lock, the failed writer
    holds no lock of its own: a third connection can take the write
    (RESERVED) lock at once."""
    probe = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
    finally:
        probe.close()


# -- fixtures ----------------------------------------------------------------------------

@pytest.fixture
def fault_db(backend: str, tmp_path: Any) -> Iterator[Database]:
    """A database with the tables of MODELS, of its own: on SQLite a file (so
    that a second connection can hold a lock on it) with a 0.2 s busy
    timeout; on a server a namespace of its own, created fresh."""
    require(backend)
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / SQLITE_FILE}?timeout=0.2"
    else:
        url = namespace_url(backend, "_faults", fresh=True)
    database = Database(url, models=MODELS)
    database.migrate()
    yield database
    database.close()


@pytest.fixture(params=SERVERS)
def server(request: Any) -> str:
    """A backend with a server (skipped where it is unreachable)."""
    require(request.param)
    return str(request.param)


@pytest.fixture
def killer(server: str) -> Iterator[Any]:
    """A DB-API connection to ``server`` apart from any pool, for killing others."""
    admin = Database(URLS[server], models=[])
    conn = admin.engine.connect()
    yield conn
    conn.close()
    admin.close()


# -- 1. a fault at every statement of a mixed flush and at its COMMIT ----------------------

def test_a_fault_at_any_statement_of_a_flush_or_its_commit_changes_nothing(
        backend, fault_db, tmp_path):
    """Real faults at every statement of one mixed flush (inserts in three
    tables, an update, a pivot link added and one removed, a delete that
    cascades and sets NULL) and at its COMMIT: on PostgreSQL and MariaDB the
    session's own server connection is killed from a second connection just
    before the statement is sent (ConnectionLost); on SQLite an exception is
    raised just before the statement, and at the COMMIT another connection
    holds a read lock, so the COMMIT cannot get its exclusive lock. After
    each: the database holds the starting rows, every object is as before
    the flush, the same objects persist the same changes, and the next
    session works."""
    database = fault_db
    path = str(tmp_path / SQLITE_FILE)
    killer = database.engine.connect() if backend != "sqlite" else None
    try:
        _every_statement_fails_once(backend, database, path, killer)
    finally:
        if killer is not None:
            killer.close()


def _every_statement_fails_once(backend: str, database: Database, path: str, killer: Any) -> None:
    """Test 1's body (``killer``: a connection for killing others, on a server)."""
    # the reference run: the statements of the flush and COMMIT, and the rows they leave
    reset(database)
    build_start(database)
    assert rows(database) == START
    start = full_rows(database)
    reference = FaultAt(-1, lambda record: None)
    with on_statement(reference):
        with database.session() as s:
            objs = make_changes(s)
            reference.armed = True
        reference.armed = False
    statements = reference.seen
    assert statements[-1] == "COMMIT"
    verbs = [sql.split()[0] for sql in statements]
    assert {"INSERT", "UPDATE", "DELETE"} <= set(verbs) and verbs.count("COMMIT") == 1
    assert (objs["dora"].id, objs["d1"].id, objs["d2"].id) == (4, 3, 4)
    assert rows(database) == expected_after(objs, pivot_id=3)

    for k, sql in enumerate(statements):
        reset(database)
        build_start(database)
        assert full_rows(database) == start
        held: list[sqlite3.Connection] = []

        def fault(record: logging.LogRecord) -> None:
            if backend != "sqlite":
                kill_connection(backend, killer, conn_id)
            elif record.sql == "COMMIT":
                reader = sqlite3.connect(path, isolation_level=None)
                reader.execute("BEGIN")
                reader.execute('SELECT COUNT(*) FROM "users"').fetchall()
                held.append(reader)  # a read transaction: its SHARED lock stays
            else:
                raise InjectedFault(f"before statement {k}: {record.sql}")

        injector = FaultAt(k, fault)
        expected_error: Any = ConnectionLost if backend != "sqlite" else (
            ActiverelError if sql == "COMMIT" else InjectedFault)
        with on_statement(injector):
            with pytest.raises(expected_error) as failure:
                with database.session() as s:
                    if backend != "sqlite":
                        conn_id = s.fetch(connection_id_sql(backend))[0][0]
                    raw = s.connection.conn
                    objs = make_changes(s)
                    before = snapshots(objs)
                    injector.armed = True
            injector.armed = False
        assert injector.fired == sql, f"statement {k} differs from the reference run"
        if backend != "sqlite":
            # lost during the COMMIT, the outcome is unknown; before it, rolled back
            assert ("during COMMIT" in str(failure.value)) == (sql == "COMMIT")
        if backend == "sqlite" and sql == "COMMIT":
            assert "database is locked" in str(failure.value)
            assert not isinstance(failure.value, ConnectionLost)
            _sqlite_lock_free_while_read_held(path)
            held.pop().close()
        if backend == "sqlite":
            _sqlite_lock_free(path)
        else:
            # the dead connection was closed, not given back to the pool
            assert _is_closed(raw)
            assert all(c is not raw for c, _ in database.engine._idle)

        # (a) the database holds exactly the starting rows
        assert full_rows(database) == start, f"fault at statement {k}: {sql}"
        # (b) every object is as it was before the flush
        assert snapshots(objs) == before, f"fault at statement {k}: {sql}"
        # (d) the next session of the same Database works
        with database.session() as s:
            if backend != "sqlite":
                assert s.fetch(connection_id_sql(backend))[0][0] != conn_id
            users = User.query().join_with("groups").order_by("id").find()
            assert [(u.username, [g.name for g in u.groups]) for u in users] == [
                ("ada", ["admins"]), ("bob", ["staff"]), ("cyd", [])]
        # (c) the same objects persist the same changes
        persist_again(database, objs)
        after = rows(database)
        pivot_id = after["user_groups"][0][0]
        assert after == expected_after(objs, pivot_id), f"fault at statement {k}: {sql}"
        # (keys a server's sequence gave the failed transaction are not given again)
        assert objs["dora"].id > 3 and objs["d1"].id > 2 and objs["d2"].id == objs["d1"].id + 1
        assert pivot_id > 2
        assert inspect(objs["dora"]).is_persistent and inspect(objs["dora"]).key == objs["dora"].id
        assert [inspect(p).key for p in objs["dora"].posts] == [objs["d1"].id, objs["d2"].id]
        assert not inspect(objs["ada"]).is_dirty and objs["ada"].groups == [objs["staff"]]
        assert inspect(objs["bob"]).is_deleted


# -- 2. a real COMMIT failure on SQLite ------------------------------------------------------

@pytest.mark.sqlite_only
def test_sqlite_commit_that_cannot_get_its_lock_rolls_back_and_restores(
        backend, fault_db, tmp_path):
    """A real COMMIT failure: another plain sqlite3 connection holds a read
    transaction on the file, so our COMMIT cannot get its exclusive lock
    within the 0.2 s busy timeout. The flush itself succeeds; the COMMIT
    raises, the transaction is rolled back, every object restored, and no
    lock is left behind."""
    database = fault_db
    path = str(tmp_path / SQLITE_FILE)
    build_start(database)
    start = full_rows(database)
    log: list[str] = []

    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute('SELECT COUNT(*) FROM "users"').fetchall() == [(3,)]
    try:
        with on_statement(lambda record: log.append(record.sql)):
            with pytest.raises(ActiverelError) as failure:
                with database.session() as s:
                    objs = make_changes(s)
                    before = snapshots(objs)
                    assert objs["dora"].id == 0 and objs["d1"].id == 0
                    del log[:]
                    s.flush()  # the flush gets the RESERVED lock and writes
                    assert log[-1].startswith("DELETE")
                    assert (objs["dora"].id, objs["d1"].id, objs["d2"].id) == (4, 3, 4)
                    assert inspect(objs["dora"]).is_persistent and inspect(objs["bob"]).is_deleted
                    assert objs["hello"].reviewer is None  # SET NULL reached the loaded post
                    assert objs["hello"].comments == [objs["plus_one"]]  # the cascade too
                    assert inspect(objs["nice"]).is_deleted
                    del log[:]
                    started = time.monotonic()
        elapsed = time.monotonic() - started
        assert log[0] == "COMMIT" and set(log[1:]) <= {"ROLLBACK"}
        assert type(failure.value) is ActiverelError
        assert "database is locked" in str(failure.value) and "held the lock" in str(failure.value)
        assert 0.15 <= elapsed < 3, f"the COMMIT waited {elapsed:.2f} s, not the 0.2 s busy timeout"
        # the failed writer holds no lock while the reader still reads
        _sqlite_lock_free_while_read_held(path)
        assert reader.execute('SELECT username FROM "users" ORDER BY id').fetchall() == [
            ("ada",), ("bob",), ("cyd",)]
    finally:
        reader.close()
    _sqlite_lock_free(path)

    assert full_rows(database) == start
    assert rows(database) == START
    assert snapshots(objs) == before
    for name in ("dora", "d1", "d2"):
        assert inspect(objs[name]).is_new and inspect(objs[name]).key is None
        assert objs[name].id == 0  # the key value it had before the flush
    assert objs["hello"].reviewer is objs["bob"]
    assert objs["hello"].comments == [objs["nice"], objs["plus_one"]]
    assert inspect(objs["nice"]).is_persistent and inspect(objs["nice"]).key == 2
    assert not inspect(objs["bob"]).is_deleted
    # the renamed user's original name, and her pivot collection as loaded
    assert inspect(objs["ada"]).changes == {"username": "ada", "groups": (objs["admins"],)}
    assert objs["ada"].groups == [objs["staff"]]

    persist_again(database, objs)
    assert (objs["dora"].id, objs["d1"].id, objs["d2"].id) == (4, 3, 4)
    assert rows(database) == expected_after(objs, pivot_id=3)


@pytest.mark.sqlite_only
def test_sqlite_commit_failure_after_an_insert_only_flush_gives_keys_back(
        backend, fault_db, tmp_path):
    """The same real COMMIT failure (a read transaction of another sqlite3
    connection holds the lock) after a flush of inserts and an update only:
    the new objects are new again with the key values they had before, the
    generated one 0 and the one given 50, and the loaded one is dirty again."""
    database = fault_db
    path = str(tmp_path / SQLITE_FILE)
    build_start(database)
    start = full_rows(database)

    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute('SELECT COUNT(*) FROM "users"').fetchall()
    try:
        with pytest.raises(ActiverelError, match="database is locked"):
            with database.session() as s:
                cyd = User.query().join_with("posts").filter(username="cyd").find_one()
                dora = User(username="dora")
                eve = User(id=50, username="eve")
                d1 = Post(author=dora, title="d1", reviewer=cyd)
                e1 = Post(author=eve, title="e1")
                cyd.username = "cyd2"
                objs = {"cyd": cyd, "dora": dora, "eve": eve, "d1": d1, "e1": e1}
                before = snapshots(objs)
                s.persist(dora, eve)
                s.flush()
                assert (dora.id, eve.id, d1.id, e1.id) == (4, 50, 3, 4)
                assert not inspect(cyd).is_dirty
    finally:
        reader.close()
    _sqlite_lock_free(path)

    assert full_rows(database) == start
    assert snapshots(objs) == before
    assert (dora.id, eve.id, d1.id, e1.id) == (0, 50, 0, 0)
    assert all(inspect(o).is_new and inspect(o).key is None for o in (dora, eve, d1, e1))
    assert inspect(cyd).changes == {"username": "cyd"} and cyd.username == "cyd2"

    with database.session() as s:
        s.persist(dora, eve, cyd)
    assert (dora.id, eve.id, d1.id, e1.id) == (4, 50, 3, 4)
    after = rows(database)
    assert after["users"] == [(1, "ada"), (2, "bob"), (3, "cyd2"), (4, "dora"), (50, "eve")]
    assert after["posts"] == START["posts"] + [(3, 4, 3, "d1"), (4, 50, None, "e1")]
    assert {t: after[t] for t in ("comments", "groups", "user_groups")} == {
        t: START[t] for t in ("comments", "groups", "user_groups")}


# -- 3. a pooled connection killed while idle ------------------------------------------------

@pytest.mark.parametrize("idle", [1, 2], ids=["one-idle", "every-idle"])
def test_connections_killed_while_idle_in_the_pool_are_replaced(server, killer, idle):
    """Real fault: between two sessions, the server ends the pooled idle
    connections (``idle`` of them, all the pool holds: one, or several as a
    server restart ends them all), killed from a second connection. The
    next session works without the caller doing anything, on a new
    connection, with exact results; that connection then stays pooled."""
    database = Database(namespace_url(server, "_faults", fresh=True), models=MODELS)
    try:
        database.migrate()
        build_start(database)
        ids = []
        sessions = [database.session() for _ in range(idle)]
        for s in sessions:  # nested: each holds a connection of its own
            s.__enter__()
            ids.append(s.fetch(connection_id_sql(server))[0][0])
        for s in reversed(sessions):
            s.__exit__(None, None, None)
        assert len(set(ids)) == idle
        for conn_id in ids:
            kill_connection(server, killer, conn_id)

        with database.session() as s:
            now = s.fetch(connection_id_sql(server))[0][0]
            assert now not in ids
            users = User.query().join_with("posts").order_by("id").find()
            assert [(u.username, [p.title for p in u.posts]) for u in users] == [
                ("ada", ["hello"]), ("bob", ["tips"]), ("cyd", [])]
            s.persist(User(username="dora"))
        assert rows(database)["users"] == [(1, "ada"), (2, "bob"), (3, "cyd"), (4, "dora")]
        with database.session() as s:
            assert s.fetch(connection_id_sql(server))[0][0] == now
    finally:
        database.close()


def test_a_first_statement_that_finds_its_connection_killed_is_resent_unless_ddl_commits(
        server, killer):
    """Real fault: the pooled connection is killed while idle; the next
    session's first statement finds it dead. A read or a write is sent
    again on a new connection (nothing of its transaction can have
    committed); DDL is too where DDL is transactional (PostgreSQL), but not
    on MySQL/MariaDB, where it commits by itself and might have run:
    ConnectionLost, and the next statement gets a new connection."""
    database = Database(namespace_url(server, "_faults", fresh=True), models=[])
    try:
        ddl = 'CREATE TABLE "fa_probe" ("id" INTEGER PRIMARY KEY)'

        def kill_idle() -> None:
            with database.session() as s:
                conn_id = s.fetch(connection_id_sql(server))[0][0]
            kill_connection(server, killer, conn_id)

        kill_idle()
        assert database.execute("SELECT 41 + 1") == [(42,)]
        kill_idle()
        if database.dialect.features.transactional_ddl:
            database.execute(ddl)
        else:
            with pytest.raises(ConnectionLost):
                database.execute(ddl)
            database.execute(ddl)  # it had not run: the kill came first
        kill_idle()
        database.execute('INSERT INTO "fa_probe" ("id") VALUES (1)')
        assert database.execute('SELECT "id" FROM "fa_probe"') == [(1,)]
    finally:
        database.close()


def test_a_query_with_relations_first_in_its_session_survives_a_killed_connection(
        server, killer):
    """Real fault: the pooled connection is killed while idle; the next
    session begins with a query whose relations go in its round trip
    (PostgreSQL pipelines BEGIN, the users' SELECT and the posts'). The
    whole batch is sent again on a new connection, with exact results."""
    database = Database(namespace_url(server, "_faults", fresh=True), models=MODELS)
    try:
        database.migrate()
        build_start(database)
        with database.session() as s:
            conn_id = s.fetch(connection_id_sql(server))[0][0]
        kill_connection(server, killer, conn_id)
        with database.session() as s:
            users = User.query().filter(User.id.in_([1, 2])).join_with("posts").order_by("id").find()
            assert [(u.username, [p.title for p in u.posts]) for u in users] == [
                ("ada", ["hello"]), ("bob", ["tips"])]
            assert s.fetch(connection_id_sql(server))[0][0] != conn_id
    finally:
        database.close()


def test_a_socket_psycopg_finds_hung_up_is_a_lost_connection(server):
    """When psycopg's wait finds the socket hung up before libpq has read
    the server's goodbye (which happens, now and then, to a pipeline sent to
    a killed connection), psycopg raises "connection socket closed" while
    the connection still reports itself good. That is a lost connection:
    ConnectionLost, the connection closed and never reused, and not an
    ActiverelError that leaves it in the pool."""
    if server != "postgresql":
        pytest.skip("the message is psycopg's; MySQL's drivers report a lost connection by code")
    database = Database(URLS[server], models=[])
    try:
        conn = database.engine.connect()
        try:
            hung_up = database.dialect.psycopg.OperationalError("connection socket closed")
            assert not conn.closed and not conn.broken
            assert database.dialect.is_disconnect(hung_up, conn)
            refused = database.dialect.psycopg.OperationalError("canceling statement due to lock timeout")
            assert not database.dialect.is_disconnect(refused, conn)
        finally:
            conn.close()
    finally:
        database.close()


# -- 4. pool bounds ---------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["nested", "thread"])
def test_a_session_waiting_past_pool_timeout_gets_pool_exhausted(backend, fault_db, where):
    """Real fault: a pool of one connection, held by a session that has sent
    a statement; a second session (nested, or in another thread) asks for a
    connection and gets PoolExhausted after the 0.2 s pool timeout. Once the
    first session ends, the next one works."""
    build_start(fault_db)
    database = Database(str(fault_db.url.raw), models=MODELS, pool_size=1, pool_timeout=0.2)
    try:
        outcome: dict[str, Any] = {}

        def second_session() -> None:
            started = time.monotonic()
            try:
                with database.session():
                    User.query().find()
            except BaseException as exc:  # noqa: B036 - reported to the test thread
                outcome["error"] = exc
            outcome["elapsed"] = time.monotonic() - started

        with database.session() as s:
            assert [u.username for u in User.query().order_by("id").find()] == ["ada", "bob", "cyd"]
            if where == "nested":
                second_session()
            else:
                t = threading.Thread(target=second_session)
                t.start()
                t.join(10)
                assert not t.is_alive()
            s.persist(User(username="dora"))
        assert isinstance(outcome.get("error"), PoolExhausted), outcome
        assert "within 0.2 s" in str(outcome["error"])
        assert 0.15 <= outcome["elapsed"] < 2, outcome["elapsed"]

        for _ in range(2):  # the slot came back, every time
            with database.session():
                assert [u.username for u in User.query().order_by("id").find()] == [
                    "ada", "bob", "cyd", "dora"]
    finally:
        database.close()
