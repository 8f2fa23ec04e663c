"""The first-use check: whether a live table can hold what its model
declares. A missing table or column, or a column whose type or nullability
cannot hold the field, is a :class:`~activerel.errors.SchemaError` naming the
model, the field and the command that fixes it, raised before any statement
could return a wrong value (SQLite reads an unknown quoted column as a
string) or fail with a bare driver error.

Called by :class:`~activerel.database.Database` with the columns one
catalog query returned. Imports :mod:`activerel.mapping` and
:mod:`activerel.schema`."""
from __future__ import annotations

from typing import Callable, Optional

from ..errors import SchemaError
from ..mapping.mapper import Mapper
from .declared import column_def
from .tables import ColumnDef

#: (live column, declared column) -> whether the live one can hold the field's values
CanHold = Callable[[ColumnDef, ColumnDef], bool]

FIX = ("run db.migrate() for what can be added, or `python -m activerel makemigrations` "
       "then `python -m activerel migrate`")


def check_table(mapper: Mapper, live: list[ColumnDef], can_hold: CanHold,
                where: str) -> None:
    """Raise SchemaError unless the columns ``live`` (of ``mapper``'s table in
    the database ``where``) can hold every field of ``mapper``."""
    if not live:
        raise SchemaError(f"{mapper.name}: the table {mapper.table!r} does not exist in {where}; "
                          f"{FIX}")
    by_name = {c.name: c for c in live}
    for column in mapper.columns:
        field = f"{mapper.name}.{column.prop.name}"
        found = by_name.get(column.name)
        if found is None:
            raise SchemaError(
                f"{field}: the table {mapper.table!r} has no column {column.name!r} in {where}; "
                f"{FIX}")
        declared = column_def(column)
        problem = _problem(found, declared, can_hold)
        if problem:
            raise SchemaError(f"{field}: the column {mapper.table}.{column.name} {problem} in "
                              f"{where}; {FIX}")


def _problem(live: ColumnDef, declared: ColumnDef, can_hold: CanHold) -> Optional[str]:
    if declared.nullable and not live.nullable and not declared.autoincrement:
        return "is NOT NULL, but the field is Optional"
    if not can_hold(live, declared):
        return (f"is {live.sql_type or live.type}, which cannot hold the field's "
                f"{declared.type} values")
    if declared.length is not None and live.length is not None and live.length < declared.length:
        return (f"holds at most {live.length} characters, but the field allows "
                f"{declared.length}")
    return None
