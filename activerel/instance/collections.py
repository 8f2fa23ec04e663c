"""Collections held by back references. A :class:`RelationList` is a plain
list that remembers what it held when it was loaded or last flushed, so the
unit of work can tell which objects were added and which removed.

Made by constructors, loaders and the unit of work. Imports nothing of
activerel."""
from __future__ import annotations

from typing import Any, Iterable


class RelationList(list):
    """A list of related objects plus the baseline the unit of work diffs against."""

    # No __init__ of its own: list's C constructor plus two slot stores is a
    # fraction of a Python __init__, and loading builds one list per parent.
    # Every instance comes from relation_list() or sets both slots itself.
    __slots__ = ("baseline", "partial")

    #: what the list held when loaded or last flushed
    baseline: tuple[Any, ...]
    #: loaded through a filtered or paged join: holds part of the relation
    partial: bool

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
        """Take what the list holds now as its baseline (after a load or flush)."""
        self.baseline = tuple(self)

    def remove_obj(self, obj: Any) -> bool:
        """Take ``obj`` out of the list and of its baseline (a row that is gone
        or points elsewhere now); whether it was there."""
        if not any(o is obj for o in self):
            return False
        self[:] = [o for o in self if o is not obj]
        self.baseline = tuple(o for o in self.baseline if o is not obj)
        return True

    def append_obj(self, obj: Any) -> bool:
        """Add ``obj`` to the list and its baseline unless it is there (a link
        written by the flush); whether it was added."""
        if any(o is obj for o in self):
            return False
        self.append(obj)
        self.baseline = self.baseline + (obj,)
        return True


def relation_list(items: Iterable[Any] = (), baseline: tuple[Any, ...] = (),
                  partial: bool = False) -> RelationList:
    lst = RelationList(items)
    lst.baseline = baseline
    lst.partial = partial
    return lst
