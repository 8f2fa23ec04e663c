"""Multi-statement scripts on MySQL and MariaDB: several statements sent as
one query, one round trip, each one's result read in turn.

A connection accepts several statements per query (mysqlclient's default),
for two uses: the writes a flush holds (``features.queue_writes``), sent in
one script before the next statement or together with the ``COMMIT``; and
the single-row ``INSERT``\\ s of a server whose generated ids may interleave,
each one's id read from its own result. A script is cut into parts of at
most 1,000 statements and about 4 MiB of text and binary values, far below
``max_allowed_packet``. The server stops at the first statement that fails
and reports it as that statement's result: the error is raised there, and
nothing after it (the ``COMMIT`` included) has run.

Raw SQL is what a stacked-query injection would ride on, so raw SQL (``db.execute``,
``db.raw``, a migration's ``RunSQL``) must be one statement: a ``;``
anywhere but at its end is refused before anything is sent
(:func:`check_one_statement`). The check is on the text the caller wrote,
before its parameters are bound: a value holding ``;`` is a parameter and
never counts.

Called by :mod:`activerel.dialects.mysql`. Imports :mod:`activerel.errors`."""
from __future__ import annotations

from typing import Any, Iterator, Optional, Sequence

from ..errors import QueryError

#: a script stays far below max_allowed_packet (16 MiB by default)
BATCH_STATEMENTS, BATCH_BYTES = 1000, 4 << 20


def check_one_statement(sql: str) -> None:
    """Raise QueryError when raw ``sql`` holds a ``;`` before its end (one
    at the end is allowed: ``"SELECT 1;"``)."""
    if ";" in sql.rstrip().removesuffix(";"):
        raise QueryError(
            f"mysql runs one statement per raw SQL string, and {_head(sql)!r} has a ';' before "
            "its end: send each statement on its own (a migration's RunSQL takes a list), and "
            "pass a value holding ';' as a parameter (?)")


def _head(sql: str) -> str:
    text = " ".join(sql.split())
    return text if len(text) <= 60 else text[:57] + "..."


def spans(rows: Sequence[Sequence[Any]]) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of consecutive runs of ``rows`` (each a statement's
    parameters) of at most BATCH_STATEMENTS rows and about BATCH_BYTES of
    text and binary values; a single larger row goes alone."""
    start, size = 0, 0
    for i, row in enumerate(rows):
        n = sum(len(v) for v in row if isinstance(v, (str, bytes)))
        if i > start and (i - start >= BATCH_STATEMENTS or size + n > BATCH_BYTES):
            yield start, i
            start, size = i, 0
        size += n
    if start < len(rows):
        yield start, len(rows)


def run_writes(cursor: Any, queued: Sequence[tuple[str, Any, bool]],
               tail: Optional[str] = None) -> None:
    """Send the ``queued`` writes (SQL, parameters, whether rows of
    parameters), then ``tail`` (``COMMIT``) if given, as few scripts as
    their size allows: one round trip for a flush's usual few. Their
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
    parts = list(spans(rows))
    for k, (start, end) in enumerate(parts):
        text = ";".join(sqls[start:end])
        if tail and k == len(parts) - 1:
            text += ";" + tail
        cursor.execute(text, [v for row in rows[start:end] for v in row])
        while cursor.nextset():
            pass
    if tail and not parts:
        cursor.execute(tail, ())


def insert_each(cursor: Any, sql: str, rows: Sequence[Sequence[Any]]) -> list[Any]:
    """One ``INSERT`` per row, many per round trip: the generated id of each
    row, read from its statement's own result, in row order."""
    keys: list[Any] = []
    for start, end in spans(rows):
        batch = rows[start:end]
        cursor.execute(";".join([sql] * len(batch)), [v for row in batch for v in row])
        keys.append(cursor.lastrowid)
        while cursor.nextset():
            keys.append(cursor.lastrowid)
    return keys
