"""The plan ``activerel inspect`` makes of each table before writing it: the
model (:class:`ModelPlan`), its fields (:class:`FieldPlan`, a plain column or
a Reference) and back references (:class:`BackPlan`), the names they may
take, and the plain field one column becomes (its annotation, its server
default as a value of its kind, a note where the database says more).

Used by :mod:`activerel.migrations.inspect`, which fills the plans in, and
:mod:`activerel.migrations.inspect_source`, which writes them. Imports
:mod:`activerel.schema.tables`, and from :mod:`activerel.mapping` the field
names a model cannot take and :class:`~activerel.mapping.markers.Sql`."""
from __future__ import annotations

import json
import keyword
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any, Optional
from uuid import UUID

from ..mapping.mapper import RESERVED
from ..mapping.markers import Sql
from ..schema.tables import ColumnDef, ForeignKeyDef, TableDef

#: abstract kind -> the annotation of its field
_PY_TYPES = {"int": "int", "bool": "bool", "float": "float", "str": "str", "bytes": "bytes",
             "decimal": "Decimal", "datetime": "datetime", "date": "date", "time": "time",
             "uuid": "UUID", "json": "dict"}

#: abstract kind -> the database types (lower case, without their arguments)
#: that hold exactly that kind; any other type gets a ``# database type`` note
_EXACT_TYPES = {
    "int": {"integer", "int", "bigint", "int4", "int8", "serial", "bigserial"},
    "bool": {"boolean", "bool", "tinyint(1)"},
    "float": {"real", "double", "double precision", "float", "float4", "float8"},
    "str": {"text", "varchar", "character varying", "longtext", "mediumtext", "clob",
            "nvarchar", "varchar2"},
    "bytes": {"blob", "bytea", "longblob", "mediumblob", "varbinary", "binary varying"},
    "decimal": {"numeric", "decimal"},
    "datetime": {"datetime", "timestamp", "timestamp without time zone"},
    "date": {"date"},
    "time": {"time", "time without time zone"},
    "uuid": {"uuid", "char(36)"},
    "json": {"json", "jsonb"},
}


# -- names -------------------------------------------------------------------
def identifier(name: str, fallback: str = "column") -> str:
    """``name`` made a Python identifier that activerel takes as a field
    name (no leading underscore)."""
    out = re.sub(r"\W", "_", name).lstrip("_") or fallback
    if out[0].isdigit():
        out = f"{fallback}_{out}"
    return out if out.isidentifier() else fallback


def _usable(name: str) -> bool:
    return (name.isidentifier() and not keyword.iskeyword(name) and name not in RESERVED
            and not name.startswith("_"))


def class_name(table: str) -> str:
    """``user_groups`` -> ``UserGroups`` (before collisions are settled)."""
    parts = [p for p in re.split(r"[\W_]+", table) if p]
    name = "".join(p[0].upper() + p[1:] for p in parts) or "Table"
    if name[0].isdigit():
        name = "T" + name
    return name if name.isidentifier() else "Table"


# -- the plans ---------------------------------------------------
@dataclass(eq=False)
class FieldPlan:
    """A field holding columns: a plain column, or a Reference."""

    name: str
    columns: tuple[str, ...]
    primary_key: bool = False
    unique: bool = False
    index: bool = False
    notes: list[str] = field(default_factory=list)
    # a plain column
    column: Optional[ColumnDef] = None
    autoincrement: bool = False
    #: the server default as a value or Sql; None for none
    server_default: Any = None
    py_type: str = "str"
    # a Reference
    target: Optional["ModelPlan"] = None
    fk: Optional[ForeignKeyDef] = None
    nullable: bool = False
    #: False: ``Reference(index=False)``, the database has no index for it
    fk_index: bool = True

    @property
    def is_reference(self) -> bool:
        return self.target is not None


@dataclass(eq=False)
class BackPlan:
    """A back reference (no column)."""

    name: str
    target: "ModelPlan"
    many: bool = True
    mapped_by: Optional[FieldPlan] = None
    via: Optional["ModelPlan"] = None


@dataclass(eq=False)
class ModelPlan:
    """One table's model: its class name, fields in order, back references,
    the names it has given out, and its class keywords."""

    table: TableDef
    cls: str
    fields: list[FieldPlan] = field(default_factory=list)
    backs: list[BackPlan] = field(default_factory=list)
    taken: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    unique: list[tuple[FieldPlan, ...]] = field(default_factory=list)
    indexes: list[tuple[FieldPlan, ...]] = field(default_factory=list)
    #: a link table: exactly two References whose columns are its key (or unique)
    pivot: bool = False

    @property
    def references(self) -> list[FieldPlan]:
        return [f for f in self.fields if f.is_reference]

    def claim(self, *candidates: str) -> str:
        """The first free, usable name of ``candidates``, else the first one
        with ``_``, ``_2``, ... appended."""
        for c in candidates:
            if _usable(c) and c not in self.taken:
                self.taken.add(c)
                return c
        base = candidates[0]
        for n in range(1, 10_000):
            c = base + ("_" if n == 1 else f"_{n}")
            if _usable(c) and c not in self.taken:
                self.taken.add(c)
                return c
        raise AssertionError("no free name")  # pragma: no cover

    def field_of(self, column: str) -> FieldPlan:
        return next(f for f in self.fields if column in f.columns)


# -- one column ------------------------------------------------------------------------
def column_field(m: ModelPlan, c: ColumnDef) -> FieldPlan:
    """The plain field of column ``c`` of ``m`` (its name is given later)."""
    t = m.table
    pk = tuple(t.primary_key)
    f = FieldPlan("", (c.name,), column=c, primary_key=c.name in pk, nullable=c.nullable)
    f.py_type = _PY_TYPES[c.type]
    if c.autoincrement:
        if pk == (c.name,) and c.type == "int":
            f.autoincrement = True
        else:
            f.notes.append(f"{c.name} is generated by the database; activerel's AutoIncrement "
                           "is for a single-column int primary key only")
    if c.default is not None and not f.autoincrement:
        if f.primary_key:
            f.notes.append(f"{c.name} has the server default {c.default!r}, which a key field "
                           "cannot declare")
        else:
            value, problem = _server_default(c)
            if problem:
                f.notes.append(problem)
            else:
                f.server_default = value
    if c.type == "json" and isinstance(f.server_default, list):
        f.py_type = "list"
    if c.length is not None and c.type not in ("str", "bytes"):
        f.notes.append(f"{c.name} has length {c.length}, which only str and bytes fields take")
    if f.autoincrement and c.nullable:
        f.nullable = False
        f.notes.append(f"{c.name} is nullable in the database; a generated key is not")
    type_note(f, c)
    return f


def type_note(f: FieldPlan, c: ColumnDef) -> None:
    if c.sql_type is None:
        return
    text = " ".join(c.sql_type.lower().split())
    base = " ".join(re.sub(r"\([^)]*\)", " ", text).split())
    exact = _EXACT_TYPES[c.type]
    if text not in exact and base not in exact:
        f.notes.append(f"database type: {c.sql_type}")


def _server_default(c: ColumnDef) -> tuple[Any, str]:
    """The column's server default as a value of its kind (or Sql), or why
    it cannot be declared."""
    v = c.default
    if isinstance(v, Sql):
        return v, ""
    kind = c.type
    out: Any = None
    try:
        if kind == "int":
            if isinstance(v, bool):
                out = int(v)
            elif isinstance(v, int):
                out = v
            elif isinstance(v, (str, float, Decimal)) and Decimal(str(v)) == int(Decimal(str(v))):
                out = int(Decimal(str(v)))
        elif kind == "float":
            if isinstance(v, (int, float, Decimal, str)) and not isinstance(v, bool):
                out = float(v)
        elif kind == "bool":
            if isinstance(v, bool):
                out = v
            elif str(v).strip().lower() in ("1", "true", "t", "yes", "y", "on"):
                out = True
            elif str(v).strip().lower() in ("0", "false", "f", "no", "n", "off"):
                out = False
        elif kind == "str":
            out = (v if isinstance(v, str)
                   else str(v) if isinstance(v, (int, float, Decimal)) else None)
        elif kind == "bytes":
            out = v if isinstance(v, bytes) else None
        elif kind == "decimal":
            if isinstance(v, (Decimal, int)) and not isinstance(v, bool):
                out = v
            elif isinstance(v, (float, str)):
                out = Decimal(str(v))
        elif kind in ("datetime", "date", "time"):
            cls: Any = {"datetime": datetime, "date": date, "time": time}[kind]
            if isinstance(v, str):
                v = cls.fromisoformat(v.strip())
            if (isinstance(v, cls) and getattr(v, "tzinfo", None) is None
                    and (kind != "date" or not isinstance(v, datetime))):
                out = v
        elif kind == "uuid":
            out = v if isinstance(v, UUID) else UUID(str(v))
        elif kind == "json":
            if isinstance(v, str):
                v = json.loads(v)
            out = v if isinstance(v, (dict, list)) else None
    except (ValueError, TypeError, ArithmeticError, InvalidOperation):
        out = None
    if out is None:
        return None, (f"{c.name} has the server default {v!r}, which is not a {kind} value: "
                      "give it as field(server_default=Sql(\"...\")) if it is an expression")
    return out, ""
