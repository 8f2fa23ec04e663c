"""The hooks of a dialect that shape DDL: identifier quoting, a column
description's type and server default as SQL, and the few ALTER TABLE
statements whose syntax differs between backends. :class:`DDLHooks` is a
base of :class:`~activerel.dialects.base.Dialect`; each defaults to the
standard form (what PostgreSQL takes), and a dialect overrides what its
backend spells otherwise. Which changes a backend cannot make with ALTER
TABLE at all (so that :mod:`activerel.sql.rebuild` rebuilds the table) are
``Features`` flags and :meth:`DDLHooks.can_add_column`.

Used by :mod:`activerel.sql.ddl`, :mod:`activerel.sql.rebuild` and
:mod:`activerel.schema_apply`. Imports :mod:`activerel.schema.tables`
and :class:`~activerel.mapping.markers.Sql`."""
from __future__ import annotations

import json
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any, Optional
from uuid import UUID

from ..mapping.markers import Sql
from ..schema.tables import ColumnDef


class DDLHooks:
    """The DDL hooks of :class:`~activerel.dialects.base.Dialect`."""

    #: set by the Dialect: the type table, the AutoIncrement key's type, the features
    types: dict[str, Any]
    autoincrement_ddl: str
    features: Any
    #: the character that quotes an identifier in DDL
    identifier_quote: str = '"'

    def quote(self, name: str) -> str:
        """An identifier quoted for DDL (an embedded quote doubled)."""
        q = self.identifier_quote
        return q + name.replace(q, q + q) + q

    # -- columns -------------------------------------------------------------
    def column_type_sql(self, col: ColumnDef, *, indexed: bool) -> str:
        """The type of a column description in CREATE TABLE: the type table's
        entry for its kind (its indexed form where the column is in a key or
        an index and the backend needs one), the sized type where it has a
        length, the generated key's type where it is an AutoIncrement key."""
        if col.autoincrement:
            return self.autoincrement_ddl
        if col.length is not None:
            return self.sized_type_sql(col.type, col.length)
        t = self.types[col.type]
        ddl: str = t.indexed_ddl if indexed and t.indexed_ddl else t.ddl
        return ddl

    def sized_type_sql(self, kind: str, length: int) -> str:
        """The type of a str (``VARCHAR(n)``) or bytes column of at most
        ``length`` characters or bytes (bytes: the unsized type by default)."""
        if kind == "str":
            return f"VARCHAR({int(length)})"
        return str(self.types[kind].ddl)

    def default_sql(self, value: Any, col: ColumnDef) -> str:
        """A server default as SQL: :class:`Sql` as written, a Python value
        as a literal of the column's type."""
        if isinstance(value, Sql):
            return value.text
        if isinstance(value, Enum):
            return self.default_sql(value.value, col)
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, (int, Decimal)):
            return str(value)
        if isinstance(value, float):
            return repr(value)
        if isinstance(value, (bytes, bytearray)):
            return f"X'{bytes(value).hex()}'"
        if isinstance(value, datetime):
            return self.string_literal(value.isoformat(sep=" "))
        if isinstance(value, (date, time)):
            return self.string_literal(value.isoformat())
        if isinstance(value, (dict, list)):
            return self.string_literal(json.dumps(value))
        if isinstance(value, (str, UUID)):
            return self.string_literal(str(value))
        raise TypeError(f"column {col.name!r}: no SQL literal for the default {value!r}")

    def string_literal(self, text: str) -> str:
        """``text`` as a SQL string literal."""
        return "'" + text.replace("'", "''") + "'"

    def can_add_column(self, col: ColumnDef) -> bool:
        """Whether ``ALTER TABLE ... ADD COLUMN`` can add ``col`` to a table
        that holds rows (else the table is rebuilt with it)."""
        return True

    def alter_column_sql(self, table: str, old: ColumnDef, new: ColumnDef,
                         definition: str) -> list[str]:
        """The statements that change column ``old`` of ``table`` into ``new``
        (type, length, nullability, default); ``definition`` is the new
        column's whole definition as CREATE TABLE writes it. Only called
        where ``features.alter_column``."""
        raise NotImplementedError(f"{type(self).__name__} cannot alter a column in place")

    # -- constraints and indexes ---------------------------------------------
    def stored_actions(self, on_delete: str, on_update: str) -> tuple[str, str]:
        """The (ON DELETE, ON UPDATE) actions a foreign key declared with these
        gets in the database: an action the backend cannot apply itself
        (``features.unsupported_actions``; the unit of work applies it) is
        declared as the nearest one it has (SET DEFAULT: SET NULL on delete)."""
        unsupported = self.features.unsupported_actions
        if on_delete in unsupported:
            on_delete = "SET NULL" if on_delete == "SET DEFAULT" else "NO ACTION"
        if on_update in unsupported:
            on_update = "NO ACTION"
        return on_delete, on_update

    def drop_index_sql(self, table: str, name: str) -> str:
        return f"DROP INDEX {self.quote(name)}"

    def drop_foreign_key_sql(self, table: str, name: str) -> str:
        return f"ALTER TABLE {self.quote(table)} DROP CONSTRAINT {self.quote(name)}"

    def drop_check_sql(self, table: str, name: str) -> str:
        return f"ALTER TABLE {self.quote(table)} DROP CONSTRAINT {self.quote(name)}"

    # -- migrations ----------------------------------------------------------
    def foreign_keys_off_sql(self) -> list[str]:
        """Statements run between transactions, before a migration, that stop
        the database from enforcing foreign keys while it runs (SQLite, whose
        table rebuild drops a table that others reference)."""
        return []

    def foreign_keys_on_sql(self) -> list[str]:
        """Statements that undo :meth:`foreign_keys_off_sql`, run after the
        migration's transaction ends (committed or rolled back)."""
        return []

    def foreign_key_check_sql(self) -> Optional[str]:
        """A query run at the end of a migration, before COMMIT, where
        foreign keys were off during it: every row it returns is a row whose
        foreign key points nowhere ((table, rowid, referenced table, ...))."""
        return None

    def rebuild_sequence_sql(self, old: str, new: str) -> list[str]:
        """Statements that give table ``new`` (a rebuilt copy of ``old``) the
        generated-key counter of ``old``, so that no key is handed out twice."""
        return []
