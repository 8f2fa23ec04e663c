"""Splitting work so no statement carries more bound parameters than the
backend allows: the one chunking helper.

Used wherever a statement's size grows with its rows or keys (inserts,
updates, key sets, cascades). Imports nothing of activerel."""
from __future__ import annotations

from typing import Iterator, Sequence, TypeVar

T = TypeVar("T")


def per_statement(param_limit: int, per_item: int, reserved: int = 0) -> int:
    """How many items of ``per_item`` parameters fit in one statement whose
    other parameters take ``reserved``: at least one."""
    return max(1, (param_limit - reserved) // max(1, per_item))


def chunks(items: Sequence[T], param_limit: int, per_item: int,
           reserved: int = 0) -> Iterator[Sequence[T]]:
    """``items`` in slices that each fit one statement (see :func:`per_statement`)."""
    step = per_statement(param_limit, per_item, reserved)
    for i in range(0, len(items), step):
        yield items[i:i + step]
