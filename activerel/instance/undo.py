"""The undo log of a transaction: what every object the unit of work touched
looked like before, so a rollback leaves the Python objects exactly as they
were (new objects new again with their old key, dirty ones still dirty).

Owned by the session; filled by the unit of work and bulk operations.
Imports the rest of :mod:`activerel.instance`."""
from __future__ import annotations

from typing import Any

from .collections import RelationList
from .identity import IdentityMap
from .state import NEW, NEW_STATE, PERSISTENT, SESSION_KEY, Owner, own_state


class UndoLog:
    """Snapshots taken the first time a transaction touches an object.

    Objects a flush inserts straight from their constructor (they still
    share :data:`NEW_STATE` and hold their generated key's default) are
    their own snapshot: each flush's are kept as one list in ``_fresh``, with
    no entry in ``_saved``. An object of ``_fresh`` has no earlier snapshot
    (:meth:`save_new` leaves out those that have one), so any entry it gets
    in ``_saved`` later is younger, and :meth:`restore` puts ``_fresh`` back
    last: the oldest snapshot of every object wins, as in ``_saved``."""

    __slots__ = ("_saved", "_fresh")

    def __init__(self) -> None:
        #: id -> a full snapshot, or a light one of a new object: (obj,
        #: session, generated-key value, one-to-one baseline)
        self._saved: dict[int, tuple[Any, ...]] = {}
        #: per flush, the objects it inserted that are their own snapshot
        self._fresh: list[list[Any]] = []

    def save(self, obj: Any) -> None:
        """Snapshot ``obj`` unless this transaction already did."""
        oid = id(obj)
        if oid in self._saved:
            return
        st = obj._ar_state
        d = obj.__dict__
        lists = None
        for name in type(obj).__ar_mapper__.backref_names:  # only back references hold lists
            v = d.get(name)
            if v is not None and isinstance(v, RelationList):
                if lists is None:
                    lists = {}
                lists[name] = (v, list(v), tuple(v.baseline))  # (a baseline may grow in place)
        # (dict.copy, not dict(): it copies a split-table instance dict whole)
        self._saved[oid] = (obj, st.status, st.key, st.session,
                            st.dirty.copy() if st.dirty else None,
                            st.baseline.copy() if st.baseline else None, st.stub_of, d.copy(), lists)

    def save_new(self, objs: list[Any]) -> None:
        """Snapshot new objects that a flush (one without deletes) will only give
        a key, a state and rebased lists. While an object is new its lists'
        baselines are empty and it has no changes or stub origin, so the
        snapshot keeps just its session, generated key and one-to-one baseline;
        one just constructed is its own snapshot, in the flush's list of
        ``_fresh`` objects (a dict entry and two tuples for each of W1's
        320,000 new objects at N = 20,000 kept 69 MiB)."""
        saved = self._saved
        fresh = []
        for obj in objs:
            if id(obj) in saved:
                continue  # the first snapshot of the transaction wins
            st = obj._ar_state
            auto = type(obj).__ar_mapper__.autoincrement
            value = None if auto is None else obj.__dict__.get(auto.name)
            if st is NEW_STATE and (auto is None or value is auto.default):
                fresh.append(obj)
            else:
                saved[id(obj)] = (obj, st.session, value,
                                  dict(st.baseline) if st.baseline else None)
        if fresh:
            self._fresh.append(fresh)

    def __bool__(self) -> bool:
        return bool(self._saved or self._fresh)

    def absorb(self, inner: "UndoLog") -> None:
        """Take over a released savepoint's snapshots of objects this log has
        none of yet (untouched before the savepoint, their state then was
        their state at this log's start)."""
        saved = self._saved
        for oid, snapshot in inner._saved.items():
            if oid not in saved:
                saved[oid] = snapshot
        # (new when the savepoint began: no snapshot here, nor an older one)
        self._fresh += inner._fresh
        inner._saved.clear()
        inner._fresh = []

    def clear(self) -> None:
        self._saved.clear()
        self._fresh = []

    def restore(self, imap: IdentityMap, session: Owner) -> None:
        """Put every saved object back as it was and fix ``session``'s identity map."""
        for snapshot in self._saved.values():
            obj = snapshot[0]
            if len(snapshot) == 4:
                _, owner, value, baseline = snapshot
                _renew(imap, obj, owner, value, baseline, default=False)
                continue
            st = own_state(obj)
            mapper = type(obj).__ar_mapper__
            if st.key is not None:
                imap.discard(mapper, st.key, obj)
            _, status, key, owner, dirty, baseline, stub_of, d, lists = snapshot
            st.status, st.key, st.session, st.dirty = status, key, owner, dirty
            st.baseline, st.stub_of = baseline, stub_of
            od = obj.__dict__
            od.clear()
            od.update(d)
            for name, (lst, items, base) in (lists or {}).items():
                if items is not None:
                    lst.replace_all(items)
                lst.baseline = base
            if status == PERSISTENT and key is not None and owner is session:
                imap.add(mapper, key, obj)
        for fresh in self._fresh:  # last: their snapshots are the oldest
            for obj in fresh:
                _renew(imap, obj, None, None, None, default=True)
        self._saved.clear()
        self._fresh = []


def _renew(imap: IdentityMap, obj: Any, owner: Any, value: Any, baseline: Any,
           default: bool) -> None:
    """Make ``obj`` new again, out of ``imap``: its session ``owner``, its
    generated key ``value`` (its default if ``default``), its one-to-one
    ``baseline``, its lists' baselines empty."""
    st = own_state(obj)  # (an inserted object's is made from its session marker)
    mapper = type(obj).__ar_mapper__
    if st.key is not None:
        imap.discard(mapper, st.key, obj)
    st.status, st.key, st.session, st.dirty, st.baseline = NEW, None, owner, None, baseline
    od = obj.__dict__
    od.pop(SESSION_KEY, None)
    auto = mapper.autoincrement
    if auto is not None:
        od[auto.name] = auto.default if default else value
    for v in od.values():
        if isinstance(v, RelationList):
            v.baseline = ()
