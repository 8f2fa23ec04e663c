"""Aggregates, groups and distinct values of a query, as rows of plain
values: ``sum(f)`` / ``avg(f)`` / ``min(f)`` / ``max(f)`` over its rows;
``group_by(...)``, ``having(...)`` and ``aggregate(n=agg.count(), ...)``
giving a named tuple per group (or instances of a row class); the number
of groups (``count()`` after ``group_by()``); ``values(...)`` (with
``distinct()``: each combination once).

:class:`AggregateQueries` is a base of ``Query`` (it uses the query's
compiling helpers and runner). Used by :mod:`activerel.query` and
:mod:`activerel.querying.statement`. Imports
:mod:`activerel.querying.checks`, :mod:`activerel.sql` and
:mod:`activerel.mapping`."""
from __future__ import annotations

from collections import namedtuple
from functools import lru_cache
from typing import Any, Callable, Optional, Sequence, TypeVar, overload

from pypika import Order
from pypika.functions import Count
from pypika.terms import Star

from ..errors import QueryError
from ..mapping.mapper import Mapper
from ..sql.aggregates import Aggregate, OrderKey, group_value_reader
from ..sql.compiler import Compiler
from ..sql.conditions import Condition
from ..sql.expressions import FieldExpr
from ..sql.grouping import paged_rows_select, rows_select
from ..sql.select import order_terms
from ..sql.values import ValueCodec, codec
from .checks import column_prop

Q = TypeVar("Q", bound="AggregateQueries")
R = TypeVar("R")


@lru_cache(maxsize=256)
def row_class(names: tuple[str, ...]) -> Any:
    """The named-tuple class of rows with these fields."""
    return namedtuple("Row", names)


def grouped_error(mapper: Mapper) -> QueryError:
    return QueryError(f"this {mapper.name} query has group_by()/having(): its terminals are "
                      "aggregate(...) and count() (of groups), not objects")


class AggregateQueries:
    """The aggregate, grouping and value terminals of ``Query``."""

    __slots__ = ()
    # the query's state and helpers (``Query`` has them)
    _mapper: Mapper
    _order: tuple[tuple[str, bool], ...]
    _limit: Optional[int]
    _offset: Optional[int]
    _distinct: bool
    _group: tuple[str, ...]
    _having: tuple[Condition, ...]
    _copy: Callable[..., Any]
    _run: Callable[..., Any]
    _conditions: Callable[[], list[Condition]]
    _compiler: Callable[[ValueCodec], Compiler]
    _base: Callable[..., Any]

    # -- building ----------------------------------------------------------------
    def distinct(self: Q) -> Q:
        """Each row of ``values()`` once (``SELECT DISTINCT``). Objects
        (``find()``) are distinct by their key already, so it changes nothing
        there."""
        q: Q = self._copy(_distinct=True)
        return q

    def group_by(self: Q, *fields: Any) -> Q:
        """Group the rows by these fields (names or ``Model.field``; a
        reference groups by the target's key): ``aggregate(...)`` then gives a
        row per group, ``count()`` the number of groups."""
        if not fields:
            raise QueryError("group_by() takes one or more fields")
        names = []
        for f in fields:
            if isinstance(f, FieldExpr):
                f.mapper_check(self._mapper)
                if getattr(f, "hops", ()):
                    raise QueryError(f"group_by({f!r}): group by a field of {self._mapper.name} "
                                     "itself (a reference groups by its key)")
                f = f.prop.name
            if not isinstance(f, str):
                raise QueryError(f"group_by() takes field names or fields, not {f!r}")
            column_prop(self._mapper, f, "group_by")
            names.append(f)
        q: Q = self._copy(_group=self._group + tuple(n for n in names if n not in self._group))
        return q

    def having(self: Q, *conditions: Condition) -> Q:
        """Keep the groups matching every condition: comparisons of
        aggregates (``agg.count() >= 2``) or of the group fields."""
        for cond in conditions:
            if not isinstance(cond, Condition):
                raise QueryError(f"having() takes conditions such as agg.count() >= 2, "
                                 f"not {cond!r}")
            cond.mapper_check(self._mapper)
        q: Q = self._copy(_having=self._having + tuple(conditions))
        return q

    # -- terminals -----------------------------------------------------------------
    def sum(self, field: Any) -> Any:
        """The sum of ``field`` over the matching rows (limit and skip apply),
        as the field's type: an int for an int field, a Decimal for a Decimal
        one; None over no rows."""
        return self._scalar(Aggregate("sum", field))

    def avg(self, field: Any) -> Any:
        """The average of ``field``: a float (a Decimal for a Decimal field),
        the exact quotient of the sum and the count; None over no rows."""
        return self._scalar(Aggregate("avg", field))

    def min(self, field: Any) -> Any:
        """The least value of ``field`` (a number, text, date, time or
        datetime field) as the field's type; None over no rows."""
        return self._scalar(Aggregate("min", field))

    def max(self, field: Any) -> Any:
        """The greatest value of ``field``; None over no rows."""
        return self._scalar(Aggregate("max", field))

    def _scalar(self, agg: Aggregate) -> Any:
        if self._group or self._having:
            raise QueryError(f"{agg.fn}() sums up a whole query; on a grouped query use "
                             f"aggregate(x=agg.{agg.fn}(...))")
        agg.mapper_check(self._mapper)
        return self.aggregate(value=agg)[0][0]

    @overload
    def aggregate(self, row: Callable[..., R], /, **aggregates: Aggregate) -> list[R]: ...

    @overload
    def aggregate(self, /, **aggregates: Aggregate) -> list[Any]: ...

    def aggregate(self, row: Optional[Callable[..., Any]] = None, /,
                  **aggregates: Any) -> list[Any]:
        """Rows of plain values: one per group of ``group_by()`` (the group
        fields, then each named aggregate: ``aggregate(n=agg.count(),
        last=agg.max("created"))``), in the query's order (the group fields'
        by default), filtered by ``having()``; without ``group_by()``, one row
        of aggregates over the matching rows. Rows are named tuples, or
        instances of the class given first (called with the names as
        keywords: a ``NamedTuple``, a dataclass, ...)."""
        names = self._group + tuple(aggregates)
        if not aggregates and not self._group:
            raise QueryError("aggregate() takes aggregates such as n=agg.count(), "
                             "or follows group_by()")
        if len(set(names)) != len(names):
            raise QueryError(f"aggregate(): a name is both a group field and an aggregate: {names}")
        if self._having and not self._group:
            raise QueryError("having() filters the groups of group_by(): add group_by(...)")
        for key, a in aggregates.items():
            if not isinstance(a, Aggregate):
                raise QueryError(f"aggregate({key}=...) takes agg.count(), agg.sum(f), ..., "
                                 f"not {a!r}")
            a.mapper_check(self._mapper)
        make = self._row_maker(() if row is None else (row,), names)

        def run(s: Any) -> list[Any]:
            s.flush()
            sql, params, readers = self._aggregate_statement(s.dialect, aggregates)
            rows = s.fetch(sql, params)
            return [make(*[read(r[i:j]) for i, j, read in readers]) for r in rows]
        found: list[Any] = self._run(run, True)
        return found

    @staticmethod
    def _row_maker(row: Sequence[Any], names: tuple[str, ...]) -> Callable[..., Any]:
        """Rows of ``names`` as instances of the row class in ``row`` (called
        with the names as keywords), or as named tuples."""
        if len(row) > 1 or (row and not callable(row[0])):
            raise QueryError("aggregate() and values() take one row class before the names")
        if not row:
            named: Callable[..., Any] = row_class(names)
            return named
        cls = row[0]
        return lambda *values: cls(**dict(zip(names, values)))

    def _aggregate_statement(self, dialect: Any, aggregates: dict[str, Aggregate]
                             ) -> tuple[str, list[Any], list[Any]]:
        """The SQL and parameters of ``aggregate(**aggregates)``, and the
        readers of each value: (start, end, read) over a row."""
        mapper = self._mapper
        c = codec(mapper, dialect)
        comp = self._compiler(c)
        t = comp.table(mapper)
        group_props: list[Any] = [mapper.props[n] for n in self._group]
        group_cols = [t.field(col.name) for p in group_props for col in p.columns]
        readers: list[Any] = []
        at = 0
        for p in group_props:
            readers.append((at, at + len(p.columns), group_value_reader(p, dialect)))
            at += len(p.columns)
        select = list(group_cols)
        for a in aggregates.values():
            select += a.fetched(comp)
            readers.append((at, at + a.width, a.read(mapper, dialect)))
            at += a.width
        paged = self._limit is not None or bool(self._offset)
        if self._group or not paged:
            grouped = bool(self._group)
            q = rows_select(comp, t, select, self._conditions(), group_cols, self._having,
                            lambda: self._group_order(comp, t, group_cols) if grouped else (),
                            self._limit if grouped else None, self._offset if grouped else None,
                            dialect.features.limit_max)
        else:  # the aggregates of the first rows: those rows' keys, joined back
            page = self._base(c, c.pk_names, comp.nested(mapper))
            q = paged_rows_select(comp, t, select, c.pk_names, page)
        return q.get_sql(), comp.params, readers

    def _group_order(self, comp: Compiler, t: Any, group_cols: list[Any]
                     ) -> list[tuple[Any, Order]]:
        """The ORDER BY of a grouped query: the requested group fields and
        aggregates, then every group field ascending."""
        terms = []
        for name, desc in self._order:
            direction = Order.desc if desc else Order.asc
            if isinstance(name, OrderKey):
                terms.append((name.term.sql(comp), direction))
            elif name in self._group:
                prop: Any = self._mapper.props[name]
                terms += [(t.field(col.name), direction) for col in prop.columns]
            else:
                raise QueryError(f"order_by({name!r}) on a query grouped by "
                                 f"{', '.join(self._group)}: order by a group field or an "
                                 "aggregate (agg.count().desc())")
        return terms + [(col, Order.asc) for col in group_cols]

    @overload
    def values(self, row: Callable[..., R], /, *fields: Any) -> list[R]: ...

    @overload
    def values(self, *fields: Any) -> list[Any]: ...

    def values(self, *fields: Any) -> list[Any]:
        """The values of these fields (all column fields when none are named)
        of each matching row, as named tuples (a reference gives the target's
        key), in the query's order; after ``distinct()``, each combination
        once (ordered by the query's order, which must name only these
        fields, or by the fields). A row class may come first, as for
        ``aggregate()``."""
        row = fields[:1] if fields and not isinstance(fields[0], (str, FieldExpr)) else ()
        fields = fields[len(row):]
        mapper = self._mapper
        names = []
        for f in fields:
            if isinstance(f, FieldExpr):
                f.mapper_check(mapper)
                f = f.prop.name
            column_prop(mapper, f, "values")
            names.append(f)
        props: list[Any] = ([mapper.props[n] for n in names] if names
                            else list(mapper.scalars) + list(mapper.references))
        make = self._row_maker(row, tuple(p.name for p in props))

        def run(s: Any) -> list[Any]:
            s.flush()
            sql, params, readers = self._values_statement(s.dialect, props)
            return [make(*[read(r[i:j]) for i, j, read in readers]) for r in s.fetch(sql, params)]
        found: list[Any] = self._run(run)
        return found

    def _values_statement(self, dialect: Any, props: list[Any]) -> tuple[str, list[Any], list[Any]]:
        mapper = self._mapper
        c = codec(mapper, dialect)
        comp = self._compiler(c)
        t = comp.table(mapper)
        cols = [t.field(col.name) for p in props for col in p.columns]
        readers, at = [], 0
        for p in props:
            readers.append((at, at + len(p.columns), group_value_reader(p, dialect)))
            at += len(p.columns)
        if not self._distinct:
            return self._base(c, cols, comp).get_sql(), comp.params, readers
        chosen = {p.name for p in props}
        for name, _ in self._order:
            if name not in chosen:
                raise QueryError(f"distinct().values(...) orders by the values it returns; "
                                 f"order_by({name!r}) is not among them")

        def order() -> list[tuple[Any, Order]]:
            terms = order_terms(mapper, t, self._order, (), comp)
            return terms + [(col, Order.asc) for col in cols]
        q = rows_select(comp, t, cols, self._conditions(), (), (), order, self._limit, self._offset,
                        dialect.features.limit_max, distinct=True)
        return q.get_sql(), comp.params, readers

    def _count_groups(self) -> int:
        """``count()`` of a grouped query: how many groups (limit and skip apply)."""
        def run(s: Any) -> int:
            s.flush()
            mapper = self._mapper
            c = codec(mapper, s.dialect)
            comp = self._compiler(c)
            t = comp.table(mapper)
            cols = [t.field(col.name) for n in self._group
                    for col in mapper.props[n].columns]  # type: ignore[attr-defined]
            paged = self._limit is not None or bool(self._offset)
            inner = rows_select(comp, t, cols, self._conditions(), cols, self._having,
                                lambda: [(col, Order.asc) for col in cols] if paged else (),
                                self._limit, self._offset, s.dialect.features.limit_max)
            outer = s.dialect.query_class.from_(inner.as_("_ar_groups")).select(Count(Star()))
            sql = outer.get_sql()
            return int(s.fetch(sql, comp.params)[0][0])
        if self._having and not self._group:
            raise QueryError("having() filters the groups of group_by(): add group_by(...)")
        count: int = self._run(run, True)
        return count
