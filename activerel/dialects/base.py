"""What every dialect provides. The core asks its dialect for anything that
differs between backends (SQL flavour, types, generated keys, errors), so no
``if backend ==`` branches live outside ``activerel/dialects``: a difference
is a flag of :class:`Features`, an entry of the dialect's type table
(:class:`TypeMap`) or a named hook of :class:`Dialect`.

Imported by the dialect modules and by every layer above that talks to a
backend. Imports :mod:`activerel.mapping.types` and :mod:`activerel.errors`."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

from pypika import Parameter, Query, Table

from ..errors import ActiverelError, ConfigurationError, ValidationError
from ..mapping.types import ColumnType
from ..schema.tables import ColumnDef, TableDef
from .ddl_hooks import DDLHooks
from .round_trips import RoundTripHooks

Adapter = Optional[Callable[[Any], Any]]


@dataclass(frozen=True)
class Features:
    """What a backend can do, declared once per dialect (peewee's feature
    toggles, Django's ``features.py``). A dialect whose server reports its
    capabilities at connect time replaces its instance's ``features``."""

    #: the most bound parameters one statement may carry
    param_limit: int = 999
    #: whether CREATE TABLE may name tables created later (else ALTER TABLE adds them)
    inline_forward_foreign_keys: bool = False
    #: referential actions the engine itself cannot apply (the unit of work still does)
    unsupported_actions: frozenset[str] = frozenset()
    #: appended to CREATE TABLE
    table_options: str = ""
    #: whether an AutoIncrement column's type already declares the primary key
    inline_autoincrement_pk: bool = False
    #: whether the database's own ON DELETE actions beat explicit set-based
    #: statements, so the unit of work leaves enforced actions to it when no
    #: loaded object needs updating
    database_cascades_faster: bool = True
    #: whether many rows' UPDATEs go faster as one statement (a CASE per
    #: column) than through the driver's executemany, which on some drivers
    #: is a round trip per row
    batch_updates: bool = False
    #: the LIMIT a query with an OFFSET but no limit sends (peewee's limit_max)
    limit_max: int = 2 ** 62
    #: whether INSERT ... RETURNING gives generated keys
    returning: bool = False
    #: whether two transactions may write at once (SQLite: one writer at a time)
    concurrent_writers: bool = True
    #: the most significant digits a DECIMAL keeps exactly (None: any)
    decimal_digits: Optional[int] = None
    #: whether SELECT ... FOR UPDATE locks rows (else a write transaction
    #: takes the database's write lock up front: begin(write=True))
    row_locks: bool = True
    #: whether FOR UPDATE names the query's own table (FOR UPDATE OF t), as
    #: PostgreSQL needs beside a LEFT JOIN of a path (Post.author.username)
    lock_of_table: bool = False
    #: whether DDL runs inside a transaction (MySQL and MariaDB commit each
    #: DDL statement at once, so a failed migration is not rolled back)
    transactional_ddl: bool = True
    #: whether ALTER TABLE changes a column's type, nullability and default
    #: in place (else the table is rebuilt: sql/rebuild.py)
    alter_column: bool = True
    #: whether ALTER TABLE adds and drops foreign keys and check constraints
    #: (else the table is rebuilt)
    alter_constraints: bool = True
    #: whether ALTER TABLE ... DROP COLUMN exists (else the table is rebuilt)
    drop_column: bool = True
    #: whether a foreign key that no index serves gets an index of its own,
    #: named as the constraint, which outlives DROP FOREIGN KEY (InnoDB)
    foreign_key_index: bool = False
    #: whether a transaction's begin goes with its first statement, one
    #: round trip for both (:meth:`Dialect.begin_with`): pipelined, or left
    #: to the statement itself where the connection does not autocommit
    begin_with_statement: bool = False
    #: whether several SELECTs go in one round trip (:meth:`Dialect.fetch_batch`),
    #: as a query and the joined relations read with it do
    batch_reads: bool = False
    #: where SELECTs cannot share a round trip: whether a query that an index
    #: serves reads its joined relations in its own statement, as branches of
    #: a UNION ALL (one round trip less, for the server's work of running
    #: the query's conditions again as the relations' key set)
    union_reads: bool = False
    #: with ``union_reads``: at most this many relations in one such UNION
    #: (None: any); a query joining more reads them as it would without
    union_relations: Optional[int] = None
    #: whether a write whose result nobody reads can be held and sent with
    #: the writes after it, before the next statement (in its round trip
    #: where the connection pipelines) or with the COMMIT
    #: (:meth:`Dialect.send_queued`, :meth:`Dialect.commit_queued`)
    queue_writes: bool = False
    #: whether a streamed result left unread blocks its connection (MySQL's
    #: unbuffered results): a stream then runs on a connection of its own
    stream_blocks_connection: bool = False


@dataclass(frozen=True)
class TypeMap:
    """One column kind on one backend: its DDL type (and the one an indexed
    column needs, where that differs), the adapter of Python values to what
    the driver takes and the converter back (None: the value as it is)."""

    ddl: str
    adapt: Adapter = None
    convert: Adapter = None
    indexed_ddl: Optional[str] = None


#: declared kind -> the other live kinds that hold its values exactly
_HOLDS: dict[str, tuple[str, ...]] = {
    "bool": ("int",),
    "int": ("decimal",),
    "float": ("decimal",),
    "str": (),
    "uuid": ("str",),
    "json": ("str",),
}


def to_float(value: Any) -> float:
    """A float field's value as the float it is stored as (an int too, so
    that every backend accepts or refuses the same values)."""
    if type(value) is float:
        return value
    try:
        return float(value)
    except OverflowError:
        raise ValidationError(f"{value!r} is too large for a float column") from None


def _enum_value(value: Any) -> Any:
    return value.value


def json_value(value: Any) -> Any:
    """A JSON column's value as the driver returns it (text, bytes or parsed)."""
    if isinstance(value, (bytes, bytearray)):
        value = value.decode()
    if isinstance(value, str):
        return json.loads(value)
    return value


class Dialect(DDLHooks, RoundTripHooks):
    """Base class of the backends. Subclasses declare ``features`` and
    ``types`` and implement ``connect``, ``translate_error`` and the schema
    hooks; every other difference is a named hook here with a default."""

    name: str = "base"
    query_class: type[Query] = Query
    placeholder: str = "?"
    features: Features = Features()
    #: column kind -> its DDL type, adapter and converter (enums are derived
    #: from the int or str entry)
    types: dict[str, TypeMap] = {}
    #: the column type of an AutoIncrement primary key
    autoincrement_ddl: str = ""
    #: SQL naming the schema (or database) the connection works in
    current_schema_sql: str = "current_schema()"
    #: the literal of LIKE's escape character, a backslash, in this dialect
    like_escape_sql: str = "'\\'"

    def __init__(self, url: Any) -> None:
        self.url = url
        #: mapper -> what the layers above derived from it for this dialect
        #: instance (value codec, statements, hydrators): see
        #: :func:`activerel.sql.values.binding`. Kept on the instance, so two
        #: databases of one scheme never share capabilities read from their
        #: servers, and the bindings go when the Database does.
        self.bindings: dict[Any, Any] = {}
        #: called with a mapper before its first binding to this dialect is
        #: made: the Database's first-use schema check
        self.on_bind: Optional[Callable[[Any], None]] = None
        #: query shape -> its rendered SQL (activerel.querying.shapes)
        self.statement_cache: dict[Any, Any] = {}

    def check_url(self, known: set[str], label: str, example: str) -> None:
        """Refuse query options this backend does not know, and a URL without
        a database name."""
        url = self.url
        unknown = set(url.options) - known
        if unknown:
            raise ConfigurationError(
                f"unknown {label} connection option(s) {', '.join(sorted(unknown))} in "
                f"{url.safe}; known: {', '.join(sorted(known))}")
        if not url.database:
            raise ConfigurationError(f"{url.safe} names no database: {example}")

    # -- connections -------------------------------------------------------
    def connect(self) -> Any:
        raise NotImplementedError

    def begin(self, conn: Any, write: bool = False) -> Optional[str]:
        """Start a transaction (``write``: one that will write and should take
        its locks up front, where the backend has such a thing); returns the
        statement sent, for the log, if any."""
        return None

    def idle(self, conn: Any) -> None:
        """``conn`` goes back to the pool: let go of what it need not keep."""

    def commit(self, conn: Any) -> None:
        conn.commit()

    def rollback(self, conn: Any) -> None:
        conn.rollback()

    def close(self, conn: Any) -> None:
        conn.close()

    def dispose(self) -> None:
        """Release what the dialect itself holds (called by Database.close)."""

    def is_usable(self, conn: Any) -> bool:
        """Whether a connection may be used again, as far as the driver
        knows without a round trip (it was not closed or broken): asked of
        an idle one before it is handed out, and of a session's own after a
        failure (which the driver or the dialect may have closed it for)."""
        return True

    def is_disconnect(self, exc: BaseException, conn: Any) -> bool:
        """Whether ``exc`` (raised on ``conn``, None at connect) means the
        connection is gone: it is then closed, never reused."""
        return False

    def savepoint_sql(self, name: str) -> str:
        return f'SAVEPOINT "{name}"'

    def rollback_to_savepoint_sql(self, name: str) -> str:
        return f'ROLLBACK TO SAVEPOINT "{name}"'

    def release_savepoint_sql(self, name: str) -> str:
        return f'RELEASE SAVEPOINT "{name}"'

    def raw_sql(self, sql: str) -> str:
        """Raw SQL as users write it, with ``?`` placeholders, in this
        driver's parameter style."""
        return sql

    def translate_error(self, exc: BaseException) -> Optional[ActiverelError]:
        """The activerel error for a driver exception, or None to re-raise it."""
        return None

    # -- schema ------------------------------------------------------------
    def type_map(self, ctype: ColumnType) -> TypeMap:
        """The type table's entry for a column type; an enum stores its value
        as the int or str entry does."""
        if ctype.kind == "enum":
            base = self.types["int" if issubclass(ctype.python_type, int) else "str"]
            return TypeMap(base.ddl, _enum_value, ctype.python_type, base.indexed_ddl)
        return self.types[ctype.kind]

    def stored_type(self, kind: str) -> str:
        """The DDL type a column of ``kind`` gets, lower-cased, without
        length or character set (what a live column's type is compared with)."""
        return self.types[kind].ddl.split(" ")[0].lower()

    def can_hold(self, live: Any, declared: Any) -> bool:
        """Whether the live column (a ColumnDef read from the database) can
        hold the values of the declared one (a ColumnDef from the model)."""
        if live.type == declared.type or live.type in _HOLDS.get(declared.type, ()):
            return True
        sql_type = (live.sql_type or "").split("(")[0]
        return sql_type == self.stored_type(declared.type).split("(")[0]

    def same_type(self, live: Any, declared: Any) -> bool:
        """Whether a live column has the declared column's type, for the
        differ: the same kind (or the type this dialect stores that kind as)
        and, where the model gives one, the same length."""
        if declared.length is not None and live.length != declared.length:
            return False
        if live.type == declared.type:
            return True
        sql_type = (live.sql_type or "").split("(")[0]
        return sql_type == self.stored_type(declared.type).split("(")[0]

    def foreign_keys(self, execute: Callable[[str, Sequence[Any]], list[tuple[Any, ...]]],
                     tables: Sequence[str]) -> set[tuple[str, tuple[str, ...], str, str]]:
        """The foreign keys the database itself enforces on ``tables``, as
        (table, columns, referenced table, ON DELETE action)."""
        return set()

    def drop_tables_sql(self, tables: Sequence[str]) -> list[str]:
        """DROP TABLE IF EXISTS for each table, children first."""
        return [self.query_class.drop_table(Table(t)).if_exists().get_sql() for t in tables]

    def table_names(self, execute: Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]) -> set[str]:
        raise NotImplementedError

    def column_names(self, execute: Callable[[str, Sequence[Any]], list[tuple[Any, ...]]],
                     table: str) -> list[str]:
        """The columns of ``table`` in the database, in table order (from
        information_schema, in the schema :attr:`current_schema_sql` names)."""
        rows = execute("SELECT column_name FROM information_schema.columns WHERE table_schema = "
                       f"{self.current_schema_sql} AND table_name = {self.placeholder} "
                       "ORDER BY ordinal_position", (table,))
        return [r[0] for r in rows]

    def introspect_columns(self, execute: Callable[[str, Sequence[Any]], list[tuple[Any, ...]]],
                           table: str) -> list[ColumnDef]:
        """The columns of ``table`` as the database has them, in table order
        (empty when there is no such table), read with exactly ONE catalog
        statement (a cheap drift check runs it on first use). ``execute`` is
        a driver-level fetch such as ``Session.fetch``: it takes this
        dialect's own :attr:`placeholder` (``?`` on SQLite, ``%s`` on the
        servers), not the ``?`` of ``Database.execute``."""
        raise NotImplementedError

    def introspect(self, execute: Callable[[str, Sequence[Any]], list[tuple[Any, ...]]],
                   tables: Optional[Sequence[str]] = None) -> dict[str, TableDef]:
        """The live description of ``tables`` (those that exist), by name in
        name order: columns, primary key, indexes, foreign keys and checks,
        each list in name order. None: every table of the current schema or
        database but the backend's own and the migration version table
        ``activerel_migrations``. A handful of catalog statements, through a
        driver-level ``execute`` as for :meth:`introspect_columns`."""
        raise NotImplementedError

    def column_kind(self, sql_type: str) -> tuple[str, Optional[int]]:
        """The abstract column kind (:data:`activerel.schema.tables.KINDS`)
        and length of a type as this database names it (``varchar(80)`` is
        ``("str", 80)``); an unknown type is ``"str"``."""
        raise NotImplementedError

    def truncate_sql(self, tables: Sequence[str]) -> list[str]:
        """Statements that empty ``tables`` and restart their generated keys."""
        return [self.query_class.from_(Table(t)).delete().get_sql() for t in tables]

    def driver_errors(self) -> tuple[type, type]:
        """The driver's base error class and its integrity-error class (what
        :meth:`translate_error` translates, chained as ``__cause__``)."""
        raise NotImplementedError

    # -- values ------------------------------------------------------------
    def adapter(self, ctype: ColumnType) -> Adapter:
        """A function turning a Python value into what the driver takes, or None."""
        return self.type_map(ctype).adapt

    def converter(self, ctype: ColumnType) -> Adapter:
        """A function turning what the driver returns into the Python value, or None."""
        return self.type_map(ctype).convert

    # -- key sets ----------------------------------------------------------
    def key_set_criterion(self, term: Any, keys: Sequence[Any], comp: Any) -> Any:
        """``term IN keys`` sent as ONE bound parameter (a list the server
        unpacks), or None where the backend cannot; the caller then binds one
        parameter per key."""
        return None

    def aggregate_param(self, param: Any, kind: Optional[str]) -> Any:
        """A bound parameter compared with an aggregate of a ``kind`` column
        (``SUM(price) > ?``; None: a count), which has no column type of its
        own to convert the parameter to: where the adapted value would not
        compare as the column's values do, a term that does."""
        return param

    # -- recursive queries -------------------------------------------------
    def with_recursive_sql(self, cte: str, select: str, depth: Optional[int]) -> str:
        """The statement ``WITH RECURSIVE <cte> <select>`` (``cte`` is
        ``name(columns) AS (anchor UNION step)``), whose step runs at most
        ``depth`` times (None: as often as the data needs). A server that caps
        recursion below that has the cap lifted for this statement."""
        return f"WITH RECURSIVE {cte} {select}"

    # -- generated keys ----------------------------------------------------
    def insert_defaults_sql(self, table: Any, pk_column: str) -> str:
        """A one-row INSERT of nothing but defaults, shaped ``... VALUES (...)``
        so that the row group can be repeated for a multi-row insert."""
        return (self.query_class.into(table).columns(pk_column).insert(Parameter("DEFAULT"))
                .get_sql())

    def insert_generated(self, cursor: Any, sql: str, params: Sequence[Any], count: int,
                         pk_column: str) -> list[Any]:
        """Run a multi-row INSERT of ``count`` rows that leaves ``pk_column`` to the
        database, and return the generated keys in row order."""
        raise NotImplementedError

    def with_returning(self, sql: str, *columns: str) -> str:
        """An INSERT that also returns ``columns`` of the rows it wrote (where
        ``features.returning``): its generated key, or (upsert) whole rows.
        The one RETURNING clause of the package."""
        return f"{sql} RETURNING " + ", ".join(map(self.quote, columns))

    # -- upsert --------------------------------------------------------------
    def upsert_clause(self, table: str, on: Sequence[str], update: Sequence[str],
                      increment: Sequence[str] = ()) -> str:
        """What follows a multi-row ``INSERT ... VALUES`` so that a row whose
        ``on`` columns (a primary key or unique constraint) match an existing
        row updates that row instead: ``update`` set to the values the INSERT
        gave, ``increment`` increased by one. The standard form (PostgreSQL,
        SQLite 3.24+): ``ON CONFLICT (...) DO UPDATE SET c = excluded.c``."""
        q = self.quote
        sets = [f"{q(c)} = excluded.{q(c)}" for c in update]
        sets += [f"{q(c)} = {q(table)}.{q(c)} + 1" for c in increment]
        return f" ON CONFLICT ({', '.join(map(q, on))}) DO UPDATE SET {', '.join(sets)}"

    # -- streaming -----------------------------------------------------------
    def stream_cursor(self, conn: Any) -> Any:
        """A new cursor of ``conn`` that reads a SELECT's rows as they are
        fetched (``fetchmany``), beside the connection's other cursors: a
        server-side cursor where the backend has one."""
        return conn.cursor()

    def explicit_keys_sql(self, table: str, pk_column: str) -> Optional[str]:
        """A statement to run after rows were inserted with explicit values for
        a generated key, so later generated keys do not collide; or None."""
        return None

    def single_row_inserts(self) -> bool:
        """Whether rows with generated keys must be inserted one per statement
        (through :meth:`insert_each`)."""
        return False

    def insert_each(self, cursor: Any, sql: str, rows: Sequence[Sequence[Any]],
                    pk_column: str) -> list[Any]:
        """Run the single-row INSERT ``sql`` once per row of ``rows`` and return
        each generated ``pk_column`` value in row order."""
        keys = []
        for row in rows:
            keys += self.insert_generated(cursor, sql, row, 1, pk_column)
        return keys
