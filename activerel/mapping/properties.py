"""The properties a mapper is made of: physical :class:`Column` s and the
declared attributes, :class:`ScalarProp` (a plain column field),
:class:`ReferenceProp` (the owning side of a relation) and
:class:`BackRefProp` (its virtual inverse, in one of three
:class:`Direction` s). Each property builds its own value check, the one
check used by constructors, setters, query conditions and ``patch_many``.

Created by :mod:`activerel.mapping.mapper`; read by every layer above.
Imports :mod:`activerel.mapping.types`, :mod:`activerel.mapping.markers`
and :mod:`activerel._util`."""
from __future__ import annotations

import enum
from typing import Any, Callable, Optional, Union

from .._util.codegen import compile_function
from .markers import MISSING, BackReference, Reference
from .types import CHECK_GLOBALS, ColumnType

#: a :class:`~activerel.mapping.mapper.Mapper` (which imports this module, so
#: the properties cannot name its class)
Mapper = Any


class Direction(enum.Enum):
    """Which way a back reference runs: the key of the dispatch tables of the
    walk (:mod:`activerel.unitofwork.dependency`), the loaders
    (:mod:`activerel.loading.strategies`) and the relation filters."""

    ONE_TO_MANY = "one-to-many"
    ONE_TO_ONE = "one-to-one"
    MANY_TO_MANY = "many-to-many"


class Column:
    """One physical column of a table."""

    __slots__ = ("name", "ctype", "prop", "primary_key", "autoincrement", "unique", "index",
                 "target")

    def __init__(self, name: str, ctype: ColumnType, prop: "Prop", *, primary_key: bool = False,
                 autoincrement: bool = False, unique: bool = False, index: bool = False,
                 target: Optional["Column"] = None) -> None:
        self.name = name
        self.ctype = ctype
        self.prop = prop
        self.primary_key = primary_key
        self.autoincrement = autoincrement
        self.unique = unique
        self.index = index
        #: for a foreign-key column: the referenced table's key column
        self.target = target

    @property
    def nullable(self) -> bool:
        return self.ctype.nullable

    def __repr__(self) -> str:
        return f"Column({self.name!r}, {self.ctype!r})"


class Prop:
    """A declared attribute of a model."""

    name: str
    owner: Mapper
    _check: Optional[Callable[[Any], bool]] = None

    def qualname(self) -> str:
        return f"{self.owner.name}.{self.name}"

    def check_source(self, var: str, globs: dict[str, Any]) -> str:
        """Python source of a boolean expression true when ``var`` may be stored
        in this property; names it needs are added to ``globs``."""
        raise NotImplementedError

    @property
    def check(self) -> Callable[[Any], bool]:
        """value -> whether it may be stored here; generated once per property."""
        check = self._check
        if check is None:
            globs: dict[str, Any] = dict(CHECK_GLOBALS)
            src = f"def check(v):\n    return {self.check_source('v', globs)}\n"
            check = self._check = compile_function(src, globs, name="check", kind="check",
                                                   owner=self.qualname())
        return check


class ScalarProp(Prop):
    """A plain column field."""

    def __init__(self, owner: Mapper, name: str, ctype: ColumnType, default: Any,
                 default_factory: Optional[Callable[[], Any]], column: str, *,
                 primary_key: bool, autoincrement: bool, unique: bool, index: bool,
                 server_default: Any = MISSING) -> None:
        self.owner = owner
        self.name = name
        self.ctype = ctype
        self.default = default
        #: the database's default (a value or Sql), used when an insert
        #: leaves the field None; MISSING when there is none
        self.server_default = server_default
        self.default_factory = default_factory
        self.primary_key = primary_key
        self.autoincrement = autoincrement
        self.column = Column(column, ctype, self, primary_key=primary_key,
                             autoincrement=autoincrement, unique=unique, index=index)
        self.columns = [self.column]

    @property
    def nullable(self) -> bool:
        return self.ctype.nullable

    @property
    def required(self) -> bool:
        return self.default is MISSING and self.default_factory is None

    def check_source(self, var: str, globs: dict[str, Any]) -> str:
        src = self.ctype.check_source(var, globs, self.name)
        if (self.autoincrement or self.server_default is not MISSING) and not self.ctype.nullable:
            src = f"({var} is None or {src})"  # None: let the database generate it
        return src


class ReferenceProp(Prop):
    """The owning side of a relation: holds the target object, stores its key."""

    def __init__(self, owner: Mapper, name: str, target: type, nullable: bool,
                 marker: Reference, default: Any, *, primary_key: bool, unique: bool,
                 index: bool) -> None:
        self.owner = owner
        self.name = name
        self.target = target
        self.nullable = nullable
        self.on_delete = marker.on_delete
        self.on_update = marker.on_update
        self.column_names = marker.column
        self.constraint_name = marker.name
        #: whether the foreign key gets an index of its own (Reference(index=...))
        self.marker_index = marker.index
        self.default = default
        self.default_factory = None
        self.primary_key = primary_key
        self.unique = unique
        self.index = index
        self.columns: list[Column] = []
        #: back references on the target that this reference feeds
        self.inverses: list[BackRefProp] = []

    @property
    def required(self) -> bool:
        return self.default is MISSING

    @property
    def target_mapper(self) -> Mapper:
        return self.target.__ar_mapper__  # type: ignore[attr-defined]

    def check_source(self, var: str, globs: dict[str, Any]) -> str:
        globs[f"_T_{self.name}"] = self.target
        src = f"_ar_isinstance({var}, _T_{self.name})"
        if self.nullable:
            src = f"({var} is None or {src})"
        return src


class BackRefProp(Prop):
    """The virtual inverse of a reference: one-to-many, one-to-one or via a pivot."""

    def __init__(self, owner: Mapper, name: str, target: type, many: bool,
                 marker: BackReference) -> None:
        self.owner = owner
        self.name = name
        self.target = target
        self.many = many
        self.marker = marker
        self.direction = Direction.ONE_TO_MANY if many else Direction.ONE_TO_ONE
        self.via: Optional[type] = None
        #: the Reference on the target pointing here (one-to-many / one-to-one)
        self.mapped_by: Optional[ReferenceProp] = None
        #: for via: the pivot's Reference to this model and to the target
        self.via_local: Optional[ReferenceProp] = None
        self.via_remote: Optional[ReferenceProp] = None
        #: for via: the back reference on the target through the same pivot, if any
        self.via_inverse: Optional[BackRefProp] = None
        #: via a pivot of two references to this model, one row linking both ways
        self.symmetric = marker.symmetric

    @property
    def nullable(self) -> bool:
        """A one-to-one back reference may hold None; a list never does."""
        return not self.many

    @property
    def target_mapper(self) -> Mapper:
        return self.target.__ar_mapper__  # type: ignore[attr-defined]

    @property
    def via_mapper(self) -> Mapper:
        """The pivot's mapper (many-to-many only)."""
        return self.via.__ar_mapper__  # type: ignore[union-attr]

    def check_source(self, var: str, globs: dict[str, Any]) -> str:
        globs[f"_T_{self.name}"] = self.target
        return f"({var} is None or _ar_isinstance({var}, _T_{self.name}))"


#: the properties that own columns
ColumnProp = Union[ScalarProp, ReferenceProp]
