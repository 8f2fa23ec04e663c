"""The walk of a flush: from the persisted roots and the changed objects,
every object reachable through references and loaded back references, with
foreign keys kept in step with the collections that hold them (an item
added to ``user.posts`` gets ``post.author = user``; one removed is
orphaned). Each back reference is walked by the function its
:class:`~activerel.mapping.properties.Direction` selects in :data:`WALKERS`.

Called by :mod:`activerel.unitofwork.flush`. Imports
:mod:`activerel.unitofwork.plan`, :mod:`activerel.sql`,
:mod:`activerel.instance` and :mod:`activerel.mapping`."""
from __future__ import annotations

from collections import deque
from typing import Any, Callable

from ..errors import IntegrityError, ValidationError
from ..instance.collections import RelationList
from ..instance.state import DELETED, NEW, PERSISTENT, SESSION_KEY, STATE_KEY
from ..mapping.mapper import Mapper
from ..mapping.markers import MISSING
from ..mapping.types import describe
from ..mapping.properties import BackRefProp, Direction, ReferenceProp
from ..sql.statements import statements
from ..sql.select import linked_pairs_sql
from ..sql.values import codec
from .plan import FlushPlan, mapper_of_obj

#: model class -> what the walk follows out of its objects (made once: a
#: small flush used to spend a sixth of its time rebuilding these)
_PLANS: dict[type, tuple[tuple[str, ...], tuple[tuple[str, Any, Any], ...]]] = {}


def walk(plan: FlushPlan, roots: list[Any]) -> None:
    """Visit every object reachable from ``roots`` through references and
    loaded back references, syncing foreign keys with the collections."""
    seen = plan.seen
    mark = seen.add
    # breadth first, so rows are inserted in the order of the lists holding them
    stack: Any = deque(roots)
    visit = plan.visited.append
    visit_state = plan.visited_states.append
    session = plan.session
    pop = stack.popleft
    push = stack.append
    plans = _PLANS
    while stack:
        obj = pop()
        oid = id(obj)
        if oid in seen:
            continue
        mark(oid)
        d = obj.__dict__
        st = d.get(STATE_KEY)
        if st is None:  # loaded and clean, no state made yet
            if d[SESSION_KEY] is not session:
                session.attach(obj)
                st = d[STATE_KEY]
        else:
            if st.stub_of is not None:
                continue
            status = st.status
            if status != NEW:
                if status == DELETED:
                    continue
                if st.session is not session:
                    session.attach(obj)
        visit(obj)
        visit_state(st)
        cls = type(obj)
        follow = plans.get(cls)
        if follow is None:
            follow = _walk_plan(cls.__ar_mapper__)
            if len(plans) >= 4096:
                plans.clear()
            plans[cls] = follow
        for name in follow[0]:
            t = d.get(name)
            if t is not None and id(t) not in seen:
                push(t)
        for name, walk_back, back in follow[1]:
            value = d.get(name, MISSING)
            if value is not MISSING:
                walk_back(plan, obj, back, value, stack)
    for lst, ids in plan.unlinked.values():  # one pass per inverse list
        lst.remove_ids(ids)

def _point(plan: FlushPlan, item: Any, ref: ReferenceProp, obj: Any) -> None:
    """Make ``item.<ref>`` be ``obj`` (undoably), keeping loaded lists in sync."""
    old = item.__dict__.get(ref.name)
    if old is obj:
        return
    save = plan.undo.save
    save(item)
    if old is not None:
        save(old)
    if obj is not None:
        save(obj)
    setattr(item, ref.name, obj)

def _orphan(plan: FlushPlan, obj: Any, back: BackRefProp, item: Any, stack: Any) -> None:
    ref = back.mapped_by
    assert ref is not None
    if item.__dict__.get(ref.name) is not obj or item._ar_state.status == DELETED:
        return
    if not ref.nullable:
        raise IntegrityError(
            f"{mapper_of_obj(item).name}.{ref.name} is not nullable: {item!r} was removed from "
            f"{mapper_of_obj(obj).name}.{back.name} but still references it; delete it or point "
            f"it at another {mapper_of_obj(obj).name}")
    _point(plan, item, ref, None)
    stack.append(item)

def _walk_many(plan: FlushPlan, obj: Any, back: BackRefProp, value: Any, stack: Any) -> None:
    ref = back.mapped_by
    assert ref is not None
    name = ref.name
    seen = plan.seen
    push = stack.append
    target = back.target
    for item in value:
        if type(item) is not target:
            _not_a_target(obj, back, item)
        if item.__dict__.get(name) is not obj:
            _point(plan, item, ref, obj)
        if id(item) not in seen:
            push(item)
    if isinstance(value, RelationList):
        if value.baseline and value.changed():
            removed = value.removed()
            if removed:
                plan.undo.save(obj)
                for item in removed:
                    _orphan(plan, obj, back, item, stack)
        plan.lists.append(value)

def _not_a_target(obj: Any, back: BackRefProp, item: Any) -> None:
    """Raise ValidationError, before any SQL, for an object of the wrong
    model put into a back-reference collection (list methods do not check)."""
    if isinstance(item, back.target):
        return  # a subclass instance (models are not subclassed, but be exact)
    owner = mapper_of_obj(obj).name
    raise ValidationError(
        f"{owner}.{back.name} holds {describe(item)}: only {back.target.__name__} objects "
        f"belong in it")


def _walk_one(plan: FlushPlan, obj: Any, back: BackRefProp, value: Any, stack: Any) -> None:
    ref = back.mapped_by
    assert ref is not None
    if value is not None:
        if value.__dict__.get(ref.name) is not obj:
            _point(plan, value, ref, obj)
        stack.append(value)
    base = obj._ar_state.baseline
    old = base.get(back.name, MISSING) if base else MISSING
    if old is not MISSING and old is not None and old is not value:
        plan.undo.save(obj)
        _orphan(plan, obj, back, old, stack)
    plan.ones.append((obj, back.name))

def _walk_via(plan: FlushPlan, obj: Any, back: BackRefProp, value: Any, stack: Any) -> None:
    local, remote = back.via_local, back.via_remote
    assert local is not None and remote is not None
    target = back.target
    for item in value:
        if type(item) is not target:
            _not_a_target(obj, back, item)
    stack.extend(value)
    if not isinstance(value, RelationList):
        return
    plan.lists.append(value)
    if not value.baseline:
        if not value:
            return
        added: list[Any] = list(value)
        removed: list[Any] = []
    elif not value.changed():
        return
    else:
        added, removed = value.added(), value.removed()
    if obj._ar_state.status != NEW:
        plan.undo.save(obj)  # a new object's lists are in its own snapshot
    via = back.via
    pm = back.via_mapper
    # one pair key per row, whichever side the link was made from
    local_first = pm.references.index(local) < pm.references.index(remote)
    inverse = back.via_inverse
    if value.partial:
        linked = _linked_already(plan, back, obj, added)
        if back.symmetric:
            linked |= _linked_already(plan, back, obj, added, swapped=True)
        added = [o for o in added if id(o) not in linked]
    pure = pm.pure_link
    oid = id(obj)
    symmetric = back.symmetric
    if _shared(back):
        pairs = plan.pivot_pairs
    else:
        # only this list makes these rows: no flush-wide set of pairs (W1
        # at N = 20,000 kept 26 MiB of them), just this list's repeats
        pairs, added = None, _unique(added)
    for item in added:
        if pairs is not None:
            if symmetric:  # one row links both ways: one pair key for both orders
                pair = (via, min(oid, id(item)), max(oid, id(item)))
            else:
                pair = (via, oid, id(item)) if local_first else (via, id(item), oid)
            if pair in pairs:
                continue
            pairs.add(pair)
        if inverse is not None and inverse.name in item.__dict__:
            lst = item.__dict__[inverse.name]
            members = _members(plan, lst)
            if oid not in members:
                plan.undo.save(item)
                pending = plan.unlinked.get(id(lst))
                if pending is not None and oid in pending[1]:
                    pending[1].discard(oid)  # unlinked earlier in this walk: still there
                else:
                    lst.append_obj(obj, known_absent=True)
                members.add(oid)
        if pure:
            # nothing but the two keys: a row, no pivot object
            plan.links.setdefault(via, []).append((local, obj, item))
            continue
        try:
            pivot = via(**{local.name: obj, remote.name: item})  # type: ignore[misc]
        except ValidationError as exc:
            raise ValidationError(
                f"cannot link {obj!r} to {item!r} through {via.__name__} for "  # type: ignore[union-attr]
                f"{mapper_of_obj(obj).name}.{back.name}: {exc}; create {via.__name__} "  # type: ignore[union-attr]
                "objects directly") from exc
        stack.append(pivot)
    for item in removed:
        if item._ar_state.status == NEW:
            continue
        if symmetric:
            key = (via, min(oid, id(item)), max(oid, id(item)))
        else:
            key = (via, oid, id(item)) if local_first else (via, id(item), oid)
        if key in plan.pivot_removals:
            continue
        plan.pivot_removals[key] = (back, obj, item)
        if inverse is not None and inverse.name in item.__dict__:
            lst = item.__dict__[inverse.name]
            members = _members(plan, lst)
            if oid in members:
                plan.undo.save(item)
                # taken out when the walk ends, every removal from a list
                # in one pass (one at a time, unlinking a tag from n loaded
                # posts scanned its list of n posts n times)
                pending = plan.unlinked.get(id(lst))
                if pending is None:
                    pending = plan.unlinked[id(lst)] = (lst, set())
                pending[1].add(oid)
                members.discard(oid)

#: many-to-many back reference -> whether another list can make its pivot
#: rows too (its inverse, itself when symmetric, or another back reference
#: through the same pivot), so that a flush must note the pairs it linked
_SHARED: dict[BackRefProp, bool] = {}


def _shared(back: BackRefProp) -> bool:
    shared = _SHARED.get(back)
    if shared is None:
        via = back.via
        shared = back.symmetric or back.via_inverse is not None or any(
            other is not back and other.via is via
            for m in (back.owner, back.target_mapper) for other in m.backrefs)
        if len(_SHARED) >= 4096:
            _SHARED.clear()
        _SHARED[back] = shared
    return shared


def _unique(items: list[Any]) -> list[Any]:
    """``items`` without repeats (an object appended twice), in order."""
    first = {id(o): o for o in items}  # (a key keeps its first position)
    return items if len(first) == len(items) else list(first.values())


def _members(plan: FlushPlan, lst: Any) -> set[int]:
    """The ids of the objects ``lst`` holds, computed once per flush."""
    members = plan.list_members.get(id(lst))
    if members is None:
        members = plan.list_members[id(lst)] = {id(o) for o in lst}
    return members


def _linked_already(plan: FlushPlan, back: BackRefProp, obj: Any, added: list[Any],
                    swapped: bool = False) -> set[int]:
    """Of ``added``, those a pivot row already links to ``obj``: a partially
    loaded collection does not show every row there is (``swapped``: rows
    the other way round, which link as well in a symmetric relation)."""
    local, remote = back.via_local, back.via_remote
    assert local is not None and remote is not None
    if swapped:
        local, remote = remote, local
    key = obj._ar_state.key
    candidates = [o for o in added if o._ar_state.status == PERSISTENT and o._ar_state.key is not None]
    if key is None or obj._ar_state.status != PERSISTENT or not candidates:
        return set()
    dialect = plan.dialect
    params: list[Any] = list(codec(mapper_of_obj(obj), dialect).key_params(key))
    target = codec(remote.target_mapper, dialect)
    for o in candidates:
        params.extend(target.key_params(o._ar_state.key))
    sql = linked_pairs_sql(statements(back.via_mapper, dialect), local, remote, len(candidates))
    rows = plan.session.fetch(sql, params)
    found = {target.row_key(r) for r in rows}
    return {id(o) for o in candidates if o._ar_state.key in found}


#: how the walk follows a back reference, by its direction
WALKERS: dict[Direction, Callable[[FlushPlan, Any, BackRefProp, Any, Any], None]] = {
    Direction.ONE_TO_MANY: _walk_many,
    Direction.ONE_TO_ONE: _walk_one,
    Direction.MANY_TO_MANY: _walk_via,
}


def _walk_plan(mapper: Mapper) -> tuple[tuple[str, ...], tuple[tuple[str, Any, Any], ...]]:
    """What the walk follows out of one model's objects: its reference names,
    and each back reference with the function that walks it."""
    backs = tuple((back.name, WALKERS[back.direction], back) for back in mapper.backrefs)
    return tuple(r.name for r in mapper.references), backs
