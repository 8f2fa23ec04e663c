"""SELECT statements built per call (their shape depends on the query):
the ORDER BY of a query or a relation with the primary key as tie-break,
and the lookup of pivot rows that already link an object to others.

Called by :mod:`activerel.query`, :mod:`activerel.loading.strategies` and
the unit of work. Imports :mod:`activerel.sql.statements` and
:mod:`activerel.mapping`."""
from __future__ import annotations

from typing import Any, Sequence

from pypika import Order, Parameter
from pypika.terms import Criterion

from ..mapping.mapper import Mapper
from ..mapping.properties import ReferenceProp
from .statements import Statements


def order_terms(mapper: Mapper, table: Any, order: Sequence[tuple[str, bool]],
                pk_names: Sequence[str]) -> list[tuple[Any, Order]]:
    """``(term, direction)`` of each ordered field's columns on ``table``,
    then the primary key ascending unless a key field is already ordered, so
    the order is total and paging is stable."""
    terms = []
    for name, desc in order:
        for col in mapper.props[name].columns:  # type: ignore[attr-defined]
            terms.append((table.field(col.name), Order.desc if desc else Order.asc))
    if not any(name in [p.name for p in mapper.pk_props] for name, _ in order):
        terms += [(table.field(n), Order.asc) for n in pk_names]
    return terms


def linked_pairs_sql(pivot: Statements, local: ReferenceProp, remote: ReferenceProp,
                     count: int) -> str:
    """SELECT the remote key of the pivot rows linking one local key (its
    parameters first) to any of ``count`` remote keys (theirs after)."""
    t = pivot.table
    ph = Parameter(pivot.ph)
    crit = Criterion.all([t.field(col.name) == ph for col in local.columns])
    groups = [Criterion.all([t.field(col.name) == ph for col in remote.columns])] * count
    return (pivot.dialect.query_class.from_(t).select(*[t.field(col.name) for col in remote.columns])
            .where(crit).where(Criterion.any(groups)).get_sql())
