"""The hooks of a dialect that save round trips to a server: a
transaction's begin sent with its first statement, several SELECTs sent
at once, and writes held for the next statement's round trip (libpq's
pipeline mode on PostgreSQL, a multi-statement script on MySQL).
:class:`RoundTripHooks` is a base of
:class:`~activerel.dialects.base.Dialect`; a dialect overrides them where
its ``Features`` say it can (``begin_with_statement``, ``batch_reads``,
``queue_writes``).

Called by :mod:`activerel.connection`. Imports nothing of activerel."""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence


class RoundTripHooks:
    """The round-trip hooks of :class:`~activerel.dialects.base.Dialect`."""

    #: what :meth:`begin_with` sends before the statement, for the log (None:
    #: nothing, the statement itself begins the transaction)
    begin_with_sent: Optional[str] = None

    def begin_with(self, conn: Any, cursor: Any, sql: str, params: Sequence[Any]) -> None:
        """With ``features.begin_with_statement``: begin a transaction and
        send ``sql`` in one round trip, leaving its result on ``cursor``."""
        raise NotImplementedError

    def fetch_batch(self, conn: Any, cursor: Any, statements: Sequence[tuple[str, Sequence[Any]]],
                    begin: bool) -> list[list[tuple[Any, ...]]]:
        """With ``features.batch_reads``: send the SELECTs ``statements`` in
        one round trip (after the transaction's begin, if ``begin``); the
        rows of each."""
        raise NotImplementedError

    def send_queued(self, conn: Any, cursor: Any, queued: Sequence[tuple[str, Any, bool]],
                    send: Callable[[Any], Any]) -> Any:
        """With ``features.queue_writes``: send the ``queued`` writes (SQL,
        parameters, whether one row of parameters each), then ``send(cursor)``,
        in one round trip; what ``send`` returns."""
        raise NotImplementedError

    def commit_queued(self, conn: Any, cursor: Any, queued: Sequence[tuple[str, Any, bool]]) -> None:
        """With ``features.queue_writes``: send the ``queued`` writes and
        COMMIT the transaction, in one round trip (by default the COMMIT as
        :meth:`send_queued`'s statement)."""
        self.send_queued(conn, cursor, queued, lambda cur: self.commit(conn))

    def commit(self, conn: Any) -> None:
        """COMMIT the transaction (the dialect's own, :class:`Dialect`)."""
        raise NotImplementedError
