"""Code generated once per model when its mapping is resolved, as attrs and
dataclasses do: the keyword-only ``__init__`` with its type checks, the
attribute setters that track changes, and the identity-key getter; and the
loader classes hydration builds instances through. Nothing here interprets
the mapping per attribute per object at run time.

:func:`install` is the ``on_resolved`` hook the model layer hands every
mapper; :func:`loader_class` is called by the generated hydrators
(:mod:`activerel.loading.hydrate`). Imports :mod:`activerel.mapping`, the
rest of :mod:`activerel.instance` and :mod:`activerel._util`."""
from __future__ import annotations

from typing import Any, Callable, Optional, cast

from .._util.codegen import compile_function
from ..errors import ValidationError
from ..mapping.mapper import Mapper
from ..mapping.markers import MISSING
from ..mapping.properties import BackRefProp, Prop, ReferenceProp, ScalarProp
from ..mapping.types import CHECK_GLOBALS, describe
from .collections import RelationList, relation_list
from .state import NEW, NEW_STATE, PERSISTENT, STATE_KEY, ObjectState, is_persistent, mark_changed


def install(mapper: Mapper) -> None:
    """Generate and attach the per-model code."""
    cls = mapper.cls
    cls.__init__ = make_init(mapper)  # type: ignore[misc]
    cls.__ar_setters__ = make_setters(mapper)  # type: ignore[attr-defined]
    mapper.key_of = make_key_getter(mapper)


class Record:
    """The instance layout every model shares (an instance ``__dict__`` and a
    weak-reference slot), without the model's ``__setattr__``: the base of
    the loader classes hydration goes through (:func:`loader_class`)."""

    __slots__ = ("__dict__", "__weakref__")


def loader_class(cls: type) -> Optional[type]:
    """A class with ``cls``'s layout and no ``__setattr__`` or field
    descriptors, for hydrating rows of ``cls``; None where ``cls`` adds to
    the shared layout (slots of its own).

    A loaded row's values must land in a fresh instance. Through ``cls``,
    every store would pass the change-tracking ``__setattr__``; a loader
    instance takes plain attribute stores (the interpreter's fastest path,
    straight into the instance's inline values), then becomes a ``cls``
    instance by ``__class__`` assignment (measured in docs/benchmarks.md)."""
    known: Any = cls.__dict__.get("__ar_loader__", False)
    if known is not False:
        return cast(Optional[type], known)
    made = type(f"{cls.__name__}Loader", (Record,), {"__slots__": (), "__module__": cls.__module__})
    probe: Any = object.__new__(made)
    loader: Optional[type] = made
    try:
        probe.__class__ = cls
    except TypeError:
        loader = None
    else:
        object.__setattr__(probe, "__class__", made)  # so no __del__ of cls runs on it
    type.__setattr__(cls, "__ar_loader__", loader)
    return loader


def _wanted(prop: Prop) -> str:
    """What a property takes, for error messages."""
    if isinstance(prop, ScalarProp):
        kind = prop.ctype.kind
        want = prop.ctype.python_type.__name__ if kind in ("enum", "json") else kind
        if prop.ctype.length is not None:
            unit = "characters" if kind == "str" else "bytes"
            want += f" of at most {prop.ctype.length} {unit}"
    elif isinstance(prop, BackRefProp) and prop.many:
        want = f"a list of {prop.target.__name__}"
    else:
        want = f"a {prop.target.__name__}"  # type: ignore[attr-defined]
    return want + " or None" if getattr(prop, "nullable", False) else want


def _checker_error(mapper: Mapper) -> Callable[[str, Any], None]:
    props = mapper.props

    def bad(name: str, value: Any) -> None:
        prop = props[name]
        if (isinstance(prop, ScalarProp) and prop.ctype.kind in ("datetime", "time")
                and getattr(value, "tzinfo", None)):
            raise ValidationError(
                f"{mapper.name}.{name} takes naive {prop.ctype.kind} values, not {describe(value)}: "
                "convert to UTC and drop tzinfo (value.astimezone(timezone.utc).replace(tzinfo=None))")
        raise ValidationError(f"{mapper.name}.{name} must be {_wanted(prop)}, not {describe(value)}")

    return bad


def make_init(mapper: Mapper) -> Callable[..., None]:
    """The keyword-only constructor: defaults, type checks, back-reference lists."""
    ns: dict[str, Any] = dict(CHECK_GLOBALS)
    ns.update(_M=MISSING, _ar_NEW=NEW_STATE, _ar_RL=RelationList, _ar_bad=_checker_error(mapper),
              _ar_append=list.append)
    model = mapper.name

    def missing(name: str) -> None:
        raise ValidationError(f"{model}.{name} is required: {model}() needs {name}=")

    def unknown(extra: dict[str, Any]) -> None:
        names = ", ".join(sorted(extra))
        raise ValidationError(f"{model}() got unknown field(s): {names}; {model} has "
                              f"{', '.join(mapper.props)}")

    ns["_ar_missing"] = missing
    ns["_ar_unknown"] = unknown
    params, body = [], []
    body.append("    if _ar_extra: _ar_unknown(_ar_extra)")
    body.append("    _ar_d = _ar_self.__dict__")
    for prop in list(mapper.scalars) + list(mapper.references):
        n = prop.name
        params.append(f"{n}=_M")
        body.append(f"    if {n} is _M:")
        if prop.default_factory is not None:
            ns[f"_df_{n}"] = prop.default_factory
            body.append(f"        {n} = _df_{n}()")
            body.append(f"    if not {prop.check_source(n, ns)}: _ar_bad({n!r}, {n})")
        elif prop.default is not MISSING:
            ns[f"_dv_{n}"] = prop.default
            body.append(f"        {n} = _dv_{n}")
            body.append(f"    elif not {prop.check_source(n, ns)}: _ar_bad({n!r}, {n})")
        else:
            body.append(f"        _ar_missing({n!r})")
            body.append(f"    if not {prop.check_source(n, ns)}: _ar_bad({n!r}, {n})")
        body.append(f"    _ar_d[{n!r}] = {n}")
    for back in mapper.backrefs:
        n = back.name
        params.append(f"{n}=_M")
        ns[f"_ab_{n}"] = _backref_value(mapper, back)
        if back.many:
            body.append(f"    if {n} is _M:")
            body.append(f"        _ar_d[{n!r}] = _ar_l = _ar_RL()")
            body.append("        _ar_l.baseline = ()")
            body.append("        _ar_l.partial = False")
            body.append("        _ar_l.owner = _ar_self")
            body.append(f"        _ar_l.name = {n!r}")
            body.append("    else:")
            body.append(f"        _ar_d[{n!r}] = _ab_{n}({n}, _ar_self)")
        else:
            body.append(f"    _ar_d[{n!r}] = None if {n} is _M else _ab_{n}({n}, _ar_self)")
    body.append(f"    _ar_d[{STATE_KEY!r}] = _ar_NEW")  # shared until it changes
    for ref in mapper.references:
        # show the new object in the target's loaded back references
        if ref.inverses:
            body.append(f"    if {ref.name} is not None:")
            body.append(f"        _ar_td = {ref.name}.__dict__")
            for back in ref.inverses:
                if back.many:
                    body.append(f"        _ar_t = _ar_td.get({back.name!r})")
                    # (list.append: keeping the other side in step is no change of it)
                    body.append("        if _ar_t is not None: _ar_append(_ar_t, _ar_self)")
                else:
                    body.append(f"        if {back.name!r} in _ar_td: _ar_td[{back.name!r}] = _ar_self")
    sig = ", ".join(params + ["**_ar_extra"])
    src = f"def __init__(_ar_self, *, {sig}):\n" + "\n".join(body) + "\n"
    init: Callable[..., None] = compile_function(
        src, ns, name="__init__", kind="__init__",
        owner=f"{mapper.cls.__module__}.{mapper.cls.__qualname__}",
        qualname=f"{mapper.cls.__qualname__}.__init__", module=mapper.cls.__module__)
    return init


def _backref_value(mapper: Mapper, back: BackRefProp) -> Callable[[Any, Any], Any]:
    target = back.target
    bad = _checker_error(mapper)

    def value(v: Any, owner: Any) -> Any:
        if back.many:
            if not isinstance(v, (list, tuple)) or not all(isinstance(o, target) for o in v):
                bad(back.name, v)
            return relation_list(v, owner, back.name, tracked=is_persistent(owner))
        if v is not None and not isinstance(v, target):
            bad(back.name, v)
        return v

    return value


def make_setters(mapper: Mapper) -> dict[str, Callable[[Any, Any], None]]:
    setters: dict[str, Callable[[Any, Any], None]] = {}
    bad = _checker_error(mapper)
    for prop in mapper.scalars:
        setters[prop.name] = _scalar_setter(prop, bad)
    for ref in mapper.references:
        setters[ref.name] = _reference_setter(ref, bad)
    for back in mapper.backrefs:
        setters[back.name] = _backref_setter(mapper, back)
    return setters


def track(obj: Any, state: ObjectState, d: dict[str, Any], name: str, value: Any) -> None:
    """Record that persistent ``obj`` is changing ``name`` to ``value``."""
    dirty = state.dirty
    if dirty is not None and name in dirty:
        orig = dirty[name]
        if orig is value or (type(orig) is type(value) and orig == value):
            del dirty[name]
            if not dirty:
                state.dirty = None
        return
    old = d.get(name, MISSING)
    if old is value or (type(old) is type(value) and old == value):
        return
    if dirty is None:
        state.dirty = {name: old}
        session = state.session
        if session is not None and session.active:
            session.dirty[id(obj)] = obj
    else:
        dirty[name] = old


def _scalar_setter(prop: ScalarProp, bad: Callable[[str, Any], None]) -> Callable[[Any, Any], None]:
    check = prop.check
    name = prop.name

    def setter(obj: Any, value: Any) -> None:
        if not check(value):
            bad(name, value)
        d = obj.__dict__
        state = obj._ar_state
        if state.status == PERSISTENT:
            track(obj, state, d, name, value)
        d[name] = value

    return setter


def _reference_setter(ref: ReferenceProp, bad: Callable[[str, Any], None]) -> Callable[[Any, Any], None]:
    check = ref.check
    name = ref.name
    inverses = [(b.name, b.many) for b in ref.inverses]

    def setter(obj: Any, value: Any) -> None:
        if not check(value):
            bad(name, value)
        d = obj.__dict__
        old = d.get(name, MISSING)
        if old is value:
            return
        state = obj._ar_state
        if state.status == PERSISTENT and not _same_row(old, value):
            track(obj, state, d, name, value)
        d[name] = value
        for back, many in inverses:
            if old is not MISSING and old is not None:
                od = old.__dict__
                if back in od:
                    if many:
                        lst = od[back]
                        for i, o in enumerate(lst):
                            if o is obj:
                                list.__delitem__(lst, i)  # the other side in step
                                break
                    elif od[back] is obj:
                        od[back] = None
            if value is not None:
                vd = value.__dict__
                if back in vd:
                    if many:
                        lst = vd[back]
                        if not any(o is obj for o in lst):
                            list.append(lst, obj)
                    else:
                        vd[back] = obj

    return setter


def _same_row(a: Any, b: Any) -> bool:
    """Two instances of one row (e.g. loaded in different sessions)."""
    if a is MISSING or a is None or b is None or type(a) is not type(b):
        return False
    ka, kb = a._ar_state.key, b._ar_state.key
    return ka is not None and ka == kb and a._ar_state.status == b._ar_state.status == PERSISTENT


def _backref_setter(mapper: Mapper, back: BackRefProp) -> Callable[[Any, Any], None]:
    convert = _backref_value(mapper, back)
    name = back.name

    def setter(obj: Any, value: Any) -> None:
        value = convert(value, obj)
        d = obj.__dict__
        if back.many:
            old = d.get(name)
            value.baseline = old.baseline if isinstance(old, RelationList) else ()
            if value.changed():
                mark_changed(obj, name, value.baseline)
        else:
            state = obj._ar_state
            if name in d and state.status != NEW:
                base = state.baseline
                if base is None:
                    state.baseline = base = {}
                base.setdefault(name, d[name])
                if d[name] is not value:
                    mark_changed(obj, name, base[name])
            elif name not in d and value is not None:
                mark_changed(obj, name, None)  # not loaded: what it held is unknown
        d[name] = value

    return setter


def make_key_getter(mapper: Mapper) -> Callable[[Any], Any]:
    """obj -> its identity key: the primary-key value, or a tuple of the
    physical key columns' values for a composite key. None while unknown."""
    # (field name, None for a plain column or the width of a reference's key)
    parts: list[tuple[str, Optional[int]]] = []
    for prop in mapper.pk_props:
        parts.append((prop.name, None if isinstance(prop, ScalarProp) else len(prop.columns)))
    if len(parts) == 1 and parts[0][1] is None:
        name = parts[0][0]

        def key_scalar(obj: Any) -> Any:
            return obj.__dict__.get(name)

        return key_scalar

    def key(obj: Any) -> Any:
        d = obj.__dict__
        values: list[Any] = []
        for name, width in parts:
            v = d.get(name)
            if width is None:
                values.append(v)
            elif v is None:
                values.extend([None] * width)
            else:
                k = type(v).__ar_mapper__.key_of(v)
                if width == 1:
                    values.append(k)
                else:
                    values.extend(k if k is not None else [None] * width)
        if len(values) == 1:
            return values[0]
        if any(v is None for v in values):
            return None
        return tuple(values)

    return key
