"""Code generated once per model when its mapping is resolved, as attrs and
dataclasses do: the keyword-only ``__init__`` with its type checks, the
attribute setters that track changes, and the identity-key getter. Nothing
here interprets the mapping per attribute per object at run time."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from .errors import ValidationError
from .markers import MISSING
from .relations import RelationList, relation_list
from .state import NEW, NEW_STATE, PERSISTENT, STATE_KEY, ObjectState
from .types import CHECK_GLOBALS, describe

if TYPE_CHECKING:
    from .mapper import BackRefProp, Mapper, ReferenceProp, ScalarProp


def _compile(src: str, name: str, ns: dict[str, Any], filename: str) -> Any:
    code = compile(src, filename, "exec")
    exec(code, ns)  # noqa: S102 - generated from the mapping, not from user input
    return ns[name]


def install(mapper: "Mapper") -> None:
    """Generate and attach the per-model code."""
    cls = mapper.cls
    cls.__init__ = make_init(mapper)  # type: ignore[misc]
    cls.__ar_setters__ = make_setters(mapper)  # type: ignore[attr-defined]
    mapper.key_of = make_key_getter(mapper)  # type: ignore[attr-defined]


def _checker_error(mapper: "Mapper") -> Callable[[str, Any], None]:
    props = mapper.props

    def bad(name: str, value: Any) -> None:
        prop = props[name]
        if prop.kind == "scalar":
            want = prop.ctype.kind if prop.ctype.kind not in ("enum",) else prop.ctype.python_type.__name__
            if prop.ctype.kind == "json":
                want = prop.ctype.python_type.__name__
        elif prop.kind == "reference":
            want = f"a {prop.target.__name__}"
        else:
            want = f"a list of {prop.target.__name__}" if prop.many else f"a {prop.target.__name__}"
        nullable = getattr(prop, "nullable", False) or (prop.kind == "backref" and not prop.many)
        if nullable:
            want += " or None"
        if prop.kind == "scalar" and prop.ctype.kind in ("datetime", "time") and getattr(value, "tzinfo", None):
            raise ValidationError(
                f"{mapper.name}.{name} takes naive {prop.ctype.kind} values, not {describe(value)}: "
                "convert to UTC and drop tzinfo (value.astimezone(timezone.utc).replace(tzinfo=None))")
        raise ValidationError(f"{mapper.name}.{name} must be {want}, not {describe(value)}")

    return bad


def _check_src(prop: Any, var: str, ns: dict[str, Any]) -> str:
    if prop.kind == "scalar":
        src = prop.ctype.check_source(var, ns, prop.name)
        if prop.autoincrement and not prop.ctype.nullable:
            src = f"({var} is None or {src})"  # None: let the database generate it
        return src
    ns[f"_T_{prop.name}"] = prop.target
    src = f"isinstance({var}, _T_{prop.name})"
    if prop.nullable:
        src = f"({var} is None or {src})"
    return src


def make_init(mapper: "Mapper") -> Callable[..., None]:
    """The keyword-only constructor: defaults, type checks, back-reference lists."""
    ns: dict[str, Any] = dict(CHECK_GLOBALS)
    ns.update(_M=MISSING, _ar_NEW=NEW_STATE, _ar_RL=RelationList, _ar_bad=_checker_error(mapper))
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
            body.append(f"    if not {_check_src(prop, n, ns)}: _ar_bad({n!r}, {n})")
        elif prop.default is not MISSING:
            ns[f"_dv_{n}"] = prop.default
            body.append(f"        {n} = _dv_{n}")
            body.append(f"    elif not {_check_src(prop, n, ns)}: _ar_bad({n!r}, {n})")
        else:
            body.append(f"        _ar_missing({n!r})")
            body.append(f"    if not {_check_src(prop, n, ns)}: _ar_bad({n!r}, {n})")
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
            body.append("    else:")
            body.append(f"        _ar_d[{n!r}] = _ab_{n}({n})")
        else:
            body.append(f"    _ar_d[{n!r}] = None if {n} is _M else _ab_{n}({n})")
    body.append(f"    _ar_d[{STATE_KEY!r}] = _ar_NEW")  # shared until it changes
    for ref in mapper.references:
        # show the new object in the target's loaded back references
        if ref.inverses:
            body.append(f"    if {ref.name} is not None:")
            body.append(f"        _ar_td = {ref.name}.__dict__")
            for back in ref.inverses:
                if back.many:
                    body.append(f"        _ar_t = _ar_td.get({back.name!r})")
                    body.append("        if _ar_t is not None: _ar_t.append(_ar_self)")
                else:
                    body.append(f"        if {back.name!r} in _ar_td: _ar_td[{back.name!r}] = _ar_self")
    sig = ", ".join(params + ["**_ar_extra"])
    src = f"def __init__(_ar_self, *, {sig}):\n" + "\n".join(body) + "\n"
    fn = _compile(src, "__init__", ns, f"<activerel {model}.__init__>")
    fn.__qualname__ = f"{mapper.cls.__qualname__}.__init__"
    return fn  # type: ignore[no-any-return]


def _backref_value(mapper: "Mapper", back: "BackRefProp") -> Callable[[Any], Any]:
    target = back.target
    bad = _checker_error(mapper)

    def value(v: Any) -> Any:
        if back.many:
            if not isinstance(v, (list, tuple)) or not all(isinstance(o, target) for o in v):
                bad(back.name, v)
            return relation_list(v)
        if v is not None and not isinstance(v, target):
            bad(back.name, v)
        return v

    return value


def make_setters(mapper: "Mapper") -> dict[str, Callable[[Any, Any], None]]:
    setters: dict[str, Callable[[Any, Any], None]] = {}
    bad = _checker_error(mapper)
    for prop in mapper.scalars:
        setters[prop.name] = _scalar_setter(prop, bad)
    for ref in mapper.references:
        setters[ref.name] = _reference_setter(ref, bad)
    for back in mapper.backrefs:
        setters[back.name] = _backref_setter(mapper, back)
    return setters


def _make_check(prop: Any) -> Callable[[Any], bool]:
    ns: dict[str, Any] = dict(CHECK_GLOBALS)
    src = f"def check(v):\n    return {_check_src(prop, 'v', ns)}\n"
    return _compile(src, "check", ns, f"<activerel check {prop.qualname()}>")  # type: ignore[no-any-return]


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


def _scalar_setter(prop: "ScalarProp", bad: Callable[[str, Any], None]) -> Callable[[Any, Any], None]:
    check = _make_check(prop)
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


def _reference_setter(ref: "ReferenceProp", bad: Callable[[str, Any], None]) -> Callable[[Any, Any], None]:
    check = _make_check(ref)
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
                                del lst[i]
                                break
                    elif od[back] is obj:
                        od[back] = None
            if value is not None:
                vd = value.__dict__
                if back in vd:
                    if many:
                        lst = vd[back]
                        if not any(o is obj for o in lst):
                            lst.append(obj)
                    else:
                        vd[back] = obj

    return setter


def _same_row(a: Any, b: Any) -> bool:
    """Two instances of one row (e.g. loaded in different sessions)."""
    if a is MISSING or a is None or b is None or type(a) is not type(b):
        return False
    ka, kb = a._ar_state.key, b._ar_state.key
    return ka is not None and ka == kb and a._ar_state.status == b._ar_state.status == PERSISTENT


def _backref_setter(mapper: "Mapper", back: "BackRefProp") -> Callable[[Any, Any], None]:
    convert = _backref_value(mapper, back)
    name = back.name

    def setter(obj: Any, value: Any) -> None:
        value = convert(value)
        d = obj.__dict__
        if back.many:
            old = d.get(name)
            value.baseline = old.baseline if isinstance(old, RelationList) else ()
        else:
            state = obj._ar_state
            if name in d and state.status != NEW:
                base = state.baseline
                if base is None:
                    state.baseline = base = {}
                base.setdefault(name, d[name])
        d[name] = value

    return setter


def make_key_getter(mapper: "Mapper") -> Callable[[Any], Any]:
    """obj -> its identity key: the primary-key value, or a tuple of the
    physical key columns' values for a composite key. None while unknown."""
    parts = []
    for prop in mapper.pk_props:
        if prop.kind == "scalar":
            parts.append(("scalar", prop.name, None))
        else:
            parts.append(("ref", prop.name, len(prop.columns)))
    if len(parts) == 1 and parts[0][0] == "scalar":
        name = parts[0][1]

        def key_scalar(obj: Any) -> Any:
            return obj.__dict__.get(name)

        return key_scalar

    def key(obj: Any) -> Any:
        d = obj.__dict__
        values: list[Any] = []
        for kind, name, width in parts:
            v = d.get(name)
            if kind == "scalar":
                values.append(v)
            elif v is None:
                values.extend([None] * width)  # type: ignore[list-item]
            else:
                k = type(v).__ar_mapper__.key_of(v)
                if width == 1:
                    values.append(k)
                else:
                    values.extend(k if k is not None else [None] * width)  # type: ignore[list-item]
        if len(values) == 1:
            return values[0]
        if any(v is None for v in values):
            return None
        return tuple(values)

    return key
