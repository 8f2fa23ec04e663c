"""Per-object bookkeeping: whether an object is new, persistent, a stub or
deleted, its identity key, its session and its unsaved changes. Kept in a
slot on every model instance, out of the way of the user's fields."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from .session import Session

NEW = 0
PERSISTENT = 1
DELETED = 2


class ObjectState:
    """The state of one model instance; ``activerel.inspect(obj)`` returns it.

    It has no Python ``__init__``, so ``ObjectState()`` is one C-level
    allocation, cheaper than an ``__init__`` call or ``object.__new__``;
    generated hydrators fill the slots inline (see :func:`state_source`),
    other code calls :func:`new_state`. New objects share
    :data:`NEW_STATE` until they get their own."""

    __slots__ = ("status", "key", "session", "dirty", "stub_of", "baseline")

    status: int
    key: Any
    session: Optional["Session"]
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

    def __repr__(self) -> str:
        status = ("new", "persistent", "deleted")[self.status]
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


NEW_STATE: ObjectState = _SharedNewState()
for _slot in ObjectState.__slots__:
    getattr(ObjectState, _slot).__set__(NEW_STATE, NEW if _slot == "status" else None)
del _slot


def own_state(obj: Any) -> ObjectState:
    """``obj``'s state, first made its own if it still shares :data:`NEW_STATE`."""
    st: ObjectState = obj._ar_state
    if st is NEW_STATE:
        st = new_state()
        _set_state(obj, st)
    return st


def new_state(status: int = NEW, key: Any = None, session: Optional["Session"] = None,
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


def inspect(obj: Any) -> ObjectState:
    """The :class:`ObjectState` of a model instance: the same object for the
    instance's whole life, updated as it is persisted or deleted."""
    try:
        return own_state(obj)
    except AttributeError:
        raise TypeError(f"{obj!r} is not an activerel model instance") from None


def _set_state(obj: Any, st: ObjectState) -> None:
    from .model import set_state
    set_state(obj, st)
