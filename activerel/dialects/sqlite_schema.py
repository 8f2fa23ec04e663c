"""Reading a live SQLite database's schema into backend-independent
:class:`~activerel.schema.tables.TableDef` descriptions: columns from
``PRAGMA table_info``, indexes (the automatic ``sqlite_autoindex_*`` of
UNIQUE constraints too), foreign keys (which SQLite does not name: they are
called ``fk_<table>_<columns>``) and named CHECK constraints, parsed out of
the table's CREATE TABLE text.

Called by :class:`~activerel.dialects.sqlite.SQLiteDialect`'s
``introspect`` hooks. Imports :mod:`activerel.schema.tables` only."""
from __future__ import annotations

import json
import re
from typing import Any, Callable, Iterable, Optional, Sequence

from .catalog import FLOAT, INT, in_name_order, keyword_default
from ..schema.tables import CheckDef, ColumnDef, ForeignKeyDef, IndexDef, TableDef

Execute = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]

#: the migration version table, left out of a whole-database description
VERSION_TABLE = "activerel_migrations"

#: declared type name (upper case, without its length) -> kind
_KINDS = {
    "INTEGER": "int", "INT": "int", "BIGINT": "int", "SMALLINT": "int", "TINYINT": "int",
    "MEDIUMINT": "int", "INT2": "int", "INT8": "int", "UNSIGNED BIG INT": "int",
    "BOOLEAN": "bool", "BOOL": "bool",
    "REAL": "float", "DOUBLE": "float", "DOUBLE PRECISION": "float", "FLOAT": "float",
    "NUMERIC": "decimal", "DECIMAL": "decimal",
    "TEXT": "str", "CLOB": "str", "VARCHAR": "str", "CHAR": "str", "CHARACTER": "str",
    "VARYING CHARACTER": "str", "CHARACTER VARYING": "str", "NCHAR": "str", "NVARCHAR": "str",
    "NATIVE CHARACTER": "str",
    "BLOB": "bytes",
    "DATETIME": "datetime", "TIMESTAMP": "datetime", "DATE": "date", "TIME": "time",
    "UUID": "uuid", "JSON": "json",
}
_TYPE = re.compile(r"\s*([A-Za-z][A-Za-z0-9_ ]*?)\s*(?:\(\s*([0-9]+)\s*(?:,\s*[0-9]+\s*)?\))?\s*")


def column_kind(sql_type: str) -> tuple[str, Optional[int]]:
    """The abstract kind and length of a declared column type: ``VARCHAR(80)``
    is ("str", 80); an unknown type is "str"."""
    m = _TYPE.fullmatch(sql_type or "")
    if m is None:
        return "str", None
    kind = _KINDS.get(" ".join(m.group(1).upper().split()), "str")
    length = int(m.group(2)) if m.group(2) and kind in ("str", "bytes") else None
    return kind, length


_STRING = re.compile(r"'((?:[^']|'')*)'")
_HEX = re.compile(r"[xX]'((?:[0-9a-fA-F]{2})*)'")


def parse_default(text: Optional[str]) -> Any:
    """A column default as ``PRAGMA table_info`` shows it, as a Python value,
    None, or :class:`Sql` for an expression."""
    if text is None:
        return None
    text = text.strip()
    inner = re.fullmatch(r"\(\s*(.*?)\s*\)", text, re.S)
    if inner and (_STRING.fullmatch(inner.group(1)) or FLOAT.fullmatch(inner.group(1))):
        text = str(inner.group(1))
    if m := _STRING.fullmatch(text):
        return m.group(1).replace("''", "'")
    if m := _HEX.fullmatch(text):
        return bytes.fromhex(m.group(1))
    if INT.fullmatch(text):
        return int(text)
    if FLOAT.fullmatch(text):
        return float(text)
    return keyword_default(text)


def _columns(rows: Iterable[tuple[Any, ...]]) -> list[ColumnDef]:
    """ColumnDefs from ``table_info`` rows (cid, name, type, notnull, default, pk)."""
    rows = list(rows)
    key = [r for r in rows if r[5]]
    out = []
    for _, name, decl, notnull, default, pk in rows:
        kind, length = column_kind(decl)
        # an INTEGER PRIMARY KEY is the rowid: generated (AUTOINCREMENT or not), never NULL
        rowid = len(key) == 1 and bool(pk) and (decl or "").strip().upper() == "INTEGER"
        out.append(ColumnDef(name, kind, nullable=not notnull and not rowid, length=length,
                             default=None if rowid else parse_default(default),
                             autoincrement=rowid, sql_type=(decl or "").lower()))
    return out


def introspect_columns(execute: Execute, table: str) -> list[ColumnDef]:
    """The columns of ``table`` in table order, from one ``table_info``
    statement; empty when there is no such table."""
    return _columns(execute(
        'SELECT cid, name, type, "notnull", dflt_value, pk FROM pragma_table_info(?) '
        "ORDER BY cid", (table,)))


_TABLES = ("FROM sqlite_master m{join} WHERE m.type = 'table' "
           "AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'{where} ")


def introspect(execute: Execute, tables: Optional[Iterable[str]] = None) -> dict[str, TableDef]:
    """The named tables (every table but SQLite's own and the migration
    version table when None) by name, sorted by name; four statements."""
    params: tuple[Any, ...] = ()
    if tables is None:
        where = f" AND m.name <> '{VERSION_TABLE}'"
    else:
        where = " AND m.name IN (SELECT value FROM json_each(?))"
        params = (json.dumps(list(tables)),)
    sql = {m: s for m, s in execute(f"SELECT m.name, m.sql {_TABLES.format(join='', where=where)}",
                                    params)}
    by_table: dict[str, list[tuple[Any, ...]]] = {name: [] for name in sql}
    for row in execute(
            'SELECT m.name, p.cid, p.name, p.type, p."notnull", p.dflt_value, p.pk '
            + _TABLES.format(join=", pragma_table_info(m.name) p", where=where)
            + "ORDER BY m.name, p.cid", params):
        by_table[row[0]].append(row[1:])
    out = {}
    for name in sorted(by_table):
        rows = by_table[name]
        pk = tuple(r[1] for r in sorted((r for r in rows if r[5]), key=lambda r: r[5]))
        out[name] = TableDef(name, _columns(rows), primary_key=pk,
                             checks=parse_checks(sql[name] or ""))
    _add_indexes(execute, out, where, params)
    _add_foreign_keys(execute, out, where, params)
    return in_name_order(out)


def _add_indexes(execute: Execute, out: dict[str, TableDef], where: str,
                 params: Sequence[Any]) -> None:
    # origin: 'c' CREATE INDEX, 'u' a UNIQUE constraint, 'pk' the primary key's
    cols: dict[tuple[str, str], list[str]] = {}
    unique: dict[tuple[str, str], bool] = {}
    for table, index, uniq, _, name in execute(
            'SELECT m.name, il.name, il."unique", ii.seqno, ii.name '
            + _TABLES.format(join=", pragma_index_list(m.name) il, pragma_index_info(il.name) ii",
                             where=where)
            + "AND il.origin <> 'pk' ORDER BY m.name, il.name, ii.seqno", params):
        cols.setdefault((table, index), [])
        unique[table, index] = bool(uniq)
        if name is not None:  # an expression has no name
            cols[table, index].append(name)
    for (table, index), names in cols.items():
        out[table].indexes.append(IndexDef(index, tuple(names), unique[table, index]))


def _add_foreign_keys(execute: Execute, out: dict[str, TableDef], where: str,
                      params: Sequence[Any]) -> None:
    # "to" is NULL for REFERENCES t without columns: the target's primary key
    groups: dict[tuple[str, int], list[tuple[Any, ...]]] = {}
    for row in execute(
            'SELECT m.name, fk.id, fk.seq, fk."from", fk."table", COALESCE(fk."to", '
            '(SELECT ti.name FROM pragma_table_info(fk."table") ti WHERE ti.pk = fk.seq + 1)), '
            "fk.on_delete, fk.on_update "
            + _TABLES.format(join=", pragma_foreign_key_list(m.name) fk", where=where)
            + "ORDER BY m.name, fk.id, fk.seq", params):
        groups.setdefault((row[0], row[1]), []).append(row)
    for (table, _), rows in groups.items():
        columns = tuple(r[3] for r in rows)
        out[table].foreign_keys.append(ForeignKeyDef(
            f"fk_{table}_{'_'.join(columns)}", columns, rows[0][4], tuple(r[5] for r in rows),
            on_delete=rows[0][6].upper(), on_update=rows[0][7].upper()))


#: the tokens of CREATE TABLE text: blanks and comments, quoted strings and
#: names, words, any other character
_TOKEN = re.compile(r"""(?P<skip>\s+|--[^\n]*|/\*.*?(?:\*/|\Z))
    |(?P<name>"(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\]|'(?:[^']|'')*'|[A-Za-z_][A-Za-z0-9_$]*)
    |(?P<other>.)""", re.S | re.X)


def _unquote(token: str) -> str:
    if token[0] in "\"`'":
        return token[1:-1].replace(token[0] * 2, token[0])
    if token[0] == "[":
        return token[1:-1]
    return token


def parse_checks(create_sql: str) -> list[CheckDef]:
    """The ``CONSTRAINT name CHECK (condition)`` clauses of a CREATE TABLE
    statement (on the table or on a column), in order; the condition is the
    text between the balanced parentheses, as written. Unnamed checks are
    left out: SQLite gives them no name."""
    tokens = [(m.lastgroup, m.group(), m.start(), m.end()) for m in _TOKEN.finditer(create_sql)
              if m.lastgroup != "skip"]
    out = []
    for i in range(len(tokens) - 3):
        (_, word, _, _), (kind, name, _, _), (_, check, _, _), (_, paren, _, start) = \
            tokens[i:i + 4]
        if not (word.upper() == "CONSTRAINT" and kind == "name" and check.upper() == "CHECK"
                and paren == "("):
            continue
        depth = 1
        for _, text, begin, _ in tokens[i + 4:]:
            depth += {"(": 1, ")": -1}.get(text, 0)
            if depth == 0:
                out.append(CheckDef(_unquote(name), create_sql[start:begin].strip()))
                break
    return out
