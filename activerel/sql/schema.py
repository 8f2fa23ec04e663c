"""The DDL of a set of models: :class:`SchemaBuilder` describes what the
mappers declare (:func:`activerel.schema.declared.declared_schema`) and
renders it with :mod:`activerel.sql.ddl`.

Called by :class:`~activerel.database.Database` (``schema_sql``, ``migrate``,
``drop_all``). Imports :mod:`activerel.mapping`, :mod:`activerel.schema` and
:mod:`activerel.dialects`."""
from __future__ import annotations

from typing import Optional

from ..dialects.base import Dialect
from ..mapping.mapper import Mapper
from ..schema.declared import declared_schema
from .ddl import create_schema_sql, drop_schema_sql


class SchemaBuilder:
    """The DDL for a set of mappers on one dialect."""

    def __init__(self, mappers: list[Mapper], dialect: Dialect) -> None:
        self.schema = declared_schema(mappers)
        self.dialect = dialect

    def statements(self, only: Optional[set[str]] = None) -> list[str]:
        """CREATE TABLE / CREATE INDEX / ALTER TABLE statements for the tables
        named in ``only`` (all when None), parents first."""
        return create_schema_sql(self.schema, self.dialect, only)

    def drop_statements(self) -> list[str]:
        """DROP TABLE for every table, children first."""
        return drop_schema_sql(self.schema, self.dialect)
