"""SQLite through the standard library's ``sqlite3``: the embedded default.

Transactions are explicit (the connection runs in autocommit mode and the
session sends BEGIN/COMMIT), foreign keys are switched on for every
connection, and values without a native SQLite type are stored as text.

Chosen by :func:`activerel.dialects.dialect_for`; imports the rest of
:mod:`activerel.dialects`, :mod:`activerel._util` and :mod:`activerel.errors`."""
from __future__ import annotations

import itertools
import json
import os
import sqlite3
from datetime import date, datetime, time
from decimal import Decimal
from dataclasses import replace
from typing import Any, Callable, Optional, Sequence
from uuid import UUID

from pypika import Parameter, SQLLiteQuery
from pypika.dialects import SQLLiteQueryBuilder

from .._util.pypika import SqlTemplate
from ..errors import ActiverelError, ConfigurationError, IntegrityError, ValidationError
from ..mapping.markers import Sql
from ..schema.tables import ColumnDef, TableDef
from . import sqlite_schema
from .base import Dialect, Features, TypeMap, json_value, to_float

_memory_ids = itertools.count(1)



class _BacktickBuilder(SQLLiteQueryBuilder):
    # SQLite reads an unknown "double-quoted" name as a string literal (a
    # column missing from the table would select its own name); a
    # `backquoted` one is always an identifier, an unknown one an error
    QUOTE_CHAR = "`"


class SQLiteQuery(SQLLiteQuery):
    """PyPika's SQLite query with identifiers in backquotes."""

    @classmethod
    def _builder(cls, **kwargs: Any) -> SQLLiteQueryBuilder:
        return _BacktickBuilder(**kwargs)


_BacktickBuilder.QUERY_CLS = SQLiteQuery


class SQLiteDialect(Dialect):
    """SQLite through the standard library's sqlite3."""

    name = "sqlite"
    query_class = SQLiteQuery
    identifier_quote = "`"
    placeholder = "?"
    features = Features(
        inline_forward_foreign_keys=True,
        # SQLite cascades row by row through its triggers; one DELETE per table is faster
        database_cascades_faster=False,
        # AUTOINCREMENT keys are never reused, as on the servers; it must be
        # declared on the column, so the table gets no separate PRIMARY KEY clause
        inline_autoincrement_pk=True,
        concurrent_writers=False,
        row_locks=False,
        # NUMERIC affinity keeps 15 significant digits (see _decimal_text)
        decimal_digits=15,
        # ALTER TABLE cannot change a column or a constraint: the table is
        # rebuilt (sql/rebuild.py); DROP COLUMN came with SQLite 3.35
        alter_column=False,
        alter_constraints=False,
        drop_column=sqlite3.sqlite_version_info >= (3, 35, 0),
        # RETURNING came with SQLite 3.35 too (generated keys still come
        # from the last rowid, which is cheaper; an upsert reads its rows back)
        returning=sqlite3.sqlite_version_info >= (3, 35, 0),
    )
    autoincrement_ddl = "INTEGER PRIMARY KEY AUTOINCREMENT"

    # -- DDL (see dialects/ddl_hooks.py) ---------------------------------------
    def can_add_column(self, col: ColumnDef) -> bool:
        # ADD COLUMN takes neither a NOT NULL column without a default nor a
        # default that is not a constant (CURRENT_TIMESTAMP, an expression)
        return (not col.autoincrement and not isinstance(col.default, Sql)
                and (col.nullable or col.default is not None))

    def foreign_keys_off_sql(self) -> list[str]:
        # (a no-op inside a transaction: sent between transactions)
        return ["PRAGMA foreign_keys = OFF"]

    def foreign_keys_on_sql(self) -> list[str]:
        return ["PRAGMA foreign_keys = ON"]

    def foreign_key_check_sql(self) -> Optional[str]:
        return "PRAGMA foreign_key_check"

    def rebuild_sequence_sql(self, old: str, new: str) -> list[str]:
        # AUTOINCREMENT's counter lives in sqlite_sequence, one row per table
        return [f"DELETE FROM sqlite_sequence WHERE name = {self.string_literal(new)}",
                f"INSERT INTO sqlite_sequence (name, seq) SELECT {self.string_literal(new)}, seq "
                f"FROM sqlite_sequence WHERE name = {self.string_literal(old)}"]

    def __init__(self, url: Any) -> None:
        super().__init__(url)
        path = url.database or ""
        unknown = set(url.options) - {"timeout"}
        if unknown:
            raise ConfigurationError(
                f"sqlite URLs take no options but timeout=, got {', '.join(sorted(unknown))} "
                f"in {url.raw!r}")
        try:
            #: seconds a statement waits for another connection's lock (busy timeout)
            self.timeout = float(url.options.get("timeout", 5.0))
        except ValueError:
            raise ConfigurationError(
                f"sqlite timeout= takes seconds, not {url.options['timeout']!r} in {url.raw!r}") from None
        if url.host not in (None, "", "localhost"):
            raise ConfigurationError(
                f"sqlite URLs take a path, not a host: {url.raw!r} (use sqlite:///relative.db "
                "or sqlite:////absolute/path.db)")
        if path in ("", ":memory:"):
            # one in-memory database shared by every connection of this Database
            self.target = f"file:activerel-memory-{os.getpid()}-{next(_memory_ids)}?mode=memory&cache=shared"
            self.uri = True
            self.memory = True
        else:
            self.target = path
            self.uri = False
            self.memory = False
        self._keeper: Optional[sqlite3.Connection] = None
        probe = sqlite3.connect(":memory:")
        limit = min(probe.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER), 32766)  # type: ignore[attr-defined]
        probe.close()
        # the library's own limit (999 before SQLite 3.32)
        self.features = replace(self.features, param_limit=limit)

    def connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.target, uri=self.uri, isolation_level=None,
                               check_same_thread=False, timeout=self.timeout)
        conn.execute("PRAGMA foreign_keys = ON")
        # LIKE is case-sensitive on PostgreSQL and (binary collation) MySQL too
        conn.execute("PRAGMA case_sensitive_like = ON")
        if self.memory and self._keeper is None:
            # the shared in-memory database lives as long as one connection does
            self._keeper = sqlite3.connect(self.target, uri=True, check_same_thread=False)
        return conn

    def begin(self, conn: sqlite3.Connection, write: bool = False) -> Optional[str]:
        # IMMEDIATE takes the write lock now, waiting up to the busy timeout;
        # a deferred transaction that reads and then writes fails at once
        # when another connection writes meanwhile
        sql = "BEGIN IMMEDIATE" if write else "BEGIN"
        conn.execute(sql)
        return sql

    def commit(self, conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            conn.execute("COMMIT")

    def rollback(self, conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            conn.execute("ROLLBACK")

    def close(self, conn: sqlite3.Connection) -> None:
        conn.close()

    def dispose(self) -> None:
        if self._keeper is not None:
            self._keeper.close()
            self._keeper = None

    def translate_error(self, exc: BaseException) -> Optional[ActiverelError]:
        if isinstance(exc, sqlite3.IntegrityError):
            return IntegrityError(str(exc))
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            return ActiverelError(
                f"sqlite: {exc}: SQLite lets one transaction write at a time, and another "
                "connection held the lock for the whole busy timeout (a writer, or at COMMIT a "
                "reader); finish that session first, raise ?timeout=, or begin writing "
                "sessions with db.session(write=True)")
        if isinstance(exc, sqlite3.Error):
            return ActiverelError(f"sqlite: {exc}")
        return None

    def foreign_keys(self, execute: Callable[[str, Sequence[Any]], list[tuple[Any, ...]]],
                     tables: Sequence[str]) -> set[tuple[str, tuple[str, ...], str, str]]:
        # every connection switches foreign keys on, so declared ones are enforced
        out = set()
        for table in tables:
            groups: dict[int, list[tuple[Any, ...]]] = {}
            for row in execute(f"PRAGMA foreign_key_list(\"{table}\")", ()):
                groups.setdefault(row[0], []).append(row)
            for rows in groups.values():
                rows.sort(key=lambda r: r[1])
                out.add((table, tuple(r[3] for r in rows), rows[0][2], rows[0][6].upper()))
        return out

    def column_names(self, execute: Callable[[str, Sequence[Any]], list[tuple[Any, ...]]],
                     table: str) -> list[str]:
        return [r[1] for r in execute(f"PRAGMA table_info(\"{table}\")", ())]

    def truncate_sql(self, tables: Sequence[str]) -> list[str]:
        names = ", ".join("'" + t.replace("'", "''") + "'" for t in tables)
        return super().truncate_sql(tables) + [
            f"DELETE FROM sqlite_sequence WHERE name IN ({names})"]

    def driver_errors(self) -> tuple[type, type]:
        return sqlite3.Error, sqlite3.IntegrityError

    def table_names(self, execute: Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]) -> set[str]:
        rows = execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                       "AND name NOT LIKE 'sqlite_%'", ())
        return {r[0] for r in rows}

    def introspect_columns(self, execute: Callable[[str, Sequence[Any]], list[tuple[Any, ...]]],
                           table: str) -> list[ColumnDef]:
        return sqlite_schema.introspect_columns(execute, table)

    def introspect(self, execute: Callable[[str, Sequence[Any]], list[tuple[Any, ...]]],
                   tables: Optional[Sequence[str]] = None) -> dict[str, TableDef]:
        return sqlite_schema.introspect(execute, tables)

    def column_kind(self, sql_type: str) -> tuple[str, Optional[int]]:
        return sqlite_schema.column_kind(sql_type)

    def aggregate_param(self, param: Any, kind: Optional[str]) -> Any:
        # a Decimal is bound as text, which the NUMERIC affinity of a column
        # converts, but an aggregate has none: SUM(price) > '9.5' compares a
        # number with text (text is always greater)
        if kind == "decimal":
            return SqlTemplate("CAST({param} AS NUMERIC)", param=param)
        return param

    def key_set_criterion(self, term: Any, keys: Sequence[Any], comp: Any) -> Any:
        if len(keys) <= 64:
            return None
        types = set(map(type, keys))
        if types == {int}:
            # an int's repr is its JSON: cheaper than json.dumps
            text = "[" + ",".join(map(int.__repr__, keys)) + "]"
        elif types <= {int, str}:
            text = json.dumps(list(keys))
        else:
            return None
        return SqlTemplate("{term} IN (SELECT value FROM json_each({param}))",
                           term=term, param=comp.param(text))

    def insert_defaults_sql(self, table: Any, pk_column: str) -> str:
        # SQLite has no DEFAULT in VALUES; a NULL key asks for a new rowid
        return self.query_class.into(table).columns(pk_column).insert(Parameter("NULL")).get_sql()

    def insert_generated(self, cursor: Any, sql: str, params: Sequence[Any], count: int,
                         pk_column: str) -> list[Any]:
        # Rows of one INSERT statement get consecutive rowids under the write
        # lock, so the last rowid gives all of them.
        cursor.execute(sql, params)
        last = cursor.lastrowid
        return list(range(last - count + 1, last + 1))


def _float(value: Any) -> float:
    f: float = to_float(value)
    if f != f:
        raise ValidationError("SQLite cannot store NaN: it would read back as NULL")
    return f


def _decimal_text(value: Any) -> str:
    # NUMERIC affinity keeps 15 significant digits; refuse rather than round
    d = Decimal(value)
    if d.is_finite() and len(d.as_tuple().digits) > 15 and d != Decimal(str(float(d))):
        raise ValidationError(
            f"SQLite keeps 15 significant digits of a Decimal; {value} has more "
            "(PostgreSQL and MySQL store it exactly)")
    if not d.is_finite():
        raise ValidationError(f"cannot store the Decimal {value} in SQLite")
    return str(d)


def _iso_datetime(value: datetime) -> str:
    return value.isoformat(sep=" ")


def _isoformat(value: Any) -> str:
    text: str = value.isoformat()
    return text


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value)) if not isinstance(value, Decimal) else value


SQLiteDialect.types = {
    "int": TypeMap("INTEGER"),
    "bool": TypeMap("INTEGER", int, bool),
    "float": TypeMap("REAL", _float, float),
    "str": TypeMap("TEXT"),
    "bytes": TypeMap("BLOB"),
    "decimal": TypeMap("NUMERIC", _decimal_text, _decimal),
    "datetime": TypeMap("TEXT", _iso_datetime, datetime.fromisoformat),
    "date": TypeMap("TEXT", _isoformat, date.fromisoformat),
    "time": TypeMap("TEXT", _isoformat, time.fromisoformat),
    "uuid": TypeMap("TEXT", str, UUID),
    "json": TypeMap("TEXT", json.dumps, json_value),
}
