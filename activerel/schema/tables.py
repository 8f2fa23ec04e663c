"""A schema described without a backend: :class:`Schema` holds
:class:`TableDef` s made of :class:`ColumnDef` s, :class:`IndexDef` s (unique
or not), :class:`ForeignKeyDef` s and :class:`CheckDef` s. Column types are
the abstract kinds of :mod:`activerel.mapping.types` (``int``, ``str``,
``datetime``, ...), so one description renders on every dialect, and a
migration file written on SQLite runs on PostgreSQL.

Descriptions come from the models (:mod:`activerel.schema.declared`), from a
live database (each dialect's ``introspect`` hook) and from replaying
migration files (:mod:`activerel.schema.operations`). Imports
:mod:`activerel.errors` and :class:`~activerel.mapping.markers.Sql`."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Optional, TypeVar

from ..errors import SchemaError
from ..mapping.markers import Sql as Sql  # noqa: F401 - re-exported: a description's vocabulary

#: the abstract column types a description may use
KINDS = ("int", "bool", "float", "str", "bytes", "decimal", "datetime", "date", "time", "uuid",
         "json")


@dataclass(frozen=True)
class ColumnDef:
    """One column. ``default`` is the server-side default: None for none, a
    Python value, or :class:`Sql`. ``sql_type`` is only set on descriptions
    read from a database: the type as the database names it."""

    name: str
    type: str
    nullable: bool = False
    length: Optional[int] = None
    default: Any = None
    autoincrement: bool = False
    sql_type: Optional[str] = field(default=None, compare=False)
    #: the model's Python default (not part of the schema): what the rows a
    #: column is added to get, when the column has no server default
    python_default: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.type not in KINDS:
            raise SchemaError(f"column {self.name!r}: unknown type {self.type!r}; "
                              f"use one of {', '.join(KINDS)}")

    def code(self) -> str:
        """This column as Python source (migration files)."""
        parts = [repr(self.name), repr(self.type)]
        if self.nullable:
            parts.append("nullable=True")
        if self.length is not None:
            parts.append(f"length={self.length}")
        if self.default is not None:
            parts.append(f"default={self.default!r}")
        if self.autoincrement:
            parts.append("autoincrement=True")
        return f"Column({', '.join(parts)})"


@dataclass(frozen=True)
class IndexDef:
    """An index; ``unique=True`` for a unique constraint."""

    name: str
    columns: tuple[str, ...]
    unique: bool = False

    def code(self) -> str:
        unique = ", unique=True" if self.unique else ""
        return f"Index({self.name!r}, {self.columns!r}{unique})"


@dataclass(frozen=True)
class ForeignKeyDef:
    """A foreign key with its referential actions."""

    name: str
    columns: tuple[str, ...]
    target: str
    target_columns: tuple[str, ...]
    on_delete: str = "NO ACTION"
    on_update: str = "NO ACTION"

    def same_as(self, other: "ForeignKeyDef") -> bool:
        """Equal but for the name (which some backends make up), with NO
        ACTION and RESTRICT taken as one (both refuse; MariaDB reports the
        one as the other)."""
        return self._key() == other._key()

    def _key(self) -> tuple[Any, ...]:
        refuse = {"NO ACTION": "RESTRICT"}
        return (self.columns, self.target, self.target_columns,
                refuse.get(self.on_delete, self.on_delete), refuse.get(self.on_update, self.on_update))

    def code(self) -> str:
        return (f"ForeignKey({self.name!r}, {self.columns!r}, {self.target!r}, "
                f"{self.target_columns!r}, on_delete={self.on_delete!r}, "
                f"on_update={self.on_update!r})")


@dataclass(frozen=True)
class CheckDef:
    """A named check constraint: a SQL condition on the row."""

    name: str
    sql: str

    def code(self) -> str:
        return f"Check({self.name!r}, {self.sql!r})"


@dataclass
class TableDef:
    """One table: columns in order, the primary key, indexes (unique ones
    too), foreign keys and checks."""

    name: str
    columns: list[ColumnDef]
    primary_key: tuple[str, ...] = ()
    indexes: list[IndexDef] = field(default_factory=list)
    foreign_keys: list[ForeignKeyDef] = field(default_factory=list)
    checks: list[CheckDef] = field(default_factory=list)

    def column(self, name: str) -> ColumnDef:
        for c in self.columns:
            if c.name == name:
                return c
        raise SchemaError(f"table {self.name!r} has no column {name!r}")

    def has_column(self, name: str) -> bool:
        return any(c.name == name for c in self.columns)

    def index(self, name: str) -> IndexDef:
        return _named(self.indexes, name, self.name, "index")

    def foreign_key(self, name: str) -> ForeignKeyDef:
        return _named(self.foreign_keys, name, self.name, "foreign key")

    def check(self, name: str) -> CheckDef:
        return _named(self.checks, name, self.name, "check constraint")

    def copy(self) -> "TableDef":
        return copy.deepcopy(self)

    def code(self, indent: str = "    ") -> str:
        """This table as Python source: ``Table("name", [...], primary_key=...)``."""
        inner = indent + "    "
        lines = [f"Table({self.name!r}, ["]
        lines += [f"{inner}{c.code()}," for c in self.columns]
        lines.append(f"{indent}], primary_key={self.primary_key!r}")
        for attr in ("indexes", "foreign_keys", "checks"):
            items = getattr(self, attr)
            if items:
                lines[-1] += f", {attr}=["
                lines += [f"{inner}{i.code()}," for i in items]
                lines.append(f"{indent}]")
        lines[-1] += ")"
        return "\n".join(lines)


_Def = TypeVar("_Def", "IndexDef", "ForeignKeyDef", "CheckDef")


def _named(items: list[_Def], name: str, table: str, what: str) -> _Def:
    for item in items:
        if item.name == name:
            return item
    raise SchemaError(f"table {table!r} has no {what} {name!r}")


@dataclass
class Schema:
    """Tables by name: a whole database's schema, or the part a set of
    models declares."""

    tables: dict[str, TableDef] = field(default_factory=dict)

    def table(self, name: str) -> TableDef:
        try:
            return self.tables[name]
        except KeyError:
            raise SchemaError(f"no table {name!r} in the schema") from None

    def copy(self) -> "Schema":
        return Schema({name: t.copy() for name, t in self.tables.items()})

    def __contains__(self, name: object) -> bool:
        return name in self.tables
