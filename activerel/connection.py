"""One session's use of one DB-API connection: the transaction begun
lazily (on a backend that pipelines, its BEGIN travels with the first
statement), COMMIT and ROLLBACK, statements sent with bound parameters and
logged, driver errors translated, and streams of rows read in batches.
Where the backend pipelines, several SELECTs go in one round trip
(``fetch_batch``). Where the dialect can, small writes whose result nobody
reads wait for the next statement (in its round trip where the backend
pipelines, in one script before it on MySQL) or go with the COMMIT
(``queue``; ``drain`` sends them, a rollback drops them).

A transaction's begin that finds its connection dead (it died while idle)
is retried once on a new one, with the first statement where that carries
the begin: nothing of the transaction can have committed (DDL that commits
by itself, on MySQL, is not resent). A connection that fails otherwise
(lost, or in an unknown state after a failed COMMIT or ROLLBACK) is marked
broken and closed by the engine when released.
Made by the session (and :mod:`activerel.querying.stream`). Imports
:mod:`activerel.engine`, :mod:`activerel.sql.ddl` (what is DDL) and errors."""
from __future__ import annotations

import contextlib
import logging
from typing import Any, Callable, Iterator, Sequence, cast

from .engine import Engine
from .errors import ActiverelError, ConnectionLost, ValidationError
from .sql.ddl import is_ddl

log = logging.getLogger("activerel.sql")

#: the most parameters (or rows) of a queued write: a larger one goes on its
#: own (W1's 20,000 pivot rows cost 60-80 ms more CPU in a libpq pipeline)
QUEUED_AT_MOST = 512

#: the first words of statements that write (a raw db.execute() may be either)
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")


class Connection:
    """One session's connection: acquired on the first statement, with the
    transaction begun lazily, until :meth:`release`."""

    def __init__(self, engine: Engine, write: bool = False) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        self.conn: Any = None
        self.cursor: Any = None
        self.in_transaction = False
        #: the connection failed and must not be reused
        self.broken = False
        #: begin every / the next transaction as a write one (write=True / for_update())
        self.write = write
        self._write_next = False
        #: the open transaction began as a write one, or has written
        self._writing = False
        #: on a pinned connection: the savepoint that is this session's transaction
        self._pinned_at = ""
        #: transactions begun so far, the stream cursors open in this one, and
        #: the writes waiting for the next statement's round trip (queue())
        self.transactions = 0
        self._streams: list[Any] = []
        self._queued: list[tuple[str, Any, bool]] = []

    def _log(self, sql: str, params: Any) -> None:
        if self.engine.echo:
            print(f"{sql}  {params!r}" if params else sql)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %r", sql, params, extra={"sql": sql, "params": params})

    def _cursor(self) -> Any:
        if self.conn is None:
            self._attach()
        if not self.in_transaction:
            try:
                self._begin()
            except Exception as exc:
                if not self.dialect.is_disconnect(exc, self.conn):
                    self._driver_error(exc)
                # it died while idle: nothing of this transaction was sent
                # yet, so a new connection may take it (and the other idle
                # ones, as old, are replaced as they come up)
                self.engine.invalidate()
                self._drop()
                self._attach()
                try:
                    self._begin()
                except Exception as again:
                    self._driver_error(again)
        return self.cursor

    def _attach(self) -> None:
        self.conn = self.engine.acquire()
        self.cursor = self.conn.cursor()  # the session's own: it may hand it out

    def _control(self, sql: str) -> None:
        """Send a transaction-control statement (no parameters, no transaction
        of its own to begin): logged, driver errors translated."""
        self._log(sql, ())
        try:
            self.cursor.execute(sql)
        except Exception as exc:
            self._driver_error(exc)

    def _begin(self) -> None:
        write = self.write or self._write_next
        if self.conn is self.engine.pinned:
            # a pinned connection: this transaction is a savepoint of its one
            self._pinned_at = self.engine.savepoint_name()
            self._control(self.dialect.savepoint_sql(self._pinned_at))
            self._began(True)  # (the pinned transaction decides the locks)
            return
        sent = self.dialect.begin(self.conn, write)
        if sent:
            self._log(sent, ())
        self._began(write)

    def _began(self, write: bool) -> None:
        self.transactions += 1
        self.in_transaction = True
        self._writing = write
        self._write_next = False

    def _begin_with(self, statements: Sequence[tuple[str, Sequence[Any]]],
                    send: Callable[[], Any]) -> bool:
        """Where the dialect can (``features.begin_with_statement``): begin
        the transaction and, by ``send()``, its first ``statements`` in one
        round trip; False where it cannot (a pinned connection's transaction
        is a savepoint). A connection found lost is replaced once, the
        statements sent again: nothing of the transaction can have committed,
        unless it is DDL that commits by itself (MySQL), which is not sent
        twice."""
        if self.conn is None:
            self._attach()
        if self.conn is self.engine.pinned:
            return False
        for retry in (True, False):
            write = self.write or self._write_next
            if self.dialect.begin_with_sent:
                self._log(self.dialect.begin_with_sent, ())
            for sql, params in statements:
                self._log(sql, params)
            self._began(write)  # (a failing statement leaves it open: rolled back)
            try:
                send()
                return True
            except Exception as exc:
                if not (retry and self.dialect.is_disconnect(exc, self.conn)) or (
                        not self.dialect.features.transactional_ddl
                        and is_ddl(statements[0][0])):
                    self._driver_error(exc)
                self.engine.invalidate()
                self._drop()
                self._attach()
        raise AssertionError("unreachable")  # pragma: no cover

    def _began_with(self, sql: str, params: Sequence[Any]) -> bool:
        """Whether ``sql`` went with the transaction's begin (result on the cursor)."""
        return (not self.in_transaction and self.dialect.features.begin_with_statement
                and self._begin_with(((sql, params),), lambda: self.dialect.begin_with(
                    self.conn, self.cursor, sql, params)))

    def _drop(self) -> None:
        """Give up the current connection: closed, not reused."""
        conn, self.conn, self.cursor = self.conn, None, None
        self.in_transaction = False
        self.broken = False
        self.discard_queued()
        if conn is not None:
            self.engine.release(conn, broken=True)

    def _send(self, sql: str, params: Any, send: Callable[[Any], Any],
              more: Sequence[tuple[str, Any]] = ()) -> Any:
        """Log a statement (and ``more`` that go with it) and run
        ``send(cursor)``, translating driver errors."""
        cur = self._cursor()
        if self._queued and len(params) > QUEUED_AT_MOST:
            self.drain()  # the small writes first, in a round trip of their own
        self._log(sql, params)
        for sql, params in more:
            self._log(sql, params)
        return self._run(cur, send)

    def _run(self, cur: Any, send: Callable[[Any], Any]) -> Any:
        """``send(cur)`` after the queued writes (in its round trip where the
        dialect pipelines), errors translated."""
        try:
            if self._queued:
                queued, self._queued = self._queued, []
                return self.dialect.send_queued(self.conn, cur, queued, send)
            return send(cur)
        except Exception as exc:
            self._driver_error(exc)
            raise  # _driver_error always raises
        except BaseException:
            if self.conn is not None and not self.dialect.is_usable(self.conn):
                self.broken = True  # an interruption closed it (MySQL: a script half read)
            raise

    def queue(self, sql: str, params: Any, many: bool = False) -> None:
        """A small write whose result nobody reads (``many``: rows of
        parameters), held for the next statement's round trip where the
        dialect can (``features.queue_writes``; not on a pinned connection)."""
        if not (self.in_transaction and self.dialect.features.queue_writes
                and self.conn is not self.engine.pinned and len(params) <= QUEUED_AT_MOST):
            (self.executemany if many else self.execute)(sql, params)
            return
        self._log(sql, params)
        self._queued.append((sql, params, many))
        self._writing = True

    def discard_queued(self) -> None:
        """Drop the queued writes unsent (a savepoint rolled back to)."""
        self._queued.clear()

    def drain(self) -> None:
        """Send the queued writes now, in one round trip."""
        if self._queued:
            self._run(self.cursor, lambda cur: None)

    def _driver_error(self, exc: Exception) -> None:
        """Raise the activerel error for a driver exception (marking the
        connection broken when it was lost)."""
        if self.dialect.is_disconnect(exc, self.conn):
            raise _lost(self, f"({exc}); its transaction is rolled back and the connection is "
                        "not reused") from exc
        if self.conn is not None and not self.dialect.is_usable(self.conn):
            # closed for this error (MySQL: a script whose results are out of step):
            # the transaction went with it, the server is there (the pool is not suspect)
            if isinstance(exc, ConnectionLost):
                self.broken = True
                raise exc
            raise _lost(self, f"({exc}): it was closed for that error, so its transaction is "
                        "rolled back and the connection is not reused", suspect=False) from exc
        err = self.dialect.translate_error(exc)
        if err is not None:
            raise err from exc
        if isinstance(exc, (UnicodeError, OverflowError, ValueError)):
            raise ValidationError(f"the {self.dialect.name} driver cannot send a value: {exc}") from exc
        raise exc

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Send one statement with bound parameters; returns the cursor."""
        if not self._began_with(sql, params):
            self._send(sql, params, lambda cur: cur.execute(sql, params))
        cur = self.cursor
        if not self._writing and sql.lstrip()[:7].upper().startswith(_WRITES):
            self._writing = True  # SQLite: the transaction holds the write lock now
        return cur

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any:
        """Send one statement once per row of parameters."""
        cur = self._send(sql, rows, lambda cur: (cur.executemany(sql, rows), cur)[1])
        self._writing = True  # (INSERTs and UPDATEs of a flush)
        return cur

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a SELECT and return its rows as tuples."""
        if self._began_with(sql, params):
            return cast("list[tuple[Any, ...]]", list(self.cursor.fetchall()))
        return cast("list[tuple[Any, ...]]", self._send(
            sql, params, lambda cur: (cur.execute(sql, params), list(cur.fetchall()))[1]))

    def fetch_batch(self, statements: Sequence[tuple[str, Sequence[Any]]]
                    ) -> list[list[tuple[Any, ...]]]:
        """The rows of each SELECT: in one round trip (with the transaction's
        begin) where the dialect batches reads, else one after another."""
        d = self.dialect
        if not d.features.batch_reads:
            return [self.fetch(sql, params) for sql, params in statements]
        out: list[list[tuple[Any, ...]]] = []
        if not self.in_transaction and self._begin_with(statements, lambda: out.extend(
                d.fetch_batch(self.conn, self.cursor, statements, True))):
            return out
        sql, params = statements[0]
        return cast("list[list[tuple[Any, ...]]]", self._send(
            sql, params, lambda cur: d.fetch_batch(self.conn, cur, statements, False), statements[1:]))

    def insert_keys(self, sql: str, params: Any, send: Callable[[Any], list[Any]]) -> list[Any]:
        """An INSERT whose keys the database makes, sent by ``send(cursor)``: its keys."""
        keys = self._send(sql, params, send)
        self._writing = True  # (after _send, whose BEGIN resets it)
        return cast("list[Any]", keys)

    def commit(self) -> None:
        """COMMIT the open transaction. If that fails, the transaction is
        rolled back (a failed COMMIT may leave it open, holding its locks)
        and the error raised."""
        _close_all(self._streams)  # the transaction they read in ends
        self.in_transaction = False
        if self.conn is self.engine.pinned:  # (it queues nothing: see queue())
            self._control(self.dialect.release_savepoint_sql(self._pinned_at))
            return
        queued, self._queued = self._queued, []
        try:
            self._log("COMMIT", ())
            if queued:  # the last writes and COMMIT: one round trip (MySQL: per script part)
                self.dialect.commit_queued(self.conn, self.cursor, queued)
            else:
                self.dialect.commit(self.conn)
        except Exception as exc:
            lost = self.dialect.is_disconnect(exc, self.conn)
            if lost or not self.dialect.is_usable(self.conn):
                raise _lost(self, f"during COMMIT ({exc}): whether the server committed the "
                            "transaction is unknown. The objects were put back as unwritten; "
                            "check the rows before writing them again", suspect=lost) from exc
            if not self.broken:
                self._log("ROLLBACK", ())
                _rollback_quietly(self)
            self._driver_error(exc)

    def rollback(self) -> None:
        """ROLLBACK the open transaction. It never raises: a connection whose
        ROLLBACK fails is marked broken, and closing it ends the transaction."""
        self._queued.clear()  # never sent
        _close_all(self._streams)  # the transaction they read in ends
        self.in_transaction = False
        if self.broken:
            return  # the transaction died with the connection
        if self.conn is self.engine.pinned:
            try:
                self._control(self.dialect.rollback_to_savepoint_sql(self._pinned_at))
                self._control(self.dialect.release_savepoint_sql(self._pinned_at))
            except ActiverelError:
                self.broken = True  # as for a ROLLBACK that fails: it does not raise
            return
        self._log("ROLLBACK", ())
        _rollback_quietly(self)

    def release(self) -> None:
        """Roll back what is still open and give the connection back (or
        close it, if it broke)."""
        if self.conn is None:
            return
        if self.in_transaction:
            self.rollback()
        conn, self.conn, self.cursor = self.conn, None, None
        broken, self.broken = self.broken, False
        self.engine.release(conn, broken=broken)


def _lost(c: Connection, what: str, suspect: bool = True) -> ConnectionLost:
    """``c``'s connection is gone: marked broken (``suspect``: so are the
    pool's idle ones opened before now), and the error to raise."""
    c.broken = True
    if suspect:
        c.engine.invalidate()
    return ConnectionLost(f"{c.dialect.name}: the connection to {c.engine.url.safe} was lost {what}")


def _rollback_quietly(c: Connection) -> None:
    """ROLLBACK, never raising: a connection whose ROLLBACK fails is marked broken."""
    try:
        c.dialect.rollback(c.conn)
    except Exception:
        c.broken = True


def outside_transaction(c: Connection, sql: str) -> None:
    """Send a statement that must run between transactions (SQLite's
    ``PRAGMA foreign_keys``) on this session's connection."""
    if c.in_transaction:
        raise ActiverelError(f"{sql!r} must run outside a transaction; commit first")
    if c.conn is None:
        c._attach()
    if c.conn is c.engine.pinned:  # a test's transaction would ignore it
        raise ActiverelError(f"{sql!r} cannot run inside the pinned test transaction; "
                             "migrate before it begins (activerel.testing does)")
    c._control(sql)


def require_write_lock(c: Connection) -> None:
    """Before a locking read (``for_update()``): where the backend has no
    row locks (SQLite), the transaction must hold the write lock, so it
    is begun as a write transaction; one that began as a read cannot
    take it any more."""
    if c.dialect.features.row_locks:
        return
    if not c.in_transaction:
        c._write_next = True
    elif not c._writing:
        raise ActiverelError(
            f"{c.dialect.name}: for_update() locks the whole database, which a transaction "
            "that began by reading cannot do any more; make the locking query the first of "
            "the session, or open it with db.session(write=True)")


def _stream_alive(c: Connection, began: int) -> bool:
    if c.transactions != began or not c.in_transaction:
        raise ActiverelError("the transaction a stream (iterate()) read in ended (a commit or "
                             "rollback) while the stream was open: it cannot go on")
    return True


def _close_all(cursors: list[Any]) -> None:
    while cursors:
        _close_cursor(cursors.pop())


def _close_cursor(cursor: Any) -> None:
    with contextlib.suppress(Exception):  # a cursor of a transaction that ended
        cursor.close()


def stream_rows(self: Connection, sql: str, params: Sequence[Any], size: int,
                own_connection: bool = True) -> Iterator[list[tuple[Any, ...]]]:
    """Run a SELECT on the session connection ``self``; yield its rows in
    lists of at most ``size``, each fetched when asked for through the
    dialect's ``stream_cursor`` (a
    server-side cursor) beside the cursor other statements use. Where an
    open stream blocks its connection (``features.stream_blocks_connection``)
    it takes a free pool connection of its own (``own_connection``) if this
    transaction has not written (that connection would not see it); else
    the rows are read at once. A COMMIT or ROLLBACK ends the stream."""
    self._cursor()  # the transaction, begun
    self.drain()
    began, conn, side = self.transactions, self.conn, None
    if self.dialect.features.stream_blocks_connection:
        side = self.engine.acquire(wait=False) if own_connection and not self._writing else None
        if side is None:  # read at once
            rows = self.fetch(sql, params)
            yield from (rows[i:i + size] for i in range(0, len(rows), size)
                        if _stream_alive(self, began))
            return
        conn = side
    self._log(sql, params)
    cur, done = None, False
    try:
        try:
            cur = self.dialect.stream_cursor(conn)
            if side is None:
                self._streams.append(cur)  # closed before the transaction ends
            cur.execute(sql, params)
            while _stream_alive(self, began) and (rows := list(cur.fetchmany(size))):
                yield rows
        except (ActiverelError, GeneratorExit):
            raise
        except Exception as exc:
            if side is not None:  # not the session's connection: the session lost nothing
                raise self.dialect.translate_error(exc) or exc from exc
            self._driver_error(exc)
        done = True
    finally:
        if cur in self._streams:
            self._streams.remove(cur)
        # (an unbuffered result left unread is dropped with its connection, not read)
        if cur is not None and (done or side is None):
            _close_cursor(cur)
        if side is not None:
            if done:  # end the read's own transaction (where a statement begins one)
                try:
                    self.dialect.rollback(side)
                except Exception:
                    done = False
            self.engine.release(side, broken=not done)
