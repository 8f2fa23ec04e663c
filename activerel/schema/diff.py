"""The difference between two schemas as a list of operations that turns
the first into the second: what ``makemigrations`` writes (models against
the last migration, or against the database), what ``Database.migrate()``
applies when it is only additions, and what the first-use check reports.

Tables, columns and check constraints are matched by name; indexes and
foreign keys by what they are (columns, uniqueness, target, actions), so a
database whose constraints were named by the backend still matches the
models. Renames are never guessed: ``renames`` names them, and a table that
loses one column and gains another of the same type gets a loud note on
the drop.

Called by :mod:`activerel.database` and :mod:`activerel.migrations`. Imports
:mod:`activerel.schema.tables`, :mod:`activerel.schema.operations` and
:mod:`activerel.errors`."""
from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any, Callable, Iterable, Optional

from ..errors import SchemaError
from ..mapping.markers import Sql
from .operations import (AddCheck, AddColumn, AddForeignKey, AlterColumn, CreateIndex, CreateTable,
                         DropCheck, DropColumn, DropForeignKey, DropIndex, DropTable, Operation,
                         RenameColumn, RenameTable)
from .tables import ColumnDef, Schema, TableDef

#: (column as it is, column as declared) -> whether their types are the same
TypeCheck = Callable[[ColumnDef, ColumnDef], bool]


def same_kind(old: ColumnDef, new: ColumnDef) -> bool:
    """Types compared as kinds and lengths (two descriptions of our own)."""
    return old.type == new.type and old.length == new.length


def _default_value(value: Any, kind: str) -> Any:
    if isinstance(value, Sql) or value is None:
        return value
    if kind == "bool" and value in (0, 1):
        return bool(value)
    if kind in ("int", "float", "decimal") and not isinstance(value, bool):
        try:
            return Decimal(str(value))
        except ArithmeticError:
            return value
    if hasattr(value, "value") and not isinstance(value, (int, str)):
        value = value.value  # an enum
    return str(value) if kind not in ("bool",) else value


def same_default(old: ColumnDef, new: ColumnDef) -> bool:
    """Whether two server defaults are the same value (``1`` is ``True`` for
    a bool, ``'2'`` is ``2`` for a number as databases report them)."""
    same: bool = _default_value(old.default, new.type) == _default_value(new.default, new.type)
    return same


class Renames:
    """Renames the differ must not guess: ``{"old_table": "new_table",
    "table.old_column": "new_column"}`` (the table of a column rename is its
    new name)."""

    def __init__(self, renames: Optional[dict[str, str]] = None) -> None:
        self.tables: dict[str, str] = {}
        self.columns: dict[tuple[str, str], str] = {}
        for old, new in (renames or {}).items():
            if "." in old:
                table, column = old.split(".", 1)
                self.columns[(table, column)] = new
            else:
                self.tables[old] = new


def diff(old: Schema, new: Schema, *, renames: Optional[dict[str, str]] = None,
         same_type: TypeCheck = same_kind, compare_check_sql: bool = True,
         droppable: Optional[Iterable[str]] = None, live: bool = False) -> list[Operation]:
    """The operations that turn ``old`` into ``new``. ``same_type`` compares a
    column as it is with the declared one; ``compare_check_sql``: whether a
    check with the same name but other SQL differs (databases rewrite the
    SQL of a check, so a live schema is compared by names); ``droppable``:
    the tables of ``old`` that may be dropped (all when None); ``live``:
    ``old`` was read from a database, where a server default the models do
    not declare is no difference (``db.migrate()`` leaves one on SQLite,
    which cannot drop it without rebuilding the table)."""
    r = Renames(renames)
    ops: list[Operation] = []
    later: list[Operation] = []
    state = old.copy()

    def emit(op: Operation, note: str = "") -> None:
        op.note = note
        op.apply(state)
        ops.append(op)

    for before, after in r.tables.items():
        if before not in state:
            raise SchemaError(f"rename {before}={after}: there is no table {before!r}")
        if after not in new:
            raise SchemaError(f"rename {before}={after}: the models declare no table {after!r}")
        emit(RenameTable(before, after))
    may_drop = set(state.tables) if droppable is None else set(droppable)
    gone = [t for t in state.tables if t not in new and t in may_drop]
    # foreign keys first: those into tables that go, and those no longer declared
    for t in state.tables.values():
        target = new.tables.get(t.name)
        for fk in list(t.foreign_keys):
            keep = target is not None and any(fk.same_as(f) for f in target.foreign_keys)
            if t.name in gone and fk.target == t.name:
                continue
            if not keep and (t.name in new or fk.target in gone):
                emit(DropForeignKey(t.name, fk.name))
    for name in gone:
        emit(DropTable(name), "drops the table and its rows")
    for name, table in new.tables.items():
        if name in state:
            _table_changes(state.tables[name], table, r, same_type, compare_check_sql, emit, live)
    created: set[str] = set()
    for name, table in new.tables.items():
        if name in state:
            continue
        now = [fk for fk in table.foreign_keys
               if fk.target == name or fk.target in state]
        deferred = [fk for fk in table.foreign_keys if fk not in now]
        emit(CreateTable(replace(table.copy(), foreign_keys=now)))
        created.add(name)
        later += [AddForeignKey(name, fk) for fk in deferred]
    for op in later:
        emit(op)
    for name, table in new.tables.items():
        if name in created:
            continue
        current = state.tables[name]
        for fk in table.foreign_keys:
            if not any(fk.same_as(f) for f in current.foreign_keys):
                emit(AddForeignKey(name, fk))
    return ops


def _table_changes(old: TableDef, new: TableDef, r: Renames, same_type: TypeCheck,
                   compare_check_sql: bool, emit: Callable[..., None], live: bool) -> None:
    name = new.name
    for (table, before), after in r.columns.items():
        if table == name:
            if not old.has_column(before):
                raise SchemaError(f"rename {table}.{before}={after}: {table} has no column "
                                  f"{before!r}")
            if not new.has_column(after):
                raise SchemaError(f"rename {table}.{before}={after}: the models declare no "
                                  f"column {table}.{after}")
            emit(RenameColumn(name, before, after))
    if tuple(old.primary_key) != tuple(new.primary_key):
        raise SchemaError(
            f"the primary key of {name} changes from ({', '.join(old.primary_key)}) to "
            f"({', '.join(new.primary_key)}): activerel does not generate that; write the "
            "migration by hand (RunSQL)")
    for index in list(old.indexes):
        if not any(i.columns == index.columns and i.unique == index.unique for i in new.indexes):
            emit(DropIndex(name, index.name))
    for check in list(old.checks):
        match = [c for c in new.checks if c.name == check.name]
        if not match or (compare_check_sql and match[0].sql != check.sql):
            emit(DropCheck(name, check.name))
    added = [c for c in new.columns if not old.has_column(c.name)]
    dropped = [c for c in old.columns if not new.has_column(c.name)]
    for col in dropped:
        twins = [a.name for a in added if a.type == col.type]
        note = "drops the column and its data"
        if twins:
            note = (f"WARNING: drops {name}.{col.name} and its data while {', '.join(twins)} "
                    f"is added: if that is a rename, run makemigrations with "
                    f"--rename {name}.{col.name}={twins[0]} instead")
        emit(DropColumn(name, col.name), note)
    for col in new.columns:
        if not old.has_column(col.name) or col.autoincrement:
            continue
        was = old.column(col.name)
        default_differs = not same_default(was, col) and not (live and col.default is None)
        if not same_type(was, col) or was.nullable != col.nullable or default_differs:
            changed = replace(col, sql_type=None)
            note = ""
            if not same_type(was, col):
                note = f"changes the type of {name}.{col.name}: check that every value converts"
            elif was.nullable and not col.nullable:
                note = f"makes {name}.{col.name} NOT NULL: fails while a row holds NULL"
            emit(AlterColumn(name, changed), note)
    for col in added:
        note = ""
        fill = None
        if not col.nullable and col.default is None and not col.autoincrement:
            fill = col.python_default
            if fill is None:
                note = (f"adds NOT NULL {name}.{col.name} with no default: fails on a table "
                        "with rows; give it a default, a server_default, or make it Optional")
        emit(AddColumn(name, replace(col, sql_type=None), fill), note)
    current = {(i.columns, i.unique) for i in old.indexes}
    for index in new.indexes:
        if (index.columns, index.unique) not in current:
            emit(CreateIndex(name, index))
    names = {c.name for c in old.checks}
    for check in new.checks:
        if check.name not in names:
            emit(AddCheck(name, check))


#: the operations ``Database.migrate()`` applies by itself: nothing is lost
ADDITIVE = (CreateTable, CreateIndex, AddForeignKey, AddCheck)


def is_additive(op: Operation) -> bool:
    """Whether ``op`` adds without loss: a table, an index, a check, a
    foreign key, or a column that is nullable or has a default."""
    if isinstance(op, AddColumn):
        return op.column.nullable or op.column.default is not None or op.fill is not None
    return isinstance(op, ADDITIVE)
