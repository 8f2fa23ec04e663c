"""Applying migration files to a database, forward and back: which are
applied (the version table ``activerel_migrations``), the plan to reach a
target, and each migration run in one transaction with its version row
(where the backend has transactional DDL; on MySQL/MariaDB a failure says
which statements ran).

Used by the command line and by tests. Imports :mod:`activerel.database`,
:mod:`activerel.schema_apply`, :mod:`activerel.sql.ddl` and the migration
files module."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Optional, Union

from ..database import Database
from ..errors import MigrationError
from ..schema.operations import (AddCheck, AddForeignKey, AlterColumn, DropCheck, DropForeignKey,
                                 Operation, RunPython)
from ..schema.tables import ColumnDef, Schema, TableDef
from ..schema_apply import apply_operations
from ..sql.ddl import create_table_sql, operation_sql
from .files import Migration, load, state

VERSION_TABLE = "activerel_migrations"

VERSION_TABLE_DEF = TableDef(VERSION_TABLE, [
    ColumnDef("name", "str", length=255),
    ColumnDef("applied_at", "str", length=32),
], primary_key=("name",))

#: ("forward" or "backward", the migrations to run in that order)
Plan = tuple[str, list[Migration]]


class Migrator:
    """The migration files of ``directory`` and their state in ``db``."""

    def __init__(self, db: Database, directory: Union[str, Path]) -> None:
        self.db = db
        self.directory = Path(directory)
        self.migrations = load(self.directory)

    # -- the version table -----------------------------------------------------
    def _ensure_table(self) -> None:
        with self.db.session() as s:
            if VERSION_TABLE in self.db.dialect.table_names(s.fetch):
                return
            for sql in create_table_sql(VERSION_TABLE_DEF, self.db.dialect):
                s.execute(sql)

    def applied(self) -> list[str]:
        """The names of the applied migrations, in order."""
        with self.db.session() as s:
            if VERSION_TABLE not in self.db.dialect.table_names(s.fetch):
                return []
        rows = self.db.execute(f"SELECT name FROM {VERSION_TABLE} ORDER BY name")
        return [r[0] for r in rows]

    def status(self) -> list[tuple[Migration, bool]]:
        """Every migration file and whether it is applied."""
        done = set(self._checked_applied())
        return [(m, m.name in done) for m in self.migrations]

    def _checked_applied(self) -> list[str]:
        applied = self.applied()
        names = [m.name for m in self.migrations]
        unknown = [a for a in applied if a not in names]
        if unknown:
            raise MigrationError(
                f"the database has applied {', '.join(unknown)}, which "
                f"{'is' if len(unknown) == 1 else 'are'} not in {self.directory}: restore the "
                "file(s), or migrate back with the code that has them")
        if applied != names[:len(applied)]:
            raise MigrationError(
                f"the applied migrations ({', '.join(applied)}) are not the first ones of "
                f"{self.directory} ({', '.join(names)}): a migration was inserted before "
                "applied ones; renumber it after them")
        return applied

    # -- plans -----------------------------------------------------------------
    def find(self, target: str) -> int:
        """The number of migrations applied once at ``target``: a name, its
        number (``0002``) or ``zero`` (none)."""
        if target == "zero":
            return 0
        for k, m in enumerate(self.migrations):
            if target in (m.name, f"{m.number:04d}", str(m.number)):
                return k + 1
        raise MigrationError(f"no migration {target!r} in {self.directory} (have: "
                             f"{', '.join(m.name for m in self.migrations) or 'none'})")

    def plan(self, target: Optional[str] = None) -> Plan:
        """What reaching ``target`` (the newest when None) runs."""
        done = len(self._checked_applied())
        goal = len(self.migrations) if target is None else self.find(target)
        if goal >= done:
            return "forward", self.migrations[done:goal]
        return "backward", list(reversed(self.migrations[goal:done]))

    # -- running -----------------------------------------------------------------
    def migrate(self, target: Optional[str] = None, *, fake: bool = False,
                report: Callable[[str], Any] = lambda line: None) -> Plan:
        """Apply (or undo) migrations up to ``target``; ``fake``: only record
        them as applied (for a database that already has their schema)."""
        direction, todo = self.plan(target)
        self._ensure_table()
        for m in todo:
            k = self.migrations.index(m)
            if direction == "forward":
                before = state(self.migrations[:k])
                ops = m.operations
                record = self._recorder(m.name, True)
            else:
                before = state(self.migrations[:k + 1])
                ops = backward_operations(m, state(self.migrations[:k]))
                record = self._recorder(m.name, False)
            verb = "applying" if direction == "forward" else "unapplying"
            if fake:
                with self.db.session() as s:
                    record(s)
                report(f"{verb} {m.name}... faked")
                continue
            _refuse_unknown_columns(self.db, ops, before, m.name)
            try:
                apply_operations(self.db, ops, before, record=record)
            except MigrationError as exc:
                self.db.schema_changed()
                raise MigrationError(f"{m.name}: {exc}\n{m.name} is not recorded as "
                                     f"{'applied' if direction == 'forward' else 'undone'}."
                                     ) from exc
            report(f"{verb} {m.name}... done")
        # the first-use check reads the tables again
        self.db.schema_changed()
        return direction, todo

    def _recorder(self, name: str, add: bool) -> Callable[[Any], None]:
        raw = self.db.dialect.raw_sql
        if add:
            sql = raw(f"INSERT INTO {VERSION_TABLE} (name, applied_at) VALUES (?, ?)")
            params: tuple[Any, ...] = (name, datetime.now().isoformat(sep=" ", timespec="seconds"))
        else:
            sql = raw(f"DELETE FROM {VERSION_TABLE} WHERE name = ?")
            params = (name,)
        return lambda session: session.execute(sql, params)

    # -- SQL ---------------------------------------------------------------------
    def sql(self, target: str, backward: bool = False) -> list[str]:
        """The statements migration ``target`` runs (undoing it: ``backward``),
        on this database's dialect; a data step shows as a comment."""
        k = self.find(target) - 1
        if k < 0:
            raise MigrationError("name one migration, not zero")
        m = self.migrations[k]
        if backward:
            current = state(self.migrations[:k + 1])
            ops = backward_operations(m, state(self.migrations[:k]))
        else:
            current = state(self.migrations[:k])
            ops = m.operations
        d = self.db.dialect
        # what apply_operations sends around the transaction (SQLite: foreign
        # keys off for a table rebuild, checked, then on again)
        check = d.foreign_key_check_sql()
        return (d.foreign_keys_off_sql() + operations_sql(ops, current, d)
                + ([check] if check else []) + d.foreign_keys_on_sql())


#: operations a backend without ALTER COLUMN (SQLite) makes by rebuilding the table
_REBUILT = (AlterColumn, AddForeignKey, DropForeignKey, AddCheck, DropCheck)


def _refuse_unknown_columns(db: Database, ops: list[Operation], before: Schema, name: str) -> None:
    """Where a table is rebuilt from the schema the migrations lead to, a
    column the live table has beyond it (added by ``db.migrate()`` or by
    hand) would be lost: refuse, naming it."""
    if db.dialect.features.alter_column:
        return
    tables = {op.table for op in ops if isinstance(op, _REBUILT) and op.table in before}
    if not tables:
        return
    live = db.live_schema(tables)
    for table in sorted(tables):
        if table not in live:
            continue
        known = {c.name for c in before.table(table).columns}
        extra = [c.name for c in live.table(table).columns if c.name not in known]
        if extra:
            raise MigrationError(
                f"{name}: rebuilding {table} (SQLite cannot ALTER it) would lose its column(s) "
                f"{', '.join(extra)}, which no migration created (db.migrate() or a hand edit "
                "did): write them into a migration first (makemigrations --from-db shows them), "
                "or drop them")


def backward_operations(m: Migration, before: Schema) -> list[Operation]:
    """The operations that undo ``m``, given the schema before it ran."""
    states = []
    current = before.copy()
    for op in m.operations:
        states.append(current.copy())
        op.apply(current)
    try:
        return [op.reverse(st) for op, st in zip(reversed(m.operations), reversed(states))]
    except Exception as exc:
        raise MigrationError(f"{m.name} cannot be undone: {exc}") from exc


def operations_sql(ops: list[Operation], before: Schema, dialect: Any) -> list[str]:
    """The DDL of ``ops`` run one after another from ``before``."""
    out: list[str] = []
    current = before.copy()
    for op in ops:
        if isinstance(op, RunPython):
            out.append(f"-- {op.describe()} (Python, not SQL)")
        out += operation_sql(op, current, dialect)
        op.apply(current)
    return out
