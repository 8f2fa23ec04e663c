"""The session of the current context: the innermost ``with db.session():``
block of this thread or task.

Its own module, with nothing to import, so the active-record methods of
:class:`~activerel.model.Model` can ask for it at module level instead of
importing the session module on every call (which :mod:`activerel.session`
cannot spare them: it imports the model module itself)."""
from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from .session import Session

_current: ContextVar[Optional["Session"]] = ContextVar("activerel_session", default=None)


def current_session() -> Optional["Session"]:
    """The innermost active session of this context, if any."""
    s = _current.get()
    return s if s is not None and s.active else None
