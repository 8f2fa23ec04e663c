"""What the models declare, as a :class:`~activerel.schema.tables.Schema`:
one :class:`~activerel.schema.tables.TableDef` per served mapper, with the
constraint names activerel gives (``fk_<table>_<columns>``,
``uq_<table>_<columns>``, ``ix_<table>_<columns>``, shortened with a hash
past 63 characters), the indexes every foreign key gets, and the class
keywords ``unique=``, ``indexes=`` and ``checks=``.

Called by :mod:`activerel.sql.ddl` (CREATE TABLE), the differ's callers
(``Database.migrate``, ``makemigrations``) and the first-use check. Imports
:mod:`activerel.mapping` and :mod:`activerel.schema.tables`."""
from __future__ import annotations

import hashlib
from enum import Enum
from typing import Iterable

from ..mapping.catalog import table_order
from ..mapping.mapper import Mapper
from ..mapping.markers import MISSING
from ..mapping.properties import Column
from .tables import CheckDef, ColumnDef, ForeignKeyDef, IndexDef, Schema, TableDef

#: the longest identifier every backend takes (PostgreSQL: 63, MySQL: 64)
MAX_NAME = 63


def constraint_name(prefix: str, table: str, columns: Iterable[str]) -> str:
    """``<prefix>_<table>_<col>_<col>``, shortened to :data:`MAX_NAME` with a
    hash of the whole name when longer."""
    name = "_".join([prefix, table, *columns])
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{name[:MAX_NAME - 9]}_{digest}"


def column_def(c: Column) -> ColumnDef:
    """A mapped column as a description (enums as the int or str they store)."""
    ctype = c.ctype
    kind = ctype.kind
    if kind == "enum":
        kind = "int" if issubclass(ctype.python_type, int) else "str"
    server_default = getattr(c.prop, "server_default", MISSING)
    python_default = getattr(c.prop, "default", MISSING)
    if python_default is MISSING or c.autoincrement or c.primary_key:
        python_default = None
    elif isinstance(python_default, Enum):
        python_default = python_default.value
    return ColumnDef(c.name, kind, nullable=ctype.nullable, length=ctype.length,
                     default=None if server_default is MISSING else server_default,
                     autoincrement=c.autoincrement, python_default=python_default)


def table_def(m: Mapper) -> TableDef:
    """The table one mapper declares."""
    table = m.table
    pk = tuple(c.name for c in m.pk_columns)
    indexes: list[IndexDef] = []
    seen: set[tuple[tuple[str, ...], bool]] = set()

    def add(columns: tuple[str, ...], unique: bool) -> None:
        if (columns, unique) in seen or (unique and columns == pk):
            return
        seen.add((columns, unique))
        indexes.append(IndexDef(constraint_name("uq" if unique else "ix", table, columns),
                                columns, unique))

    for c in m.columns:
        if c.unique and not c.primary_key:
            add((c.name,), True)
    for cols in m.unique_together:
        add(cols, True)
    for c in m.columns:
        if c.index and not c.unique:
            add((c.name,), False)
    for cols in m.index_together:
        add(cols, False)
    for ref in m.references:
        # every foreign key gets an index unless the key or another index
        # begins with its columns (or the Reference says index=False)
        cols = tuple(c.name for c in ref.columns)
        covered = pk[:len(cols)] == cols or any(i.columns[:len(cols)] == cols for i in indexes)
        if ref.marker_index and not covered:
            add(cols, False)
    fks = []
    for ref in m.references:
        cols = tuple(c.name for c in ref.columns)
        target_cols = tuple(c.target.name for c in ref.columns)  # type: ignore[union-attr]
        fks.append(ForeignKeyDef(ref.constraint_name or constraint_name("fk", table, cols), cols,
                                 ref.target_mapper.table, target_cols, ref.on_delete,
                                 ref.on_update))
    checks = [CheckDef(name, sql) for name, sql in m.checks.items()]
    return TableDef(table, [column_def(c) for c in m.columns], pk, indexes, fks, checks)


def declared_schema(mappers: Iterable[Mapper]) -> Schema:
    """The schema of ``mappers``, tables parents first."""
    return Schema({m.table: table_def(m) for m in table_order(list(mappers))})
