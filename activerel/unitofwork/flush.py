"""The unit of work: turns a session's pending objects into SQL, as a list
of named phases over a :class:`~activerel.unitofwork.plan.FlushPlan`.

A flush walks the object graph from the persisted roots and the changed
objects, orders new objects so every row is inserted after the rows it
references (a cycle through a nullable reference is broken by inserting NULL
and updating afterwards), inserts one multi-row statement per table, level
and column shape, updates only changed columns, then applies deletes with
their referential actions. Every object is snapshotted in the session's undo
log before it is touched, so a failure restores all of them.

Called by :meth:`activerel.session.Session.flush`. Imports the rest of
:mod:`activerel.unitofwork` and :mod:`activerel.instance`."""
from __future__ import annotations

from typing import Any, Callable, Optional

from ..instance.collections import TrackedList
from ..mapping.mapper import EVENTS
from ..instance.state import NEW, NEW_STATE, PERSISTENT, remember_json
from .cascade import delete_objects
from .dependency import walk
from .persistence import insert, insert_links, remove_pivots, update
from .plan import FlushPlan, FlushSession, mapper_of_obj


def flush(session: FlushSession) -> None:
    """Write every pending change of ``session``: walk, snapshot, insert,
    update, link, unlink, delete, then bookkeeping."""
    plan = FlushPlan(session)
    deletes = list(session.to_delete.values())
    roots = _roots(session)
    # the queue is done with (a failure's rollback empties it too): freed
    # before the walk's own structures grow (W1 at N = 20,000: 17 MiB)
    session.to_persist.clear()
    walk(plan, roots)
    del roots
    new, dirty = _split(plan)
    fire = _events(session, new, dirty, deletes)
    _snapshot(plan, new, dirty, deletes, full=fire is not None)
    if fire is not None:
        fire("before_insert", new)
        fire("before_update", dirty)
        fire("before_delete", deletes)
    if new:
        insert(plan, new)
    if dirty:
        update(plan, dirty)
    if plan.links:
        insert_links(plan)
    if plan.pivot_removals:
        remove_pivots(plan)
    if deletes:
        delete_objects(session, deletes)
    if fire is not None:
        session.drain()  # the after-events see writes the server has taken
        fire("after_insert", new)
        fire("after_update", dirty)
        fire("after_delete", deletes)
    _finish(plan)


def _events(session: FlushSession, *groups: list[Any]) -> Optional[Callable[[str, list[Any]], None]]:
    """A function running an event's handlers over objects, or None when no
    model of the flush has any (the common case costs a lookup per model)."""
    catalog = session.catalog
    if not catalog.has_handlers:
        return None
    mappers = {type(o).__ar_mapper__ for group in groups for o in group}
    if not any(catalog.handlers(m, e) for m in mappers for e in EVENTS):
        return None

    def fire(event: str, objs: list[Any]) -> None:
        for obj in objs:
            for handler in catalog.handlers(mapper_of_obj(obj), event):
                handler(obj)

    return fire


def _roots(session: FlushSession) -> list[Any]:
    """Where the walk starts: the queued objects and the changed loaded ones."""
    roots = list(session.to_persist.values())
    roots += [o for o in session.dirty.values()
              if (st := o._ar_state).dirty and st.status == PERSISTENT]
    return roots


def _split(plan: FlushPlan) -> tuple[list[Any], list[Any]]:
    """The visited objects that are new, and those with unsaved changes."""
    new, dirty = [], []
    for o, st in zip(plan.visited, plan.visited_states):
        if st is None:
            continue  # loaded and clean
        if st.status == NEW:
            new.append(o)
        elif st.status == PERSISTENT and st.dirty:
            dirty.append(o)
    return new, dirty


def _snapshot(plan: FlushPlan, new: list[Any], dirty: list[Any], deletes: list[Any],
              full: bool = False) -> None:
    """Undo-log every object the writes (and, with ``full``, event handlers,
    which may change any field) will change."""
    save = plan.undo.save
    if deletes or full:
        for o in new:
            save(o)  # referential actions may change new objects too
    else:
        # a flush with no deletes only writes keys and state onto new
        # objects: a light snapshot restores them
        plan.undo.save_new(new)
    for o in dirty:
        save(o)
    if full:
        for o in deletes:
            save(o)


def _finish(plan: FlushPlan) -> None:
    """After the writes: objects clean and the session's, lists and
    one-to-one baselines rebased, the session's queues empty."""
    s = plan.session
    for st in plan.visited_states:
        # None: clean and this session's; the shared new state: replaced on insert
        if st is not None and st is not NEW_STATE:
            st.dirty = None
            st.session = s
    if s.catalog.has_json:
        for obj in plan.visited:
            fields = obj.__class__.__ar_mapper__.json_fields
            if fields:
                remember_json((obj,), fields)
    for lst in plan.lists:
        lst.rebase()
        lst.__class__ = TrackedList  # its owner has a row now: changes count
    for obj, name in plan.ones:
        st = obj._ar_state
        if st.baseline is None:
            st.baseline = {}
        st.baseline[name] = obj.__dict__.get(name)
    s.to_persist.clear()
    s.to_delete.clear()
    s.dirty.clear()
