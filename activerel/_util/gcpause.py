"""Pausing Python's cyclic garbage collector during bulk phases.

Hydrating rows and flushing a graph allocate many objects that stay
reachable; every few hundred allocations the collector would scan the
growing heap and find nothing to free. The pause lasts only for the phase
and leaves the collector as it found it (already disabled stays disabled).

On resume, a pause that allocated more objects than a whole young-generation
cycle holds (gen-0 threshold times gen-1 threshold) gets the collection the
collector would have run by then: generation 1, which scans the new objects
once and moves the survivors to the oldest generation. Left to itself, the
collector would scan them twice, at the next gen-0 collection and again at
the gen-1 collection ten of those later.

Used by the session's flush and by query loading. Imports nothing of activerel."""
from __future__ import annotations

import gc
from typing import Any


class gc_paused:
    """Pause the collector for a ``with`` block; ``catch_up=False``: no
    catch-up collection after it (a stream's batch, whose objects are
    released soon and collected young, must not be moved to the oldest
    generation). A class rather than a generator-based context manager:
    every query and flush enters one, and ``contextlib``'s machinery cost
    more than the pause itself."""

    __slots__ = ("catch_up", "paused")

    def __init__(self, catch_up: bool = True) -> None:
        self.catch_up = catch_up
        self.paused = False

    def __enter__(self) -> None:
        if gc.isenabled():
            gc.disable()
            self.paused = True

    def __exit__(self, *exc: Any) -> None:
        if not self.paused:
            return
        self.paused = False
        # read before enabling: the first allocation after gc.enable() may
        # already start the gen-0 collection this replaces
        threshold0, threshold1, _ = gc.get_threshold()
        due = self.catch_up and threshold0 and gc.get_count()[0] > threshold0 * threshold1
        gc.enable()
        if due:
            gc.collect(1)
