"""The pool of DB-API connections. An :class:`Engine` holds a database's
dialect, its pool and the catalog of foreign keys the server itself
enforces; a session uses one pooled connection through
:class:`activerel.connection.Connection`.

The pool heals: a connection released broken (lost, or in an unknown state
after a failed COMMIT or ROLLBACK) is closed, not reused; an idle one the
driver knows closed or older than ``pool_recycle`` is replaced, and so are
those opened before one was found lost. At most ``pool_size`` connections
exist; a session finding none within ``pool_timeout`` gets PoolExhausted.
Made by :class:`~activerel.database.Database`. Imports the dialects,
mapping, url, _util and errors."""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Optional, Sequence

from ._util.slots import Slots
from .dialects.base import Dialect
from .errors import ActiverelError, ConfigurationError, PoolExhausted
from .mapping.markers import ACTION_EFFECTS, Effect
from .mapping.properties import ReferenceProp
from .url import URL

#: (table, columns, referenced table, ON DELETE action)
ForeignKey = tuple[str, tuple[str, ...], str, str]


class Engine:
    """A database's dialect and its bounded pool of DB-API connections."""

    def __init__(self, url: URL, dialect: Dialect, echo: bool = False, *, pool_size: int = 10,
                 pool_timeout: float = 30.0, pool_recycle: Optional[float] = 3600.0) -> None:
        if pool_size < 1:
            raise ConfigurationError(f"pool_size must be at least 1, not {pool_size!r}")
        self.url = url
        self.dialect = dialect
        self.echo = echo
        self.pool_size = pool_size
        self.pool_timeout = pool_timeout
        self.pool_recycle = pool_recycle
        #: idle connections with the time each was opened, newest last
        self._idle: list[tuple[Any, float]] = []
        #: id(connection in use) -> the time it was opened
        self._opened: dict[int, float] = {}
        self._slots = Slots(pool_size)
        self._lock = threading.Lock()
        self._foreign_keys: Optional[set[ForeignKey]] = None
        #: idle connections opened before this moment are not handed out
        #: again: one of their kind was found lost (a server restart loses all)
        self._invalid_before = 0.0
        #: the one connection every session shares while pinned (test isolation)
        self.pinned: Any = None
        self._savepoints = 0
        self.closed = False

    def pin(self) -> None:
        """Give every session one connection, in one open transaction, in
        which each session's transaction is a savepoint: what sessions commit
        is seen by later ones and undone by :meth:`unpin` (the isolation of
        ``activerel.testing``)."""
        if self.pinned is not None:
            raise ActiverelError("this Database's connection is pinned already")
        conn = self.connect()
        self.dialect.begin(conn, False)
        self.pinned = conn

    def unpin(self) -> None:
        """Roll back everything done since :meth:`pin` and close its connection."""
        conn, self.pinned = self.pinned, None
        if conn is not None:
            try:
                self.dialect.rollback(conn)
            finally:
                self._close_quietly(conn)

    def savepoint_name(self) -> str:
        self._savepoints += 1
        return f"ar_tx{self._savepoints}"

    def invalidate(self) -> None:
        """A connection was lost: the idle ones opened before now are suspect
        and are replaced as they come up (SQLAlchemy's pool does the same)."""
        self._invalid_before = time.monotonic()

    def acquire(self, wait: bool = True) -> Any:
        """An idle DB-API connection that is still usable, or a new one
        (``wait=False``: None when none is free at once, or it is pinned)."""
        if self.closed:
            raise ActiverelError(f"Database({self.url.safe!r}) is closed")
        if self.pinned is not None:
            return self.pinned if wait else None
        if not wait and not self._slots.try_take():
            return None
        if wait and not self._slots.take(self.pool_timeout):
            raise PoolExhausted(
                f"no connection of {self.url.safe} came free within {self.pool_timeout} s: all "
                f"{self.pool_size} are in use by open sessions; finish sessions sooner or raise "
                "Database(pool_size=...)")
        try:
            return self._checkout()
        except BaseException:
            self._slots.give()
            raise

    def _checkout(self) -> Any:
        now = time.monotonic()
        recycle = self.pool_recycle
        while True:
            with self._lock:
                if not self._idle:
                    break
                conn, opened = self._idle.pop()
            if (opened <= self._invalid_before or (recycle is not None and now - opened > recycle)
                    or not self.dialect.is_usable(conn)):
                self._close_quietly(conn)
                continue
            self._opened[id(conn)] = opened
            return conn
        conn = self.connect()
        self._opened[id(conn)] = now
        return conn

    def connect(self) -> Any:
        """A new DB-API connection (outside the pool)."""
        try:
            return self.dialect.connect()
        except Exception as exc:
            raise ConfigurationError(f"cannot connect to {self.url.safe}: {exc}") from exc

    def release(self, conn: Any, broken: bool = False) -> None:
        """Give a connection back; a broken one (or any, once the engine is
        closed) is closed instead."""
        if conn is self.pinned:
            return  # it stays for the next session
        opened = self._opened.pop(id(conn), time.monotonic())
        if broken or self.closed:
            try:
                self._close_quietly(conn)
            finally:
                self._slots.give()
            return
        self.dialect.idle(conn)
        with self._lock:
            self._idle.append((conn, opened))
        self._slots.give()

    def _close_quietly(self, conn: Any) -> None:
        try:
            self.dialect.close(conn)
        except Exception:  # noqa: S110 - a connection being dropped may fail to close
            pass

    def close(self) -> None:
        """Close every idle connection and what the dialect holds."""
        self.closed = True
        with self._lock:
            idle, self._idle = self._idle, []
        for conn, _ in idle:
            self._close_quietly(conn)
        self.dialect.dispose()

    def forget_foreign_keys(self) -> None:
        """The schema changed: read the enforced foreign keys again when asked."""
        self._foreign_keys = None

    def enforces(self, fetch: Callable[[str, Sequence[Any]], list[tuple[Any, ...]]],
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
