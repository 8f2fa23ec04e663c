"""The undo log of a transaction: what every object the unit of work touched
looked like before, so a rollback leaves the Python objects exactly as they
were (new objects new again with their old key, dirty ones still dirty)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .relations import RelationList
from .state import PERSISTENT

if TYPE_CHECKING:
    from .session import Session


class UndoLog:
    """Snapshots taken the first time a transaction touches an object."""

    __slots__ = ("_saved",)

    def __init__(self) -> None:
        self._saved: dict[int, tuple] = {}

    def save(self, obj: Any) -> None:
        """Snapshot ``obj`` unless this transaction already did."""
        oid = id(obj)
        if oid in self._saved:
            return
        st = obj._ar_state
        d = obj.__dict__
        lists = {name: (v, list(v), v.baseline) for name, v in d.items() if isinstance(v, RelationList)}
        self._saved[oid] = (obj, st.status, st.key, st.session, dict(st.dirty) if st.dirty else None,
                            dict(st.baseline) if st.baseline else None, st.stub_of, dict(d), lists)

    def save_new(self, obj: Any) -> None:
        """Snapshot a new object that a flush will only give a key and state."""
        oid = id(obj)
        if oid in self._saved:
            return
        st = obj._ar_state
        d = obj.__dict__
        mapper = type(obj).__ar_mapper__
        auto = mapper.autoincrement
        lists = {}
        for back in mapper.backrefs:
            v = d.get(back.name)
            if isinstance(v, RelationList):
                lists[back.name] = (v, None, v.baseline)
        self._saved[oid] = (obj, st.status, st.key, st.session, None,
                            dict(st.baseline) if st.baseline else None, st.stub_of,
                            (auto.name, d.get(auto.name)) if auto is not None else None, lists)

    def __bool__(self) -> bool:
        return bool(self._saved)

    def clear(self) -> None:
        self._saved.clear()

    def restore(self, session: "Session") -> None:
        """Put every saved object back as it was and fix the identity map."""
        imap = session.identity
        for obj, status, key, owner, dirty, baseline, stub_of, d, lists in self._saved.values():
            st = obj._ar_state
            mapper = type(obj).__ar_mapper__
            if st.key is not None:
                imap.discard(mapper, st.key, obj)
            st.status, st.key, st.session, st.dirty = status, key, owner, dirty
            st.baseline, st.stub_of = baseline, stub_of
            od = obj.__dict__
            if isinstance(d, dict):
                od.clear()
                od.update(d)
            elif d is not None:  # a light snapshot: only the generated key changed
                od[d[0]] = d[1]
            for name, (lst, items, base) in lists.items():
                if items is not None:
                    lst[:] = items
                lst.baseline = base
            if status == PERSISTENT and key is not None and owner is session:
                imap.add(mapper, key, obj)
        self._saved.clear()
