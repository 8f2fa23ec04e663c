"""Reading a live PostgreSQL schema (the connection's ``current_schema()``)
into backend-independent :class:`~activerel.schema.tables.TableDef`
descriptions, from ``pg_catalog``: columns with their defaults (casts
stripped; identity and serial columns are autoincrement), the primary key,
indexes (unique constraints are unique indexes of the constraint's name),
foreign keys with their actions and check constraints.

Called by :class:`~activerel.dialects.postgresql.PostgreSQLDialect`'s
``introspect`` hooks. Imports :mod:`activerel.schema.tables` only."""
from __future__ import annotations

import re
from typing import Any, Callable, Iterable, Optional, Sequence

from .catalog import FLOAT, in_name_order, keyword_default, number
from ..schema.tables import CheckDef, ColumnDef, ForeignKeyDef, IndexDef, TableDef

Execute = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]

#: the migration version table, left out of a whole-schema description
VERSION_TABLE = "activerel_migrations"

#: type name (without its length or precision) -> kind
_KINDS = {
    "smallint": "int", "integer": "int", "bigint": "int",
    "boolean": "bool",
    "real": "float", "double precision": "float",
    "numeric": "decimal",
    "text": "str", "character varying": "str", "character": "str",
    "bytea": "bytes",
    "timestamp without time zone": "datetime", "timestamp with time zone": "datetime",
    "date": "date", "time without time zone": "time",
    "uuid": "uuid", "json": "json", "jsonb": "json",
}
#: ``timestamp(6) without time zone``: the name around its precision
_TYPE = re.compile(r"([a-z][a-z ]*?)(?:\((\d+)(?:,\d+)?\))?((?: with(?:out)? time zone)?)")


def column_kind(sql_type: str) -> tuple[str, Optional[int]]:
    """The abstract kind and length of a type as ``format_type`` names it:
    ``character varying(80)`` is ("str", 80); an unknown type is "str"."""
    m = _TYPE.fullmatch(sql_type.strip().lower())
    if m is None:
        return "str", None
    kind = _KINDS.get(m.group(1) + m.group(3), "str")
    length = int(m.group(2)) if m.group(2) and m.group(1).startswith("character") else None
    return kind, length


_CAST = re.compile(r"::[a-z_][a-z0-9_ ]*(\(\d+(,\d+)?\))?(\[\])?$", re.I)
_STRING = re.compile(r"'((?:[^']|'')*)'")
_NUMERIC = ("smallint", "integer", "bigint", "numeric", "real", "double precision")


def parse_default(text: Optional[str]) -> Any:
    """A default as ``pg_get_expr`` shows it (``'red'::text``, ``'-1'::integer``,
    ``true``, ``now()``), as a Python value, None, or :class:`Sql`."""
    if text is None:
        return None
    text = text.strip()
    cast = None
    while m := _CAST.search(text):
        cast = cast or m.group(0)[2:].lower()
        stripped = text[:m.start()].strip()
        if not (_STRING.fullmatch(stripped) or stripped.upper() == "NULL"
                or FLOAT.fullmatch(stripped.strip("()"))):
            break  # a cast inside an expression stays
        text = stripped
    if m := _STRING.fullmatch(text):
        value = m.group(1).replace("''", "'")
        if cast and cast.split("(")[0] in _NUMERIC and FLOAT.fullmatch(value):
            return number(value)
        if cast == "boolean" and value in ("true", "false"):
            return value == "true"
        if cast == "bytea" and re.fullmatch(r"\\x(?:[0-9a-fA-F]{2})*", value):
            return bytes.fromhex(value[2:])
        return value
    if FLOAT.fullmatch(text.strip("()")):
        return number(text.strip("()"))
    return keyword_default(text)


_COLUMNS = (
    "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull, "
    "pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated "
    "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
    "WHERE {scope} AND a.attnum > 0 "
    "AND NOT a.attisdropped {where} ORDER BY c.relname, a.attnum")
#: the tables of the current schema (what migrations manage)
_OWN = "n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
#: the relation a query's name resolves to through search_path: a table, a
#: view, a materialized view or a foreign table (what a model may map)
_RESOLVED = "c.oid = to_regclass(quote_ident(%s))"


def _column(row: tuple[Any, ...]) -> ColumnDef:
    """A ColumnDef from a row of _COLUMNS without its table name."""
    name, sql_type, nullable, default, identity, generated = row
    kind, length = column_kind(sql_type)
    serial = default is not None and default.startswith("nextval(")
    auto = bool(identity) or serial
    value = None if auto or generated else parse_default(default)
    return ColumnDef(name, kind, nullable=nullable, length=length, default=value,
                     autoincrement=auto, sql_type=sql_type.lower())


def introspect_columns(execute: Execute, table: str) -> list[ColumnDef]:
    """The columns of ``table`` in table order, from one ``pg_catalog``
    query; empty when there is no such table."""
    sql = _COLUMNS.format(scope=_RESOLVED, where="")
    return [_column(r[1:]) for r in execute(sql, (table,))]


def introspect(execute: Execute, tables: Optional[Iterable[str]] = None) -> dict[str, TableDef]:
    """The named tables of the current schema (all but the migration version
    table when None) by name, sorted by name; three statements."""
    params: tuple[Any, ...] = ()
    if tables is None:
        where = f"AND c.relname <> '{VERSION_TABLE}'"
    else:
        where, params = "AND c.relname::text = ANY(%s::text[])", (list(tables),)
    out: dict[str, TableDef] = {}
    for row in execute(_COLUMNS.format(scope=_OWN, where=where), params):
        out.setdefault(row[0], TableDef(row[0], [])).columns.append(_column(row[1:]))
    _add_constraints(execute, out, where, params)
    _add_indexes(execute, out, where, params)
    return in_name_order(out)


def _names(key: str, rel: str) -> str:
    """An array of the column names of the attribute numbers ``key``, in order."""
    return (f"ARRAY(SELECT a.attname::text FROM unnest({key}) WITH ORDINALITY u(num, i) "
            f"JOIN pg_attribute a ON a.attrelid = {rel} AND a.attnum = u.num ORDER BY u.i)")


_ACTIONS = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL",
            "d": "SET DEFAULT"}


def _add_constraints(execute: Execute, out: dict[str, TableDef], where: str,
                     params: Sequence[Any]) -> None:
    rows = execute(
        f"SELECT c.relname, k.conname, k.contype, {_names('k.conkey', 'k.conrelid')}, "
        f"r.relname, {_names('k.confkey', 'k.confrelid')}, k.confdeltype, k.confupdtype, "
        "pg_get_expr(k.conbin, k.conrelid) "
        "FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_class r ON r.oid = k.confrelid "
        f"WHERE n.nspname = current_schema() AND k.contype IN ('p', 'f', 'c') {where} "
        "ORDER BY c.relname, k.conname", params)
    for table, name, kind, columns, target, target_columns, on_delete, on_update, check in rows:
        t = out.get(table)
        if t is None:
            continue
        if kind == "p":
            t.primary_key = tuple(columns)
        elif kind == "f":
            t.foreign_keys.append(ForeignKeyDef(
                name, tuple(columns), target, tuple(target_columns),
                on_delete=_ACTIONS[str(on_delete)], on_update=_ACTIONS[str(on_update)]))
        else:
            t.checks.append(CheckDef(name, check))


def _add_indexes(execute: Execute, out: dict[str, TableDef], where: str,
                 params: Sequence[Any]) -> None:
    # key columns only (not INCLUDE ones); an expression as pg_get_indexdef writes it
    rows = execute(
        "SELECT c.relname, i.relname, x.indisunique, ARRAY(SELECT COALESCE(a.attname::text, "
        "pg_get_indexdef(x.indexrelid, k.i::int, true)) "
        "FROM unnest(x.indkey::int2[]) WITH ORDINALITY k(num, i) LEFT JOIN pg_attribute a "
        "ON a.attrelid = x.indrelid AND a.attnum = k.num AND k.num > 0 "
        "WHERE k.i <= x.indnkeyatts ORDER BY k.i) "
        "FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid "
        "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        f"WHERE n.nspname = current_schema() AND NOT x.indisprimary {where} "
        "ORDER BY c.relname, i.relname", params)
    for table, name, unique, columns in rows:
        if table in out:
            out[table].indexes.append(IndexDef(name, tuple(columns), bool(unique)))
