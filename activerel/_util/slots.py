"""A counting semaphore for the connection pool whose fast path is one C
lock and a count: ``threading.BoundedSemaphore`` goes through a
Python-level ``Condition`` on every acquire and release, which was a fifth
of an empty short session. The ``Condition`` is waited on only when no slot
is free. Used by :mod:`activerel.engine`. Imports nothing of activerel."""
from __future__ import annotations

import threading
import time


class Slots:
    """``size`` slots, taken and given back by threads."""

    __slots__ = ("_free", "_waiting", "_lock", "_freed")

    def __init__(self, size: int) -> None:
        self._free = size
        self._waiting = 0
        self._lock = threading.Lock()
        self._freed = threading.Condition(self._lock)

    def try_take(self) -> bool:
        """Take a slot if one is free now."""
        with self._lock:
            if self._free > 0:
                self._free -= 1
                return True
            return False

    def take(self, timeout: float) -> bool:
        """Take a slot, waiting at most ``timeout`` seconds; whether one came."""
        if self.try_take():
            return True
        deadline = time.monotonic() + timeout
        with self._freed:
            self._waiting += 1
            try:
                while self._free <= 0:
                    left = deadline - time.monotonic()
                    if left <= 0 or (not self._freed.wait(left) and self._free <= 0):
                        return False
                self._free -= 1
                return True
            finally:
                self._waiting -= 1

    def give(self) -> None:
        """Give a slot back, waking one waiting thread."""
        with self._lock:
            self._free += 1
            if self._waiting:
                self._freed.notify()
