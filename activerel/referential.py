"""Referential actions, enforced by the unit of work as well as by the
database, so they hold where foreign keys are missing or switched off.

Deletes are planned set-based, one statement per table per level: the
CASCADE closure is found with ``SELECT key ... WHERE fk IN (...)``, then
every RESTRICT / NO ACTION is checked before anything is written, then SET
NULL / SET DEFAULT rewrite the surviving dependents and the rows are deleted
children first. Loaded objects are updated to match."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Optional, Sequence

from .compiled import compiled, flat_key
from .errors import IntegrityError
from .relations import RelationList
from .state import DELETED

if TYPE_CHECKING:
    from .mapper import Mapper, ReferenceProp
    from .session import Session


def _chunks(keys: Sequence[Any], width: int, limit: int) -> Iterable[Sequence[Any]]:
    step = max(1, limit // max(1, width))
    for i in range(0, len(keys), step):
        yield keys[i:i + step]


def dependents(session: "Session", ref: "ReferenceProp", keys: Sequence[Any]) -> list[Any]:
    """Keys of the rows of ``ref``'s table whose ``ref`` points at one of ``keys``."""
    owner = ref.owner
    c = compiled(owner, session.dialect)
    target = compiled(ref.target_mapper, session.dialect)
    out: list[Any] = []
    for chunk in _chunks(keys, len(ref.columns), session.dialect.param_limit):
        params: list[Any] = []
        for k in chunk:
            params.extend(target.key_params(k))
        rows = session.fetch(c.fk_select_sql(ref, len(chunk)), params)
        out.extend(c.row_key(r) for r in rows)
    return out


def delete_objects(session: "Session", objs: Sequence[Any]) -> int:
    roots: dict[Any, dict[Any, None]] = {}
    for obj in objs:
        st = obj._ar_state
        if st.status == DELETED or st.key is None:
            continue
        roots.setdefault(type(obj).__ar_mapper__, {})[st.key] = None
        if st.session is not session:
            session.attach(obj)
    return delete_keys(session, {m: list(k) for m, k in roots.items()}, _loaded_dependents(objs))


def _loaded_dependents(objs: Sequence[Any]) -> dict[tuple["Mapper", Any], Any]:
    """Objects reachable from ``objs`` through loaded back references, by
    (mapper, key): they may live outside the session's identity map (loaded in
    an earlier session) and must still reflect the delete."""
    found: dict[tuple["Mapper", Any], Any] = {}
    stack = list(objs)
    seen: set[int] = set()
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        mapper = type(obj).__ar_mapper__
        st = obj._ar_state
        if st.key is not None:
            found[(mapper, st.key)] = obj
        d = obj.__dict__
        for back in mapper.backrefs:
            if back.via is not None or back.name not in d:
                continue
            value = d[back.name]
            items = value if back.many else ([value] if value is not None else [])
            for item in items:
                if item._ar_state.status != DELETED:
                    stack.append(item)
    return found


def delete_keys(session: "Session", roots: dict["Mapper", list[Any]],
                known: Optional[dict[tuple["Mapper", Any], Any]] = None) -> int:
    """Delete these rows and apply every on_delete pointing at them; returns
    the number of root rows deleted."""
    db = session.db
    doomed: dict["Mapper", dict[Any, None]] = {m: dict.fromkeys(keys) for m, keys in roots.items()}
    work = [(m, list(keys)) for m, keys in roots.items() if keys]
    while work:
        mapper, keys = work.pop()
        for ref in db.incoming(mapper):
            if ref.on_delete != "CASCADE":
                continue
            found = dependents(session, ref, keys)
            have = doomed.setdefault(ref.owner, {})
            fresh = [k for k in found if k not in have]
            if fresh:
                have.update(dict.fromkeys(fresh))
                work.append((ref.owner, fresh))
    nulls: list[tuple["ReferenceProp", list[Any]]] = []
    for mapper, keys in doomed.items():
        if not keys:
            continue
        for ref in db.incoming(mapper):
            if ref.on_delete == "CASCADE":
                continue
            found = dependents(session, ref, list(keys))
            gone = doomed.get(ref.owner, {})
            left = [k for k in found if k not in gone]
            if not left:
                continue
            if ref.on_delete in ("RESTRICT", "NO ACTION"):
                shown = ", ".join(repr(k) for k in list(keys)[:5])
                raise IntegrityError(
                    f"cannot delete {mapper.name} {shown}: {len(left)} {ref.owner.name} row(s) "
                    f"still reference it through {ref.owner.name}.{ref.name} "
                    f"(on_delete={ref.on_delete!r}); delete or re-point them first")
            nulls.append((ref, left))
    limit = session.dialect.param_limit
    for ref, keys in nulls:
        c = compiled(ref.owner, session.dialect)
        width = len(c.pk_names)
        blank = (None,) * len(ref.columns)
        for chunk in _chunks(keys, width, limit - len(ref.columns)):
            params: list[Any] = list(blank)
            for k in chunk:
                params.extend(c.key_params(k))
            session.execute(c.set_ref_sql(ref, len(chunk)), params)
    count = 0
    for mapper in db.delete_order(doomed):
        keys = list(doomed[mapper])
        if not keys:
            continue
        c = compiled(mapper, session.dialect)
        for chunk in _chunks(keys, len(c.pk_names), limit):
            params = []
            for k in chunk:
                params.extend(c.key_params(k))
            cur = session.execute(c.delete_sql(len(chunk)), params)
            if mapper in roots:
                count += max(cur.rowcount, 0)
    _reflect(session, doomed, nulls, known or {})
    return count


def _reflect(session: "Session", doomed: dict["Mapper", dict[Any, None]],
             nulls: list[tuple["ReferenceProp", list[Any]]],
             known: dict[tuple["Mapper", Any], Any]) -> None:
    """Make loaded objects agree with what was just written."""
    undo = session.undo
    identity = session.identity
    for ref, keys in nulls:
        imap = identity.for_mapper(ref.owner)
        for k in keys:
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
                        lst[:] = [o for o in lst if o is not obj]
                        lst.baseline = tuple(o for o in lst.baseline if o is not obj)


def _unlink(undo: Any, obj: Any, ref: "ReferenceProp", target: Any) -> None:
    """Take ``obj`` out of ``target``'s loaded back references of ``ref``."""
    td = target.__dict__
    for back in ref.inverses:
        if back.name not in td:
            continue
        if back.many:
            lst = td[back.name]
            if any(o is obj for o in lst):
                undo.save(target)
                lst[:] = [o for o in lst if o is not obj]
                lst.baseline = tuple(o for o in lst.baseline if o is not obj)
        elif td[back.name] is obj:
            undo.save(target)
            td[back.name] = None
            base = target._ar_state.baseline
            if base is not None and base.get(back.name) is obj:
                base[back.name] = None


def apply_key_change(session: "Session", mapper: "Mapper", old: Any, new: Any) -> None:
    """A row's primary key changed from ``old`` to ``new``: apply on_update."""
    for ref in session.db.incoming(mapper):
        found = dependents(session, ref, [old])
        if not found:
            continue
        if ref.on_update in ("RESTRICT", "NO ACTION"):
            raise IntegrityError(
                f"cannot change the key of {mapper.name} {old!r}: {len(found)} {ref.owner.name} "
                f"row(s) reference it through {ref.owner.name}.{ref.name} "
                f"(on_update={ref.on_update!r})")
        c = compiled(ref.owner, session.dialect)
        target = compiled(mapper, session.dialect)
        values = target.key_params(new) if ref.on_update == "CASCADE" else (None,) * len(ref.columns)
        for chunk in _chunks(found, len(c.pk_names), session.dialect.param_limit - len(ref.columns)):
            params: list[Any] = list(values)
            for k in chunk:
                params.extend(c.key_params(k))
            session.execute(c.set_ref_sql(ref, len(chunk)), params)
        if ref.on_update == "SET NULL":
            imap = session.identity.for_mapper(ref.owner)
            for k in found:
                obj = imap.get(k)
                if obj is not None:
                    session.undo.save(obj)
                    obj.__dict__[ref.name] = None


__all__ = ["delete_objects", "delete_keys", "dependents", "apply_key_change", "flat_key"]
