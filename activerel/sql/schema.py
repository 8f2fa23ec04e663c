"""DDL: CREATE TABLE with primary keys, unique constraints, foreign keys and
their referential actions, CREATE INDEX, and DROP TABLE, built with PyPika.
The order of tables, and which foreign keys must wait for an ALTER TABLE
because of a cycle, is decided here; the column types come from the dialect.

Called by :class:`~activerel.database.Database`. Imports
:mod:`activerel.mapping`, :mod:`activerel.dialects` and :mod:`activerel._util`."""
from __future__ import annotations

from typing import Any, Optional

from pypika import Column as PColumn
from pypika import Table
from pypika.enums import ReferenceOption
from pypika.utils import format_quotes

from .._util.pypika import CreateTable
from ..dialects.base import Dialect
from ..mapping.catalog import table_order
from ..mapping.mapper import Mapper
from ..mapping.properties import ReferenceProp

_OPTIONS = {
    "CASCADE": ReferenceOption.cascade, "RESTRICT": ReferenceOption.restrict,
    "NO ACTION": ReferenceOption.no_action, "SET NULL": ReferenceOption.set_null,
    "SET DEFAULT": ReferenceOption.set_default,
}


def foreign_key_sql(ref: ReferenceProp, dialect: Dialect) -> str:
    """``[CONSTRAINT name] FOREIGN KEY (cols) REFERENCES t (cols) ON DELETE ... ON UPDATE ...``."""
    quote = _quoter(dialect)
    cols = ",".join(quote(c.name) for c in ref.columns)
    target_cols = ",".join(quote(c.target.name) for c in ref.columns)  # type: ignore[union-attr]
    on_delete = ref.on_delete
    on_update = ref.on_update
    if on_delete in dialect.features.unsupported_actions:
        on_delete = "NO ACTION" if on_delete != "SET DEFAULT" else "SET NULL"
    if on_update in dialect.features.unsupported_actions:
        on_update = "NO ACTION"
    name = f"CONSTRAINT {quote(ref.constraint_name)} " if ref.constraint_name else ""
    return (f"{name}FOREIGN KEY ({cols}) REFERENCES {quote(ref.target_mapper.table)} ({target_cols}) "
            f"ON DELETE {_OPTIONS[on_delete].value} ON UPDATE {_OPTIONS[on_update].value}")


def _quoter(dialect: Dialect) -> Any:
    builder = dialect.query_class._builder()
    char = getattr(builder, "QUOTE_CHAR", '"')
    return lambda name: format_quotes(name, char)


class SchemaBuilder:
    """The DDL for a set of mappers on one dialect."""

    def __init__(self, mappers: list[Mapper], dialect: Dialect) -> None:
        self.mappers = table_order(mappers)
        self.dialect = dialect

    def statements(self, only: Optional[set[str]] = None) -> list[str]:
        """CREATE TABLE / CREATE INDEX / ALTER TABLE statements for the tables
        named in ``only`` (all when None), parents first."""
        out: list[str] = []
        later: list[str] = []
        created: set[str] = set()
        served = {m.table for m in self.mappers}
        for m in self.mappers:
            if only is not None and m.table not in only:
                created.add(m.table)
                continue
            table_sql, deferred = self.create_table(m, created, served)
            out.append(table_sql)
            out.extend(self.create_indexes(m))
            later.extend(deferred)
            created.add(m.table)
        return out + later

    def create_table(self, m: Mapper, created: set[str], served: set[str]) -> tuple[str, list[str]]:
        d = self.dialect
        q: Any = CreateTable(dialect=getattr(d.query_class._builder(), "dialect", None))
        q = q.create_table(Table(m.table))
        pk_cols = [c.name for c in m.pk_columns]
        cols = []
        for c in m.columns:
            ddl = d.ddl_type(c.ctype, indexed=c.unique or c.index or c.primary_key
                             or c.target is not None, autoincrement=c.autoincrement)
            cols.append(PColumn(c.name, ddl, nullable=c.nullable))
        q = q.columns(*cols)
        if not (d.features.inline_autoincrement_pk and m.autoincrement is not None):
            q = q.primary_key(*pk_cols)
        for c in m.columns:
            if c.unique and not c.primary_key:
                q = q.unique(c.name)
        deferred = []
        quote = _quoter(d)
        for ref in m.references:
            target = ref.target_mapper.table
            if target not in served:
                continue
            clause = foreign_key_sql(ref, d)
            if target == m.table or target in created or d.features.inline_forward_foreign_keys:
                q = q.add_foreign_key_sql(clause)
            else:
                deferred.append(f"ALTER TABLE {quote(m.table)} ADD {clause}")
        return q.get_sql() + d.features.table_options, deferred

    def create_indexes(self, m: Mapper) -> list[str]:
        quote = _quoter(self.dialect)
        out = []
        for c in m.columns:
            wanted = c.index or (isinstance(c.prop, ReferenceProp) and not c.primary_key
                                 and not c.unique)
            if wanted and not c.unique:
                # (PyPika's CreateIndexBuilder does not quote identifiers)
                name = f"ix_{m.table}_{c.name}"
                out.append(f"CREATE INDEX {quote(name)} ON {quote(m.table)} ({quote(c.name)})")
        return out

    def drop_statements(self) -> list[str]:
        return self.dialect.drop_tables_sql([m.table for m in reversed(self.mappers)])
