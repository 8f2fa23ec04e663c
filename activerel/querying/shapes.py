"""The statement cache: a query's SQL is rendered once per *shape* (model,
selected columns, the structure of its conditions without their values,
ordering, paging, locking, dialect) and reused with the new values, which
are collected by walking the conditions (:meth:`Condition.values`), without
building a PyPika tree. The profile of many small queries showed building
and rendering the tree at about 85% of their time.

A shape is cached only when every condition has one (plain comparisons of
the model's own fields, combined with ``& | ~``; paths, subqueries, lists
and relation filters are rendered each time), and only after the values
walked for the first statement equal the parameters its rendering collected:
a condition whose SQL would depend on its values is never reused wrongly.
The cache lives on the dialect instance (one per Database), holds at most
:data:`LIMIT` statements (cleared whole when full) and takes no lock: a
dict's get and set are atomic, and two threads rendering one shape at once
store the same text.

Used by :mod:`activerel.query` and :mod:`activerel.querying.statement`.
Imports :mod:`activerel.sql.values` and :mod:`activerel.loading.joins`."""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

from ..loading.joins import inner_conditions
from ..sql.values import ValueCodec

#: the most statements one dialect instance keeps
LIMIT = 2048


def shape_key(query: Any, c: ValueCodec, kind: str, columns: Sequence[str],
              limit: Optional[int], offset: Optional[int]) -> Optional[tuple[Any, ...]]:
    """The cache key of one statement of ``query``, or None when it cannot be
    cached (a condition without a shape, inner joins, grouping)."""
    if query._group or query._having or inner_conditions(query._mapper, query._joins):
        return None
    shapes = tuple(cond.shape() for cond in query._where)
    if None in shapes:
        return None
    key = (kind, query._mapper, tuple(columns), shapes, query._order, limit, offset,
           query._lock, query._distinct)
    try:
        hash(key)
    except TypeError:  # an ordering by an expression that is not hashable
        return None
    return key


def where_values(query: Any, dialect: Any) -> list[Any]:
    """The bound parameters of ``query``'s conditions, in statement order."""
    out: list[Any] = []
    for cond in query._where:
        cond.values(dialect, out)
    return out


def cached(query: Any, c: ValueCodec, key: Optional[tuple[Any, ...]],
           render: Callable[[], tuple[str, Sequence[Any]]]) -> tuple[str, list[Any]]:
    """The SQL and parameters of one statement: from the cache by ``key``, or
    ``render()`` (then cached, if the walked values match its parameters)."""
    if key is None:
        sql, params = render()
        return sql, list(params)
    cache = c.dialect.statement_cache
    hit = cache.get(key)
    if hit is not None:
        return hit, where_values(query, c.dialect)
    sql, params = render()
    params = list(params)
    if where_values(query, c.dialect) == params:
        if len(cache) >= LIMIT:
            cache.clear()
        cache[key] = sql
    return sql, params
