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
    """The state of one model instance; ``activerel.inspect(obj)`` returns it."""

    __slots__ = ("status", "key", "session", "dirty", "stub_of", "baseline")

    def __init__(self, status: int = NEW, key: Any = None, session: Optional["Session"] = None,
                 stub_of: Optional[tuple[str, str]] = None) -> None:
        self.status = status
        self.key = key
        self.session = session
        #: field name -> value before the first unsaved change (None when clean)
        self.dirty: Optional[dict[str, Any]] = None
        #: for a stub: (model name, reference field) it was reached through
        self.stub_of = stub_of
        #: one-to-one back reference -> the object it held when loaded or flushed
        self.baseline: Optional[dict[str, Any]] = None

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


def inspect(obj: Any) -> ObjectState:
    """The :class:`ObjectState` of a model instance."""
    try:
        return obj._ar_state  # type: ignore[no-any-return]
    except AttributeError:
        raise TypeError(f"{obj!r} is not an activerel model instance") from None
