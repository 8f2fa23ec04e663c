"""A transaction's BEGIN and its first statement. On PostgreSQL (libpq's
pipeline mode) both travel in one round trip, counted on the wire with
libpq's protocol trace: every round trip ends with the server's
ReadyForQuery. On MySQL/MariaDB the connection does not autocommit and the
first statement begins the transaction: no BEGIN is sent, as the server's
own count of the session's statements (``Questions``) shows, and a
flush's writes whose results nobody reads go in one multi-statement script
with the COMMIT, as on PostgreSQL they go in its pipeline. On every
backend, a first statement that fails leaves the session's transaction
rolled back and the pool's connection usable."""
from __future__ import annotations

import os
import tempfile
from typing import Any, Callable

import pytest

from activerel import ActiverelError, ConnectionLost, IntegrityError
from activerel.dialects.mysql_scripts import _in_step, _send, byte_size
from tests.models import Post, User


@pytest.fixture
def people(db):
    ada, bob, cyd = (User(username=n) for n in ("ada", "bob", "cyd"))
    db.persist(ada, bob, cyd, Post(author=ada, title="hello"))
    assert [u.id for u in (ada, bob, cyd)] == [1, 2, 3]


def _round_trips(db, run: Callable[[], Any]) -> tuple[int, Any]:
    """(round trips to the server, result) of ``run()`` on ``db``'s pooled
    connections, from libpq's trace of the protocol. ``run()`` runs 6 times
    first: psycopg prepares a statement on its 5th use, a round trip of its own."""
    for _ in range(6):
        run()
    conns = [conn for conn, _ in db.engine._idle]
    files = [tempfile.mkstemp() for _ in conns]
    try:
        for conn, (fd, _) in zip(conns, files):
            conn.pgconn.trace(fd)
        try:
            result = run()
        finally:
            for conn in conns:
                conn.pgconn.untrace()
        trace = []
        for _, path in files:
            with open(path) as f:
                trace += f.read().splitlines()
    finally:
        for fd, path in files:
            os.close(fd)
            os.unlink(path)
    return sum(1 for line in trace if "\tB\t" in line and "ReadyForQuery" in line), result


def test_mysql_sends_no_begin_the_first_statement_begins_the_transaction(backend, db, people):
    if backend != "mysql":
        pytest.skip("SQLite has no round trips; PostgreSQL: the test below")
    assert db.dialect.features.begin_with_statement

    def questions() -> int:
        # the statements this connection sent, this one included
        return int(db.execute("SHOW SESSION STATUS LIKE 'Questions'")[0][1])

    # (one session after another: each takes the connection the last gave back)
    before = questions()
    with db.session():
        name = User.get(1).username
        post = Post.query().filter(Post.title == "hello").find_one()
        post.title = "hello again"
    after = questions()
    assert name == "ada" and Post.query().filter(Post.title == "hello again").count() == 1
    # COMMIT (of the first count), SELECT, SELECT, UPDATE, COMMIT, then the count
    assert after - before == 6


def test_begin_travels_with_the_first_statement_on_postgresql(backend, db, people, sql_log):
    if backend != "postgresql":
        pytest.skip("only PostgreSQL's driver pipelines (libpq pipeline mode)")
    assert db.dialect.features.begin_with_statement

    def read() -> Any:
        with db.session():
            return User.get(1).username

    trips, name = _round_trips(db, read)
    assert name == "ada"
    assert trips == 2  # BEGIN + SELECT, then COMMIT (3 when BEGIN went alone)
    assert [s.split(" ", 1)[0] for s in sql_log.statements[-3:]] == ["BEGIN", "SELECT", "COMMIT"]

    names = iter(range(100))

    def write() -> Any:
        with db.session():
            ada = User.get(1)
            ada.username = f"ada{next(names)}"
        return User.get(1).username

    trips, name = _round_trips(db, write)
    # BEGIN + SELECT, UPDATE + COMMIT (the flush's last write waits for the
    # COMMIT); then the read outside: BEGIN + SELECT, COMMIT
    assert (trips, name) == (4, "ada6")


def test_a_failing_first_statement_rolls_back_and_the_connection_goes_on(db, people):
    with pytest.raises(ActiverelError, match="no_such_table|does not exist|doesn't exist"):
        with db.session():
            db.execute("SELECT * FROM no_such_table")
    with pytest.raises(IntegrityError):
        with db.session():
            db.execute("INSERT INTO users (id, username) VALUES (1, 'again')")
    assert db.execute("SELECT username FROM users ORDER BY id") == [("ada",), ("bob",), ("cyd",)]
    with db.session():
        post = Post.query().filter(Post.title == "hello").find_one()
        post.title = "hello again"
    assert Post.query().filter(Post.title == "hello again").count() == 1


def test_a_query_and_its_joined_relations_share_one_round_trip_on_postgresql(backend, db, people):
    if backend != "postgresql":
        pytest.skip("only PostgreSQL's driver pipelines (libpq pipeline mode)")
    assert db.dialect.features.batch_reads

    def read() -> Any:
        with db.session():
            users = User.query().filter(User.username.in_(["ada", "bob"])).join_with("posts") \
                .join_with("comments").order_by("id").find()
            return [(u.username, [p.title for p in u.posts], u.comments) for u in users]

    trips, found = _round_trips(db, read)
    assert found == [("ada", ["hello"], []), ("bob", [], [])]
    # BEGIN + the users' SELECT + the posts' + the comments' (one pipeline), then COMMIT
    assert trips == 2

    def paged() -> Any:
        with db.session():
            users = User.query().filter(User.username.in_(["ada", "bob"])).join_with("posts") \
                .order_by("id").limit(10).find()
            return [(u.username, [p.title for p in u.posts]) for u in users]

    # paged, one relation: BEGIN, the users' SELECT and the posts' in one pipeline
    assert _round_trips(db, paged) == (2, [("ada", ["hello"]), ("bob", [])])

    def inside() -> Any:
        with db.session():
            User.get(3)
            [u] = User.query().filter(User.username == "ada").join_with("posts").find()
            return [p.title for p in u.posts]

    trips, titles = _round_trips(db, inside)
    # BEGIN + get, the user with the posts (one UNION ALL), COMMIT
    assert (trips, titles) == (3, ["hello"])


def test_writes_without_results_wait_for_the_next_round_trip_on_postgresql(backend, db, people):
    if backend != "postgresql":
        pytest.skip("only PostgreSQL's driver pipelines (libpq pipeline mode)")
    assert db.dialect.features.queue_writes
    n = iter(range(100))

    def request() -> Any:
        with db.session():
            ada = User.get(1)
            post = Post.query().filter(Post.author == ada).order_by("id").find()[0]
            post.title = f"hello {next(n)}"
            Post(author=ada, title="another").persist()
        return post.title

    trips, title = _round_trips(db, request)
    assert title == "hello 6"
    # BEGIN + the user's SELECT, the posts', the UPDATE with the INSERT that
    # reads its key back, COMMIT
    assert trips == 4
    assert db.execute("SELECT count(*) FROM posts WHERE title = 'another'") == [(7,)]


def _mysql_round_trips(monkeypatch, run: Callable[[], Any]) -> tuple[list[bytes], Any]:
    """(the queries sent, result) of ``run()`` on MySQL/MariaDB: each of
    mysqlclient's ``query()`` is one round trip (a multi-statement script
    too), and so is each ``commit()``/``rollback()``, listed as COMMIT()
    and ROLLBACK()."""
    import MySQLdb.connections as mc
    sent: list[bytes] = []
    query, commit, rollback = mc.Connection.query, mc.Connection.commit, mc.Connection.rollback

    def counted_query(conn: Any, sql: Any) -> Any:
        sent.append(sql if isinstance(sql, bytes) else sql.encode())
        return query(conn, sql)

    def counted(name: bytes, fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def call(conn: Any) -> Any:
            sent.append(name)
            return fn(conn)
        return call

    run()
    monkeypatch.setattr(mc.Connection, "query", counted_query)
    monkeypatch.setattr(mc.Connection, "commit", counted(b"COMMIT()", commit))
    monkeypatch.setattr(mc.Connection, "rollback", counted(b"ROLLBACK()", rollback))
    try:
        result = run()
    finally:
        monkeypatch.undo()
    return sent, result


def test_writes_without_results_go_with_the_commit_on_mysql(backend, db, people, monkeypatch):
    if backend != "mysql":
        pytest.skip("MySQL/MariaDB: a multi-statement script (PostgreSQL: the pipeline above)")
    assert db.dialect.features.queue_writes
    n = iter(range(100))

    def request() -> Any:
        with db.session():
            ada = User.get(1)
            posts = Post.query().filter(Post.author == ada).order_by("id").find()
            posts[0].title = f"hello {next(n)}"
            ada.username = f"ada {next(n)}"
        return posts[0].title

    sent, title = _mysql_round_trips(monkeypatch, request)
    assert title == "hello 2"
    # the user, the posts, then both UPDATEs and the COMMIT in one script
    # (they were three round trips of their own)
    assert [q.split(b" ", 1)[0] for q in sent] == [b"SELECT", b"SELECT", b"UPDATE"]
    script = sent[-1].split(b";\n")
    assert [part.split(b" ", 1)[0] for part in script] == [b"UPDATE", b"UPDATE", b"COMMIT"]
    assert db.execute("SELECT username FROM users WHERE id = 1") == [("ada 3",)]
    assert db.execute("SELECT title FROM posts WHERE id = 1") == [("hello 2",)]

    def insert() -> Any:
        with db.session():
            bob = User.get(2)
            bob.username = f"bob {next(n)}"
            Post(author=bob, title="another").persist()

    sent, _ = _mysql_round_trips(monkeypatch, insert)
    kinds = [q.split(b" ", 1)[0] for q in sent]
    if db.dialect.features.returning:
        # the INSERT reads its key back at once; the held UPDATE goes with the COMMIT
        assert kinds == [b"SELECT", b"INSERT", b"UPDATE"] and sent[-1].endswith(b";\nCOMMIT")
    assert db.execute("SELECT count(*) FROM posts WHERE title = 'another'") == [(2,)]


def test_held_writes_go_in_scripts_cut_by_size_on_mysql(backend, db, people, monkeypatch):
    """A script's values stay far below the server's max_allowed_packet: held
    writes beyond the budget go in scripts of their own, the COMMIT with the
    last; text counts its UTF-8 bytes."""
    if backend != "mysql":
        pytest.skip("MySQL/MariaDB's multi-statement scripts")
    assert byte_size("UPDATE", ("é" * 10, "abc", b"xy", 5)) == 6 + 23 + 6 + 12 + 24
    dialect = db.dialect
    assert 0 < dialect.script_budget <= 4 << 20
    monkeypatch.setattr(dialect, "script_budget", 64)
    n = iter(range(100))

    def request() -> Any:
        with db.session():
            k = next(n)
            ada, post = User.get(1), Post.get(1)
            ada.username = f"{k} " + "é" * 40  # 81 bytes: over the budget alone
            post.title = f"{k} " + "t" * 20
        return k

    sent, k = _mysql_round_trips(monkeypatch, request)
    assert [q.split(b" ", 1)[0] for q in sent] == [b"SELECT", b"SELECT", b"UPDATE", b"UPDATE"]
    # the long username alone; the title with the COMMIT
    assert [q.count(b";") for q in sent[2:]] == [0, 1] and sent[-1].endswith(b";\nCOMMIT")
    assert db.execute("SELECT username FROM users WHERE id = 1") == [(f"{k} " + "é" * 40,)]
    assert db.execute("SELECT title FROM posts WHERE id = 1") == [(f"{k} " + "t" * 20,)]


def _nextset_failing_once(db: Any, monkeypatch: Any, error: BaseException) -> Callable[[], None]:
    """A function that makes the connections' next ``nextset()`` (reading a
    script's next result) raise ``error``, once."""
    cursor_class = db.dialect.params["cursorclass"]
    real = cursor_class.nextset

    def failing(cur: Any) -> Any:
        monkeypatch.setattr(cursor_class, "nextset", real)
        raise error
    return lambda: monkeypatch.setattr(cursor_class, "nextset", failing)


def _two_idle_connections(db: Any) -> set[Any]:
    """Two connections made and left idle in the pool."""
    with db.session() as first, db.session() as second:
        first.fetch("SELECT 1")
        second.fetch("SELECT 1")
        return {first.connection.conn, second.connection.conn}


def _packet_error(db: Any) -> BaseException:
    return db.dialect.driver.OperationalError(1153, "Got a packet bigger than "
                                              "'max_allowed_packet' bytes")


def test_a_script_interrupted_while_read_closes_its_connection_on_mysql(
        backend, db, people, monkeypatch):
    """Every result of a script must be read before the connection sends
    anything else: interrupted in between, the connection is closed (not
    given back to the pool out of step). The server ran the whole script,
    COMMIT included."""
    if backend != "mysql":
        pytest.skip("MySQL/MariaDB's multi-statement scripts")
    arm = _nextset_failing_once(db, monkeypatch, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        with db.session() as s:
            User.get(1).username = "ada2"
            raw = s.connection.conn
            arm()
    assert not raw.open
    with db.session() as s:  # the pool does not hand it out again
        assert s.fetch("SELECT 1") == [(1,)] and s.connection.conn is not raw
    assert db.execute("SELECT username FROM users ORDER BY id") == [("ada2",), ("bob",), ("cyd",)]


def test_a_commit_script_out_of_step_says_the_outcome_is_unknown_on_mysql(
        backend, db, people, monkeypatch):
    """A COMMIT that went in a script whose results then came out of step
    (an error after which mysqlclient closes the connection) may have
    committed: ConnectionLost says the outcome is unknown, as for a
    connection lost during the COMMIT. Here the server ran the whole
    script. The idle pooled connections are kept (the server is there)."""
    if backend != "mysql":
        pytest.skip("MySQL/MariaDB's multi-statement scripts")
    arm = _nextset_failing_once(db, monkeypatch, _packet_error(db))
    pooled = _two_idle_connections(db)
    with pytest.raises(ConnectionLost, match=r"during COMMIT \(\(1153, .*is unknown"):
        with db.session() as s:
            User.get(1).username = "ada2"
            raw = s.connection.conn
            arm()
    assert not raw.open
    (idle,) = pooled - {raw}
    assert db.execute("SELECT username FROM users ORDER BY id") == [("ada2",), ("bob",), ("cyd",)]
    with db.session() as s:  # the idle connection was not invalidated
        s.fetch("SELECT 1")
        assert s.connection.conn is idle


@pytest.mark.parametrize("failure", ["interrupt", "packet"])
def test_a_script_that_closes_its_connection_under_a_savepoint_loses_the_transaction_on_mysql(
        backend, db, people, monkeypatch, failure):
    """A savepoint's flush whose script closes the connection while its
    results are read (an interruption, or an error after which the
    connection is out of step, such as a packet over the server's limit)
    raises the interruption, or ConnectionLost naming the error: not an
    error of rolling back to the savepoint on the closed connection. The
    whole transaction went with the connection (so the session cannot go
    on, as after any lost connection), and every object it wrote is put
    back as it was before its first flush, its changes pending again. The
    server is there: the idle pooled connections are kept."""
    if backend != "mysql":
        pytest.skip("MySQL/MariaDB's multi-statement scripts")
    arm = _nextset_failing_once(
        db, monkeypatch, KeyboardInterrupt() if failure == "interrupt" else _packet_error(db))
    pooled = _two_idle_connections(db)
    with pytest.raises(BaseException) as raised:
        with db.session() as s:
            ada = User.get(1)
            ada.username = "ada2"
            s.flush()
            raw = s.connection.conn
            with s.savepoint():
                ada.username = "ada3"
                bob = User.get(2)
                bob.username = "bob2"
                arm()
    if failure == "interrupt":
        assert type(raised.value) is KeyboardInterrupt
    else:  # the transaction is gone with the connection: ConnectionLost, saying why
        assert type(raised.value) is ConnectionLost and "(1153, " in str(raised.value)
        assert "closed for that error, so its transaction is rolled back" in str(raised.value)
    assert not raw.open and raw in pooled
    (idle,) = pooled - {raw}
    assert (ada.username, bob.username) == ("ada2", "bob2")
    assert ada._ar_state.dirty == {"username": "ada"} and bob._ar_state.dirty == {"username": "bob"}
    assert db.execute("SELECT username FROM users ORDER BY id") == [("ada",), ("bob",), ("cyd",)]
    with db.session() as s:  # the idle connection was not invalidated
        s.fetch("SELECT 1")
        assert s.connection.conn is idle


def test_held_text_of_its_own_on_mysql(backend, db, people):
    """``Session.queue`` takes any text: one ending in a comment does not
    swallow the COMMIT after it, and one holding ';' goes alone, held to one
    statement by the server as every other such text is."""
    if backend != "mysql":
        pytest.skip("MySQL/MariaDB's multi-statement scripts")
    with db.session() as s:
        User.get(1)
        s.queue("UPDATE users SET username = 'ada2' WHERE id = 1 -- a note", ())
        s.queue("UPDATE users SET username = 'b;b' WHERE id = 2", ())
    assert db.execute("SELECT username FROM users ORDER BY id") == [("ada2",), ("b;b",), ("cyd",)]
    with pytest.raises(ActiverelError, match="syntax"):
        with db.session() as s:
            User.get(1)
            s.queue("UPDATE users SET username = 'x' WHERE id = 3; DELETE FROM users", ())
    assert db.execute("SELECT username FROM users ORDER BY id") == [("ada2",), ("b;b",), ("cyd",)]


def test_which_script_errors_leave_the_connection_in_step():
    class DriverError(Exception):
        pass
    assert _in_step(DriverError(1062, "Duplicate entry"))  # the server's, for one statement
    assert not _in_step(DriverError(2013, "Lost connection"))  # the client's
    assert not _in_step(DriverError(1153, "packet too large"))
    assert not _in_step(KeyboardInterrupt())
    assert not _in_step(TypeError("not all arguments converted"))


def test_a_script_with_fewer_results_than_statements_closes_its_connection():
    """The server answers each statement of a script with a result; a count
    that differs means the connection is out of step with what was sent, so
    it is closed and the failure is a lost connection (whose transaction
    the server rolls back). The server cannot be made to do this, so a
    cursor stands in for mysqlclient's."""
    class Conn:
        closed = False

        def close(self) -> None:
            self.closed = True

    class Cursor:
        lastrowid = 7

        def __init__(self) -> None:
            self.connection = Conn()
            self.sent: list[Any] = []

        def execute_script(self, sql: str, args: list[Any]) -> None:
            self.sent.append((sql, args))

        def nextset(self) -> Any:
            return None  # one result only

    cur = Cursor()
    with pytest.raises(ConnectionLost, match="a script of 2 statements gave 1 results"):
        _send(cur, ["UPDATE t SET a = %s", "UPDATE t SET b = %s"], [1, 2])
    assert cur.sent == [("UPDATE t SET a = %s;\nUPDATE t SET b = %s", [1, 2])]
    assert cur.connection.closed
    assert _send(Cursor(), ["UPDATE t SET a = %s"], [1]) == [7]


def test_a_pooled_connection_holds_no_large_result_on_postgresql(backend, db, people):
    """psycopg cursors for BEGIN, COMMIT and a batch's extra SELECTs are kept
    on pooled connections (making one costs as much Python as a statement);
    one that read many rows lets them go as its connection goes back to the
    pool."""
    if backend != "postgresql":
        pytest.skip("only PostgreSQL keeps cursors on pooled connections")
    ada = User.get(1)
    db.persist(*[Post(author=ada, title=f"p{i}") for i in range(1001)])

    def held() -> list[int]:
        return [cur.pgresult.ntuples for conn, _ in db.engine._idle
                for cur in getattr(conn, "_ar_cursors", None) or []
                if not cur.closed and cur.pgresult is not None]

    query = User.query().filter(User.id == 1).join_with("groups").join_with("posts")
    with db.session():
        [u] = query.find()
        # read in the users' round trip by the second kept cursor (the first
        # sends the COMMIT after it)
        assert len(u.posts) == 1002
    assert max(held(), default=0) <= 1000
    with db.session():
        [u] = query.find()
        assert len(u.posts) == 1002  # the cursors are made again


def test_the_cursor_a_session_hands_out_is_its_own(db, people):
    """A cursor from session.execute() is the caller's: closing it leaves the
    pooled connection working, and one kept past its session still holds its
    own rows after another session used that connection."""
    with db.session() as s:
        s.execute("SELECT username FROM users WHERE id = 1").close()
    with db.session() as s:
        assert s.fetch("SELECT username FROM users WHERE id = 2") == [("bob",)]
    with db.session() as s:
        kept = s.execute("SELECT username FROM users WHERE id = 1")
    with db.session() as s:
        assert s.fetch("SELECT username FROM users WHERE id = 3") == [("cyd",)]
    assert list(kept.fetchall()) == [("ada",)]
