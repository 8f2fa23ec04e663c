"""The operations a migration is made of. Each one changes a
:class:`~activerel.schema.tables.Schema` (:meth:`Operation.apply`, so that
replaying the migration files gives the schema they lead to, without a
database), knows its inverse given the schema before it
(:meth:`Operation.reverse`), and writes itself as the Python source of a
migration file (:meth:`Operation.code`). The DDL of an operation is rendered
by :mod:`activerel.sql.ddl`, on the dialect of the database it runs on.

Data migrations are :class:`RunPython` (a function given the database) and
:class:`RunSQL`.

Used by the differ, the migration files and the runner. Imports
:mod:`activerel.schema.tables` and :mod:`activerel.errors`."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time
from decimal import Decimal
from uuid import UUID
from typing import Any, Callable, Optional, Sequence, Union

from ..errors import SchemaError
from .tables import CheckDef, ColumnDef, ForeignKeyDef, IndexDef, Schema, TableDef


class Operation:
    """One step of a migration."""

    #: whether running it may lose data (a drop, a narrowing change)
    destructive = False
    #: whether it is a data step that the schema replay skips
    data = False
    #: what the differ wants a reader of the migration file to know (a
    #: WARNING for a drop that may be a rename), written above it as a comment
    note = ""

    def apply(self, schema: Schema) -> None:
        """Change ``schema`` as the operation changes the database."""
        raise NotImplementedError

    def reverse(self, before: Schema) -> "Operation":
        """The operation that undoes this one, given the schema before it."""
        raise NotImplementedError

    def code(self) -> str:
        """This operation as Python source, for a migration file."""
        raise NotImplementedError

    def describe(self) -> str:
        """One line for people (showmigrations, logs)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return self.code()


#: what rows get in a NOT NULL column re-added without a default (undoing a
#: DropColumn), by kind, as Django's "effective default" does
EMPTY: dict[str, Any] = {
    "int": 0, "bool": False, "float": 0.0, "str": "", "bytes": b"", "decimal": Decimal(0),
    "datetime": datetime(1970, 1, 1), "date": date(1970, 1, 1), "time": time(0),
    "uuid": UUID(int=0), "json": {},
}


def _table(schema: Schema, name: str) -> TableDef:
    return schema.table(name)


def _uses(table: TableDef, column: str) -> list[str]:
    """What, in ``table``, names ``column`` besides the column itself."""
    out = [f"index {i.name!r}" for i in table.indexes if column in i.columns]
    out += [f"foreign key {f.name!r}" for f in table.foreign_keys if column in f.columns]
    if column in table.primary_key:
        out.append("the primary key")
    return out


@dataclass(repr=False)
class CreateTable(Operation):
    table: TableDef

    def apply(self, schema: Schema) -> None:
        if self.table.name in schema:
            raise SchemaError(f"table {self.table.name!r} exists already")
        schema.tables[self.table.name] = self.table.copy()

    def reverse(self, before: Schema) -> Operation:
        return DropTable(self.table.name)

    def code(self) -> str:
        return f"CreateTable({self.table.code(indent='    ')})"

    def describe(self) -> str:
        return f"create table {self.table.name}"


@dataclass(repr=False)
class DropTable(Operation):
    name: str
    destructive = True

    def apply(self, schema: Schema) -> None:
        _table(schema, self.name)
        for other in schema.tables.values():
            for fk in other.foreign_keys:
                if fk.target == self.name and other.name != self.name:
                    raise SchemaError(
                        f"cannot drop table {self.name!r}: foreign key {fk.name!r} of "
                        f"{other.name!r} points at it (drop that first)")
        del schema.tables[self.name]

    def reverse(self, before: Schema) -> Operation:
        return CreateTable(before.table(self.name).copy())

    def code(self) -> str:
        return f"DropTable({self.name!r})"

    def describe(self) -> str:
        return f"drop table {self.name}"


@dataclass(repr=False)
class RenameTable(Operation):
    old: str
    new: str

    def apply(self, schema: Schema) -> None:
        table = _table(schema, self.old)
        if self.new in schema:
            raise SchemaError(f"cannot rename {self.old!r}: table {self.new!r} exists")
        del schema.tables[self.old]
        table.name = self.new
        schema.tables[self.new] = table
        for other in schema.tables.values():
            other.foreign_keys = [replace(f, target=self.new) if f.target == self.old else f
                                  for f in other.foreign_keys]

    def reverse(self, before: Schema) -> Operation:
        return RenameTable(self.new, self.old)

    def code(self) -> str:
        return f"RenameTable({self.old!r}, {self.new!r})"

    def describe(self) -> str:
        return f"rename table {self.old} to {self.new}"


@dataclass(repr=False)
class AddColumn(Operation):
    """Add a column; ``fill``: the value the rows already in the table get
    when the column is NOT NULL without a server default (the model's
    Python default), which is not kept as a default afterwards."""

    table: str
    column: ColumnDef
    fill: Any = None

    def apply(self, schema: Schema) -> None:
        t = _table(schema, self.table)
        if t.has_column(self.column.name):
            raise SchemaError(f"{self.table}.{self.column.name} exists already")
        t.columns.append(self.column)

    def reverse(self, before: Schema) -> Operation:
        return DropColumn(self.table, self.column.name)

    def code(self) -> str:
        fill = f", fill={self.fill!r}" if self.fill is not None else ""
        return f"AddColumn({self.table!r}, {self.column.code()}{fill})"

    def describe(self) -> str:
        return f"add column {self.table}.{self.column.name}"


@dataclass(repr=False)
class DropColumn(Operation):
    table: str
    name: str
    destructive = True

    def apply(self, schema: Schema) -> None:
        t = _table(schema, self.table)
        t.column(self.name)
        used = _uses(t, self.name)
        if used:
            raise SchemaError(f"cannot drop {self.table}.{self.name}: {', '.join(used)} "
                              "uses it (drop that first)")
        t.columns = [c for c in t.columns if c.name != self.name]

    def reverse(self, before: Schema) -> Operation:
        col = before.table(self.table).column(self.name)
        fill = None
        if not col.nullable and col.default is None and not col.autoincrement:
            # the data is gone: the rows get the kind's empty value back
            fill = EMPTY.get(col.type)
        return AddColumn(self.table, col, fill)

    def code(self) -> str:
        return f"DropColumn({self.table!r}, {self.name!r})"

    def describe(self) -> str:
        return f"drop column {self.table}.{self.name}"


@dataclass(repr=False)
class RenameColumn(Operation):
    table: str
    old: str
    new: str

    def apply(self, schema: Schema) -> None:
        t = _table(schema, self.table)
        col = t.column(self.old)
        if t.has_column(self.new):
            raise SchemaError(f"cannot rename {self.table}.{self.old}: {self.new!r} exists")

        def swap(cols: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(self.new if c == self.old else c for c in cols)

        t.columns = [replace(col, name=self.new) if c.name == self.old else c for c in t.columns]
        t.primary_key = swap(t.primary_key)
        t.indexes = [replace(i, columns=swap(i.columns)) for i in t.indexes]
        t.foreign_keys = [replace(f, columns=swap(f.columns)) for f in t.foreign_keys]
        for other in schema.tables.values():
            other.foreign_keys = [
                replace(f, target_columns=swap(f.target_columns)) if f.target == self.table else f
                for f in other.foreign_keys]

    def reverse(self, before: Schema) -> Operation:
        return RenameColumn(self.table, self.new, self.old)

    def code(self) -> str:
        return f"RenameColumn({self.table!r}, {self.old!r}, {self.new!r})"

    def describe(self) -> str:
        return f"rename column {self.table}.{self.old} to {self.new}"


@dataclass(repr=False)
class AlterColumn(Operation):
    """Change a column's type, length, nullability or server default:
    ``column`` is its whole new definition (same name)."""

    table: str
    column: ColumnDef

    @property
    def destructive(self) -> bool:  # type: ignore[override]
        return True

    def apply(self, schema: Schema) -> None:
        t = _table(schema, self.table)
        t.column(self.column.name)
        t.columns = [self.column if c.name == self.column.name else c for c in t.columns]

    def reverse(self, before: Schema) -> Operation:
        return AlterColumn(self.table, before.table(self.table).column(self.column.name))

    def code(self) -> str:
        return f"AlterColumn({self.table!r}, {self.column.code()})"

    def describe(self) -> str:
        return f"alter column {self.table}.{self.column.name}"


@dataclass(repr=False)
class CreateIndex(Operation):
    table: str
    index: IndexDef

    def apply(self, schema: Schema) -> None:
        t = _table(schema, self.table)
        for c in self.index.columns:
            t.column(c)
        if any(i.name == self.index.name for t2 in schema.tables.values() for i in t2.indexes):
            raise SchemaError(f"an index named {self.index.name!r} exists already")
        t.indexes.append(self.index)

    def reverse(self, before: Schema) -> Operation:
        return DropIndex(self.table, self.index.name)

    def code(self) -> str:
        return f"CreateIndex({self.table!r}, {self.index.code()})"

    def describe(self) -> str:
        kind = "unique index" if self.index.unique else "index"
        return f"create {kind} {self.index.name} on {self.table} ({', '.join(self.index.columns)})"


@dataclass(repr=False)
class DropIndex(Operation):
    table: str
    name: str

    def apply(self, schema: Schema) -> None:
        t = _table(schema, self.table)
        t.index(self.name)
        t.indexes = [i for i in t.indexes if i.name != self.name]

    def reverse(self, before: Schema) -> Operation:
        return CreateIndex(self.table, before.table(self.table).index(self.name))

    def code(self) -> str:
        return f"DropIndex({self.table!r}, {self.name!r})"

    def describe(self) -> str:
        return f"drop index {self.name} on {self.table}"


@dataclass(repr=False)
class AddForeignKey(Operation):
    table: str
    foreign_key: ForeignKeyDef

    def apply(self, schema: Schema) -> None:
        t = _table(schema, self.table)
        for c in self.foreign_key.columns:
            t.column(c)
        target = _table(schema, self.foreign_key.target)
        for c in self.foreign_key.target_columns:
            target.column(c)
        t.foreign_keys.append(self.foreign_key)

    def reverse(self, before: Schema) -> Operation:
        return DropForeignKey(self.table, self.foreign_key.name)

    def code(self) -> str:
        return f"AddForeignKey({self.table!r}, {self.foreign_key.code()})"

    def describe(self) -> str:
        fk = self.foreign_key
        return (f"add foreign key {fk.name} on {self.table} ({', '.join(fk.columns)}) -> "
                f"{fk.target} ON DELETE {fk.on_delete} ON UPDATE {fk.on_update}")


@dataclass(repr=False)
class DropForeignKey(Operation):
    table: str
    name: str

    def apply(self, schema: Schema) -> None:
        t = _table(schema, self.table)
        t.foreign_key(self.name)
        t.foreign_keys = [f for f in t.foreign_keys if f.name != self.name]

    def reverse(self, before: Schema) -> Operation:
        return AddForeignKey(self.table, before.table(self.table).foreign_key(self.name))

    def code(self) -> str:
        return f"DropForeignKey({self.table!r}, {self.name!r})"

    def describe(self) -> str:
        return f"drop foreign key {self.name} on {self.table}"


@dataclass(repr=False)
class AddCheck(Operation):
    table: str
    check: CheckDef

    def apply(self, schema: Schema) -> None:
        t = _table(schema, self.table)
        if any(c.name == self.check.name for c in t.checks):
            raise SchemaError(f"{self.table} has a check named {self.check.name!r} already")
        t.checks.append(self.check)

    def reverse(self, before: Schema) -> Operation:
        return DropCheck(self.table, self.check.name)

    def code(self) -> str:
        return f"AddCheck({self.table!r}, {self.check.code()})"

    def describe(self) -> str:
        return f"add check {self.check.name} on {self.table}: {self.check.sql}"


@dataclass(repr=False)
class DropCheck(Operation):
    table: str
    name: str

    def apply(self, schema: Schema) -> None:
        t = _table(schema, self.table)
        t.check(self.name)
        t.checks = [c for c in t.checks if c.name != self.name]

    def reverse(self, before: Schema) -> Operation:
        return AddCheck(self.table, before.table(self.table).check(self.name))

    def code(self) -> str:
        return f"DropCheck({self.table!r}, {self.name!r})"

    def describe(self) -> str:
        return f"drop check {self.name} on {self.table}"


Statements = Union[str, Sequence[str], None]


def _sql_list(sql: Statements) -> list[str]:
    if sql is None:
        return []
    return [sql] if isinstance(sql, str) else list(sql)


@dataclass(repr=False)
class RunSQL(Operation):
    """Raw SQL (one statement or a list), with ``backward`` SQL that undoes
    it; None makes the migration irreversible."""

    forward: Statements
    backward: Statements = None
    data = True

    def apply(self, schema: Schema) -> None:
        pass

    def statements(self) -> list[str]:
        return _sql_list(self.forward)

    def reverse(self, before: Schema) -> Operation:
        if self.backward is None:
            raise SchemaError(f"{self.code()} has no backward SQL: it cannot be undone")
        return RunSQL(self.backward, self.forward)

    def code(self) -> str:
        return f"RunSQL({self.forward!r}, {self.backward!r})"

    def describe(self) -> str:
        return f"run SQL ({len(_sql_list(self.forward))} statement(s))"


def _noop(db: Any) -> None:
    """A backward step with nothing to undo."""


@dataclass(repr=False)
class RunPython(Operation):
    """A data migration: ``forward(db)`` runs in the migration's transaction
    (``db.session()`` and queries join it); ``backward(db)`` undoes it
    (``RunPython.noop`` when there is nothing to undo; None makes the
    migration irreversible). Models used inside should be the ones of the
    schema at this point, so such a function usually runs SQL through
    ``db.execute``."""

    forward: Callable[[Any], None]
    backward: Optional[Callable[[Any], None]] = None
    data = True
    noop = staticmethod(_noop)

    def apply(self, schema: Schema) -> None:
        pass

    def reverse(self, before: Schema) -> Operation:
        if self.backward is None:
            raise SchemaError(f"RunPython({self.forward.__name__}) has no backward function: "
                              "it cannot be undone")
        return RunPython(self.backward, self.forward)

    def code(self) -> str:
        back = getattr(self.backward, "__name__", None)
        return f"RunPython({self.forward.__name__}, {back})"

    def describe(self) -> str:
        return f"run {self.forward.__name__}()"


#: every operation class by name: what a migration file may use
OPERATIONS: dict[str, type] = {
    cls.__name__: cls for cls in (
        CreateTable, DropTable, RenameTable, AddColumn, DropColumn, RenameColumn, AlterColumn,
        CreateIndex, DropIndex, AddForeignKey, DropForeignKey, AddCheck, DropCheck, RunSQL,
        RunPython)
}


def replay(operations: Sequence[Operation], schema: Optional[Schema] = None) -> Schema:
    """The schema after ``operations``, starting from ``schema`` (empty)."""
    out = schema.copy() if schema is not None else Schema()
    for op in operations:
        op.apply(out)
    return out
