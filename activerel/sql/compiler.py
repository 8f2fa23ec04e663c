"""Compiling conditions to SQL: the :class:`Compiler` collects bound
parameters in the order the SQL names them and knows which (aliased) table
stands for each model in the current scope; :func:`key_set` is the one
builder of ``key IN (...)`` with the dialect's one-parameter key sets;
:func:`relation_subquery` correlates a related table with the outer row;
paths through references (``Post.author.username``) become LEFT JOINs on the
scope they start from (``Compiler.path_table``, :func:`add_path_joins`).

Used by the expressions, SELECT rendering, loading and the unit of work.
Imports :mod:`activerel.mapping`, :mod:`activerel.dialects` and
:mod:`activerel._util`."""
from __future__ import annotations

from itertools import count
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
        bulk: Optional[Criterion] = collector.dialect.key_set_criterion(terms[0], keys, collector)
        if bulk is not None:
            return bulk
        crit: Criterion = terms[0].isin([collector.param(k) for k in keys])
        return crit
    return Tuple(*terms).isin([Tuple(*[collector.param(v) for v in k]) for k in keys])


class Compiler(ParamCollector):
    """Collects bound parameters while expressions become PyPika terms, and
    knows which (aliased) table stands for each model in the current scope:
    a relation filter opens a scope for its subquery."""

    def __init__(self, mapper: Mapper, dialect: Dialect, table: Any = None) -> None:
        super().__init__(dialect)
        self.scopes: list[tuple[Any, Any]] = [(mapper, table if table is not None else Table(mapper.table))]
        self._aliases = count(1)
        #: per scope table, the LEFT JOINs its paths made: {hop names: (alias, ON)}
        self._path_joins: list[tuple[Any, dict[tuple[str, ...], tuple[Any, Criterion]]]] = []

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
        return Table(mapper.table).as_(f"_ar{next(self._aliases)}")

    def nested(self, mapper: Any) -> "Compiler":
        """A compiler for an uncorrelated subquery over ``mapper`` rendered in
        place: its parameters go into this compiler's list where the SQL names
        them, and its aliases (its own table's too) continue this numbering."""
        sub = Compiler(mapper, self.dialect, self.alias(mapper))
        sub.params = self.params
        sub._aliases = self._aliases
        return sub

    def path_table(self, hops: Sequence[ReferenceProp]) -> Any:
        """The alias of the row reached from the innermost scope of
        ``hops[0]``'s model through the references ``hops`` (``Post.author``,
        then ``User.team``, ...): one LEFT JOIN per hop, made on first use and
        shared by every later term on the same hops in that scope."""
        base = self.table(hops[0].owner)
        joins = next((j for t, j in self._path_joins if t is base), None)
        if joins is None:
            joins = {}
            self._path_joins.append((base, joins))
        t: Any = base
        names: tuple[str, ...] = ()
        for hop in hops:
            names += (hop.name,)
            if names not in joins:
                a = self.alias(hop.target_mapper)
                on = [a.field(c.target.name) == t.field(c.name)  # type: ignore[union-attr]
                      for c in hop.columns]
                joins[names] = (a, Criterion.all(on))
            t = joins[names][0]
        return t

    def take_joins(self, table: Any = None) -> list[tuple[Any, Criterion]]:
        """The LEFT JOINs paths made on ``table``'s rows (None: on any scope's),
        each after the hop it extends; they are taken, not made again."""
        taken: list[Any] = []
        kept: list[Any] = []
        for entry in self._path_joins:
            (taken if table is None or entry[0] is table else kept).append(entry)
        self._path_joins = kept
        return [join for _, joins in taken for join in joins.values()]


def add_path_joins(comp: Compiler, q: Any, table: Any = None) -> Any:
    """``q`` with the LEFT JOINs the paths compiled so far made on ``table``."""
    for alias, on in comp.take_joins(table):
        q = q.left_join(alias).on(on)
    return q


def relation_subquery(comp: Compiler, prop: Prop, where: Callable[[Compiler], Optional[Criterion]],
                      select: Optional[Callable[[Any], Any]] = None) -> Any:
    """``SELECT 1 FROM <related> WHERE <correlated to the outer row> AND where``;
    ``select(alias)`` gives another term than ``1`` (a relation aggregate's
    ``COUNT(*)``, ``MAX(alias.created)``, ...)."""
    outer = comp.table(prop.owner)
    q_cls = comp.dialect.query_class
    target = prop.target_mapper  # type: ignore[attr-defined]
    a = comp.alias(target)
    picked = 1 if select is None else select(a)
    if isinstance(prop, ReferenceProp):
        q = q_cls.from_(a).select(picked)
        for col in prop.columns:
            q = q.where(a.field(col.target.name) == outer.field(col.name))  # type: ignore[union-attr]
    elif isinstance(prop, BackRefProp) and prop.via is None:
        ref = prop.mapped_by
        assert ref is not None
        q = q_cls.from_(a).select(picked)
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
            q = q_cls.from_(p).join(a).on(either).select(picked)  # type: ignore[arg-type]
            q = q.where(Criterion.any([correlated(local) & joined(remote),
                                       correlated(remote) & joined(local)]))
        else:
            q = q_cls.from_(p).join(a).on(joined(remote)).select(picked).where(correlated(local))
    comp.scopes.append((target, a))
    try:
        extra = where(comp)
    finally:
        comp.scopes.pop()
    q = add_path_joins(comp, q, a)
    if extra is not None:
        q = q.where(extra)
    return q
