"""Queries as subqueries: a query given to ``in_()`` stands for its primary
keys (``Post.author.in_(User.query().filter(...))``), ``query.column("field")``
for the values of one field, and ``.max()`` / ``.min()`` / ``.sum()`` /
``.avg()`` / ``.count()`` of a column for one value to compare a field with
(``Post.views > Post.query().column("views").avg()``). Each is rendered
into the statement of the query that holds it, in one statement, never run
first.

:class:`SubqueryMixin` is a base of ``Query``; :class:`ColumnQuery` is the
:class:`~activerel.sql.subqueries.Subquery` it makes. Used by
:mod:`activerel.query`. Imports :mod:`activerel.querying.checks`,
:mod:`activerel.sql` and :mod:`activerel.mapping`."""
from __future__ import annotations

from typing import Any, Optional, Union

from pypika import functions as fn

from ..errors import QueryError
from ..mapping.mapper import Mapper
from ..sql.compiler import Compiler
from ..sql.expressions import FieldExpr
from ..sql.paths import PathExpr
from ..sql.subqueries import Subquery, column_type
from ..sql.values import codec
from .checks import field_path

_AGGREGATES: dict[str, Any] = {"count": fn.Count, "sum": fn.Sum, "avg": fn.Avg,
                               "min": fn.Min, "max": fn.Max}
_NUMBERS = frozenset({"int", "float", "decimal"})


class SubqueryMixin:
    """What makes a query usable inside another: ``column()``, and a whole
    query standing for its keys in ``in_()`` and comparisons."""

    __slots__ = ()
    _mapper: Mapper

    def column(self, field: Union[str, FieldExpr[Any]]) -> "ColumnQuery":
        """The values of one field (a name, a dotted path such as
        ``"author.username"``, or ``Post.title``) of the matching rows, as a
        subquery for ``in_()`` / ``not_in()``; ``.max()``, ``.min()``,
        ``.sum()``, ``.avg()`` and ``.count()`` of it make one value to
        compare with. Never run by itself: it becomes part of the statement
        of the query it is used in."""
        mapper = self._mapper
        if isinstance(field, FieldExpr):
            field.mapper_check(mapper)
            expr = field if isinstance(field, PathExpr) else PathExpr(field.prop)
        elif isinstance(field, str):
            expr = field_path(mapper, field, "column")
        else:
            raise QueryError(f"column() takes a field name or a field such as {mapper.name}.id, "
                             f"not {field!r}")
        return ColumnQuery(self, (expr,))

    def _as_subquery(self) -> "ColumnQuery":
        """This query as a value: the primary keys of its rows."""
        mapper = self._mapper
        return ColumnQuery(self, tuple(PathExpr(p) for p in mapper.pk_props), model=mapper)


class ColumnQuery(Subquery):
    """The values of a query's column(s), or an aggregate of one, rendered as
    a subquery where a condition uses it. Immutable."""

    def __init__(self, query: Any, fields: tuple[PathExpr[Any], ...], aggregate: Optional[str] = None,
                 model: Optional[Mapper] = None) -> None:
        self.query = query
        self.fields = fields
        self.aggregate = aggregate
        self.model = model
        columns = [c for f in fields for c in f.prop.columns]  # type: ignore[attr-defined]
        types = tuple(column_type(c.ctype) for c in columns)
        if aggregate == "count":
            types = (("int", None),)
        elif aggregate == "avg":
            types = (("float", None),)
        self.types = types
        limit = query._limit
        self.single = aggregate is not None or (limit is not None and limit <= 1)

    def __repr__(self) -> str:
        name = self.query._mapper.name
        if self.model is not None:
            return f"<{name} query>"
        agg = f".{self.aggregate}()" if self.aggregate else ""
        return f"<{name} query .column({self.fields[0].dotted!r}){agg}>"

    # one value of the column
    def count(self) -> "ColumnQuery":
        """How many of the values are not NULL."""
        return self._aggregated("count")

    def sum(self) -> "ColumnQuery":
        return self._aggregated("sum")

    def avg(self) -> "ColumnQuery":
        return self._aggregated("avg")

    def min(self) -> "ColumnQuery":
        return self._aggregated("min")

    def max(self) -> "ColumnQuery":
        return self._aggregated("max")

    def _aggregated(self, name: str) -> "ColumnQuery":
        if self.model is not None or self.aggregate is not None or len(self.types) != 1:
            raise QueryError(f"{self!r}.{name}(): an aggregate takes the values of one "
                             "column (query.column(\"field\"))")
        if name in ("sum", "avg") and self.types[0][0] not in _NUMBERS:
            raise QueryError(f"{self!r}.{name}(): {self.fields[0].dotted!r} is not a number "
                             "field (int, float or Decimal)")
        return ColumnQuery(self.query, self.fields, name)

    # rendering, into the statement of the condition using it
    def rows(self, comp: Compiler) -> Any:
        return self._select(comp, True)

    def value(self, comp: Compiler) -> Any:
        return self._select(comp, False)

    def _select(self, comp: Compiler, rows: bool) -> Any:
        """The SELECT, its parameters added to ``comp`` in order: the
        column's values (non-NULL ones for ``rows``, so ``not_in()`` is not
        emptied by a NULL a nullable column or path may give), or their
        aggregate. A paged query is selected
        first and the values taken from its rows."""
        q = self.query
        inner = comp.nested(q._mapper)
        c = codec(q._mapper, comp.dialect)
        terms = [t for f in self.fields for t in f._columns(inner)]
        agg = _AGGREGATES[self.aggregate] if self.aggregate else None
        rows = rows and (any(h.nullable for f in self.fields for h in f.hops) or any(
            c.nullable for f in self.fields for c in f.prop.columns))  # type: ignore[attr-defined]
        if q._limit is None and q._offset is None:
            if rows:
                q = q.filter(*[f.is_not_null() for f in self.fields])
            select = [agg(terms[0])] if agg else terms
            return q._base(c, select, inner, ordered=False, paged=False)
        page = q._base(c, [t.as_(f"_ar_v{i}") for i, t in enumerate(terms)], inner).as_("_ar_page")
        cols = [page.field(f"_ar_v{i}") for i in range(len(terms))]
        out = comp.dialect.query_class.from_(page).select(*([agg(cols[0])] if agg else cols))
        if rows:
            for col in cols:
                out = out.where(col.notnull())
        return out
