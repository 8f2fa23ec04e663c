"""MySQL and MariaDB through mysqlclient (``MySQLdb``).

Connections do not autocommit: a session's first statement begins its
transaction on the server, so no BEGIN round trip is paid (an explicit
BEGIN is sent when a transaction starts otherwise: an executemany, an
INSERT reading back its keys, a stream). Each connection
switches on ANSI_QUOTES (so ``"name"`` is an identifier, as everywhere
else), READ COMMITTED isolation and FOUND_ROWS (row counts are
matched rows, as elsewhere). Text columns use a binary collation so
comparisons and unique keys are case-sensitive on every backend. Generated
keys: ``INSERT ... RETURNING`` on MariaDB 10.5+; on MySQL, the first id of a
multi-row insert plus the server's increment, but only when the
auto-increment lock mode guarantees consecutive ids (0 or 1); otherwise one
row per statement, many statements per round trip. A flush's writes whose
result nobody reads are held and sent as one multi-statement script, with
the COMMIT when one follows; any other text holding ``;`` is sent with
multi-statements off, so the server holds it to one statement
(mysql_scripts.py). InnoDB has no SET DEFAULT: the unit of work applies it.

Chosen by :func:`activerel.dialects.dialect_for`; imports the rest of
:mod:`activerel.dialects`, :mod:`activerel._util` and :mod:`activerel.errors`
(and MySQLdb on first use)."""
from __future__ import annotations

import datetime as dt
from dataclasses import replace
import json
from decimal import Decimal
from uuid import UUID
from typing import Any, Callable, Optional, Sequence

from pypika import MySQLQuery, Parameter

from .._util.pypika import SqlTemplate
from ..errors import ActiverelError, ConfigurationError, IntegrityError, QueryError, ValidationError
from ..mapping.markers import Sql
from ..schema.tables import ColumnDef, TableDef
from . import mysql_schema
from .base import Dialect, Features, TypeMap, json_value, to_float
from .mysql_scripts import cursor_class, insert_each, run_writes
from .paramstyle import qmark_to_format

#: text compares byte for byte; MySQL 5.7's utf8mb4_bin ignores trailing
#: spaces (PAD SPACE), so servers that have a NO PAD binary collation use it
_BIN = "utf8mb4_bin"
_NO_PAD_BIN = {"mariadb": "utf8mb4_nopad_bin", "mysql": "utf8mb4_0900_bin"}


def _text_types(collation: str) -> dict[str, TypeMap]:
    text = f"CHARACTER SET utf8mb4 COLLATE {collation}"
    return {"str": TypeMap(f"LONGTEXT {text}", indexed_ddl=f"VARCHAR(255) {text}")}

_OPTIONS = {"ssl_mode", "connect_timeout", "read_timeout", "write_timeout", "charset",
            "unix_socket", "ssl_ca", "ssl_cert", "ssl_key"}


class MySQLDialect(Dialect):
    """MySQL and MariaDB through mysqlclient."""

    name = "mysql"
    query_class = MySQLQuery
    placeholder = "%s"
    current_schema_sql = "DATABASE()"
    # a backslash escapes inside MySQL's string literals too
    like_escape_sql = "'\\\\'"
    features = Features(
        param_limit=65535,
        unsupported_actions=frozenset({"SET DEFAULT"}),
        table_options=f" ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={_BIN}",
        # mysqlclient's executemany batches INSERTs only: an UPDATE per row is a
        # round trip per row
        batch_updates=True,
        # every DDL statement commits the transaction at once
        transactional_ddl=False,
        foreign_key_index=True,
        # an unbuffered (SSCursor) result holds the connection until read
        stream_blocks_connection=True,
        # a round trip costs MariaDB about as much as a small statement's
        # execution (docs/benchmarks.md, "One statement for a query and its
        # relations"); off on servers without window functions (connect())
        union_reads=True,
        # autocommit is off: a transaction's first statement begins it, and
        # the BEGIN round trip is saved (as SQLAlchemy's MySQL dialects do)
        begin_with_statement=True,
        # a flush's writes whose result nobody reads go as one script, with
        # the COMMIT when one follows (mysql_scripts.py)
        queue_writes=True,
    )
    autoincrement_ddl = "BIGINT AUTO_INCREMENT"

    # -- DDL (see dialects/ddl_hooks.py) ---------------------------------------
    def sized_type_sql(self, kind: str, length: int) -> str:
        if kind == "str":  # with the character set and collation of the text type
            return self.types["str"].ddl.replace("LONGTEXT", f"VARCHAR({int(length)})", 1)
        if kind == "bytes":
            return f"VARBINARY({int(length)})"
        return super().sized_type_sql(kind, length)

    def default_sql(self, value: Any, col: ColumnDef) -> str:
        if col.type == "datetime" and value == Sql("CURRENT_TIMESTAMP"):
            return "CURRENT_TIMESTAMP(6)"  # a DATETIME(6) takes the same precision only
        return super().default_sql(value, col)

    def string_literal(self, text: str) -> str:
        return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"

    def alter_column_sql(self, table: str, old: ColumnDef, new: ColumnDef,
                         definition: str) -> list[str]:
        return [f"ALTER TABLE {self.quote(table)} MODIFY COLUMN {definition}"]

    def drop_index_sql(self, table: str, name: str) -> str:
        return f"DROP INDEX {self.quote(name)} ON {self.quote(table)}"

    def drop_foreign_key_sql(self, table: str, name: str) -> str:
        return f"ALTER TABLE {self.quote(table)} DROP FOREIGN KEY {self.quote(name)}"

    def __init__(self, url: Any) -> None:
        super().__init__(url)
        # the URL is checked first: a wrong one is wrong with or without the driver
        self.check_url(_OPTIONS, "MySQL", "mysql://user@host:3306/dbname")
        try:
            import MySQLdb
            import MySQLdb.cursors
            from MySQLdb.constants import CLIENT
        except ImportError:
            raise ConfigurationError(
                "mysql:// needs mysqlclient: pip install 'activerel[mysql]' (it compiles "
                "against the MySQL/MariaDB client headers: apt-get install pkg-config "
                "libmariadb-dev)") from None
        self.driver = MySQLdb
        # one statement per execute(), several per execute_script() (mysql_scripts.py)
        cursor = cursor_class(MySQLdb.cursors)
        self.unbuffered_cursor = MySQLdb.cursors.SSCursor
        params: dict[str, Any] = {"host": url.host or "localhost", "user": url.user or "root",
                                  "database": url.database, "charset": "utf8mb4",
                                  "client_flag": CLIENT.FOUND_ROWS, "autocommit": True,
                                  "cursorclass": cursor}
        if url.port:
            params["port"] = url.port
        if url.password is not None:
            params["password"] = url.password
        ssl = {}
        for k, v in url.options.items():
            if k in ("ssl_ca", "ssl_cert", "ssl_key"):
                ssl[k[4:]] = v  # mysqlclient takes these as ssl={"ca": ...}
            else:
                params[k] = int(v) if k.endswith("timeout") else v
        if ssl:
            params["ssl"] = ssl
        self.params = params
        #: what the server offers, read at the first connection (features.returning too)
        self.probed = False
        self.consecutive_ids = False
        self.increment = 1
        self.json_table = False
        #: the server's flavour and version (its recursion cap and WITH RECURSIVE)
        self.mariadb = False
        self.version: tuple[int, ...] = ()
        #: about the most bytes of values one script carries: a third of the
        #: server's max_allowed_packet (escaping may double them), at most 4 MiB
        self.script_budget = 1 << 20

    def connect(self) -> Any:
        conn = self.driver.connect(**self.params)
        # several statements per query (mysqlclient's default) for the
        # scripts of mysql_scripts.py; execute() sends one
        cur = conn.cursor()
        cur.execute("SET SESSION sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES,STRICT_TRANS_TABLES')")
        cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
        if not self.probed:
            cur.execute("SELECT VERSION(), @@innodb_autoinc_lock_mode, @@auto_increment_increment, "
                        "@@max_allowed_packet")
            version, lock_mode, increment, packet = cur.fetchone()
            self.script_budget = min(4 << 20, int(packet) // 3)
            mariadb = "mariadb" in version.lower()
            numbers = tuple(int(x) for x in version.split("-")[0].split(".")[:2])
            # window functions (and WITH): MariaDB 10.2+, MySQL 8; a UNION read
            # numbers its branches' rows with ROW_NUMBER() where it cannot order
            # them by their columns
            modern = (mariadb and numbers >= (10, 2)) or (not mariadb and numbers >= (8, 0))
            self.features = replace(self.features, returning=mariadb and numbers >= (10, 5),
                                    union_reads=modern)
            if modern:
                collation = _NO_PAD_BIN["mariadb" if mariadb else "mysql"]
                self.types = {**self.types, **_text_types(collation)}
                self.features = replace(self.features, table_options=(
                    f" ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={collation}"))
            self.probed = True
            self.json_table = (mariadb and numbers >= (10, 6)) or (not mariadb and numbers >= (8, 0))
            self.mariadb, self.version = mariadb, numbers
            self.consecutive_ids = int(lock_mode) in (0, 1)
            self.increment = int(increment)
        cur.close()
        conn.autocommit(False)  # (after the settings: they run on their own)
        return conn

    def begin(self, conn: Any, write: bool = False) -> Optional[str]:
        conn.query("BEGIN")
        return "BEGIN"

    def begin_with(self, conn: Any, cursor: Any, sql: str, params: Sequence[Any]) -> None:
        cursor.execute(sql, params)  # autocommit is off: it begins the transaction

    def commit(self, conn: Any) -> None:
        conn.commit()

    def send_queued(self, conn: Any, cursor: Any, queued: Sequence[tuple[str, Any, bool]],
                    send: Callable[[Any], Any]) -> Any:
        # not pipelined: the held writes in a script, then send()'s statement
        run_writes(cursor, queued, self.script_budget)
        return send(cursor)

    def commit_queued(self, conn: Any, cursor: Any, queued: Sequence[tuple[str, Any, bool]]) -> None:
        run_writes(cursor, queued, self.script_budget, "COMMIT")

    def rollback(self, conn: Any) -> None:
        conn.rollback()

    def is_usable(self, conn: Any) -> bool:
        return bool(conn.open)

    def is_disconnect(self, exc: BaseException, conn: Any) -> bool:
        d = self.driver
        if isinstance(exc, d.InterfaceError):
            return True  # the connection object itself is closed
        return (isinstance(exc, d.OperationalError) and bool(exc.args)
                and exc.args[0] in _DISCONNECTS)

    def raw_sql(self, sql: str) -> str:
        return qmark_to_format(sql)

    def translate_error(self, exc: BaseException) -> Optional[ActiverelError]:
        d = self.driver
        if isinstance(exc, d.IntegrityError) or (
                isinstance(exc, d.OperationalError) and exc.args
                and exc.args[0] in _CHECK_VIOLATIONS):
            return IntegrityError(str(exc))
        if isinstance(exc, d.DataError):
            return ValidationError(f"mysql cannot store a value: {exc}")
        if isinstance(exc, d.Error):
            return ActiverelError(f"mysql: {exc}")
        return None

    def drop_tables_sql(self, tables: Sequence[str]) -> list[str]:
        # a reference cycle can only be dropped with the checks off
        return (["SET FOREIGN_KEY_CHECKS = 0"] + super().drop_tables_sql(tables)
                + ["SET FOREIGN_KEY_CHECKS = 1"])

    def foreign_keys(self, execute: Callable[[str, Sequence[Any]], list[tuple[Any, ...]]],
                     tables: Sequence[str]) -> set[tuple[str, tuple[str, ...], str, str]]:
        rows = execute(
            "SELECT k.TABLE_NAME, k.CONSTRAINT_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_NAME, "
            "r.DELETE_RULE, k.ORDINAL_POSITION FROM information_schema.KEY_COLUMN_USAGE k "
            "JOIN information_schema.REFERENTIAL_CONSTRAINTS r "
            "ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME "
            "AND r.TABLE_NAME = k.TABLE_NAME "
            "WHERE k.TABLE_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_NAME IS NOT NULL", ())
        groups: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
        for row in rows:
            groups.setdefault((row[0], row[1]), []).append(row)
        out = set()
        for (table, _), cols in groups.items():
            if table in tables:
                cols.sort(key=lambda r: r[5])
                out.add((table, tuple(r[2] for r in cols), cols[0][3], cols[0][4].upper()))
        return out

    def truncate_sql(self, tables: Sequence[str]) -> list[str]:
        # TRUNCATE restarts AUTO_INCREMENT; the checks are off for the order
        return (["SET FOREIGN_KEY_CHECKS = 0"] + [f'TRUNCATE TABLE "{t}"' for t in tables]
                + ["SET FOREIGN_KEY_CHECKS = 1"])

    def driver_errors(self) -> tuple[type, type]:
        return self.driver.Error, self.driver.IntegrityError

    def table_names(self, execute: Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]) -> set[str]:
        rows = execute("SELECT table_name FROM information_schema.tables "
                       "WHERE table_schema = DATABASE()", ())
        return {r[0] for r in rows}

    def introspect_columns(self, execute: Callable[[str, Sequence[Any]], list[tuple[Any, ...]]],
                           table: str) -> list[ColumnDef]:
        return mysql_schema.introspect_columns(execute, table)

    def introspect(self, execute: Callable[[str, Sequence[Any]], list[tuple[Any, ...]]],
                   tables: Optional[Sequence[str]] = None) -> dict[str, TableDef]:
        return mysql_schema.introspect(execute, tables)

    def column_kind(self, sql_type: str) -> tuple[str, Optional[int]]:
        return mysql_schema.column_kind(sql_type)

    def with_recursive_sql(self, cte: str, select: str, depth: Optional[int]) -> str:
        # a step count past the cap (1,000 by default) ends MariaDB's walk
        # silently and MySQL's with an error: the cap is lifted for the statement
        if self.version and self.version < ((10, 2) if self.mariadb else (8, 0)):
            raise QueryError(
                f"a recursive join_with (a name ending in *) needs WITH RECURSIVE: MariaDB "
                f"10.2+ or MySQL 8; this server is {'MariaDB' if self.mariadb else 'MySQL'} "
                f"{'.'.join(map(str, self.version))}")
        cap = 4294967295 if depth is None else depth + 1
        if self.mariadb:
            return f"SET STATEMENT max_recursive_iterations = {cap} FOR WITH RECURSIVE {cte} {select}"
        # MySQL 8: the hint goes on the statement's first SELECT after the CTE
        assert select.startswith("SELECT ")
        return (f"WITH RECURSIVE {cte} SELECT /*+ SET_VAR(cte_max_recursion_depth = {cap}) */ "
                f"{select[len('SELECT '):]}")

    def key_set_criterion(self, term: Any, keys: Sequence[Any], comp: Any) -> Any:
        # mysqlclient binds parameters client-side, cheaply; JSON_TABLE is for
        # sets near the parameter limit only (MariaDB plans it poorly in DELETEs)
        if len(keys) <= 20000 or not self.json_table or not all(type(k) is int for k in keys):
            return None
        return SqlTemplate(
            "{term} IN (SELECT \"k\" FROM JSON_TABLE({param}, '$[*]' COLUMNS "
            "(\"k\" BIGINT PATH '$')) AS \"_ar_keys\")",
            term=term, param=comp.param(json.dumps(list(keys))))

    def upsert_clause(self, table: str, on: Sequence[str], update: Sequence[str],
                      increment: Sequence[str] = ()) -> str:
        # no conflict target: a row that matches ANY unique key is updated
        q = self.quote
        sets = [f"{q(c)} = VALUES({q(c)})" for c in update]
        sets += [f"{q(c)} = {q(c)} + 1" for c in increment]
        return f" ON DUPLICATE KEY UPDATE {', '.join(sets)}"

    def stream_cursor(self, conn: Any) -> Any:
        # unbuffered: rows come off the socket as fetchmany asks for them
        return conn.cursor(self.unbuffered_cursor)

    def insert_defaults_sql(self, table: Any, pk_column: str) -> str:
        return self.query_class.into(table).columns(pk_column).insert(Parameter("NULL")).get_sql()

    def insert_generated(self, cursor: Any, sql: str, params: Sequence[Any], count: int,
                         pk_column: str) -> list[Any]:
        if self.features.returning:
            cursor.execute(self.with_returning(sql, pk_column), params)
            return sorted(r[0] for r in cursor.fetchall())
        # single_row_inserts() keeps count at 1 unless the lock mode makes the
        # ids of one statement consecutive
        cursor.execute(sql, params)
        first = cursor.lastrowid  # the id of the FIRST row of a multi-row insert
        return [first + i * self.increment for i in range(count)]

    def single_row_inserts(self) -> bool:
        """Whether generated keys need one INSERT per row on this server."""
        return not self.features.returning and not self.consecutive_ids

    def insert_each(self, cursor: Any, sql: str, rows: Sequence[Sequence[Any]],
                    pk_column: str) -> list[Any]:
        # one INSERT per row, many per round trip (mysql_scripts.py)
        return insert_each(cursor, sql, rows, self.script_budget)


#: client and server error codes of a connection that is gone: server gone
#: away, lost during a query, lost while reading, connection killed
#: (MariaDB), disconnected for inactivity
_DISCONNECTS = frozenset({2006, 2013, 2055, 1927, 4031})
#: a row that fails a CHECK constraint (MariaDB's ER_CONSTRAINT_FAILED,
#: MySQL's ER_CHECK_CONSTRAINT_VIOLATED), which mysqlclient raises as an
#: OperationalError
_CHECK_VIOLATIONS = frozenset({4025, 3819})

def _decimal(value: Any) -> Any:
    d = Decimal(value)
    sign, digits, exp = d.as_tuple()
    if not d.is_finite():
        raise ValidationError(f"cannot store the Decimal {value} in MySQL")
    frac = -exp if exp < 0 else 0  # type: ignore[operator]
    whole = len(digits) - frac + (exp if exp > 0 else 0)  # type: ignore[operator]
    if frac > 30 or whole > 35:
        raise ValidationError(
            f"MySQL's DECIMAL(65,30) keeps 35 integer and 30 fractional digits; {value} has more")
    return d


def _finite(value: Any) -> Any:
    value = to_float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValidationError(f"MySQL cannot store the float {value}")
    return value


def _trim_decimal(value: Any) -> Any:
    """DECIMAL(65,30) pads 30 fractional digits: give the value back as written."""
    text = str(value)
    if "." in text and "E" not in text:
        text = text.rstrip("0").rstrip(".")
    return Decimal(text)


def _time(value: Any) -> Any:
    if isinstance(value, dt.timedelta):
        seconds = int(value.total_seconds())
        return dt.time(seconds // 3600, (seconds % 3600) // 60, seconds % 60, value.microseconds)
    return value


MySQLDialect.types = {
    "int": TypeMap("BIGINT"),
    "bool": TypeMap("BOOLEAN", int, bool),
    "float": TypeMap("DOUBLE", _finite, float),
    "bytes": TypeMap("LONGBLOB", indexed_ddl="VARBINARY(255)"),
    "decimal": TypeMap("DECIMAL(65,30)", _decimal, _trim_decimal),
    "datetime": TypeMap("DATETIME(6)"),
    "date": TypeMap("DATE"),
    "time": TypeMap("TIME(6)", None, _time),
    "uuid": TypeMap("CHAR(36)", str, UUID),
    "json": TypeMap("JSON", json.dumps, json_value),
    **_text_types(_BIN),
}
