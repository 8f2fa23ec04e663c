"""Collections held by back references. A :class:`RelationList` is a plain
list that remembers what it held when it was loaded or last flushed, so the
unit of work can tell which objects were added and which removed.

Made by constructors, loaders and the unit of work. Imports
:mod:`activerel.instance.state`."""
from __future__ import annotations

from typing import Any, Container, Iterable, Sequence, SupportsIndex

from .state import mark_changed


class RelationList(list[Any]):
    """A list of related objects plus the baseline the unit of work diffs
    against. A new object's lists are plain ones (a new object is inserted
    whole); once its owner has a row, the list is a :class:`TrackedList`."""

    # No __init__ of its own: list's C constructor plus slot stores is a
    # fraction of a Python __init__, and loading builds one list per parent.
    # Every instance comes from relation_list() or sets its slots itself.
    __slots__ = ("baseline", "partial", "owner", "name")

    #: what the list held when loaded or last flushed
    baseline: Sequence[Any]
    #: loaded through a filtered or paged join: holds part of the relation
    partial: bool
    #: the object whose back reference this is, and the back reference's name
    owner: Any
    name: str

    # -- the unit of work's view -------------------------------------------
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

    def replace_all(self, items: Iterable[Any]) -> None:
        """Hold ``items`` (the library putting back what it knows, not a change)."""
        list.__setitem__(self, slice(None), items)

    def remove_obj(self, obj: Any) -> bool:
        """Take ``obj`` out of the list and of its baseline (a row that is gone
        or points elsewhere now); whether it was there."""
        if not any(o is obj for o in self):
            return False
        list.__setitem__(self, slice(None), [o for o in self if o is not obj])
        self.baseline = tuple(o for o in self.baseline if o is not obj)
        return True

    def remove_ids(self, ids: Container[int]) -> None:
        """Take every object whose ``id()`` is in ``ids`` out of the list and
        of its baseline, in one pass over each: many objects leave one list
        for O(len) in all, where :meth:`remove_obj` costs O(len) each."""
        list.__setitem__(self, slice(None), [o for o in self if id(o) not in ids])
        self.baseline = tuple(o for o in self.baseline if id(o) not in ids)

    def append_obj(self, obj: Any, known_absent: bool = False) -> bool:
        """Add ``obj`` to the list and its baseline unless it is there (a link
        written by the flush; ``known_absent``: the caller knows it is not,
        so nothing is scanned); whether it was added. The baseline becomes a
        list of its own, so that appends cost O(1) however long it grows."""
        if not known_absent and any(o is obj for o in self):
            return False
        list.append(self, obj)
        base = self.baseline
        if type(base) is list:
            base.append(obj)
        else:
            self.baseline = [*base, obj]
        return True


def relation_list(items: Iterable[Any], owner: Any, name: str, baseline: tuple[Any, ...] = (),
                  partial: bool = False, tracked: bool = False) -> RelationList:
    lst = TrackedList(items) if tracked else RelationList(items)
    lst.baseline = baseline
    lst.partial = partial
    lst.owner = owner
    lst.name = name
    return lst


class TrackedList(RelationList):
    """The list of an object that has a row: changing it (append, remove,
    ...) is a change of the object that holds it (its ``owner``), recorded as
    a changed field is, so that inside a session the owner is flushed at the
    end. Made by loading, and by the flush for the lists of the objects it
    inserts (a ``__class__`` switch: the two classes share their layout).
    The library's own bookkeeping changes it through ``list``'s methods,
    which record nothing."""

    __slots__ = ()

    # -- changes made by the user: recorded on the owner ----------------------
    def _touched(self) -> None:
        try:
            owner = self.owner
        except AttributeError:
            return  # being rebuilt (unpickled): its items come before its owner
        mark_changed(owner, self.name, self.baseline)

    def append(self, obj: Any) -> None:
        list.append(self, obj)
        self._touched()

    def extend(self, objs: Iterable[Any]) -> None:
        list.extend(self, objs)
        self._touched()

    def insert(self, index: SupportsIndex, obj: Any) -> None:
        list.insert(self, index, obj)
        self._touched()

    def remove(self, obj: Any) -> None:
        list.remove(self, obj)
        self._touched()

    def pop(self, index: SupportsIndex = -1) -> Any:
        obj = list.pop(self, index)
        self._touched()
        return obj

    def clear(self) -> None:
        list.clear(self)
        self._touched()

    def sort(self, *args: Any, **kwargs: Any) -> None:
        list.sort(self, *args, **kwargs)
        self._touched()

    def reverse(self) -> None:
        list.reverse(self)
        self._touched()

    def __setitem__(self, index: Any, value: Any) -> None:
        list.__setitem__(self, index, value)
        self._touched()

    def __delitem__(self, index: Any) -> None:
        list.__delitem__(self, index)
        self._touched()

    def __iadd__(self, objs: Iterable[Any]) -> "RelationList":  # type: ignore[override, misc]
        list.extend(self, objs)
        self._touched()
        return self

    def __imul__(self, n: SupportsIndex) -> "RelationList":  # type: ignore[override]
        list.__imul__(self, n)
        self._touched()
        return self
