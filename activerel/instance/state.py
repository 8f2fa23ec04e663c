"""Per-object bookkeeping: whether an object is new, persistent, a stub or
deleted, its identity key, its session and its unsaved changes.

The state lives in the instance ``__dict__`` under ``_ar_state``, beside the
fields (as SQLAlchemy keeps ``_sa_instance_state``). A row loaded into a
session gets no state at all: it carries only its session, under
``_ar_session``, and its :class:`ObjectState` is made the first time
something asks for it (:class:`StateOnDemand`). Most loaded objects are only
read, so a load allocates one object and one dict per row, not three
containers for the garbage collector to scan.

Read and written by every layer above (instrumented setters, hydrators, the
unit of work, the session). Imports nothing of activerel: the session an
object belongs to is seen through the :class:`Owner` protocol."""
from __future__ import annotations

import json
from typing import Any, Iterable, Optional, Protocol

#: an object's status (``ObjectState.status``); plain ints, written into
#: generated code as literals
NEW = 0
PERSISTENT = 1
DELETED = 2
STATUS_NAMES = ("new", "persistent", "deleted")


class Owner(Protocol):
    """What an object's state needs of the session that owns it: whether it
    is still active, and where to record an object that became dirty."""

    active: bool
    dirty: dict[int, Any]


#: instance-dict keys: the object's state, and the session of a loaded
#: object whose state has not been made yet
STATE_KEY = "_ar_state"
SESSION_KEY = "_ar_session"


class ObjectState:
    """The state of one model instance; ``activerel.inspect(obj)`` returns it.

    It has no Python ``__init__``, so ``ObjectState()`` is one C-level
    allocation, cheaper than an ``__init__`` call or ``object.__new__``;
    generated code fills the slots inline (see :func:`state_source`), other
    code calls :func:`new_state`. New objects share :data:`NEW_STATE` until
    they get their own; loaded objects get theirs on first use."""

    __slots__ = ("status", "key", "session", "dirty", "stub_of", "baseline")

    status: int
    key: Any
    session: Optional["Owner"]
    #: field name -> value before the first unsaved change (None when clean)
    dirty: Optional[dict[str, Any]]
    #: for a stub: (model name, reference field) it was reached through
    stub_of: Optional[tuple[str, str]]
    #: one-to-one back reference -> the object it held when loaded or flushed
    baseline: Optional[dict[str, Any]]

    @property
    def is_new(self) -> bool:
        return self.status == NEW

    @property
    def is_persistent(self) -> bool:
        return self.status == PERSISTENT

    @property
    def is_deleted(self) -> bool:
        return self.status == DELETED

    @property
    def is_dirty(self) -> bool:
        return bool(self.dirty)

    @property
    def is_stub(self) -> bool:
        return self.stub_of is not None

    @property
    def changes(self) -> dict[str, Any]:
        """Changed field -> its value before the change (a copy)."""
        return dict(self.dirty) if self.dirty else {}

    def __getstate__(self) -> tuple[None, dict[str, Any]]:
        """Pickled without its session (which holds a connection): the copy
        is detached, as an object of a finished session is."""
        slots = {name: getattr(self, name) for name in ObjectState.__slots__}
        slots["session"] = None
        return None, slots

    def __repr__(self) -> str:
        status = STATUS_NAMES[self.status]
        extra = " stub" if self.stub_of else ""
        extra += f" dirty={sorted(self.dirty)}" if self.dirty else ""
        return f"<ObjectState {status}{extra} key={self.key!r}>"


class _SharedNewState(ObjectState):
    """The one state every new object starts with: new, no key, no session.
    Sharing it spares each constructed object an allocation and the garbage
    collector a container. It is read-only; :func:`own_state` gives an object
    a state of its own before anything in it changes."""

    __slots__ = ()

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("the shared state of new objects is read-only: "
                             "take the object's own_state() first")

    def __reduce__(self) -> str:
        return "NEW_STATE"  # copies and pickles stay the one shared state


def _new_state_fields(st: ObjectState) -> ObjectState:
    for slot in ObjectState.__slots__:
        getattr(ObjectState, slot).__set__(st, NEW if slot == "status" else None)
    return st


NEW_STATE: ObjectState = _new_state_fields(_SharedNewState())


class StateOnDemand:
    """``Model._ar_state``: the state of a loaded object that has none in its
    ``__dict__`` yet, made from its session and key on first access and
    stored there, so later reads are plain dictionary hits. A non-data
    descriptor: an instance's own ``_ar_state`` shadows it."""

    __slots__ = ()

    def __get__(self, obj: Any, cls: Any = None) -> Any:
        if obj is None:
            return self
        d = obj.__dict__
        try:
            session = d[SESSION_KEY]
        except KeyError:
            raise AttributeError(f"{type(obj).__name__} instance has no activerel state") from None
        st = new_state(PERSISTENT, type(obj).__ar_mapper__.key_of(obj), session)
        d[STATE_KEY] = st
        return st


def set_state(obj: Any, st: ObjectState) -> None:
    """Give ``obj`` the state ``st`` (without the model's ``__setattr__``)."""
    obj.__dict__[STATE_KEY] = st


def state_if_made(obj: Any) -> Optional[ObjectState]:
    """``obj``'s state if it has one; None for a loaded object nothing has
    asked about yet, which is persistent, clean and not a stub."""
    st: Optional[ObjectState] = obj.__dict__.get(STATE_KEY)
    return st


def identity_key(obj: Any) -> Any:
    """``obj``'s identity key without making a state for it."""
    st = obj.__dict__.get(STATE_KEY)
    return type(obj).__ar_mapper__.key_of(obj) if st is None else st.key


def own_state(obj: Any) -> ObjectState:
    """``obj``'s state, first made its own if it still shares :data:`NEW_STATE`."""
    st: ObjectState = obj._ar_state
    if st is NEW_STATE:
        st = new_state()
        set_state(obj, st)
    return st


def new_state(status: int = NEW, key: Any = None, session: Optional["Owner"] = None,
              stub_of: Optional[tuple[str, str]] = None) -> ObjectState:
    """A state with every slot set: clean, not a stub unless ``stub_of``."""
    st = ObjectState()
    st.status = status
    st.key = key
    st.session = session
    st.stub_of = stub_of
    st.dirty = st.baseline = None
    return st


def state_source(indent: str, var: str, status: str, key: str, session: str,
                 stub_of: str = "None") -> list[str]:
    """Generated lines that build a state in ``var`` (``_State`` bound to
    :class:`ObjectState`): one C-level allocation and slot stores."""
    return [f"{indent}{var} = _State()",
            f"{indent}{var}.status = {status}",
            f"{indent}{var}.key = {key}",
            f"{indent}{var}.session = {session}",
            f"{indent}{var}.stub_of = {stub_of}",
            f"{indent}{var}.dirty = {var}.baseline = None"]


def is_persistent(obj: Any) -> bool:
    """Whether ``obj`` stands for a row (without making a state for it; a
    half-built object under construction has none and is not)."""
    d = obj.__dict__
    st: Optional[ObjectState] = d.get(STATE_KEY)
    if st is None:
        return SESSION_KEY in d  # loaded, its state not made yet
    return st.status == PERSISTENT


#: instance-dict key of the JSON text of an object's JSON fields as loaded or
#: last flushed: a dict or list changed in place shows against it
JSON_KEY = "_ar_json"


def _json_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=repr)


def remember_json(objs: Iterable[Any], fields: tuple[str, ...]) -> None:
    """Note what the JSON ``fields`` of ``objs`` hold now (after a load or a
    flush), for :func:`changed_in_place` to compare with."""
    for obj in objs:
        d = obj.__dict__
        d[JSON_KEY] = {name: _json_text(d[name]) for name in fields if name in d}


def changed_in_place(obj: Any) -> None:
    """Record as changes the JSON fields of ``obj`` whose dict or list was
    changed in place since it was loaded or flushed (``prefs["lang"] =
    "fr"``), with the value as it was for their original."""
    d = obj.__dict__
    seen = d.get(JSON_KEY)
    if not seen:
        return
    st = d.get(STATE_KEY)
    dirty = st.dirty if st is not None else None
    for name, text in seen.items():
        if (dirty is None or name not in dirty) and _json_text(d.get(name)) != text:
            mark_changed(obj, name, json.loads(text))
            dirty = obj._ar_state.dirty


def mark_changed(obj: Any, name: str, original: Any) -> None:
    """Record that persistent ``obj``'s relation ``name`` changed (a back
    reference's list or one-to-one object; scalar fields and references are
    tracked by their setters): ``original`` is what it held when loaded or
    last flushed. Inside an active session the object is then flushed at the
    end, as an object with a changed field is."""
    d = obj.__dict__
    st = d.get(STATE_KEY)
    if st is None:
        if SESSION_KEY not in d:
            return  # being built (copied or unpickled): no row of its own yet
        st = obj._ar_state
    if st.status != PERSISTENT:
        return  # a new object is inserted whole; a deleted one is gone
    dirty = st.dirty
    if dirty is None:
        st.dirty = dirty = {}
    dirty.setdefault(name, original)
    session = st.session
    if session is not None and session.active:
        session.dirty[id(obj)] = obj


def inspect(obj: Any) -> ObjectState:
    """The :class:`ObjectState` of a model instance: the same object for the
    instance's whole life, updated as it is persisted or deleted."""
    try:
        return own_state(obj)
    except AttributeError:
        raise TypeError(f"{obj!r} is not an activerel model instance") from None
