"""Collections held by back references. A :class:`RelationList` is a plain
list that remembers what it held when it was loaded or last flushed, so the
unit of work can tell which objects were added and which removed."""
from __future__ import annotations

from typing import Any, Iterable


class RelationList(list):  # type: ignore[type-arg]
    """A list of related objects plus the baseline the unit of work diffs against."""

    __slots__ = ("baseline", "partial")

    def __init__(self, items: Iterable[Any] = (), baseline: tuple[Any, ...] = ()) -> None:
        super().__init__(items)
        self.baseline = baseline
        #: loaded through a filtered or paged join: holds part of the relation
        self.partial = False

    def changed(self) -> bool:
        base = self.baseline
        if len(base) != len(self):
            return True
        for a, b in zip(self, base):
            if a is not b:
                return True
        return False

    def added(self) -> list[Any]:
        ids = {id(o) for o in self.baseline}
        return [o for o in self if id(o) not in ids]

    def removed(self) -> list[Any]:
        ids = {id(o) for o in self}
        return [o for o in self.baseline if id(o) not in ids]

    def rebase(self) -> None:
        self.baseline = tuple(self)
