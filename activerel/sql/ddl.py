"""DDL from schema descriptions: CREATE TABLE with its named constraints and
indexes (:func:`create_table_sql`), a whole schema in dependency order with
the foreign keys of a cycle added last (:func:`create_schema_sql`), DROP
(:func:`drop_schema_sql`), and the statements of one migration operation
(:func:`operation_sql`), where a change SQLite cannot make with ALTER TABLE
goes through its table rebuild (:mod:`activerel.sql.rebuild`).

Every name is quoted and every type, default and backend-specific ALTER
comes from the dialect (its type table, ``Features`` flags and DDL hooks):
nothing here knows which backend it renders for. Unique constraints are
unique indexes, so that each backend drops them by name alike.

Called by :class:`~activerel.database.Database` (``schema_sql``,
``drop_all``), :mod:`activerel.schema_apply`, the migration runner and the
connection (:func:`is_ddl`). Imports :mod:`activerel.dialects` and
:mod:`activerel.schema`."""
from __future__ import annotations

from dataclasses import replace

from typing import Any, Callable, Iterable, Optional

from ..dialects.base import Dialect
from ..schema.declared import constraint_name
from ..schema.operations import (AddCheck, AddColumn, AddForeignKey, AlterColumn, CreateIndex,
                                 CreateTable, DropCheck, DropColumn, DropForeignKey, DropIndex,
                                 DropTable, Operation, RenameColumn, RenameTable, RunPython,
                                 RunSQL)
from ..schema.tables import ColumnDef, ForeignKeyDef, IndexDef, Schema, TableDef
from .rebuild import rebuild_sql, temporary_name

#: the first words of DDL statements
_DDL_WORDS = ("CREATE", "DROP", "ALTER", "TRUNCATE", "RENAME")


def is_ddl(sql: str) -> bool:
    """Whether ``sql`` is DDL, which commits the transaction by itself
    where the backend has no transactional DDL (``features.transactional_ddl``)."""
    return sql.lstrip()[:8].upper().startswith(_DDL_WORDS)


# -- tables --------------------------------------------------------------------
def indexed_columns(table: TableDef) -> set[str]:
    """The columns of ``table`` in its primary key, an index or a foreign key
    (where MySQL needs a bounded type such as ``VARCHAR(255)`` for text)."""
    out = set(table.primary_key)
    for index in table.indexes:
        out.update(index.columns)
    for fk in table.foreign_keys:
        out.update(fk.columns)
    return out


def column_sql(col: ColumnDef, dialect: Dialect, *, indexed: bool) -> str:
    """``name type [NOT NULL] [DEFAULT ...]``."""
    out = f"{dialect.quote(col.name)} {dialect.column_type_sql(col, indexed=indexed)}"
    if not col.nullable:
        out += " NOT NULL"
    if col.default is not None:
        out += f" DEFAULT {dialect.default_sql(col.default, col)}"
    return out


def _names(dialect: Dialect, names: Iterable[str]) -> str:
    return ", ".join(dialect.quote(n) for n in names)


def foreign_key_sql(fk: ForeignKeyDef, dialect: Dialect) -> str:
    """``CONSTRAINT name FOREIGN KEY (...) REFERENCES t (...) ON DELETE ... ON
    UPDATE ...``; an action the backend cannot apply itself (the unit of work
    does) is declared as the nearest one it has (``dialect.stored_actions``)."""
    on_delete, on_update = dialect.stored_actions(fk.on_delete, fk.on_update)
    return (f"CONSTRAINT {dialect.quote(fk.name)} FOREIGN KEY ({_names(dialect, fk.columns)}) "
            f"REFERENCES {dialect.quote(fk.target)} ({_names(dialect, fk.target_columns)}) "
            f"ON DELETE {on_delete} ON UPDATE {on_update}")


def index_sql(table: str, index: IndexDef, dialect: Dialect) -> str:
    unique = "UNIQUE " if index.unique else ""
    return (f"CREATE {unique}INDEX {dialect.quote(index.name)} ON {dialect.quote(table)} "
            f"({_names(dialect, index.columns)})")


def create_table_statement(table: TableDef, dialect: Dialect, foreign_keys: Iterable[ForeignKeyDef],
                           name: Optional[str] = None) -> str:
    """The CREATE TABLE alone (no indexes), named ``name`` if given."""
    indexed = indexed_columns(table)
    parts = [column_sql(c, dialect, indexed=c.name in indexed) for c in table.columns]
    inline_pk = (dialect.features.inline_autoincrement_pk
                 and any(c.autoincrement for c in table.columns))
    if table.primary_key and not inline_pk:
        parts.append(f"PRIMARY KEY ({_names(dialect, table.primary_key)})")
    parts += [f"CONSTRAINT {dialect.quote(c.name)} CHECK ({c.sql})" for c in table.checks]
    parts += [foreign_key_sql(fk, dialect) for fk in foreign_keys]
    return (f"CREATE TABLE {dialect.quote(name or table.name)} ({', '.join(parts)})"
            f"{dialect.features.table_options}")


def create_table_sql(table: TableDef, dialect: Dialect, *,
                     foreign_keys: Optional[Iterable[ForeignKeyDef]] = None) -> list[str]:
    """CREATE TABLE with the columns, the primary key, the checks and
    ``foreign_keys`` (all of the table's when None), then one CREATE INDEX
    per index, unique ones too."""
    fks = table.foreign_keys if foreign_keys is None else foreign_keys
    return ([create_table_statement(table, dialect, fks)]
            + [index_sql(table.name, i, dialect) for i in table.indexes])


def add_foreign_key_sql(table: str, fk: ForeignKeyDef, dialect: Dialect) -> str:
    return f"ALTER TABLE {dialect.quote(table)} ADD {foreign_key_sql(fk, dialect)}"


def create_schema_sql(schema: Schema, dialect: Dialect,
                      only: Optional[set[str]] = None) -> list[str]:
    """The tables of ``schema`` in its order (parents first), or those named
    in ``only`` (the others are taken to exist). A foreign key to a table
    created later (a cycle) is added by ALTER TABLE at the end, unless the
    backend lets CREATE TABLE name tables that do not exist yet."""
    out: list[str] = []
    later: list[str] = []
    made = {name for name in schema.tables if only is not None and name not in only}
    forward = dialect.features.inline_forward_foreign_keys
    for table in schema.tables.values():
        if table.name in made:
            continue
        made.add(table.name)
        now = [fk for fk in table.foreign_keys
               if forward or fk.target in made or fk.target not in schema]
        out += create_table_sql(table, dialect, foreign_keys=now)
        later += [add_foreign_key_sql(table.name, fk, dialect)
                  for fk in table.foreign_keys if fk not in now]
    return out + later


def drop_schema_sql(schema: Schema, dialect: Dialect) -> list[str]:
    """DROP TABLE IF EXISTS for every table of ``schema``, children first."""
    return dialect.drop_tables_sql(list(reversed(list(schema.tables))))


# -- operations ----------------------------------------------------------------
def operation_sql(op: Operation, before: Schema, dialect: Dialect) -> list[str]:
    """The statements of ``op`` run on a database whose schema is ``before``
    (RunPython has none: the runner calls it)."""
    after = before.copy()
    op.apply(after)
    render = _RENDERERS.get(type(op))
    if render is None:
        raise TypeError(f"no DDL for the operation {op!r}")
    return render(op, before, after, dialect)


def _rebuild(op: Any, before: Schema, after: Schema, dialect: Dialect) -> list[str]:
    """SQLite's rebuild of the table ``op`` changes (see :mod:`.rebuild`)."""
    old, new = before.table(op.table), after.table(op.table)
    create = create_table_statement(new, dialect, new.foreign_keys, name=temporary_name(new.name))
    # an automatic index of an inline UNIQUE (older tables) gets a name of its
    # own: SQLite reserves sqlite_* names
    indexes = [i if not i.name.startswith("sqlite_") else
               replace(i, name=constraint_name("uq" if i.unique else "ix", new.name, i.columns))
               for i in new.indexes]
    return rebuild_sql(old, new, dialect, create,
                       [index_sql(new.name, i, dialect) for i in indexes])


def _retyped(op: Any, before: Schema, after: Schema, dialect: Dialect) -> list[str]:
    """ALTER COLUMN for the columns whose type depends on whether they are
    indexed and whose indexing ``op`` changes (MySQL text: LONGTEXT or
    VARCHAR(255))."""
    old, new = before.table(op.table), after.table(op.table)
    was, now = indexed_columns(old), indexed_columns(new)
    out = []
    for col in new.columns:
        if (col.name in was) != (col.name in now):
            before_sql = column_sql(col, dialect, indexed=col.name in was)
            after_sql = column_sql(col, dialect, indexed=col.name in now)
            if before_sql != after_sql:
                out += dialect.alter_column_sql(op.table, col, col, after_sql)
    return out


def _q(dialect: Dialect, name: str) -> str:
    return dialect.quote(name)


def _create_table(op: CreateTable, before: Schema, after: Schema, d: Dialect) -> list[str]:
    return create_table_sql(op.table, d)


def _drop_table(op: DropTable, before: Schema, after: Schema, d: Dialect) -> list[str]:
    return [f"DROP TABLE {_q(d, op.name)}"]


def _rename_table(op: RenameTable, before: Schema, after: Schema, d: Dialect) -> list[str]:
    return [f"ALTER TABLE {_q(d, op.old)} RENAME TO {_q(d, op.new)}"]


def _add_column(op: AddColumn, before: Schema, after: Schema, d: Dialect) -> list[str]:
    if op.fill is not None and not op.column.nullable and op.column.default is None:
        # the rows there get ``fill`` through a default that goes again after
        # (where a column can be altered; SQLite keeps it rather than rebuild
        # the table for it)
        filled = AddColumn(op.table, replace(op.column, default=op.fill))
        middle = before.copy()
        filled.apply(middle)
        added = _add_column(filled, before, middle, d)
        if not d.features.alter_column:
            return added
        return added + operation_sql(AlterColumn(op.table, op.column), middle, d)
    if not d.can_add_column(op.column):
        return _rebuild(op, before, after, d)
    indexed = op.column.name in indexed_columns(after.table(op.table))
    return [f"ALTER TABLE {_q(d, op.table)} ADD COLUMN {column_sql(op.column, d, indexed=indexed)}"]


def _drop_column(op: DropColumn, before: Schema, after: Schema, d: Dialect) -> list[str]:
    if not d.features.drop_column:
        return _rebuild(op, before, after, d)
    return [f"ALTER TABLE {_q(d, op.table)} DROP COLUMN {_q(d, op.name)}"]


def _rename_column(op: RenameColumn, before: Schema, after: Schema, d: Dialect) -> list[str]:
    return [f"ALTER TABLE {_q(d, op.table)} RENAME COLUMN {_q(d, op.old)} TO {_q(d, op.new)}"]


def _alter_column(op: AlterColumn, before: Schema, after: Schema, d: Dialect) -> list[str]:
    if not d.features.alter_column:
        return _rebuild(op, before, after, d)
    table = after.table(op.table)
    definition = column_sql(op.column, d, indexed=op.column.name in indexed_columns(table))
    return d.alter_column_sql(op.table, before.table(op.table).column(op.column.name), op.column,
                              definition)


def _create_index(op: CreateIndex, before: Schema, after: Schema, d: Dialect) -> list[str]:
    return _retyped(op, before, after, d) + [index_sql(op.table, op.index, d)]


def _drop_index(op: DropIndex, before: Schema, after: Schema, d: Dialect) -> list[str]:
    return [d.drop_index_sql(op.table, op.name)] + _retyped(op, before, after, d)


def _add_foreign_key(op: AddForeignKey, before: Schema, after: Schema, d: Dialect) -> list[str]:
    if not d.features.alter_constraints:
        return _rebuild(op, before, after, d)
    return _retyped(op, before, after, d) + [add_foreign_key_sql(op.table, op.foreign_key, d)]


def _served(table: TableDef, columns: tuple[str, ...]) -> bool:
    """Whether an index of ``table`` (its primary key too) or another of its
    foreign keys begins with ``columns``."""
    n = len(columns)
    return any(cols[:n] == columns for cols in [table.primary_key]
               + [i.columns for i in table.indexes] + [f.columns for f in table.foreign_keys])


def _drop_foreign_key(op: DropForeignKey, before: Schema, after: Schema, d: Dialect) -> list[str]:
    if not d.features.alter_constraints:
        return _rebuild(op, before, after, d)
    out = [d.drop_foreign_key_sql(op.table, op.name)]
    fk = before.table(op.table).foreign_key(op.name)
    if d.features.foreign_key_index and not _served(after.table(op.table), fk.columns):
        out.append(d.drop_index_sql(op.table, op.name))  # the index the foreign key made
    return out + _retyped(op, before, after, d)


def _add_check(op: AddCheck, before: Schema, after: Schema, d: Dialect) -> list[str]:
    if not d.features.alter_constraints:
        return _rebuild(op, before, after, d)
    return [f"ALTER TABLE {_q(d, op.table)} ADD CONSTRAINT {_q(d, op.check.name)} "
            f"CHECK ({op.check.sql})"]


def _drop_check(op: DropCheck, before: Schema, after: Schema, d: Dialect) -> list[str]:
    if not d.features.alter_constraints:
        return _rebuild(op, before, after, d)
    return [d.drop_check_sql(op.table, op.name)]


def _run_sql(op: RunSQL, before: Schema, after: Schema, d: Dialect) -> list[str]:
    return op.statements()


def _run_python(op: RunPython, before: Schema, after: Schema, d: Dialect) -> list[str]:
    return []


_RENDERERS: dict[type, Callable[[Any, Schema, Schema, Dialect], list[str]]] = {
    CreateTable: _create_table, DropTable: _drop_table, RenameTable: _rename_table,
    AddColumn: _add_column, DropColumn: _drop_column, RenameColumn: _rename_column,
    AlterColumn: _alter_column, CreateIndex: _create_index, DropIndex: _drop_index,
    AddForeignKey: _add_foreign_key, DropForeignKey: _drop_foreign_key, AddCheck: _add_check,
    DropCheck: _drop_check, RunSQL: _run_sql, RunPython: _run_python,
}
