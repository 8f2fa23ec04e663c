"""Multi-statement scripts on MySQL and MariaDB: several statements sent as
one query, one round trip, each one's result read in turn.

A connection takes several statements per query (mysqlclient's default),
for two uses: the writes a flush holds (``features.queue_writes``), sent
as one script before the next statement or together with the ``COMMIT``;
and the single-row ``INSERT``\\ s of a server whose generated ids may
interleave, each one's id read from its own result. A script is cut into
parts whose values stay well below the server's ``max_allowed_packet``.
The server stops at the first statement that fails and reports it as that
statement's result: the error is raised there, and nothing after it (the
``COMMIT`` included) has run.

Every other statement (activerel's own, and raw SQL: ``db.execute``,
``session.execute``, ``db.raw``, a migration's ``RunSQL``) goes through
:meth:`OneStatement.execute`: a text holding ``;`` is sent with
multi-statements switched off around it (two short round trips, for such
text only), so the server parses it as one statement, as before scripts
existed: a trigger's body runs, and stacked statements (an injection
through a raw SQL string) are refused with the server's syntax error.

Called by :mod:`activerel.dialects.mysql`. Imports nothing of activerel."""
from __future__ import annotations

from typing import Any, Iterator, Optional, Sequence

#: the most statements of one script part
BATCH_STATEMENTS = 1000
#: mysql_set_server_option() values (enum_mysql_set_option)
MULTI_STATEMENTS_ON, MULTI_STATEMENTS_OFF = 0, 1


def cursor_classes(cursors: Any) -> tuple[type, type]:
    """The buffered and unbuffered cursor classes of activerel's MySQL
    connections, made from the driver's module ``MySQLdb.cursors`` (imported
    by the dialect, the driver being optional)."""
    class Cursor(OneStatement, cursors.Cursor):  # type: ignore[misc]
        pass

    class SSCursor(OneStatement, cursors.SSCursor):  # type: ignore[misc]
        pass

    return Cursor, SSCursor


class OneStatement:
    """A mysqlclient cursor whose ``execute`` sends one statement (a text
    holding ``;`` with multi-statements off: the server judges), and whose
    ``execute_script`` sends several."""

    def execute(self, query: Any, args: Any = None) -> Any:
        send = super().execute  # type: ignore[misc]
        if ";" not in query:
            return send(query, args)
        conn = self.connection  # type: ignore[attr-defined]
        conn.set_server_option(MULTI_STATEMENTS_OFF)
        try:
            result = send(query, args)
        except BaseException:
            try:
                conn.set_server_option(MULTI_STATEMENTS_ON)
            except Exception:
                pass  # the connection is gone: the statement's own error says why
            raise
        conn.set_server_option(MULTI_STATEMENTS_ON)
        return result

    def execute_script(self, query: Any, args: Any) -> Any:
        """Send ``query``, several statements joined by ``;``, as it is."""
        return super().execute(query, args)  # type: ignore[misc]


def byte_size(row: Sequence[Any]) -> int:
    """About the bytes ``row``'s text and binary values take in a script
    (UTF-8; escaping may double them, which the budget allows for)."""
    n = 0
    for v in row:
        if isinstance(v, str):
            n += len(v) if v.isascii() else len(v.encode())
        elif isinstance(v, (bytes, bytearray)):
            n += len(v)
        else:
            n += 24
    return n


def spans(rows: Sequence[Sequence[Any]], budget: int) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of consecutive runs of ``rows`` (each a statement's
    parameters) of at most BATCH_STATEMENTS rows and about ``budget`` bytes
    of values; a single larger row goes alone."""
    start, size = 0, 0
    for i, row in enumerate(rows):
        n = byte_size(row)
        if i > start and (i - start >= BATCH_STATEMENTS or size + n > budget):
            yield start, i
            start, size = i, 0
        size += n
    if start < len(rows):
        yield start, len(rows)


def run_writes(cursor: Any, queued: Sequence[tuple[str, Any, bool]], budget: int,
               tail: Optional[str] = None) -> None:
    """Send the ``queued`` writes (SQL, parameters, whether rows of
    parameters), then ``tail`` (``COMMIT``) if given, in as few scripts as
    ``budget`` allows: one round trip for a flush's usual few. Their
    results are read and dropped (nobody reads a queued write's)."""
    sqls: list[str] = []
    rows: list[Sequence[Any]] = []
    for sql, params, many in queued:
        if many:
            sqls += [sql] * len(params)
            rows += params
        else:
            sqls.append(sql)
            rows.append(params)
    parts = list(spans(rows, budget))
    for k, (start, end) in enumerate(parts):
        text = ";".join(sqls[start:end])
        if tail and k == len(parts) - 1:
            text += ";" + tail
        _send(cursor, text, [v for row in rows[start:end] for v in row])
    if tail and not parts:
        cursor.execute(tail, ())


def insert_each(cursor: Any, sql: str, rows: Sequence[Sequence[Any]], budget: int) -> list[Any]:
    """One ``INSERT`` per row, many per round trip: the generated id of each
    row, read from its statement's own result, in row order."""
    keys: list[Any] = []
    for start, end in spans(rows, budget):
        batch = rows[start:end]
        keys += _send(cursor, ";".join([sql] * len(batch)), [v for row in batch for v in row])
    return keys


def _send(cursor: Any, text: str, args: list[Any]) -> list[Any]:
    """Run a script; the ``lastrowid`` of each of its statements. Its
    results must all be read before the connection sends anything else: an
    interruption in between (not the server's error, after which nothing
    more comes) closes the connection, which is then not reused."""
    try:
        cursor.execute_script(text, args)
        ids = [cursor.lastrowid]
        while cursor.nextset():
            ids.append(cursor.lastrowid)
    except BaseException as exc:
        if not _server_error(exc):
            cursor.connection.close()
        raise
    return ids


def _server_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a statement's error reported by the server (a
    MySQLdb error with a code): the script stopped there, in sync."""
    return isinstance(exc, Exception) and bool(exc.args) and isinstance(exc.args[0], int)
