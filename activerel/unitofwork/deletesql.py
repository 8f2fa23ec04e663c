"""The statements of a set-based delete (:mod:`activerel.unitofwork.cascade`):
the rows a delete reaches are found by subqueries nested per table, from
the root rows (chosen by a key list or by the plain conditions of
``delete_many()``) down the CASCADE references; each statement comes with
its bound parameters in the order its SQL names them.

Rows chosen by conditions that all have a shape: every statement comes
from the statement cache (:mod:`activerel.sql.statement_cache`), keyed by
the root model, the tables the delete cascades into, the conditions'
shapes and what the statement does to which table, its parameters walked
as the SQL names them (each nesting that reaches the root rows names the
conditions' values once more). Rows chosen by keys: rendered each time.

Used by :mod:`activerel.unitofwork.cascade`. Imports :mod:`activerel.sql`,
:mod:`activerel.mapping`, :mod:`activerel._util` and ``plan``."""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

from pypika import Table, Tuple
from pypika.functions import Count
from pypika.terms import Criterion, Star

from .._util.pypika import not_true
from ..mapping.mapper import Mapper
from ..mapping.markers import ACTION_EFFECTS, Effect
from ..mapping.properties import ReferenceProp
from ..sql.compiler import Compiler, ParamCollector, key_set
from ..sql.statement_cache import cached, condition_shapes, condition_values
from ..sql.values import codec
from .plan import FlushSession

#: one statement: its SQL and its parameters
Sql = tuple[str, list[Any]]


def on_delete(ref: ReferenceProp) -> Effect:
    """What deleting a target row does to rows of ``ref``'s table."""
    return ACTION_EFFECTS[ref.on_delete]


class DeleteSql:
    """The statements of one delete of ``root`` rows (``keys``, or the rows
    matching ``where``) cascading into the tables of ``region``."""

    def __init__(self, session: FlushSession, root: Mapper, keys: Sequence[Any],
                 region: Sequence[Mapper], where: Sequence[Any] = ()) -> None:
        self.dialect = session.dialect
        self.q = session.dialect.query_class
        self.root = root
        self.keys = keys
        #: plain conditions choosing the root rows, used instead of keys
        self.where = where
        self.region = frozenset(region)
        shapes = condition_shapes(where) if where else None
        #: the start of every statement's cache key; None: rendered each time
        self._key: Optional[tuple[Any, ...]] = (
            None if shapes is None else ("delete_where", root, self.region, shapes))

    # -- the statements ----------------------------------------------------------
    def refusing(self, ref: ReferenceProp) -> Sql:
        """SELECT COUNT(*) of the rows of ``ref``'s table that hold the delete back."""
        t = Table(ref.owner.table)
        return self._statement(("refusing", ref),
                               lambda p: self.q.from_(t).select(Count(Star()))
                               .where(self._held(ref, t, p)),
                               lambda out: self._held_values(ref, out))

    def referring_keys(self, ref: ReferenceProp) -> Sql:
        """SELECT the keys of the rows whose ``ref`` names a deleted row."""
        t = Table(ref.owner.table)
        names = codec(ref.owner, self.dialect).pk_names
        return self._statement(("referring", ref),
                               lambda p: self.q.from_(t).select(*[t.field(n) for n in names])
                               .where(self.points_into(ref, t, p)),
                               lambda out: self.cond_values(ref.target_mapper, out))

    def nullify(self, ref: ReferenceProp) -> Sql:
        """UPDATE: ``ref`` set to NULL where it names a deleted row."""
        t = Table(ref.owner.table)

        def build(params: list[Any]) -> Any:
            upd = self.q.update(t)
            for col in ref.columns:
                upd = upd.set(t.field(col.name), None)
            return upd.where(self.points_into(ref, t, params))
        return self._statement(("nullify", ref), build,
                               lambda out: self.cond_values(ref.target_mapper, out))

    def delete(self, m: Mapper) -> Sql:
        """DELETE the rows of ``m`` that the delete reaches."""
        t = Table(m.table)
        return self._statement(("delete", m),
                               lambda p: self.q.from_(t).delete().where(self.cond(m, t, p)),
                               lambda out: self.cond_values(m, out))

    def doomed_keys(self, m: Mapper) -> Sql:
        """SELECT the keys of the rows of ``m`` that the delete reaches."""
        t = Table(m.table)
        names = codec(m, self.dialect).pk_names
        return self._statement(("keys", m),
                               lambda p: self.q.from_(t).select(*[t.field(n) for n in names])
                               .where(self.cond(m, t, p)),
                               lambda out: self.cond_values(m, out))

    def probe(self) -> Sql:
        """SELECT 1 ... LIMIT 1: a root row is reached."""
        t = Table(self.root.table)
        return self._statement(("probe",), lambda p: self.q.from_(t).select(1)
                               .where(self.cond(self.root, t, p)).limit(1),
                               lambda out: self.cond_values(self.root, out))

    def _statement(self, what: tuple[Any, ...], build: Callable[[list[Any]], Any],
                   walk: Callable[[list[Any]], None]) -> Sql:
        """``build(params)``'s SQL and ``params``: from the cache by ``what``
        when the root rows are chosen by shaped conditions."""
        def render() -> Sql:
            params: list[Any] = []
            sql: str = build(params).get_sql()
            return sql, params

        def walked() -> list[Any]:
            out: list[Any] = []
            walk(out)
            return out

        key = None if self._key is None else self._key + what
        return cached(self.dialect, key, walked, render)

    # -- criteria, with their parameters collected into ``params`` ---------------
    def cond(self, m: Mapper, t: Any, params: list[Any]) -> Any:
        """A criterion on table ``t`` of ``m``: the row is deleted."""
        dialect = self.dialect
        if m is self.root and self.where:
            comp = Compiler(m, dialect, t)
            crit = Criterion.all([cond.compile(comp) for cond in self.where])
            params.extend(comp.params)
            return crit
        if m is self.root:
            c = codec(m, dialect)
            terms = [t.field(n) for n in c.pk_names]
            if len(terms) == 1:
                values = [c.key_params(k)[0] for k in self.keys]
            else:
                values = [c.key_params(k) for k in self.keys]
            return key_set(ParamCollector(dialect, params), terms, values)
        parts = []
        for ref in self._cascading(m):
            parts.append(self.points_into(ref, t, params))
        return Criterion.any(parts)

    def points_into(self, ref: ReferenceProp, t: Any, params: list[Any]) -> Any:
        """``ref``'s columns on ``t`` name a row that is deleted."""
        cols = [t.field(c.name) for c in ref.columns]
        term = cols[0] if len(cols) == 1 else Tuple(*cols)
        return term.isin(self.subquery(ref.target_mapper, params))

    def subquery(self, m: Mapper, params: list[Any]) -> Any:
        t = Table(m.table)
        q = self.q.from_(t).select(*[t.field(c.name) for c in m.pk_columns])
        return q.where(self.cond(m, t, params))

    def _held(self, ref: ReferenceProp, t: Any, params: list[Any]) -> Any:
        """A refusing ``ref``'s rows that hold the delete back: they name a
        deleted row, and (in a table the delete reaches) are not deleted
        themselves; a row whose cascading reference is NULL is not removed,
        and must hold it back (NOT (NULL IN ...) is unknown, which would let
        it escape)."""
        crit = self.points_into(ref, t, params)
        if ref.owner in self.region:
            crit = crit & not_true(self.cond(ref.owner, t, params))
        return crit

    def _cascading(self, m: Mapper) -> list[ReferenceProp]:
        """``m``'s CASCADE references into the region, in the order ``cond`` names them."""
        return [ref for ref in m.references
                if on_delete(ref) is Effect.CASCADE and ref.target_mapper in self.region]

    # -- the same parameters, walked without building SQL --------------------------
    def cond_values(self, m: Mapper, out: list[Any]) -> None:
        """Append the parameters ``cond(m, ...)`` collects (conditions only)."""
        if m is self.root:
            condition_values(self.where, self.dialect, out)
            return
        for ref in self._cascading(m):
            self.cond_values(ref.target_mapper, out)

    def _held_values(self, ref: ReferenceProp, out: list[Any]) -> None:
        self.cond_values(ref.target_mapper, out)
        if ref.owner in self.region:
            self.cond_values(ref.owner, out)
