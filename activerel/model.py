"""The :class:`Model` base class and its metaclass.

The metaclass records a class's annotations and defaults once, at class
creation, registers the class, and puts a descriptor in place of every
field. Field values live in the instance ``__dict__`` (plain attribute reads
at full speed); the descriptor only runs when a value is *absent*, to say
which ``select`` or ``join_with`` would have loaded it, and on the class,
where ``User.username`` is a column expression for queries.

The top layer with :mod:`activerel.database`: it wires the mapper to the
generated instance code (``on_resolved=install``). Imports
:mod:`activerel.query`, :mod:`activerel.session` and everything below."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Optional, TypeVar

from typing_extensions import Self, dataclass_transform

from .descriptors import Reference
from .errors import FieldNotLoaded, ModelDefinitionError, ReferenceNotLoaded
from .instance.instrument import Record, install
from .instance.state import (PERSISTENT, SESSION_KEY, STATE_KEY, StateOnDemand, identity_key, new_state,
                             state_if_made)
from .mapping.mapper import Mapper, mapper_of, snake_case
from .mapping.markers import field
from .mapping.properties import BackRefProp
from .mapping.registry import registry
from .query import Query
from .session import current_session, use_session
from .sql.paths import expression_for

M = TypeVar("M", bound="Model")


class FieldAttr:
    """Class-level stand-in for a field. A non-data descriptor: an instance's own
    value shadows it, so it only runs for a value that was not loaded."""

    __slots__ = ("owner", "name", "_expr")

    def __init__(self, owner: type, name: str) -> None:
        self.owner = owner
        self.name = name
        self._expr: Any = None

    def __get__(self, obj: Any, cls: Any = None) -> Any:
        if obj is None:
            expr = self._expr
            if expr is None:
                expr = self._expr = expression_for(mapper_of(self.owner).props[self.name])
            return expr
        raise _not_loaded(obj, self.name)


def _not_loaded(obj: Any, name: str) -> FieldNotLoaded:
    mapper = type(obj).__ar_mapper__
    model = mapper.name
    state = state_if_made(obj)
    if state is not None and state.stub_of is not None:
        origin, ref = state.stub_of
        return ReferenceNotLoaded(
            f"{model}.{name} is not loaded: this {model} is a stub reached through "
            f"{origin}.{ref}, with only its key set; add .join_with(\"{ref}\") to the "
            f"{origin} query to load it")
    prop = mapper.props.get(name)
    if isinstance(prop, BackRefProp):
        return ReferenceNotLoaded(
            f"{model}.{name} is not loaded: add .join_with(\"{name}\") to the {model} query "
            "to load it (activerel never queries implicitly)")
    return FieldNotLoaded(
        f"{model}.{name} is not loaded: the query's select() left it out; add \"{name}\" to "
        "select() or drop select() to load every field")


def _as_dict(obj: Any, relations: bool, path: set[int]) -> dict[str, Any]:
    mapper = type(obj).__ar_mapper__
    d = obj.__dict__
    out: dict[str, Any] = {}
    path = path | {id(obj)}
    for prop in mapper.props.values():
        name = prop.name
        if name not in d:
            continue  # not loaded
        value = d[name]
        if isinstance(prop, BackRefProp):
            if relations:
                out[name] = ([_nested(o, path) for o in value] if prop.many
                             else None if value is None else _nested(value, path))
        elif prop in mapper.references:
            if relations and value is not None:
                out[name] = _nested(value, path)
            else:
                out[name] = None if value is None else identity_key(value)
        else:
            out[name] = value
    return out


def _nested(obj: Any, path: set[int]) -> Any:
    """A related object: a dict, or its key for a stub or one already on the path."""
    state = state_if_made(obj)
    if id(obj) in path or (state is not None and state.stub_of is not None):
        return identity_key(obj)
    return _as_dict(obj, True, path)


class ModelMeta(type):
    """Reads a model's annotations once and registers the class."""

    def __new__(mcls, name: str, bases: tuple[type, ...], namespace: dict[str, Any],
                table: Optional[str] = None, unique: Any = (), indexes: Any = (),
                checks: Optional[dict[str, str]] = None, **kwargs: Any) -> "ModelMeta":
        if not any(isinstance(b, ModelMeta) for b in bases):
            return super().__new__(mcls, name, bases, namespace, **kwargs)
        annotations = dict(namespace.get("__annotations__", {}))
        defaults = {}
        for fname in annotations:
            if fname in namespace and not fname.startswith("_"):
                defaults[fname] = namespace.pop(fname)
        cls = super().__new__(mcls, name, bases, namespace, **kwargs)
        for base in bases:
            if isinstance(base, ModelMeta) and base is not Model:
                raise ModelDefinitionError(
                    f"{name}: model inheritance is not supported; derive from Model directly")
        cls.__ar_mapper__ = Mapper(cls, table or snake_case(name), annotations, defaults,  # type: ignore[attr-defined]
                                   on_resolved=install,
                                   constraints={"unique": unique, "indexes": indexes,
                                                "checks": checks})
        for fname in annotations:
            if not fname.startswith("_"):
                setattr(cls, fname, FieldAttr(cls, fname))
        registry.register(cls)
        return cls


# Reference is a field specifier: ``author: Reference[User] = Reference(on_delete=...)``
# is a required field (a default only with ``default=None``), as ``field(...)``
# without default= is; a ``BackReference(...)`` value is a default like any other
@dataclass_transform(kw_only_default=True, field_specifiers=(field, Reference))
class Model(Record, metaclass=ModelMeta):
    """Base class of every model: ``class User(Model, table="users"): ...``.

    Instances are active records: ``persist()``, ``delete()``, ``reload()``;
    the class offers ``get(pk)`` and ``query()``."""

    __slots__ = ()
    __ar_mapper__: ClassVar[Mapper]
    __ar_setters__: ClassVar[dict[str, Any]] = {}
    #: the instance's state lives in its __dict__; a loaded object's is made on demand
    _ar_state: ClassVar[Any] = StateOnDemand()

    def __init__(self, **values: Any) -> None:
        # First construction of this class: resolve the mapping, which installs
        # the generated __init__ on the class, then run it.
        cls = type(self)
        mapper_of(cls)
        if cls.__init__ is Model.__init__:  # pragma: no cover - install always sets it
            raise TypeError(f"{cls.__name__} has no generated constructor")
        cls.__init__(self, **values)

    if not TYPE_CHECKING:  # hidden from checkers, which then refuse unknown attributes
        def __setattr__(self, name: str, value: Any) -> None:
            setter = type(self).__ar_setters__.get(name)
            if setter is None:
                object.__setattr__(self, name, value)
            else:
                setter(self, value)

    def to_dict(self, relations: bool = False) -> dict[str, Any]:
        """The loaded fields as a dict, in declaration order: plain fields by
        value, references by the target's key (None when NULL). With
        ``relations``, loaded references and back references are nested as
        dicts (lists for to-many), stubs and objects already on the way down
        given by their key; relations that were not loaded are left out."""
        return _as_dict(self, relations, set())

    def __getstate__(self) -> dict[str, Any]:
        """What pickling (or ``copy``) keeps: the fields, loaded relations and
        state, without the session (which holds a connection). The copy is
        detached, like an object whose session has ended: persisting or
        deleting it in a session attaches it there."""
        d = dict(self.__dict__)
        if SESSION_KEY in d:  # loaded, its state not made: make a detached one
            del d[SESSION_KEY]
            d[STATE_KEY] = new_state(PERSISTENT, type(self).__ar_mapper__.key_of(self))
        return d

    def __setstate__(self, state: dict[str, Any]) -> None:
        vars(self).update(state)

    def __repr__(self) -> str:
        mapper = type(self).__ar_mapper__
        d = self.__dict__
        parts = []
        for prop in mapper.scalars:
            if prop.name in d:
                parts.append(f"{prop.name}={d[prop.name]!r}")
        for ref in mapper.references:
            target = d.get(ref.name)
            if target is not None:
                parts.append(f"{ref.name}=<{type(target).__name__} {identity_key(target)!r}>")
        state = state_if_made(self)
        if state is not None and state.stub_of is not None:
            parts.append("<stub>")
        return f"{type(self).__name__}({', '.join(parts)})"

    # -- active record -----------------------------------------------------
    # Each call runs in the current session (the common case inside
    # db.session(), with no context manager), else in a session of its own.
    def persist(self) -> Self:
        """Insert or update this object and every new or changed object it
        reaches, parents first, in one transaction (or the current session's)."""
        current = current_session()
        if current is not None:
            current.persist(self)
            return self
        with use_session() as session:
            session.persist(self)
        return self

    def delete(self) -> None:
        """Delete this row and apply every ``on_delete`` action pointing at it."""
        current = current_session()
        if current is not None:
            current.delete(self)
            return
        with use_session() as session:
            session.delete(self)

    def reload(self) -> Self:
        """Re-read this object's row; unsaved changes are kept."""
        current = current_session()
        if current is not None:
            current.reload(self)
            return self
        with use_session() as session:
            session.reload(self)
        return self

    @classmethod
    def get(cls, pk: Any) -> Self:
        """The object with primary key ``pk`` (a tuple for a composite key);
        served from the session's identity map when already loaded."""
        current = current_session()
        if current is not None:
            return current.get(cls, pk)
        with use_session() as session:
            return session.get(cls, pk)

    @classmethod
    def query(cls) -> "Query[Self]":
        """A query over this model."""
        return Query(cls)
