"""The SELECTs of rows of plain values rather than objects: a query's
groups with their aggregates (``GROUP BY ... HAVING ...``), its field
values (``SELECT [DISTINCT] ...``), the aggregates of its paged rows, and a
relation's aggregates per parent (``SELECT fk, COUNT(*) ... WHERE fk IN
(...) GROUP BY fk``, through the pivot for many-to-many; a correlated
subquery per parent row for a symmetric relation).

Every builder compiles its parts in the order the SQL names them (the
SELECT list, WHERE, HAVING, ORDER BY), so the bound parameters line up.

Called by :mod:`activerel.querying.aggregates` and
:mod:`activerel.loading.aggregates`. Imports :mod:`activerel.sql.select`,
:mod:`activerel.sql.aggregates`, :mod:`activerel.sql.compiler`,
:mod:`activerel.sql.conditions` and :mod:`activerel.mapping`."""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

from pypika import Order
from pypika.terms import Criterion

from .aggregates import RelationAggregate, fetched_terms
from .compiler import Compiler, add_path_joins, key_set, relation_subquery
from .conditions import Condition
from .select import RelationSource, keyed_rows


def rows_select(comp: Compiler, table: Any, select: Sequence[Any], conditions: Sequence[Condition],
                group: Sequence[Any] = (), having: Sequence[Condition] = (),
                order: Callable[[], Sequence[tuple[Any, Order]]] = lambda: (),
                limit: Optional[int] = None, offset: Optional[int] = None,
                limit_max: int = 2 ** 62, distinct: bool = False) -> Any:
    """``SELECT [DISTINCT] select FROM table WHERE conditions GROUP BY group
    HAVING having ORDER BY order() LIMIT ...`` (a PyPika query): ``select``
    holds terms compiled already (they come first in the SQL); ``order()``
    compiles the ordering after the HAVING conditions, as the SQL names it."""
    q = comp.dialect.query_class.from_(table).select(*select)
    if distinct:
        q = q.distinct()
    for cond in conditions:
        q = q.where(cond.compile(comp))
    if group:
        q = q.groupby(*group)
    for cond in having:
        q = q.having(cond.compile(comp))
    q = add_path_joins(comp, q, table)
    for term, direction in order():
        q = q.orderby(term, order=direction)
    if limit is not None:
        q = q.limit(limit)
    if offset:
        if limit is None:
            q = q.limit(limit_max)
        q = q.offset(offset)
    return q


def paged_rows_select(comp: Compiler, table: Any, select: Sequence[Any], pk_names: Sequence[str],
                      page: Any) -> Any:
    """``select`` over the rows of ``page`` (a SELECT of their keys with its
    own order, limit and offset, over its own alias of the table), joined
    back to ``table`` by key: the aggregates of the first n rows."""
    derived = page.as_("_ar_page")
    on = Criterion.all([table.field(n) == derived.field(n) for n in pk_names])
    q = comp.dialect.query_class.from_(table).join(derived).on(on).select(*select)
    return add_path_joins(comp, q, table)


def relation_aggregate_select(comp: Compiler, source: RelationSource, agg: RelationAggregate,
                              alias: Any, keys: Optional[Sequence[Any]]) -> str:
    """``SELECT <parent key>, <aggregate> FROM <related rows> WHERE <parent key>
    IN keys [AND agg's condition] GROUP BY <parent key>``; ``keys`` None: every
    parent (the key set)."""
    q = keyed_rows(comp, source, keys)
    extra = agg.where(comp)
    if extra is not None:
        q = q.where(extra)
    q = add_path_joins(comp, q)
    q = q.select(*source.key_terms, *fetched_terms(agg.fn, agg.column(alias)))
    sql: str = q.groupby(*source.key_terms).get_sql()
    return sql


def correlated_aggregate_select(comp: Compiler, agg: RelationAggregate, pk_names: Sequence[str],
                                keys: Optional[Sequence[Any]]) -> str:
    """``SELECT <key>, (<the aggregate of this row's related rows>) FROM
    <parents> WHERE <key> IN keys``: for relations whose rows a GROUP BY of
    one key column cannot gather (a symmetric relation links both ways)."""
    t = comp.table(agg.prop.owner)
    key_terms = [t.field(n) for n in pk_names]
    width = 2 if agg.fn == "avg" else 1

    def term(i: int) -> Any:
        return relation_subquery(comp, agg.prop, agg.where,
                                 lambda a: fetched_terms(agg.fn, agg.column(a))[i])

    q = comp.dialect.query_class.from_(t).select(*key_terms, *[term(i) for i in range(width)])
    if keys is not None:
        q = q.where(key_set(comp, key_terms, keys))
    return q.get_sql()
