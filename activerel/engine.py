"""Connections and transactions. An :class:`Engine` holds a database's
dialect, its idle connections and the catalog of foreign keys the server
itself enforces; a :class:`Connection` is one session's use of one DB-API
connection: the transaction begun lazily, COMMIT and ROLLBACK, statements
sent with bound parameters and logged, driver errors translated.

Created by :class:`~activerel.database.Database` (engine) and the session
(connection). Imports :mod:`activerel.dialects`, :mod:`activerel.mapping`,
:mod:`activerel.url` and :mod:`activerel.errors`."""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Optional, Sequence

from .dialects.base import Dialect
from .errors import ActiverelError, ConfigurationError, ValidationError
from .mapping.markers import ACTION_EFFECTS, Effect
from .mapping.properties import ReferenceProp
from .url import URL

log = logging.getLogger("activerel.sql")

#: (table, columns, referenced table, ON DELETE action)
ForeignKey = tuple[str, tuple[str, ...], str, str]


class Engine:
    """A database's dialect and its pool of idle DB-API connections."""

    def __init__(self, url: URL, dialect: Dialect, echo: bool = False) -> None:
        self.url = url
        self.dialect = dialect
        self.echo = echo
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        self._foreign_keys: Optional[set[ForeignKey]] = None
        self.closed = False

    def acquire(self) -> Any:
        """An idle DB-API connection, or a new one."""
        if self.closed:
            raise ActiverelError(f"Database({self.url.safe!r}) is closed")
        with self._lock:
            if self._idle:
                return self._idle.pop()
        try:
            return self.dialect.connect()
        except Exception as exc:
            raise ConfigurationError(f"cannot connect to {self.url.safe}: {exc}") from exc

    def release(self, conn: Any) -> None:
        """Give a connection back (closing it if the engine is closed)."""
        if self.closed:
            self.dialect.close(conn)
            return
        with self._lock:
            self._idle.append(conn)

    def close(self) -> None:
        """Close every idle connection and what the dialect holds."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            self.dialect.close(conn)
        self.dialect.dispose()
        self.closed = True

    def forget_foreign_keys(self) -> None:
        """The schema changed: read the enforced foreign keys again when asked."""
        self._foreign_keys = None

    def enforces(self, fetch: Callable[[str, Sequence[Any]], list[tuple]],
                 tables: Sequence[str], ref: ReferenceProp) -> bool:
        """Whether the database itself applies ``ref``'s on_delete (a foreign
        key with that action exists in its catalog). The catalog of
        ``tables`` is read once, through ``fetch``, until forgotten."""
        fks = self._foreign_keys
        if fks is None:
            fks = self._foreign_keys = self.dialect.foreign_keys(fetch, tables)
        cols = tuple(c.name for c in ref.columns)
        action = ref.on_delete
        if ACTION_EFFECTS[action] is Effect.REFUSE:  # RESTRICT and NO ACTION refuse alike
            alike = {a for a, effect in ACTION_EFFECTS.items() if effect is Effect.REFUSE}
        else:
            alike = {action}
        return any((ref.owner.table, cols, ref.target_mapper.table, a) in fks for a in alike)


class Connection:
    """One session's connection: acquired on the first statement, with the
    transaction begun lazily, until :meth:`release`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        self.conn: Any = None
        self.cursor: Any = None
        self.in_transaction = False

    def _log(self, sql: str, params: Any) -> None:
        if self.engine.echo:
            print(f"{sql}  {params!r}" if params else sql)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %r", sql, params, extra={"sql": sql, "params": params})

    def _cursor(self) -> Any:
        if self.conn is None:
            self.conn = self.engine.acquire()
            self.cursor = self.conn.cursor()
        if not self.in_transaction:
            sent = self.dialect.begin(self.conn)
            if sent:
                self._log(sent, ())
            self.in_transaction = True
        return self.cursor

    def _send(self, sql: str, params: Any, send: Callable[[Any], Any]) -> Any:
        """Log a statement and run ``send(cursor)``, translating driver errors."""
        cur = self._cursor()
        self._log(sql, params)
        try:
            return send(cur)
        except Exception as exc:
            self._driver_error(exc)
            raise  # _driver_error always raises

    def _driver_error(self, exc: Exception) -> None:
        err = self.dialect.translate_error(exc)
        if err is not None:
            raise err from exc
        if isinstance(exc, (UnicodeError, OverflowError, ValueError)):
            raise ValidationError(f"the {self.dialect.name} driver cannot send a value: {exc}") from exc
        raise exc

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Send one statement with bound parameters; returns the cursor."""
        return self._send(sql, params, lambda cur: (cur.execute(sql, params), cur)[1])

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any:
        """Send one statement once per row of parameters."""
        return self._send(sql, rows, lambda cur: (cur.executemany(sql, rows), cur)[1])

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """Run a SELECT and return its rows as tuples."""
        return list(self.execute(sql, params).fetchall())

    def insert_generated(self, sql: str, params: Sequence[Any], count: int, pk_column: str) -> list[Any]:
        """A multi-row INSERT leaving ``pk_column`` to the database: the keys."""
        return self._send(sql, params, lambda cur: self.dialect.insert_generated(
            cur, sql, params, count, pk_column))

    def insert_each(self, sql: str, rows: Sequence[Sequence[Any]], pk_column: str) -> list[Any]:
        """The single-row INSERT ``sql`` for every row; the generated keys."""
        return self._send(sql, rows, lambda cur: self.dialect.insert_each(
            cur, sql, rows, pk_column))

    def end(self, commit: bool) -> None:
        """COMMIT or ROLLBACK the open transaction."""
        self.in_transaction = False
        try:
            if commit:
                self._log("COMMIT", ())
                self.dialect.commit(self.conn)
            else:
                self._log("ROLLBACK", ())
                self.dialect.rollback(self.conn)
        except Exception as exc:
            err = self.dialect.translate_error(exc)
            if err is not None:
                raise err from exc
            raise

    def release(self) -> None:
        """Roll back what is still open and give the connection back."""
        if self.conn is not None:
            if self.in_transaction:
                self.end(False)
            self.engine.release(self.conn)
            self.conn = self.cursor = None
