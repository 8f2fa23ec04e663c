"""The table rebuild of SQLite's documented procedure for the changes its
ALTER TABLE cannot make (https://www.sqlite.org/lang_altertable.html#otheralter):
create the table as it is to be under a temporary name, copy the rows of
the columns both have, drop the old table, rename the new one, and create
its indexes again. The foreign keys of the table and those of other tables
that point at it are kept: they name tables, and the table has its name
again at the end. The caller runs the statements in one transaction with
foreign keys off (``dialect.foreign_keys_off_sql()``) and checks them
before committing (``dialect.foreign_key_check_sql()``).

Called by :mod:`activerel.sql.ddl`, which renders the CREATE statements.
Imports :mod:`activerel.dialects` and :mod:`activerel.schema`."""
from __future__ import annotations

from ..dialects.base import Dialect
from ..schema.tables import TableDef


def temporary_name(table: str) -> str:
    """The name the new table is created under."""
    return f"_ar_new_{table}"


def rebuild_sql(old: TableDef, new: TableDef, dialect: Dialect, create: str,
                indexes: list[str]) -> list[str]:
    """The statements that turn table ``old`` into ``new`` (same name), given
    ``create``, the CREATE TABLE of ``new`` under :func:`temporary_name`, and
    ``indexes``, the CREATE INDEX statements of ``new``."""
    q = dialect.quote
    temp = temporary_name(new.name)
    common = ", ".join(q(c.name) for c in new.columns if old.has_column(c.name))
    out = [create]
    if common:
        out.append(f"INSERT INTO {q(temp)} ({common}) SELECT {common} FROM {q(old.name)}")
    if any(c.autoincrement for c in old.columns) and any(c.autoincrement for c in new.columns):
        out += dialect.rebuild_sequence_sql(old.name, temp)
    out += [f"DROP TABLE {q(old.name)}", f"ALTER TABLE {q(temp)} RENAME TO {q(new.name)}"]
    return out + indexes
