"""Loaded objects follow what set-based writes did: rows deleted by a
cascade are marked deleted and taken out of the identity map and of the
loaded relation lists that held them; references set to NULL are cleared.
Every object is snapshotted in the undo log before it changes.

Objects leave the lists at the end, all of a list's at once
(:class:`_Removals`): deleting the n loaded children of a parent that
stays takes each out of the parent's list, and one at a time each removal
would scan and rebuild that list, O(n²) in all.

Called by :mod:`activerel.unitofwork.cascade` and by bulk updates. Imports
:mod:`activerel.instance` and :mod:`activerel.mapping`."""
from __future__ import annotations

from typing import Any, Iterable, Protocol

from ..instance.collections import RelationList
from ..instance.identity import IdentityMap
from ..instance.state import DELETED
from ..instance.undo import UndoLog
from ..mapping.mapper import Mapper
from ..mapping.properties import ReferenceProp


class ReflectSession(Protocol):
    """What reflecting writes needs of a session."""

    identity: IdentityMap
    undo: UndoLog


class _Removals:
    """Objects to take out of loaded relation lists, gathered while
    reflecting and applied by :meth:`apply`, one pass per list. Until then
    :meth:`remove` and :meth:`items` answer as if each removal were done."""

    __slots__ = ("_held", "_gone")

    def __init__(self) -> None:
        #: id(list) -> the ids of the objects it holds, less those leaving it
        self._held: dict[int, set[int]] = {}
        #: id(list) -> (the list, the ids of the objects leaving it)
        self._gone: dict[int, tuple[RelationList, set[int]]] = {}

    def remove(self, lst: RelationList, obj: Any) -> bool:
        """Take ``obj`` out of ``lst`` and its baseline (at :meth:`apply`);
        whether ``lst`` held it."""
        key = id(lst)
        held = self._held.get(key)
        if held is None:
            held = self._held[key] = {id(o) for o in lst}
        oid = id(obj)
        if oid not in held:
            return False
        held.discard(oid)
        entry = self._gone.get(key)
        if entry is None:
            self._gone[key] = (lst, {oid})
        else:
            entry[1].add(oid)
        return True

    def items(self, lst: list[Any]) -> Iterable[Any]:
        """What ``lst`` holds, less the objects leaving it."""
        entry = self._gone.get(id(lst))
        if entry is None:
            return lst
        gone = entry[1]
        return [o for o in lst if id(o) not in gone]

    def apply(self) -> None:
        for lst, gone in self._gone.values():
            lst.remove_ids(gone)


def reflect(session: ReflectSession, doomed: dict[Mapper, dict[Any, None]],
            nulls: list[tuple[ReferenceProp, list[Any]]],
            known: dict[tuple[Mapper, Any], Any]) -> None:
    """Make loaded objects agree with what was just written."""
    undo = session.undo
    identity = session.identity
    removals = _Removals()
    for ref, nulled in nulls:
        imap = identity.for_mapper(ref.owner)
        for k in nulled:
            obj = imap.get(k) or known.get((ref.owner, k))
            if obj is None:
                continue
            d = obj.__dict__
            old = d.get(ref.name)
            undo.save(obj)
            if old is not None:
                _unlink(undo, removals, obj, ref, old)
            d[ref.name] = None
            st = obj._ar_state
            if st.dirty and ref.name in st.dirty:
                del st.dirty[ref.name]
                if not st.dirty:
                    st.dirty = None
    for mapper, keys in doomed.items():
        imap = identity.for_mapper(mapper)
        for k in keys:
            obj = imap.pop(k, None) or known.get((mapper, k))
            if obj is None or obj._ar_state.status == DELETED:
                continue
            undo.save(obj)
            obj._ar_state.status = DELETED
            d = obj.__dict__
            for ref in mapper.references:
                t = d.get(ref.name)
                if t is not None and t._ar_state.status != DELETED:
                    _unlink(undo, removals, obj, ref, t)
            for back in mapper.backrefs:
                inverse = back.via_inverse
                if inverse is None or back.name not in d:
                    continue
                for item in removals.items(d[back.name]):
                    lst = item.__dict__.get(inverse.name)
                    # (the item is saved before its list changes, at apply())
                    if isinstance(lst, RelationList) and removals.remove(lst, obj):
                        undo.save(item)
    removals.apply()


def _unlink(undo: UndoLog, removals: _Removals, obj: Any, ref: ReferenceProp,
            target: Any) -> None:
    """Take ``obj`` out of ``target``'s loaded back references of ``ref``."""
    td = target.__dict__
    for back in ref.inverses:
        if back.name not in td:
            continue
        if back.many:
            if removals.remove(td[back.name], obj):
                undo.save(target)
        elif td[back.name] is obj:
            undo.save(target)
            td[back.name] = None
            base = target._ar_state.baseline
            if base is not None and base.get(back.name) is obj:
                base[back.name] = None
