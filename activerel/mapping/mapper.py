"""The mapper: what a model class maps to. It turns the annotations the
metaclass recorded into properties (scalar fields, references, back
references) and physical columns, lazily, when the model is first used, so
models may name each other in any order and across modules.

Created by :class:`~activerel.model.ModelMeta`, which also hands it the
``on_resolved`` hook that installs the generated instance code; read by
every layer above. Imports the rest of :mod:`activerel.mapping` and
:mod:`activerel.errors`."""
from __future__ import annotations

import re
import sys
import threading
import typing
from typing import Any, Callable, Optional, Union

from ..errors import ModelDefinitionError, QueryError, ValidationError
from .markers import MISSING
from .properties import BackRefProp, Column, Prop, ReferenceProp, ScalarProp
from .fields import pair_pivot_sides, parse_field, table_constraints
from .registry import is_model_instance, registry
from .types import ColumnType

#: the events of a flush, which a model may define as methods (``def
#: before_insert(self)``) and a database may listen to (``db.listen``)
EVENTS = ("before_insert", "after_insert", "before_update", "after_update", "before_delete",
          "after_delete")
RESERVED = frozenset({"persist", "delete", "reload", "get", "query", "to_dict", *EVENTS})

#: held while mappers are resolved: the first use of the models from several
#: threads at once must parse and generate each model's code once
_RESOLVING = threading.RLock()


def snake_case(name: str) -> str:
    """``OrderLine`` -> ``order_line``, the default table name."""
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


class Mapper:
    """Everything known about one model class. Built in two phases on first use:
    ``_parse`` reads the model's own annotations, ``_link`` connects back
    references and foreign-key columns, which needs the targets parsed too."""

    def __init__(self, cls: type, table: str, annotations: dict[str, Any],
                 defaults: dict[str, Any],
                 on_resolved: Optional[Callable[["Mapper"], None]] = None,
                 constraints: Optional[dict[str, Any]] = None) -> None:
        self.cls = cls
        self.name = cls.__name__
        self.table = table
        self._annotations = annotations
        self._defaults = defaults
        self.parsed = False
        self.resolved = False
        self.props: dict[str, Prop] = {}
        self.scalars: list[ScalarProp] = []
        self.references: list[ReferenceProp] = []
        self.backrefs: list[BackRefProp] = []
        #: the back references' names, set on resolution (the fields that may hold lists)
        self.backref_names: tuple[str, ...] = ()
        self.pk_props: list[Union[ScalarProp, ReferenceProp]] = []
        self.columns: list[Column] = []
        self.pk_columns: list[Column] = []
        self.autoincrement: Optional[ScalarProp] = None
        #: the optimistic-locking field (marked Version), if any
        self.version: Optional[ScalarProp] = None
        #: the JSON fields, whose values can change in place, and (field, column)
        #: of the fields with a server default (set on resolution)
        self.json_fields: tuple[str, ...] = ()
        self.server_defaults: tuple[tuple[str, str], ...] = ()
        #: event -> the model's own method for it (before_insert, ...)
        self.hooks: dict[str, Callable[[Any], None]] = {}
        #: called once the mapping is resolved (the model layer installs the
        #: generated constructor, setters and key getter)
        self.on_resolved = on_resolved
        #: obj -> its identity key; generated on resolution (instance.instrument)
        self.key_of: Callable[[Any], Any] = _unresolved
        #: the columns an INSERT writes with and without the generated key
        self.insert_columns_all: tuple[str, ...] = ()
        self.insert_columns_generated: tuple[str, ...] = ()
        #: a pivot whose rows are exactly its two references' keys: links are
        #: written as rows, without pivot objects
        self.pure_link = False
        self._key_checks: Optional[list[tuple[str, ColumnType, Callable[[Any], bool]]]] = None
        #: the class keywords unique=, indexes= and checks= as declared; on
        #: resolution: composite unique constraints and indexes as column
        #: names, and the checks as name -> SQL condition
        self._constraints = constraints or {}
        self.unique_together: list[tuple[str, ...]] = []
        self.index_together: list[tuple[str, ...]] = []
        self.checks: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"<Mapper {self.name} -> {self.table}>"

    # -- resolution --------------------------------------------------------
    def resolve(self) -> "Mapper":
        """Resolve this model and every model it reaches; idempotent, and
        done once whatever the threads: resolution runs under one lock, and a
        mapper is marked resolved only when its generated code is installed."""
        if self.resolved:
            return self
        with _RESOLVING:
            if not self.resolved:
                self._resolve_group()
        return self

    def _resolve_group(self) -> None:
        group: list[Mapper] = []
        try:
            self._parse_closure(group)
            for m in group:
                if not m.resolved:
                    m._link()
            for m in group:
                if not m.resolved:
                    m._finish()
        except ModelDefinitionError:
            for m in group:
                if not m.resolved:
                    m._reset()
            registry.unregister(self.cls)
            raise

    def _reset(self) -> None:
        self.parsed = False
        self.props, self.scalars, self.references, self.backrefs = {}, [], [], []
        self.pk_props, self.columns, self.pk_columns = [], [], []
        self.autoincrement = None
        self.version = None

    def _parse_closure(self, group: list["Mapper"]) -> None:
        if self in group or self.resolved:
            return
        group.append(self)
        if not self.parsed:
            self._parse()
        for ref in self.references:
            ref.target_mapper._parse_closure(group)
        for back in self.backrefs:
            back.target_mapper._parse_closure(group)
            if back.via is not None:
                back.via_mapper._parse_closure(group)

    def _namespace(self) -> "_Namespace":
        module = sys.modules.get(self.cls.__module__)
        return _Namespace(vars(module) if module else {}, self.cls.__module__)

    def _evaluate(self, name: str, ann: Any) -> Any:
        if isinstance(ann, typing.ForwardRef):
            ann = ann.__forward_arg__
        if isinstance(ann, str):
            ns = self._namespace()
            try:
                return eval(ann, ns.module_globals, ns)  # noqa: S307 - annotations are code
            except NameError as exc:
                missing = getattr(exc, "name", None) or str(exc)
                raise ModelDefinitionError(
                    f"{self.name}.{name}: cannot resolve {missing!r} in the annotation "
                    f"{ann!r}: no such model or name in {self.cls.__module__}") from None
        return ann

    def _parse(self) -> None:
        for name, raw in self._annotations.items():
            if name.startswith("_"):
                continue
            ann = self._evaluate(name, raw)
            if _is_classvar(ann):
                continue
            if name in RESERVED:
                raise ModelDefinitionError(
                    f"{self.name}.{name}: {name!r} is an active-record method name; "
                    "rename the field")
            parse_field(self, name, ann)
        self.parsed = True
        if not self.pk_props:
            raise ModelDefinitionError(
                f"{self.name} has no primary key: mark a field with PrimaryKey, e.g. "
                "id: Annotated[int, PrimaryKey, AutoIncrement] = 0")

    def _link(self) -> None:
        """Phase two: back references find their references; FK columns exist."""
        for back in self.backrefs:
            target = back.target_mapper
            where = f"{self.name}.{back.name}"
            if back.via is not None:
                pivot = back.via_mapper
                # mapped_by names the pivot's reference to this side: it is
                # needed where both of the pivot's references point here
                # (followers / following through one Follow model)
                if back.symmetric:
                    mine = [r for r in pivot.references if r.target is self.cls]
                    if back.target is not self.cls or len(mine) != 2:
                        raise ModelDefinitionError(
                            f"{where}: symmetric=True links {self.name} to {self.name} through a "
                            f"pivot with two References to {self.name}; {pivot.name} has "
                            f"{len(mine)}")
                back.via_local = _pick_reference(pivot, self.cls, back.marker.mapped_by, where,
                                                 "to " + self.name,
                                                 first=back.symmetric)
                others = [r for r in pivot.references if r.target is back.target and r is not back.via_local]
                if len(others) != 1:
                    raise ModelDefinitionError(
                        f"{where}: the pivot {pivot.name} needs exactly one Reference to "
                        f"{target.name} besides its Reference to {self.name}; found {len(others)}")
                back.via_remote = others[0]
                continue
            back.mapped_by = _pick_reference(target, self.cls, back.marker.mapped_by, where,
                                             "back to " + self.name)
            back.mapped_by.inverses.append(back)
        self._build_columns()

    def _ref_columns(self, prop: ReferenceProp, building: tuple["Mapper", ...]) -> list[Column]:
        target = prop.target_mapper
        name = prop.name
        if target is self:
            if prop.primary_key:
                raise ModelDefinitionError(
                    f"{self.name}.{name}: a self-reference cannot be the primary key")
            target_pks = [p.column for p in self.pk_props if isinstance(p, ScalarProp)]
            if len(target_pks) != len(self.pk_props):
                raise ModelDefinitionError(
                    f"{self.name}.{name}: a self-reference needs a primary key of plain columns")
        else:
            target_pks = target._key_columns(building + (self,))
        declared = prop.column_names
        names: list[str]
        if declared is None:
            names = ([f"{name}_id"] if len(target_pks) == 1
                     else [f"{name}_{c.name}" for c in target_pks])
        else:
            names = [declared] if isinstance(declared, str) else list(declared)
        if len(names) != len(target_pks):
            raise ModelDefinitionError(
                f"{self.name}.{name}: column= names {len(names)} column(s) but "
                f"{target.name}'s primary key has {len(target_pks)}")
        return [Column(cname, ColumnType(tc.ctype.kind, tc.ctype.python_type, prop.nullable, tc.ctype.length),
                       prop, primary_key=prop.primary_key, unique=prop.unique,
                       index=prop.index, target=tc)
                for cname, tc in zip(names, target_pks)]

    def _key_columns(self, building: tuple["Mapper", ...] = ()) -> list[Column]:
        """The primary-key columns; a key that is a reference takes the target's."""
        if self.pk_columns:
            return self.pk_columns
        if self in building:
            raise ModelDefinitionError(
                f"{self.name}: primary keys that reference each other in a cycle "
                f"({' -> '.join(m.name for m in building)})")
        cols: list[Column] = []
        for p in self.pk_props:
            if isinstance(p, ScalarProp):
                cols.append(p.column)
            else:
                if not p.columns:
                    p.columns = self._ref_columns(p, building)
                cols.extend(p.columns)
        self.pk_columns = cols
        return cols

    def _build_columns(self) -> None:
        if self.columns or not self.parsed:
            return
        self._key_columns()
        columns: list[Column] = []
        for prop in self.props.values():
            if isinstance(prop, ScalarProp):
                columns.append(prop.column)
            elif isinstance(prop, ReferenceProp):
                if not prop.columns:
                    prop.columns = self._ref_columns(prop, ())
                columns.extend(prop.columns)
        seen: dict[str, str] = {}
        for c in columns:
            if c.name in seen:
                raise ModelDefinitionError(
                    f"{self.name}: fields {seen[c.name]!r} and {c.prop.name!r} both map to "
                    f"the column {c.name!r}")
            seen[c.name] = c.prop.name
        self.columns = columns
        if self.autoincrement is not None and len(self.pk_columns) != 1:
            raise ModelDefinitionError(
                f"{self.name}.{self.autoincrement.name}: AutoIncrement needs a single-column "
                "primary key")

    def _finish(self) -> None:
        pair_pivot_sides(self)
        self.backref_names = tuple(b.name for b in self.backrefs)
        self.json_fields = tuple(p.name for p in self.scalars if p.ctype.kind == "json")
        self.server_defaults = tuple((p.name, p.column.name) for p in self.scalars
                                     if p.server_default is not MISSING)
        self.hooks = {event: getattr(self.cls, event) for event in EVENTS
                      if callable(getattr(self.cls, event, None))}
        auto = self.autoincrement
        self.insert_columns_all = tuple(c.name for c in self.columns)
        self.insert_columns_generated = tuple(c.name for c in self.columns
                                              if auto is None or c.prop is not auto)
        table_constraints(self)
        refs = self.references
        self.pure_link = (len(refs) == 2 and refs[0].target_mapper is not refs[1].target_mapper
                          and set(self.insert_columns_generated)
                          == {c.name for r in refs for c in r.columns})
        if self.on_resolved is not None:
            self.on_resolved(self)
        self.resolved = True

    # -- keys ----------------------------------------------------------------
    def insert_columns(self, with_autoincrement: bool) -> tuple[str, ...]:
        """The columns an INSERT writes: every one, or all but the generated key."""
        return self.insert_columns_all if with_autoincrement else self.insert_columns_generated

    def key_checks(self) -> list[tuple[str, ColumnType, Callable[[Any], bool]]]:
        """Per key column: its name, type (not nullable) and value check."""
        checks = self._key_checks
        if checks is None:
            checks = []
            for col in self.pk_columns:
                strict = ColumnType(col.ctype.kind, col.ctype.python_type, False)
                checks.append((col.name, strict, strict.checker()))
            self._key_checks = checks
        return checks

    def check_key(self, key: Any, what: Optional[str] = None) -> None:
        """Raise ValidationError unless ``key`` is a valid primary key value
        (a tuple of the key columns' values for a composite key)."""
        checks = self.key_checks()
        if len(checks) == 1:
            if checks[0][2](key):
                return
            parts: Any = (key,)
        else:
            parts = key if isinstance(key, tuple) else (key,)
        if len(parts) != len(checks) or not all(ok(v) for (_, _, ok), v in zip(checks, parts)):
            want = ", ".join(f"{n} ({ct.kind})" for n, ct, _ in checks)
            raise ValidationError(
                f"{what or self.name}: {key!r} is not a primary key of {self.name}; "
                f"its key is {want}")


class _Namespace(dict[str, Any]):
    """Names for evaluating string annotations: the model's module globals first,
    then the registry."""

    def __init__(self, module_globals: dict[str, Any], module: str) -> None:
        super().__init__()
        self.module_globals = module_globals
        self.module = module

    def __missing__(self, key: str) -> Any:
        if key in self.module_globals:
            return self.module_globals[key]
        found = registry.lookup(key, self.module)
        if found is not None:
            return found
        if key in typing.__dict__ and key[0].isupper():
            return typing.__dict__[key]
        raise KeyError(key)


def _pick_reference(mapper: Mapper, target: type, mapped_by: Optional[str], where: str,
                    what: str, first: bool = False) -> ReferenceProp:
    if mapped_by is not None:
        prop = mapper.props.get(mapped_by)
        if not isinstance(prop, ReferenceProp) or prop.target is not target:
            raise ModelDefinitionError(
                f"{where}: mapped_by={mapped_by!r} must name a Reference on {mapper.name} "
                f"pointing {what} ({target.__name__}); {mapper.name}.{mapped_by} "
                f"{'does not exist' if prop is None else 'is not one'}")
        return prop
    found = [r for r in mapper.references if r.target is target]
    if not found:
        raise ModelDefinitionError(
            f"{where}: {mapper.name} has no Reference pointing {what} ({target.__name__}); "
            f"add one, e.g. Reference[{target.__name__}]")
    if first:
        return found[0]
    if len(found) > 1:
        raise ModelDefinitionError(
            f"{where}: {mapper.name} has several References to {target.__name__} "
            f"({', '.join(r.name for r in found)}); say which with mapped_by=")
    return found[0]


def _is_classvar(ann: Any) -> bool:
    return ann is typing.ClassVar or typing.get_origin(ann) is typing.ClassVar


def normalize_key(mapper: Mapper, pk: Any) -> Any:
    """The identity key for what a caller passed as a primary key: the
    value, a tuple for a composite key, or an instance (of this model, or
    of a model a key reference points at)."""
    if type(pk) in (int, str):  # the common case
        mapper.check_key(pk)
        return pk
    if is_model_instance(pk):
        return type(pk).__ar_mapper__.key_of(pk)
    width = len(mapper.pk_columns)
    if width == 1:
        if isinstance(pk, tuple) and len(pk) == 1:
            pk = pk[0]
        mapper.check_key(pk)
        return pk
    if not isinstance(pk, tuple) or len(pk) != width:
        raise QueryError(f"{mapper.name} has a composite primary key of {width} columns "
                         f"({', '.join(c.name for c in mapper.pk_columns)}): pass a tuple, not {pk!r}")
    parts: list[Any] = []
    for v in pk:
        parts.extend(flat_key(type(v).__ar_mapper__.key_of(v)) if is_model_instance(v) else (v,))
    key = tuple(parts)
    mapper.check_key(key)
    return key


def mapper_of(cls: Any) -> Mapper:
    """The resolved mapper of a model class (resolving it on first use)."""
    try:
        m: Mapper = cls.__ar_mapper__
    except AttributeError:
        raise TypeError(f"{cls!r} is not an activerel model") from None
    if not m.resolved:
        m.resolve()
    return m


def flat_key(key: Any) -> tuple[Any, ...]:
    """An identity key as a tuple of column values (a one-column key wrapped)."""
    return key if isinstance(key, tuple) else (key,)


def _unresolved(obj: Any) -> Any:
    raise TypeError(f"{type(obj).__name__} is not resolved yet: use mapper_of() first")
