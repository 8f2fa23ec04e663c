"""Reading a live MySQL or MariaDB database (the connection's ``DATABASE()``)
into backend-independent :class:`~activerel.schema.tables.TableDef`
descriptions, from ``information_schema``: columns with their defaults
(MariaDB quotes string defaults, MySQL does not), the primary key, indexes
(not ``PRIMARY``, nor the index InnoDB adds for a foreign key by itself),
foreign keys with their actions and check constraints. On MariaDB a JSON
column is a LONGTEXT with an automatic ``json_valid`` check named after it:
it is reported as a "json" column, without that check.

Called by :class:`~activerel.dialects.mysql.MySQLDialect`'s ``introspect``
hooks. Imports :mod:`activerel.schema.tables` only."""
from __future__ import annotations

import re
from typing import Any, Callable, Iterable, Optional, Sequence

from .catalog import FLOAT, in_name_order, keyword_default, number
from ..schema.tables import CheckDef, ColumnDef, ForeignKeyDef, IndexDef, TableDef

Execute = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]

#: the migration version table, left out of a whole-database description
VERSION_TABLE = "activerel_migrations"

#: type name (without its length, sign or zerofill) -> kind
_KINDS = {
    "tinyint": "int", "smallint": "int", "mediumint": "int", "int": "int", "integer": "int",
    "bigint": "int",
    "bool": "bool", "boolean": "bool",
    "float": "float", "double": "float", "double precision": "float", "real": "float",
    "decimal": "decimal", "numeric": "decimal",
    "varchar": "str", "char": "str", "tinytext": "str", "text": "str", "mediumtext": "str",
    "longtext": "str",
    "tinyblob": "bytes", "blob": "bytes", "mediumblob": "bytes", "longblob": "bytes",
    "varbinary": "bytes", "binary": "bytes",
    "datetime": "datetime", "timestamp": "datetime", "date": "date", "time": "time",
    "json": "json",
}
_TYPE = re.compile(r"([a-z][a-z ]*?)(?:\((\d+)(?:,\d+)?\))?((?: unsigned| zerofill)*)")
_INTEGERS = ("tinyint", "smallint", "mediumint", "int", "integer", "bigint")


def column_kind(sql_type: str) -> tuple[str, Optional[int]]:
    """The abstract kind and length of a COLUMN_TYPE: ``tinyint(1)`` is
    ("bool", None), ``char(36)`` ("uuid", None), ``varchar(80)`` ("str",
    80); an unknown type is "str"."""
    text = sql_type.strip().lower()
    if text == "tinyint(1)":
        return "bool", None
    if text == "char(36)":
        return "uuid", None
    m = _TYPE.fullmatch(text)
    if m is None:
        return "str", None
    kind = _KINDS.get(m.group(1), "str")
    sized = m.group(1) in ("varchar", "char", "varbinary", "binary")
    return kind, int(m.group(2)) if sized and m.group(2) else None


def _sql_type(column_type: str) -> str:
    """COLUMN_TYPE lower-cased, without an integer's display width (MariaDB's
    ``bigint(20)`` is ``bigint``) but for ``tinyint(1)``, MySQL's boolean."""
    text = column_type.strip().lower()
    m = _TYPE.fullmatch(text)
    if m and m.group(1) in _INTEGERS and text != "tinyint(1)" and m.group(2):
        return m.group(1) + m.group(3)
    return text


_STRING = re.compile(r"'((?:[^'\\]|''|\\.)*)'", re.S)
_HEX = re.compile(r"[xX]'((?:[0-9a-fA-F]{2})*)'")
_ESCAPES = {"0": "\0", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a", "b": "\b"}


def parse_default(text: Optional[str], mariadb: bool = True,
                  expression: bool = False) -> Any:
    """A COLUMN_DEFAULT as a Python value, None, or :class:`Sql`. MariaDB
    quotes string literals and shows no default as ``NULL``; MySQL shows
    literals bare and marks expressions DEFAULT_GENERATED (``expression``)."""
    if text is None:
        return None
    text = text.strip()
    if not mariadb and not expression:
        return number(text) if FLOAT.fullmatch(text) else text
    if m := _STRING.fullmatch(text):
        return re.sub(r"''|\\(.)", lambda e: "'" if e.group(1) is None
                      else _ESCAPES.get(e.group(1), e.group(1)), m.group(1))
    if m := _HEX.fullmatch(text):
        return bytes.fromhex(m.group(1))
    if FLOAT.fullmatch(text):
        return number(text)
    return keyword_default(text)


#: whether a LONGTEXT column is MariaDB's JSON: a check named after it that
#: is json_valid(column). TABLE_CONSTRAINTS NATURAL JOIN CHECK_CONSTRAINTS
#: joins on the constraint's name on MySQL and on its table too on MariaDB,
#: where (unlike MySQL) check names are per table and CHECK_CONSTRAINTS has
#: a TABLE_NAME; the clause quotes the name as the session's sql_mode does.
_JSON = (
    "(c.DATA_TYPE = 'longtext' AND EXISTS (SELECT 1 FROM information_schema.TABLE_CONSTRAINTS "
    "NATURAL JOIN information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = c.TABLE_SCHEMA "
    "AND TABLE_NAME = c.TABLE_NAME AND CONSTRAINT_TYPE = 'CHECK' "
    "AND CONSTRAINT_NAME = c.COLUMN_NAME AND CHECK_CLAUSE IN ("
    "CONCAT('json_valid(`', c.COLUMN_NAME, '`)'), CONCAT('json_valid(\"', c.COLUMN_NAME, '\")'))))")

_COLUMNS = (
    "SELECT c.TABLE_NAME, c.COLUMN_NAME, c.COLUMN_TYPE, c.IS_NULLABLE, c.COLUMN_DEFAULT, "
    f"c.EXTRA, {_JSON}, VERSION() FROM information_schema.COLUMNS c "
    "WHERE c.TABLE_SCHEMA = DATABASE() {where} ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION")


def _column(row: tuple[Any, ...]) -> ColumnDef:
    """A ColumnDef from a row of _COLUMNS without its table name."""
    name, column_type, nullable, default, extra, is_json, version = row
    extra = (extra or "").lower()
    sql_type = "json" if is_json else _sql_type(column_type)
    kind, length = column_kind(sql_type)
    auto = "auto_increment" in extra
    value = None if auto else parse_default(default, "mariadb" in version.lower(),
                                            "default_generated" in extra)
    return ColumnDef(name, kind, nullable=nullable == "YES", length=length, default=value,
                     autoincrement=auto, sql_type=sql_type)


def introspect_columns(execute: Execute, table: str) -> list[ColumnDef]:
    """The columns of ``table`` in table order, from one information_schema
    query; empty when there is no such table."""
    return [_column(r[1:]) for r in execute(
        _COLUMNS.format(where="AND c.TABLE_NAME = %s"), (table,))]


def _where(column: str, tables: Optional[Iterable[str]]) -> tuple[str, tuple[Any, ...]]:
    if tables is None:
        return f"AND {column} <> '{VERSION_TABLE}'", ()
    names = tuple(tables)
    return f"AND {column} IN ({', '.join(['%s'] * len(names))})", names


def introspect(execute: Execute, tables: Optional[Iterable[str]] = None) -> dict[str, TableDef]:
    """The named tables of the current database (all but the migration
    version table when None) by name, sorted by name; four statements."""
    if tables is not None:
        tables = list(tables)
        if not tables:
            return {}
    where, params = _where("c.TABLE_NAME", tables)
    out: dict[str, TableDef] = {}
    json_columns: set[tuple[str, str]] = set()
    for row in execute(_COLUMNS.format(where=where), params):
        out.setdefault(row[0], TableDef(row[0], [])).columns.append(_column(row[1:]))
        if row[6]:
            json_columns.add((row[0], row[1]))
    _add_foreign_keys(execute, out, tables)
    _add_indexes(execute, out, tables)
    _add_checks(execute, out, tables, json_columns)
    return in_name_order(out)


def _add_indexes(execute: Execute, out: dict[str, TableDef],
                 tables: Optional[list[str]]) -> None:
    where, params = _where("TABLE_NAME", tables)
    groups: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
    for row in execute(
            "SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME "
            f"FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() {where} "
            "ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
            params):
        groups.setdefault((row[0], row[1]), []).append(row)
    for (table, name), rows in groups.items():
        t = out.get(table)
        if t is None:
            continue
        columns = tuple(r[3] for r in rows)
        if name == "PRIMARY":
            t.primary_key = columns
            continue
        unique = not int(rows[0][2])
        # InnoDB indexes a foreign key's columns by itself where no index
        # does, naming the index after the constraint (or its first column)
        if not unique and any(fk.columns == columns and name in (fk.name, fk.columns[0])
                              for fk in t.foreign_keys):
            continue
        t.indexes.append(IndexDef(name, columns, unique))


def _add_foreign_keys(execute: Execute, out: dict[str, TableDef],
                      tables: Optional[list[str]]) -> None:
    where, params = _where("k.TABLE_NAME", tables)
    groups: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
    for row in execute(
            "SELECT k.TABLE_NAME, k.CONSTRAINT_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_NAME, "
            "k.REFERENCED_COLUMN_NAME, r.DELETE_RULE, r.UPDATE_RULE "
            "FROM information_schema.KEY_COLUMN_USAGE k "
            "JOIN information_schema.REFERENTIAL_CONSTRAINTS r "
            "ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA "
            "AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME "
            "AND r.TABLE_NAME = k.TABLE_NAME "
            f"WHERE k.TABLE_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_NAME IS NOT NULL {where} "
            "ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION", params):
        groups.setdefault((row[0], row[1]), []).append(row)
    for (table, name), rows in groups.items():
        if table in out:
            out[table].foreign_keys.append(ForeignKeyDef(
                name, tuple(r[2] for r in rows), rows[0][3], tuple(r[4] for r in rows),
                on_delete=rows[0][5].upper(), on_update=rows[0][6].upper()))


def _add_checks(execute: Execute, out: dict[str, TableDef], tables: Optional[list[str]],
                json_columns: set[tuple[str, str]]) -> None:
    where, params = _where("TABLE_NAME", tables)
    for table, name, clause in execute(
            "SELECT TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE "
            "FROM information_schema.TABLE_CONSTRAINTS "
            "NATURAL JOIN information_schema.CHECK_CONSTRAINTS "
            f"WHERE CONSTRAINT_SCHEMA = DATABASE() AND CONSTRAINT_TYPE = 'CHECK' {where} "
            "ORDER BY TABLE_NAME, CONSTRAINT_NAME", params):
        if table in out and (table, name) not in json_columns:
            out[table].checks.append(CheckDef(name, clause))
