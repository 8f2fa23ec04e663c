"""Aggregate values: ``agg.count()``, ``agg.sum("views")``, ... over a
query's rows or groups, and ``User.posts.count()``, ``User.posts.max("created",
Post.published == True)``, ... over each row's related rows (a correlated
subquery). Both compare into conditions (``agg.count() >= 2`` for
``having()``, ``User.posts.count() >= 2`` for ``filter()``) and order
(``.desc()``); both know the SELECT terms that fetch them and how to read
the fetched values back as the field's Python type (an ``int`` sum of an
``int`` field, a ``datetime`` max of a ``datetime`` field, on every backend;
an average is the exact quotient of the sum and the count, computed here).

Used by the relation expressions (``User.posts``), the SELECT builders of
:mod:`activerel.sql.grouping`, relation-aggregate loading and the query.
Imports :mod:`activerel.sql.compiler`, :mod:`activerel.sql.conditions`,
:mod:`activerel.sql.values`, :mod:`activerel.mapping` and
:mod:`activerel.dialects` (never :mod:`activerel.sql.expressions`, which
imports this module)."""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable, NamedTuple, Optional, Sequence

from pypika import Case
from pypika.functions import Avg, Count, Max, Min, Sum
from pypika.terms import Criterion, Star, Term

from .._util.pypika import SqlTemplate
from ..dialects.base import Dialect
from ..errors import QueryError, ValidationError
from ..mapping.mapper import Mapper
from ..mapping.properties import BackRefProp, Prop, ReferenceProp, ScalarProp
from .compiler import Compiler, relation_subquery
from .conditions import Condition
from .values import codec

FUNCTIONS = ("count", "sum", "avg", "min", "max")
_NUMBERS = frozenset({"int", "float", "decimal"})
#: the kinds min() and max() take: ordered the same way on every backend
_ORDERED = _NUMBERS | {"str", "datetime", "date", "time"}
_SQL: dict[str, Callable[[Any], Term]] = {"sum": Sum, "avg": Avg, "min": Min, "max": Max}
_OPS: dict[str, Callable[[Any, Any], Criterion]] = {
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b, "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
}


def field_prop(mapper: Mapper, field: Any, fn: str, what: str) -> Optional[Prop]:
    """The column field ``field`` (a name or ``Model.field``) of ``mapper`` that
    ``fn`` aggregates, checked: sum/avg take numbers, min/max ordered values,
    count any column field (None: count rows)."""
    if field is None:
        if fn != "count":
            raise QueryError(f"{what}: {fn}() needs a field")
        return None
    if isinstance(field, str):
        prop = mapper.props.get(field)
        if prop is None:
            raise QueryError(f"{what}: {mapper.name} has no field {field!r}; its fields are "
                             f"{', '.join(mapper.props)}")
    else:
        prop = getattr(field, "prop", None)
        if not isinstance(prop, Prop):
            raise QueryError(f"{what}: {fn}() takes a field name or a field such as "
                             f"{mapper.name}.id, not {field!r}")
        if prop.owner is not mapper:
            raise QueryError(f"{what}: {prop.owner.name}.{prop.name} is not a field of "
                             f"{mapper.name}")
    if isinstance(prop, BackRefProp):
        raise QueryError(f"{what}: {mapper.name}.{prop.name} is a relation, not a column field")
    if fn == "count":
        return prop
    kinds = _NUMBERS if fn in ("sum", "avg") else _ORDERED
    if not isinstance(prop, ScalarProp) or prop.ctype.kind not in kinds:
        kind = prop.ctype.kind if isinstance(prop, ScalarProp) else "reference"
        raise QueryError(f"{what}: {fn}() of {mapper.name}.{prop.name} ({kind}): {fn}() takes "
                         f"a field of kind {', '.join(sorted(kinds))}")
    return prop


def fetched_terms(fn: str, column: Any, distinct: bool = False) -> list[Term]:
    """The SELECT terms that fetch ``fn`` of ``column`` (None: every row):
    avg fetches the sum and the count, so that :func:`reader` can give the
    exact quotient on every backend."""
    if fn == "avg":
        return [Sum(column), Count(column)]
    return [sql_term(fn, column, distinct)]


def sql_term(fn: str, column: Any, distinct: bool = False) -> Term:
    """``fn`` of ``column`` as one SQL term (for comparisons and ordering)."""
    if fn == "count":
        term = Count(Star() if column is None else column)
        return term.distinct() if distinct and column is not None else term
    return _SQL[fn](column)


def reader(fn: str, prop: Optional[Prop], dialect: Dialect) -> Callable[[Sequence[Any]], Any]:
    """values -> the aggregate as the field's Python type, from the values
    :func:`fetched_terms` fetched; None over no rows (0 for count)."""
    if fn == "count":
        return lambda v: int(v[0] or 0)
    assert isinstance(prop, ScalarProp)
    kind = prop.ctype.kind
    if fn == "avg":
        total = _number(kind, None, dialect)

        def avg(v: Sequence[Any]) -> Any:
            if not v[1]:
                return None
            # an int sum divides into the correctly rounded float, a Decimal
            # into a Decimal (Python's context: 28 significant digits)
            return total(v[0]) / int(v[1])
        return avg
    if fn == "sum":
        one = _number(kind, codec(prop.owner, dialect).converters[prop.column.name], dialect)
    else:
        conv = codec(prop.owner, dialect).converters[prop.column.name]
        one = conv if conv is not None else (lambda x: x)
    return lambda v: None if v[0] is None else one(v[0])


def _number(kind: str, convert: Any, dialect: Dialect) -> Callable[[Any], Any]:
    """A sum as ``kind``: an int, a float, or a Decimal (a backend that sums
    decimals in floating point keeps ``features.decimal_digits`` of it, the
    digits it stores)."""
    if kind == "int":
        return int
    if kind == "float":
        return float
    digits = dialect.features.decimal_digits

    def decimal(x: Any) -> Decimal:
        if isinstance(x, float):
            x = Decimal(format(x, f".{digits}g") if digits else repr(x))
        elif not isinstance(x, Decimal):
            x = Decimal(x)
        d: Decimal = x if convert is None else convert(x)
        return d
    return decimal


class AggregateTerm:
    """What relation and query aggregates share: comparisons make conditions,
    ``desc()`` / ``asc()`` make orderings."""

    __hash__ = None  # type: ignore[assignment]
    fn: str
    #: whether compiling it needs the outer table aliased (a correlated subquery)
    needs_alias = False

    def sql(self, comp: Compiler) -> Term:
        raise NotImplementedError

    def value_prop(self, mapper: Optional[Mapper] = None) -> Optional[Prop]:
        """The field whose values the aggregate compares with (None: a count)."""
        raise NotImplementedError

    def mapper_check(self, mapper: Mapper) -> None:
        raise NotImplementedError

    def __eq__(self, other: Any) -> Condition:  # type: ignore[override]
        return AggregateCompare(self, "eq", other)

    def __ne__(self, other: Any) -> Condition:  # type: ignore[override]
        return AggregateCompare(self, "ne", other)

    def __lt__(self, other: Any) -> Condition:
        return AggregateCompare(self, "lt", other)

    def __le__(self, other: Any) -> Condition:
        return AggregateCompare(self, "le", other)

    def __gt__(self, other: Any) -> Condition:
        return AggregateCompare(self, "gt", other)

    def __ge__(self, other: Any) -> Condition:
        return AggregateCompare(self, "ge", other)

    def desc(self) -> "Ordering":
        """Order by this aggregate, largest first: ``order_by(User.posts.count().desc())``."""
        return Ordering(self, True)

    def asc(self) -> "Ordering":
        return Ordering(self, False)


class Ordering(NamedTuple):
    """An aggregate to order by, and whether descending."""

    term: AggregateTerm
    descending: bool


class OrderKey(str):
    """An aggregate in a query's order, which holds names: a str standing
    for ``term`` (only a grouped query orders by one of its aggregates)."""

    term: AggregateTerm

    def __new__(cls, term: AggregateTerm) -> "OrderKey":
        key = super().__new__(cls, repr(term))
        key.term = term
        return key


def aggregate_order(mapper: Mapper, f: Any) -> tuple[str, bool]:
    """The ``(name, descending)`` of an aggregate given to ``order_by()``: a
    relation aggregate as its dotted name (``"posts.count"``), an aggregate
    of a grouped query as an :class:`OrderKey`."""
    term, desc = (f.term, f.descending) if isinstance(f, Ordering) else (f, False)
    term.mapper_check(mapper)
    if isinstance(term, RelationAggregate):
        if term.condition is not None:
            raise QueryError(f"order_by({term!r}): ordering by a relation aggregate over some "
                             f"of the related rows is not supported; order by one over all of "
                             f"them (\"-{term.key}\"), or filter() by this one")
        return term.key, desc
    return OrderKey(term), desc


def is_aggregate_order(f: Any) -> bool:
    """Whether an ``order_by()`` argument is an aggregate (or its ``desc()``)."""
    return isinstance(f, (AggregateTerm, Ordering))


class AggregateCompare(Condition):
    """``aggregate <op> value``, the value bound as a parameter: a count
    compares with an int, an average with a number, a sum, min or max with
    a value of its field. ``== None`` / ``!= None``: IS [NOT] NULL (an
    aggregate over no rows, count aside)."""

    __slots__ = ("agg", "op", "value")

    def __init__(self, agg: AggregateTerm, op: str, value: Any) -> None:
        self.agg = agg
        self.op = op
        self.value = value
        self.needs_alias = agg.needs_alias
        if value is None:
            if op not in ("eq", "ne"):
                raise QueryError(f"{agg!r}: only == None and != None compare with None")
            return
        if agg.fn in ("count", "avg"):
            self._check(None)
        else:
            prop = agg.value_prop()
            if prop is not None:  # else a field name: checked when the query's model is known
                self._check(prop)

    def _check(self, prop: Optional[Prop]) -> None:
        agg, value = self.agg, self.value
        if value is None:
            return
        if prop is None or agg.fn in ("count", "avg"):
            if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)) or (
                    agg.fn == "count" and not isinstance(value, int)):
                want = "an int" if agg.fn == "count" else "a number"
                raise ValidationError(f"{agg!r} compares with {want}, not {value!r}")
        elif not prop.check(value):
            raise ValidationError(f"{agg!r} compares with values of {prop.owner.name}.{prop.name}, "
                                  f"not {value!r}")

    def mapper_check(self, mapper: Any) -> None:
        self.agg.mapper_check(mapper)
        if self.agg.fn not in ("count", "avg"):
            self._check(self.agg.value_prop(mapper))

    def compile(self, comp: Compiler) -> Criterion:
        term = self.agg.sql(comp)
        if self.value is None:
            return term.isnull() if self.op == "eq" else term.notnull()
        value = self.value
        prop = self.agg.value_prop(comp.scopes[-1][0])
        kind = None
        if isinstance(prop, ScalarProp) and self.agg.fn != "count":
            kind = prop.ctype.kind
            adapt = codec(prop.owner, comp.dialect).adapters[prop.column.name]
            if self.agg.fn == "avg" and kind != "decimal":
                value = float(value)
            elif adapt is not None:
                value = adapt(value)
        param = comp.dialect.aggregate_param(comp.param(value), kind)
        return _OPS[self.op](term, param)


class RelationAggregate(AggregateTerm):
    """An aggregate of each row's related rows through a back reference:
    ``User.posts.count()``, ``User.posts.sum("score")``, optionally over the
    related rows matching a condition. In ``filter()`` and ``order_by()`` it is
    a correlated subquery; ``with_count()`` and friends load it onto the
    objects in one grouped SELECT."""

    needs_alias = True

    def __init__(self, prop: BackRefProp, fn: str, field: Any = None,
                 condition: Optional[Condition] = None) -> None:
        if fn not in FUNCTIONS:
            raise QueryError(f"unknown aggregate {fn!r}; one of {', '.join(FUNCTIONS)}")
        self.prop = prop
        self.fn = fn
        target = prop.target_mapper
        what = f"{prop.owner.name}.{prop.name}.{fn}()"
        if fn == "count" and field is not None:
            raise QueryError(f"{what} counts related rows: it takes a condition, not a field")
        self.field = field_prop(target, field, fn, what)
        if condition is not None:
            if not isinstance(condition, Condition):
                raise QueryError(f"{what} takes a condition on {target.name} such as "
                                 f"{target.name}.id > 3, not {condition!r}")
            condition.mapper_check(target)
        self.condition = condition

    @property
    def key(self) -> str:
        """``"posts.count"``, ``"posts.sum.score"``: how ``order_by`` names it."""
        tail = self.fn if self.field is None else f"{self.fn}.{self.field.name}"
        return f"{self.prop.name}.{tail}"

    @property
    def default_name(self) -> str:
        """The attribute ``with_count()`` and friends load it into by default."""
        return self.key.replace(".", "_")

    def __repr__(self) -> str:
        field = "" if self.field is None else repr(self.field.name)
        cond = "" if self.condition is None else (", ..." if field else "...")
        return f"<{self.prop.owner.name}.{self.prop.name}.{self.fn}({field}{cond})>"

    def same(self, other: "RelationAggregate") -> bool:
        return (self.prop is other.prop and self.fn == other.fn and self.field is other.field
                and self.condition is other.condition)

    def value_prop(self, mapper: Optional[Mapper] = None) -> Optional[Prop]:
        return self.field

    def mapper_check(self, mapper: Mapper) -> None:
        if self.prop.owner is not mapper:
            raise QueryError(f"{self.prop.owner.name}.{self.prop.name} is not a relation of "
                             f"{mapper.name}")

    def column(self, alias: Any) -> Any:
        """The aggregated column of the related table ``alias`` (None: rows)."""
        if self.field is None:
            return None
        return alias.field(self.field.columns[0].name)  # type: ignore[attr-defined]

    def where(self, comp: Compiler) -> Optional[Criterion]:
        return None if self.condition is None else self.condition.compile(comp)

    def sql(self, comp: Compiler) -> Term:
        # a template renders the subquery in parentheses wherever it goes (ORDER BY too)
        return SqlTemplate("{q}", q=relation_subquery(comp, self.prop, self.where,
                                                      lambda a: sql_term(self.fn, self.column(a))))

    def read(self, dialect: Dialect) -> Callable[[Sequence[Any]], Any]:
        return reader(self.fn, self.field, dialect)


def relation_aggregate(mapper: Mapper, path: str, what: str) -> Optional[RelationAggregate]:
    """The unfiltered relation aggregate ``path`` names (``"posts.count"``,
    ``"posts.max.created"``), or None when its first step is not a back
    reference of ``mapper``."""
    head, _, rest = path.partition(".")
    prop = mapper.props.get(head)
    if not isinstance(prop, BackRefProp) or not rest:
        return None
    fn, _, field = rest.partition(".")
    if fn not in FUNCTIONS or (fn == "count") != (not field) or "." in field:
        raise QueryError(
            f"{what}: {path!r} goes through the to-many relation {mapper.name}.{head}; name one of "
            f"its aggregates: \"{head}.count\", or \"{head}.sum.<field>\" (also avg, min, max)")
    return RelationAggregate(prop, fn, field or None)


class Aggregate(AggregateTerm):
    """An aggregate over a query's rows, or each group's (``agg.count()``,
    ``agg.max("created")``); the field is a name of the query's model or a
    field expression, resolved when the query uses it."""

    def __init__(self, fn: str, field: Any = None, distinct: bool = False,
                 condition: Optional[Condition] = None) -> None:
        if distinct and fn != "count":
            raise QueryError(f"agg.{fn}() does not take distinct; "
                             "agg.count(field, distinct=True) does")
        if distinct and field is None:
            raise QueryError("agg.count(distinct=True) counts distinct values of a field: name it")
        if condition is not None and not isinstance(condition, Condition):
            raise QueryError(f"agg.{fn}(condition=...) takes a condition, not {condition!r}")
        if fn != "count" and field is None:
            raise QueryError(f"agg.{fn}() needs a field")
        self.fn = fn
        self.field = field
        self.distinct = distinct
        self.condition = condition

    def __repr__(self) -> str:
        field = "" if self.field is None else repr(getattr(self.field, "prop", self.field))
        return f"<agg.{self.fn}({field})>"

    def value_prop(self, mapper: Optional[Mapper] = None) -> Optional[Prop]:
        if self.field is None:
            return None
        if mapper is None:  # before the query is known: a field expression tells
            return getattr(self.field, "prop", None)
        return field_prop(mapper, self.field, self.fn, f"agg.{self.fn}()")

    def mapper_check(self, mapper: Mapper) -> None:
        self.value_prop(mapper)
        if self.condition is not None:
            self.condition.mapper_check(mapper)

    def _column(self, comp: Compiler) -> Any:
        prop = self.value_prop(comp.scopes[-1][0])
        if prop is None:
            return None
        if len(prop.columns) != 1:  # type: ignore[attr-defined]
            raise QueryError(f"agg.{self.fn}(): {prop.owner.name}.{prop.name} has a composite key")
        column = comp.table(prop.owner).field(prop.columns[0].name)  # type: ignore[attr-defined]
        if self.condition is not None:  # only the rows matching it: CASE WHEN ... END
            column = Case().when(self.condition.compile(comp), column)
        return column

    def sql(self, comp: Compiler) -> Term:
        column = self._column(comp)
        if column is None and self.condition is not None:
            column = Case().when(self.condition.compile(comp), 1)
        return sql_term(self.fn, column, self.distinct)

    def fetched(self, comp: Compiler) -> list[Term]:
        if self.fn != "avg":
            return [self.sql(comp)]
        return fetched_terms("avg", self._column(comp))

    def read(self, mapper: Mapper, dialect: Dialect) -> Callable[[Sequence[Any]], Any]:
        return reader(self.fn, self.value_prop(mapper), dialect)

    @property
    def width(self) -> int:
        """How many SELECT terms fetch it."""
        return 2 if self.fn == "avg" else 1


class agg:  # noqa: N801 - a namespace, spelled like the functions it holds
    """The aggregate functions of ``aggregate()`` and ``having()``:
    ``agg.count()`` (rows), ``agg.count("reviewer")`` (non-NULL values),
    ``agg.count("author", distinct=True)``, ``agg.sum(f)``, ``agg.avg(f)``,
    ``agg.min(f)``, ``agg.max(f)``; each takes ``condition=`` to aggregate
    only the rows that match it. ``f`` is a field name or ``Model.field``."""

    @staticmethod
    def count(field: Any = None, *, distinct: bool = False,
              condition: Optional[Condition] = None) -> Aggregate:
        return Aggregate("count", field, distinct, condition)

    @staticmethod
    def sum(field: Any, *, condition: Optional[Condition] = None) -> Aggregate:
        return Aggregate("sum", field, condition=condition)

    @staticmethod
    def avg(field: Any, *, condition: Optional[Condition] = None) -> Aggregate:
        return Aggregate("avg", field, condition=condition)

    @staticmethod
    def min(field: Any, *, condition: Optional[Condition] = None) -> Aggregate:
        return Aggregate("min", field, condition=condition)

    @staticmethod
    def max(field: Any, *, condition: Optional[Condition] = None) -> Aggregate:
        return Aggregate("max", field, condition=condition)


def group_value_reader(prop: Prop, dialect: Dialect) -> Callable[[Sequence[Any]], Any]:
    """A group field's stored column values -> its value: a scalar as its
    converter gives it, a reference as the target's key (a tuple for a
    composite key; None for NULL)."""
    if isinstance(prop, ReferenceProp):
        row_key = codec(prop.target_mapper, dialect).row_key
        return lambda v: None if v[0] is None else row_key(v)
    assert isinstance(prop, ScalarProp)
    conv = codec(prop.owner, dialect).converters[prop.column.name]
    if conv is None:
        return lambda v: v[0]
    return lambda v: None if v[0] is None else conv(v[0])
