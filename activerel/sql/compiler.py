"""Compiling conditions to SQL: the :class:`Compiler` collects bound
parameters in the order the SQL names them and knows which (aliased) table
stands for each model in the current scope; :func:`key_set` is the one
builder of ``key IN (...)`` with the dialect's one-parameter key sets;
:func:`relation_subquery` correlates a related table with the outer row.

Used by the expressions, SELECT rendering, loading and the unit of work.
Imports :mod:`activerel.mapping`, :mod:`activerel.dialects` and
:mod:`activerel._util`."""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

from pypika import Parameter, Table, Tuple
from pypika.terms import Criterion

from .._util.pypika import FALSE
from ..dialects.base import Dialect
from ..errors import QueryError
from ..mapping.mapper import Mapper
from ..mapping.properties import BackRefProp, Prop, ReferenceProp


class ParamCollector:
    """Collects bound parameters in the order the SQL names them."""

    def __init__(self, dialect: Dialect, params: Optional[list[Any]] = None) -> None:
        self.dialect = dialect
        self.params: list[Any] = [] if params is None else params
        self.ph = dialect.placeholder

    def param(self, value: Any) -> Parameter:
        self.params.append(value)
        return Parameter(self.ph)


def key_set(collector: ParamCollector, terms: Sequence[Any], keys: Sequence[Any]) -> Criterion:
    """``terms IN keys`` with the keys as bound parameters: one parameter for
    the whole set where the dialect can unpack a list (one term), else one
    per value; never true for no keys. ``keys`` are values for one term,
    tuples of values for several."""
    if not keys:
        return FALSE
    if len(terms) == 1:
        bulk = collector.dialect.key_set_criterion(terms[0], keys, collector)
        if bulk is not None:
            return bulk
        return terms[0].isin([collector.param(k) for k in keys])
    return Tuple(*terms).isin([Tuple(*[collector.param(v) for v in k]) for k in keys])


class Compiler(ParamCollector):
    """Collects bound parameters while expressions become PyPika terms, and
    knows which (aliased) table stands for each model in the current scope:
    a relation filter opens a scope for its subquery."""

    def __init__(self, mapper: Mapper, dialect: Dialect, table: Any = None) -> None:
        super().__init__(dialect)
        self.scopes: list[tuple[Any, Any]] = [(mapper, table if table is not None else Table(mapper.table))]
        self._aliases = 0

    def table(self, mapper: Any) -> Any:
        """The table (or alias) standing for ``mapper`` in the innermost scope."""
        for m, t in reversed(self.scopes):
            if m is mapper:
                return t
        raise QueryError(
            f"{mapper.name} fields cannot be used here: the query is over "
            f"{self.scopes[-1][0].name}; reach other models through a relation filter "
            "(some/every/none, is_/is_not)")

    def alias(self, mapper: Any) -> Any:
        self._aliases += 1
        return Table(mapper.table).as_(f"_ar{self._aliases}")


def relation_subquery(comp: Compiler, prop: Prop, where: Callable[[Compiler], Optional[Criterion]]) -> Any:
    """``SELECT 1 FROM <related> WHERE <correlated to the outer row> AND where``."""
    outer = comp.table(prop.owner)
    q_cls = comp.dialect.query_class
    target = prop.target_mapper  # type: ignore[attr-defined]
    a = comp.alias(target)
    if isinstance(prop, ReferenceProp):
        q = q_cls.from_(a).select(1)
        for col in prop.columns:
            q = q.where(a.field(col.target.name) == outer.field(col.name))  # type: ignore[union-attr]
    elif isinstance(prop, BackRefProp) and prop.via is None:
        ref = prop.mapped_by
        assert ref is not None
        q = q_cls.from_(a).select(1)
        for col in ref.columns:
            q = q.where(a.field(col.name) == outer.field(col.target.name))  # type: ignore[union-attr]
    else:
        assert isinstance(prop, BackRefProp) and prop.via_local and prop.via_remote
        p = comp.alias(prop.via_mapper)
        local, remote = prop.via_local, prop.via_remote

        def joined(far: ReferenceProp) -> Criterion:
            """The pivot row's ``far`` side is the target row."""
            return Criterion.all([p.field(c.name) == a.field(c.target.name)  # type: ignore[union-attr]
                                  for c in far.columns])

        def correlated(near: ReferenceProp) -> Criterion:
            """The pivot row's ``near`` side is the outer row."""
            return Criterion.all([p.field(c.name) == outer.field(c.target.name)  # type: ignore[union-attr]
                                  for c in near.columns])

        if prop.symmetric:  # a row links its two sides both ways
            either = Criterion.any([joined(remote), joined(local)])
            q = q_cls.from_(p).join(a).on(either).select(1)  # type: ignore[arg-type]
            q = q.where(Criterion.any([correlated(local) & joined(remote),
                                       correlated(remote) & joined(local)]))
        else:
            q = q_cls.from_(p).join(a).on(joined(remote)).select(1).where(correlated(local))
    comp.scopes.append((target, a))
    try:
        extra = where(comp)
    finally:
        comp.scopes.pop()
    if extra is not None:
        q = q.where(extra)
    return q
