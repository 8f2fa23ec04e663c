"""Relation aggregates loaded onto objects (``with_count("posts")``,
``with_max("posts", "created")``, ...): one grouped SELECT per aggregate for
all the parents a query returned (``SELECT fk, COUNT(*) ... WHERE fk IN
(<their keys>) GROUP BY fk``; through the pivot for many-to-many; a
correlated subquery per parent for a symmetric relation). Each parent gets
the value as a plain attribute: 0 (count) or None (sum, avg, min, max) when
it has no related row. The attribute is not a field: the unit of work never
reads or writes it.

Called by :mod:`activerel.query` after the rows are hydrated. Imports
:mod:`activerel.sql`, :mod:`activerel.instance`, :mod:`activerel.mapping`,
:mod:`activerel._util` and the ``LoadSession`` protocol of
:mod:`activerel.loading.hydrate`."""
from __future__ import annotations

from typing import Any, NamedTuple, Optional, Sequence

from pypika import Table

from .._util.batching import chunks
from ..instance.state import identity_key
from ..mapping.mapper import Mapper
from ..sql.aggregates import RelationAggregate
from ..sql.compiler import Compiler
from ..sql.grouping import correlated_aggregate_select, relation_aggregate_select
from ..sql.select import pivot_source, rows_source
from ..sql.values import codec
from .hydrate import LoadSession


class LoadedAggregate(NamedTuple):
    """One relation aggregate a query loads, and the attribute it goes into."""

    name: str
    agg: RelationAggregate


def load_aggregates(session: LoadSession, mapper: Mapper, objs: Sequence[Any],
                    aggregates: Sequence[LoadedAggregate], whole: bool = False) -> None:
    """Set each aggregate on each of ``objs`` (distinct ``mapper`` objects just
    hydrated): one SELECT per aggregate (one per chunk of keys, where
    composite keys exceed the parameter limit). ``whole``: the objects are
    every row of their table, so the SELECT needs no key set."""
    if not objs or not aggregates:
        return
    dialect = session.dialect
    keys = [identity_key(o) for o in objs]
    c = codec(mapper, dialect)
    params: Optional[list[Any]] = None  # whole: no key set
    if not whole:
        params = [c.key_params(k)[0] if len(c.pk_names) == 1 else c.key_params(k) for k in keys]
    for spec in aggregates:
        found = _fetch(session, mapper, spec.agg, params)
        default = 0 if spec.agg.fn == "count" else None
        name = spec.name
        get = found.get
        for obj, key in zip(objs, keys):
            obj.__dict__[name] = get(key, default)


def _fetch(session: LoadSession, mapper: Mapper, agg: RelationAggregate,
           params: Optional[list[Any]]) -> dict[Any, Any]:
    """Parent identity key -> the aggregate of its related rows (parents
    without any are left out)."""
    dialect = session.dialect
    width = len(mapper.pk_columns)
    limit = dialect.features.param_limit
    parts: Any = [params]
    if params is not None and width > 1 and len(params) * width > limit // 2:
        parts = chunks(params, limit, 2 * width)
    row_key = codec(mapper, dialect).row_key
    read = agg.read(dialect)
    found: dict[Any, Any] = {}
    for part in parts:
        keys = None if part is None else list(part)
        for row in session.fetch(*_statement(mapper, agg, dialect, keys)):
            found[row_key(row)] = read(row[width:])
    return found


def _statement(mapper: Mapper, agg: RelationAggregate, dialect: Any,
               keys: Optional[list[Any]]) -> tuple[str, list[Any]]:
    prop = agg.prop
    if prop.symmetric:
        comp = Compiler(mapper, dialect, Table(mapper.table).as_("_ar0"))
        pk_names = codec(mapper, dialect).pk_names
        return correlated_aggregate_select(comp, agg, pk_names, keys), comp.params
    target = prop.target_mapper
    comp = Compiler(target, dialect)
    a = comp.alias(target)
    comp.scopes[0] = (target, a)
    if prop.via is None:
        ref = prop.mapped_by
        assert ref is not None
        source = rows_source(comp, a, [col.name for col in ref.columns])
    else:
        assert prop.via_local is not None and prop.via_remote is not None
        source = pivot_source(comp, a, prop.via_mapper, prop.via_local, prop.via_remote)
    return relation_aggregate_select(comp, source, agg, a, keys), comp.params
