"""A query's objects batch by batch (``Query.iterate``), in flat memory.

Each batch of rows the connection's stream hands over is hydrated with the
query's joined relations (and relation aggregates) loaded for that batch
alone, by :func:`hydrate` (and :func:`load_aggregates`) exactly as for a
``find()`` of those rows: one SELECT per joined relation (and aggregate)
per batch at most. When the next batch is asked for, the finished one is let
go: the session's pending changes are flushed (what the loop changed is
written batch by batch, not held), then every object that entered the
identity map while the batch was out (its rows, their joined relations and
stubs, anything the loop loaded) leaves it again unless it has unsaved
changes or is queued. The identity map holds its objects strongly, so this
is what keeps a stream's memory at one batch; an object the caller keeps
stays usable (still persistent, its changes still flushed), but a later
load of its row makes a new object.

Batches are hydrated with the cyclic collector paused and no catch-up
collection, and a young-generation collection runs at each batch boundary:
objects of a finished batch that reference each other (a user and its
posts) are freed there, never promoted to the oldest generation, where only
a full collection would find them.

Called by :mod:`activerel.querying.stream`. Imports
:mod:`activerel.loading.strategies`, ``aggregates`` and ``hydrate``,
:mod:`activerel.instance`, :mod:`activerel.mapping` and
:mod:`activerel._util`."""
from __future__ import annotations

import gc
from itertools import islice
from typing import Any, Iterable, Iterator, Protocol, Sequence

from .._util.gcpause import gc_paused
from ..instance.identity import IdentityMap
from ..instance.state import PERSISTENT, STATE_KEY
from ..mapping.mapper import Mapper
from .aggregates import load_aggregates
from .hydrate import LoadSession
from .joins import Join
from .strategies import hydrate


class StreamSession(LoadSession, Protocol):
    """What a stream needs of a session besides loading: its queues, to
    keep what is pending, and a flush at each batch boundary."""

    to_persist: dict[int, Any]
    to_delete: dict[int, Any]

    def flush(self) -> None: ...


def stream_objects(session: StreamSession, mapper: Mapper, batches: Iterable[list[tuple[Any, ...]]],
                   columns: tuple[str, ...], joins: tuple[Join, ...],
                   aggregates: Sequence[Any] = ()) -> Iterator[Any]:
    """The objects of the rows of ``batches`` (each a list of rows of
    ``columns``), one batch hydrated at a time with ``joins`` and the
    relation ``aggregates`` (``with_count()``, ...) loaded."""
    identity = session.identity
    try:
        for rows in batches:
            marks = _marks(identity)
            with gc_paused(catch_up=False):
                objs = hydrate(session, mapper, rows, columns, joins)
                if aggregates:
                    load_aggregates(session, mapper, objs, aggregates)
            del rows
            for obj in objs:
                yield obj
            objs, obj = [], None  # the batch is let go
            session.flush()
            release(session, marks)
            if gc.isenabled():
                gc.collect(1)
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()  # the cursor now, not when the generator is collected


def _marks(identity: IdentityMap) -> dict[Mapper, int]:
    """How many objects each model's identity map holds now."""
    return {m: len(objs) for m, objs in identity.maps.items()}


def release(session: StreamSession, marks: dict[Mapper, int]) -> int:
    """Take out of ``session``'s identity map the objects that entered it
    since ``marks`` were taken (a dict keeps insertion order: they are the
    last ones), except those with unsaved changes or queued; how many left.
    Objects that were in the map before are never taken out."""
    pending = (session.dirty, session.to_persist, session.to_delete)
    # nothing pending (the flush just ran): no object has unsaved changes
    clean = not any(pending)
    left = 0
    for mapper, objs in session.identity.maps.items():
        added = len(objs) - marks.get(mapper, 0)
        if added <= 0:
            continue
        if clean and added == len(objs):
            objs.clear()
            left += added
            continue
        for key in list(islice(reversed(objs), added)):
            if clean:
                del objs[key]
                left += 1
                continue
            obj = objs[key]
            st = obj.__dict__.get(STATE_KEY)
            if st is not None and (st.dirty or st.status != PERSISTENT):
                continue
            oid = id(obj)
            if any(oid in queue for queue in pending):
                continue
            del objs[key]
            left += 1
    return left
