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
``session.execute``, ``db.raw``, a migration's ``RunSQL``; a stream's own
SELECT aside, see :func:`cursor_class`) goes through
:meth:`OneStatement.execute`: a text holding ``;`` is sent with
multi-statements switched off around it (two short round trips, for such
text only), so the server parses it as one statement, as before scripts
existed: a trigger's body runs, and stacked statements (an injection
through a raw SQL string) are refused with the server's syntax error.

Called by :mod:`activerel.dialects.mysql`. Imports :mod:`activerel.errors`."""
from __future__ import annotations

from typing import Any, Iterator, Optional, Sequence

from ..errors import ConnectionLost

#: the most statements of one script part
BATCH_STATEMENTS = 1000
#: mysql_set_server_option() values (enum_mysql_set_option)
MULTI_STATEMENTS_ON, MULTI_STATEMENTS_OFF = 0, 1


def cursor_class(cursors: Any) -> type:
    """The cursor class of activerel's MySQL connections, made from the
    driver's module ``MySQLdb.cursors`` (imported by the dialect, the driver
    being optional). The unbuffered cursor of streams stays the driver's:
    it sends activerel's own SELECTs only, and toggling multi-statements
    while its result is still on the socket would put the connection out
    of step."""
    class Cursor(OneStatement, cursors.Cursor):  # type: ignore[misc]
        pass

    return Cursor


class OneStatement:
    """A mysqlclient cursor whose ``execute`` sends one statement (a text
    holding ``;`` with multi-statements off: the server judges), and whose
    ``execute_script`` sends several."""

    def execute(self, query: Any, args: Any = None) -> Any:
        send = super().execute  # type: ignore[misc]
        # (mysqlclient's executemany sends its multi-row INSERT as a bytearray)
        semicolon: Any = ";" if isinstance(query, str) else b";"
        if semicolon not in query:
            return send(query, args)
        self._discard()  # type: ignore[attr-defined]  # a pending result first, as execute() does
        conn = self.connection  # type: ignore[attr-defined]
        conn.set_server_option(MULTI_STATEMENTS_OFF)
        sent = False
        try:
            result = send(query, args)
            sent = True
        finally:
            try:
                conn.set_server_option(MULTI_STATEMENTS_ON)
            except BaseException:
                # never back to the pool with multi-statements off (every
                # later script would be a syntax error): closed, not reused
                conn.close()
                if sent:
                    raise
        return result

    def execute_script(self, query: Any, args: Any) -> Any:
        """Send ``query``, several statements (:func:`_send` joins them), as it is."""
        return super().execute(query, args)  # type: ignore[misc]


def byte_size(sql: str, row: Sequence[Any]) -> int:
    """About the bytes one statement takes in a script: its text, and its
    values' (text in UTF-8; escaping may double them, which the budget
    allows for)."""
    n = len(sql)
    for v in row:
        if isinstance(v, str):
            n += 3 + (len(v) if v.isascii() else len(v.encode("utf-8", "surrogatepass")))
        elif isinstance(v, (bytes, bytearray)):
            n += 10 + len(v)
        else:
            n += 24
    return n


def spans(sizes: Sequence[int], budget: int) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of consecutive runs of statements (of ``sizes``
    bytes) of at most BATCH_STATEMENTS and about ``budget`` bytes; a single
    larger statement goes alone."""
    start, size = 0, 0
    for i, n in enumerate(sizes):
        if i > start and (i - start >= BATCH_STATEMENTS or size + n > budget):
            yield start, i
            start, size = i, 0
        size += n
    if start < len(sizes):
        yield start, len(sizes)


def run_writes(cursor: Any, queued: Sequence[tuple[str, Any, bool]], budget: int,
               tail: Optional[str] = None) -> None:
    """Send the ``queued`` writes (SQL, parameters, whether rows of
    parameters), then ``tail`` (``COMMIT``) if given, in as few scripts as
    ``budget`` allows: one round trip for a flush's usual few. Their
    results are read and dropped (nobody reads a queued write's). A held
    text that holds ``;`` itself (``Session.queue`` takes any) goes alone,
    through ``execute``, as every other such text does."""
    sqls: list[str] = []
    rows: list[Sequence[Any]] = []
    for sql, params, many in queued:
        if many:
            sqls += [sql] * len(params)
            rows += params
        else:
            sqls.append(sql)
            rows.append(params)
    if any(";" in sql for sql in sqls):
        for sql, row in zip(sqls, rows):
            cursor.execute(sql, row)
        if tail:
            cursor.execute(tail, ())
        return
    parts = list(spans([byte_size(sql, row) for sql, row in zip(sqls, rows)], budget))
    for k, (start, end) in enumerate(parts):
        statements = sqls[start:end]
        if tail and k == len(parts) - 1:
            statements.append(tail)
        _send(cursor, statements, [v for row in rows[start:end] for v in row])
    if tail and not parts:
        cursor.execute(tail, ())


def insert_each(cursor: Any, sql: str, rows: Sequence[Sequence[Any]], budget: int) -> list[Any]:
    """One ``INSERT`` per row, many per round trip: the generated id of each
    row, read from its statement's own result, in row order."""
    keys: list[Any] = []
    for start, end in spans([byte_size(sql, row) for row in rows], budget):
        batch = rows[start:end]
        keys += _send(cursor, [sql] * len(batch), [v for row in batch for v in row])
    return keys


def _send(cursor: Any, statements: list[str], args: list[Any]) -> list[Any]:
    """Run a script of ``statements`` (a newline after each ``;``, so that a
    trailing comment ends with its line); the ``lastrowid`` of each. Every
    result must be read before the connection sends anything else: one
    interrupted in between, or a count of results that is not the count of
    statements, closes the connection, which is then not reused."""
    try:
        cursor.execute_script(";\n".join(statements), args)
    except Exception:
        raise  # nothing sent (a value the driver cannot format), or the first statement's error
    except BaseException:
        cursor.connection.close()
        raise
    ids = [cursor.lastrowid]
    try:
        while cursor.nextset():
            ids.append(cursor.lastrowid)
    except BaseException as exc:
        if not _in_step(exc):
            cursor.connection.close()
        raise
    if len(ids) != len(statements):
        cursor.connection.close()
        raise ConnectionLost(f"mysql: a script of {len(statements)} statements gave {len(ids)} "
                             "results; its connection is closed and its transaction rolled back")
    return ids


def _in_step(exc: BaseException) -> bool:
    """Whether ``exc`` is a statement's error that the server reported and
    after which nothing more comes, the connection in step (mysqlclient's
    own rule): not a client error (2000-2999), an oversized packet, a
    killed connection or a timeout, and not an interruption."""
    if not (isinstance(exc, Exception) and exc.args and isinstance(exc.args[0], int)):
        return False
    code = exc.args[0]
    return not (2000 <= code <= 2999 or code in (1153, 1927, 4031))
