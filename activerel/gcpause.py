"""Pausing Python's cyclic garbage collector during bulk phases.

Hydrating rows and flushing a graph allocate many objects that stay
reachable; every few hundred allocations the collector would scan the
growing heap and find nothing to free. The pause lasts only for the phase
and leaves the collector as it found it (already disabled stays disabled)."""
from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def gc_paused() -> Iterator[None]:
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
