"""Streaming a query: ``for user in User.query().join_with("posts").iterate(batch_size=1000):``.

The query's SELECT runs once, through the session connection's stream
(:meth:`activerel.engine.Connection.stream`: a server-side cursor on
PostgreSQL and MySQL/MariaDB, a plain cursor read with ``fetchmany`` on
SQLite), and its objects come out batch by batch
(:func:`activerel.loading.stream.stream_objects`): each batch's joined
relations and relation aggregates (``with_count()``, ...) are loaded for
that batch (one SELECT per relation or aggregate per batch),
what the loop changed is flushed at each batch boundary, and the objects of
a finished batch leave the identity map, so memory stays at one batch.

Outside a session the stream opens one of its own, current while the loop
runs (so what the loop does shares its connection and transaction), which
commits when the stream ends, whether exhausted or left with ``break``.

:class:`StreamMixin` is a base of ``Query``. Used by :mod:`activerel.query`.
Imports :mod:`activerel.session`, :mod:`activerel.loading` and
:mod:`activerel.mapping`."""
from __future__ import annotations

from typing import Any, Callable, Generic, Iterator, Optional, TypeVar

from ..connection import require_write_lock, stream_rows
from ..errors import QueryError
from ..loading.joins import Join
from ..loading.stream import stream_objects
from ..mapping.mapper import Mapper
from ..session import Session, SessionFactory, use_session
from .aggregates import grouped_error

T = TypeVar("T")


class StreamMixin(Generic[T]):
    """``iterate()``: a query's objects in batches, in flat memory."""

    __slots__ = ()
    # the query's state and helpers (``Query`` has them)
    _cls: type
    _mapper: Mapper
    _db: Optional[SessionFactory]
    _session: Optional[Session]
    _joins: tuple[Join, ...]
    _lock: Optional[tuple[bool, bool]]
    _group: tuple[Any, ...]
    _having: tuple[Any, ...]
    _aggregates: tuple[Any, ...]
    _codec: Callable[..., Any]
    _find_statement: Callable[..., tuple[str, list[Any], tuple[str, ...], bool]]

    def iterate(self, batch_size: int = 1000) -> Iterator[T]:
        """The matching objects, fetched ``batch_size`` rows at a time (a
        server-side cursor on PostgreSQL and MySQL/MariaDB), each batch with
        the query's joined relations (and relation aggregates) loaded in one
        SELECT each. At each batch boundary the session's pending changes
        are flushed and the objects the finished batch brought into the
        identity map leave it, so memory stays flat however many rows
        there are. Outside a session the stream runs in a session of its own,
        current during the loop, committed when the stream ends (exhausted
        or left with ``break``). See docs/streaming.md."""
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise QueryError(f"iterate() takes a batch_size of at least 1, not {batch_size!r}")
        if self._group or self._having:  # rows of groups, not objects
            raise grouped_error(self._mapper)
        return self._stream(batch_size)

    def _stream(self, size: int) -> Iterator[T]:
        if self._session is not None and self._session.active:
            yield from self._stream_in(self._session, size)
            return
        with use_session(self._db) as s:
            try:
                yield from self._stream_in(s, size)
            except GeneratorExit:
                return  # left early (break): a session of its own commits as at the end

    def _stream_in(self, s: Session, size: int) -> Iterator[T]:
        s.catalog.serving(self._cls)
        s.flush()
        if self._lock is not None:
            require_write_lock(s.connection)
        # the SELECT find() sends first, read in batches
        sql, params, columns, _ = self._find_statement(self._codec(s))
        # rows locked FOR UPDATE must be read on the session's own connection
        batches = stream_rows(s.connection, sql, params, size, own_connection=self._lock is None)
        yield from stream_objects(s, self._mapper, batches, columns, self._joins,
                                  self._aggregates)
