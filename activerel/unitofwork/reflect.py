"""Loaded objects follow what set-based writes did: rows deleted by a
cascade are marked deleted and taken out of the identity map and of the
loaded relation lists that held them; references set to NULL are cleared.
Every object is snapshotted in the undo log before it changes.

Called by :mod:`activerel.unitofwork.cascade` and by bulk updates. Imports
:mod:`activerel.instance` and :mod:`activerel.mapping`."""
from __future__ import annotations

from typing import Any, Protocol

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


def reflect(session: ReflectSession, doomed: dict[Mapper, dict[Any, None]],
            nulls: list[tuple[ReferenceProp, list[Any]]],
            known: dict[tuple[Mapper, Any], Any]) -> None:
    """Make loaded objects agree with what was just written."""
    undo = session.undo
    identity = session.identity
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
                _unlink(undo, obj, ref, old)
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
                    _unlink(undo, obj, ref, t)
            for back in mapper.backrefs:
                inverse = back.via_inverse
                if inverse is None or back.name not in d:
                    continue
                for item in d[back.name]:
                    lst = item.__dict__.get(inverse.name)
                    if isinstance(lst, RelationList) and any(o is obj for o in lst):
                        undo.save(item)
                        lst.remove_obj(obj)


def _unlink(undo: UndoLog, obj: Any, ref: ReferenceProp, target: Any) -> None:
    """Take ``obj`` out of ``target``'s loaded back references of ``ref``."""
    td = target.__dict__
    for back in ref.inverses:
        if back.name not in td:
            continue
        if back.many:
            lst = td[back.name]
            if any(o is obj for o in lst):
                undo.save(target)
                lst.remove_obj(obj)
        elif td[back.name] is obj:
            undo.save(target)
            td[back.name] = None
            base = target._ar_state.baseline
            if base is not None and base.get(back.name) is obj:
                base[back.name] = None
