"""Phase one of a mapper's resolution, field by field: one annotation (with
its markers and default) becomes a :class:`ScalarProp`, a
:class:`ReferenceProp` or a :class:`BackRefProp` on the mapper, or a
ModelDefinitionError that names the model and field and says what to write.

Called only by :class:`activerel.mapping.mapper.Mapper` while it resolves
(it passes itself: this module cannot import the mapper that imports it);
also the class keywords unique=/indexes=/checks= and the pairing of pivot
sides. Imports the
rest of :mod:`activerel.mapping` below the mapper and :mod:`activerel.errors`."""
from __future__ import annotations

import typing
from typing import Any, Optional, cast

from ..errors import ModelDefinitionError
from .markers import (MISSING, AutoIncrement, BackReference, FieldSpec, Index, PrimaryKey, Reference,
                      Sql, Unique, Version)
from .properties import BackRefProp, Direction, ReferenceProp, ScalarProp
from .registry import is_model_class
from .types import ColumnType, describe, unwrap_optional


def parse_field(mapper: Any, name: str, ann: Any) -> None:
    """Turn one annotation into a property of ``mapper`` (phase one of resolution)."""
    tp, metadata = ann, cast(tuple[Any, ...], ())
    if typing.get_origin(ann) is typing.Annotated:
        tp, metadata = ann.__origin__, ann.__metadata__
    default = mapper._defaults.get(name, MISSING)
    if isinstance(default, (Reference, BackReference)):
        # the marker written as the field's value (``= Reference(on_delete=...)``,
        # ``= BackReference()``, as type checkers want it): it replaces the
        # annotation's marker of its kind (the shorthand's ``Reference()``)
        kind = Reference if isinstance(default, Reference) else BackReference
        metadata = tuple(m for m in metadata if not isinstance(m, kind)) + (default,)
        default = default.default if isinstance(default, Reference) else MISSING
    flags = {m for m in metadata if m in (PrimaryKey, AutoIncrement, Unique, Index, Version)}
    refs = [m for m in metadata if isinstance(m, Reference)]
    backs = [m for m in metadata if isinstance(m, BackReference)]
    spec: Optional[FieldSpec] = default if isinstance(default, FieldSpec) else None
    if spec is not None:
        default = spec.default
    factory = spec.default_factory if spec else None
    column = spec.column if spec and spec.column else name
    where = f"{mapper.name}.{name}"
    inner, nullable = unwrap_optional(tp)
    if isinstance(inner, (str, typing.ForwardRef)):
        inner = mapper._evaluate(name, inner)
    if refs and backs:
        raise ModelDefinitionError(f"{where} cannot be both a Reference and a BackReference")
    if backs:
        _parse_backref(mapper, name, tp, inner, nullable, backs[0], flags, default, factory)
        return
    if refs or is_model_class(inner):
        if not refs:
            raise ModelDefinitionError(
                f"{where}: a field holding a model needs a marker: Reference[{inner.__name__}] "
                f"(the owning side) or BackReference[...]")
        if not is_model_class(inner):
            raise ModelDefinitionError(
                f"{where}: a Reference must point at a Model class, not {inner!r}")
        if AutoIncrement in flags:
            raise ModelDefinitionError(f"{where}: a Reference cannot be AutoIncrement")
        if Version in flags:
            raise ModelDefinitionError(f"{where}: a Reference cannot be the Version field")
        if factory is not None or (default is not MISSING and default is not None):
            raise ModelDefinitionError(
                f"{where}: a Reference may only default to None")
        if default is None and not nullable:
            raise ModelDefinitionError(f"{where}: defaults to None but is not Optional")
        marker = refs[0]
        if marker.on_delete in ("SET NULL", "SET DEFAULT") and not nullable and default is MISSING:
            raise ModelDefinitionError(
                f"{where}: on_delete={marker.on_delete!r} needs an Optional reference "
                f"(Optional[{inner.__name__}] = None)")
        if marker.on_update == "SET NULL" and not nullable:
            raise ModelDefinitionError(
                f"{where}: on_update='SET NULL' needs an Optional reference")
        if marker.on_delete == "SET DEFAULT" and default is MISSING:
            raise ModelDefinitionError(
                f"{where}: on_delete='SET DEFAULT' needs a default (= None)")
        ref = ReferenceProp(mapper, name, inner, nullable, marker, default,
                             primary_key=PrimaryKey in flags, unique=Unique in flags,
                             index=Index in flags)
        mapper.references.append(ref)
        if ref.primary_key:
            mapper.pk_props.append(ref)
        mapper.props[name] = ref
        return
    if typing.get_origin(inner) is list and inner.__args__ and is_model_class(inner.__args__[0]):
        raise ModelDefinitionError(
            f"{where}: a list of models needs a BackReference marker, e.g. "
            f"BackReference[{ann!r}]")
    ctype = ColumnType.from_annotation(inner, nullable, where)
    server_default = spec.server_default if spec else MISSING
    if spec is not None and spec.max_length is not None:
        if ctype.kind not in ("str", "bytes"):
            raise ModelDefinitionError(
                f"{where}: max_length is for str and bytes fields, not {ctype.kind}")
        ctype.length = spec.max_length
    if server_default is not MISSING:
        if flags & {PrimaryKey, AutoIncrement, Version}:
            raise ModelDefinitionError(
                f"{where}: a key or Version field cannot have a server_default")
        if not isinstance(server_default, Sql) and (
                server_default is None or not ctype.is_valid(server_default)):
            raise ModelDefinitionError(
                f"{where}: server_default={describe(server_default)} is not a valid "
                f"{ctype.kind}; give a value of the field's type or Sql(\"...\")")
        default = None
    if AutoIncrement in flags and ctype.kind != "int":
        raise ModelDefinitionError(f"{where}: AutoIncrement needs an int field, not {ctype.kind}")
    if Version in flags:
        if ctype.kind != "int" or ctype.nullable or flags & {PrimaryKey, AutoIncrement}:
            raise ModelDefinitionError(
                f"{where}: a Version field is a plain int that is not the key: "
                f"{name}: Annotated[int, Version] = 0")
        if mapper.version is not None:
            raise ModelDefinitionError(
                f"{where}: {mapper.name} already has the Version field {mapper.version.name!r}")
    if AutoIncrement in flags and PrimaryKey not in flags:
        raise ModelDefinitionError(f"{where}: AutoIncrement is only for a primary key")
    if default is not MISSING and server_default is MISSING:
        if isinstance(default, (list, dict, set)):
            raise ModelDefinitionError(
                f"{where}: a mutable default is shared by every instance; use "
                f"field(default_factory={type(default).__name__})")
        if not ctype.is_valid(default):
            raise ModelDefinitionError(
                f"{where}: the default {describe(default)} is not a valid {ctype.kind}")
    prop = ScalarProp(mapper, name, ctype, default, factory, column,
                      primary_key=PrimaryKey in flags, autoincrement=AutoIncrement in flags,
                      unique=Unique in flags, index=Index in flags,
                      server_default=server_default)
    mapper.scalars.append(prop)
    if prop.primary_key:
        mapper.pk_props.append(prop)
    if prop.autoincrement:
        mapper.autoincrement = prop
    if Version in flags:
        mapper.version = prop
    mapper.props[name] = prop

def _parse_backref(mapper: Any, name: str, tp: Any, inner: Any, nullable: bool, marker: BackReference,
                   flags: set[Any], default: Any, factory: Any) -> None:
    where = f"{mapper.name}.{name}"
    if flags:
        raise ModelDefinitionError(f"{where}: a BackReference is virtual and takes no column markers")
    if default is not MISSING or factory is not None:
        raise ModelDefinitionError(f"{where}: a BackReference takes no default")
    many = typing.get_origin(inner) is list
    target = inner.__args__[0] if many and inner.__args__ else inner
    if isinstance(target, (str, typing.ForwardRef)):
        target = mapper._evaluate(name, target)
    if not is_model_class(target):
        raise ModelDefinitionError(
            f"{where}: a BackReference must be list[Model] or Optional[Model], not {tp!r}")
    if marker.symmetric and marker.via is None:
        raise ModelDefinitionError(f"{where}: symmetric=True needs via= a pivot model")
    if not many and marker.via is not None:
        raise ModelDefinitionError(f"{where}: a BackReference via= a pivot must be a list")
    prop = BackRefProp(mapper, name, target, many, marker)
    if marker.via is not None:
        via = marker.via
        if isinstance(via, (str, typing.ForwardRef)):
            via = mapper._evaluate(name, via)
        if not is_model_class(via):
            raise ModelDefinitionError(f"{where}: via={marker.via!r} is not a Model")
        prop.via = via
        prop.direction = Direction.MANY_TO_MANY
    mapper.backrefs.append(prop)
    mapper.props[name] = prop


def table_constraints(mapper: Any) -> None:
    """The class keywords ``unique=[("a", "b")]``, ``indexes=[...]`` (field
    names; a reference stands for its columns) and ``checks={"name": "sql"}``."""
    def columns(fields: Any, what: str) -> tuple[str, ...]:
        if isinstance(fields, str):
            fields = (fields,)
        out: list[str] = []
        for f in fields:
            prop = mapper.props.get(f)
            cols = getattr(prop, "columns", None)
            if not cols:
                raise ModelDefinitionError(
                    f"{mapper.name}: {what} names {f!r}, which is not a column field of "
                    f"{mapper.name} (fields: {', '.join(mapper.props)})")
            out += [c.name for c in cols]
        return tuple(out)

    mapper.unique_together = [columns(f, "unique=") for f in mapper._constraints.get("unique", ())]
    mapper.index_together = [columns(f, "indexes=") for f in mapper._constraints.get("indexes", ())]
    checks = mapper._constraints.get("checks") or {}
    if not isinstance(checks, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in checks.items()):
        raise ModelDefinitionError(
            f"{mapper.name}: checks= takes a dict of name -> SQL condition, "
            "e.g. checks={\"positive_price\": \"price > 0\"}")
    mapper.checks = dict(checks)


def pair_pivot_sides(mapper: Any) -> None:
    """Give each many-to-many back reference of ``mapper`` its inverse: the
    back reference that sees the same pivot rows from the other side (itself
    when symmetric)."""
    for back in mapper.backrefs:
        if back.via is not None:
            if back.symmetric:
                back.via_inverse = back  # the same list, on the other object
                continue
            for other in back.target_mapper.backrefs:
                if (other.via is back.via and other is not back
                        and other.via_local is back.via_remote):
                    back.via_inverse = other
