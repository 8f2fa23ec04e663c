"""The shape of a query's own statements (``find``, ``count``, ``exists``):
model, selected columns, the structure of its conditions without their
values, ordering, paging, locking. The profile of many small queries showed
building and rendering the PyPika tree at about 85% of their time; with the
shape as key, :mod:`activerel.sql.statement_cache` renders each shape once
per dialect instance and reuses it with the new values.

A query has a shape only when every condition has one (plain comparisons of
the model's own fields, combined with ``& | ~``) and it neither groups nor
joins with ``inner_join_with``. Also: whether an index finds a query's
rows (:func:`index_lookup`), so that its SELECT is cheap to run again.

Used by :mod:`activerel.query` and :mod:`activerel.querying.statement`.
Imports :mod:`activerel.sql`, :mod:`activerel.mapping` and
:mod:`activerel.schema` (the declared indexes)."""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

from ..mapping.mapper import Mapper
from ..mapping.properties import ColumnProp
from ..schema.declared import table_def
from ..sql.statement_cache import cached as cached_statement
from ..sql.statement_cache import condition_shapes, condition_values
from ..sql.values import ValueCodec


def shape_key(query: Any, c: ValueCodec, kind: str, columns: Sequence[str],
              limit: Optional[int], offset: Optional[int]) -> Optional[tuple[Any, ...]]:
    """The cache key of one statement of ``query``, or None when it cannot be
    cached (a condition without a shape, inner joins, grouping)."""
    if query._group or query._having or (query._joins and any(j.inner for j in query._joins)):
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


#: mapper -> the fields that lead an index of its table (made once)
_LEADING: dict[Mapper, frozenset[Any]] = {}


def index_lookup(mapper: Mapper, conditions: Sequence[Any]) -> bool:
    """Whether an index finds a query's rows: one of its conditions (all of
    which must hold) asks a field that leads the primary key or an index to
    equal given values. Its SELECT is then cheap to run again as a subquery,
    as the relations read in its round trip do (else they wait for its keys)."""
    leading = _LEADING.get(mapper)
    if leading is None:
        t = table_def(mapper)
        first = {t.primary_key[0]} | {i.columns[0] for i in t.indexes}
        props: list[ColumnProp] = [*mapper.scalars, *mapper.references]
        leading = _LEADING[mapper] = frozenset(
            p for p in props if p.columns and p.columns[0].name in first)
    return any(cond.key_lookup() in leading for cond in conditions)
