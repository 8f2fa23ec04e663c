"""The shape of a query's own statements (``find``, ``count``, ``exists``):
model, selected columns, the structure of its conditions without their
values, ordering, paging, locking. The profile of many small queries showed
building and rendering the PyPika tree at about 85% of their time; with the
shape as key, :mod:`activerel.sql.statement_cache` renders each shape once
per dialect instance and reuses it with the new values.

A query has a shape only when every condition has one (plain comparisons of
the model's own fields, combined with ``& | ~``) and it neither groups nor
joins with ``inner_join_with``.

Used by :mod:`activerel.query` and :mod:`activerel.querying.statement`.
Imports :mod:`activerel.sql` and :mod:`activerel.loading.joins`."""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

from ..loading.joins import inner_conditions
from ..sql.statement_cache import cached as cached_statement
from ..sql.statement_cache import condition_shapes, condition_values
from ..sql.values import ValueCodec


def shape_key(query: Any, c: ValueCodec, kind: str, columns: Sequence[str],
              limit: Optional[int], offset: Optional[int]) -> Optional[tuple[Any, ...]]:
    """The cache key of one statement of ``query``, or None when it cannot be
    cached (a condition without a shape, inner joins, grouping)."""
    if query._group or query._having or inner_conditions(query._mapper, query._joins):
        return None
    shapes = condition_shapes(query._where)
    if shapes is None:
        return None
    return (kind, query._mapper, tuple(columns), shapes, query._order, limit, offset,
            query._lock, query._distinct)


def cached(query: Any, c: ValueCodec, key: Optional[tuple[Any, ...]],
           render: Callable[[], tuple[str, Sequence[Any]]]) -> tuple[str, list[Any]]:
    """The SQL and parameters of one statement of ``query``: from the cache
    by ``key``, or ``render()``."""
    return cached_statement(c.dialect, key,
                            lambda: condition_values(query._where, c.dialect, []), render)
