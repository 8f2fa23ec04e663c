"""Query expressions: ``User.created >= since``, ``(User.id > 3) &
~User.username.like("a%")``, ``Post.author == user``. Expressions are small
immutable trees; the query compiles them to PyPika criteria, with every
value adapted by the column's dialect adapter and sent as a bound parameter.

Also :class:`ValueExpr`, values the database computes (``Counter.value + 1``)
for ``patch_many``. The base :class:`Condition` lives in
:mod:`activerel.sql.conditions` (re-exported here). Used by the query,
loading and the unit of work. Imports :mod:`activerel.sql.compiler`,
:mod:`activerel.sql.conditions`, :mod:`activerel.sql.aggregates` (the
relation aggregates ``User.posts.count()``), :mod:`activerel.sql.values`,
:mod:`activerel.mapping` and :mod:`activerel._util`."""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable, Generic, Optional, Sequence, TypeVar, cast

from pypika.terms import Criterion, ExistsCriterion, Term

from .._util.pypika import FALSE, TRUE, SqlTemplate, all_of, any_of, negate, not_true
from ..errors import QueryError, ValidationError
from ..mapping.markers import MISSING
from ..mapping.properties import BackRefProp, Prop, ReferenceProp, ScalarProp
from ..mapping.registry import is_model_instance
from .aggregates import RelationAggregate
from .compiler import Compiler, key_set, relation_subquery
from .conditions import Condition as Condition, _cond  # Condition: re-exported for the layers above
from .values import codec

#: the Python type of a field's values (``FieldExpr[int]`` for ``User.id``):
#: what a checker shows for a class-level field
T = TypeVar("T")


class _Compare(Condition):
    __slots__ = ("field", "op", "value")

    def __init__(self, field: "FieldExpr[Any]", op: str, value: Any) -> None:
        self.field = field
        self.op = op
        self.value = value
        if op in ("in", "not_in"):
            check = field._checker()
            for v in value:
                check(v)
        elif op == "between":
            field.check_value(value[0])
            field.check_value(value[1])
        elif op == "like":
            if not isinstance(value, str):
                raise ValidationError(f"like() takes a str pattern, not {value!r}")
            if (len(value) - len(value.rstrip("\\"))) % 2:
                raise QueryError(
                    f"{field.prop.owner.name}.{field.prop.name}.like({value!r}): the pattern ends "
                    "with the escape character \\; write \\\\ for a backslash")
        elif value is not None or op not in ("eq", "ne"):
            field.check_value(value)

    def compile(self, comp: Compiler) -> Criterion:
        return self.field.compile_op(comp, self.op, self.value)

    def shape(self) -> Any:
        # a field of the query's own model; a list's SQL depends on its length
        # and, on some backends, on its values (one JSON or array parameter)
        if getattr(self.field, "hops", ()) or self.op in ("in", "not_in"):
            return None
        null = self.value is None and self.op in ("eq", "ne")
        return (self.field.prop, self.op, null)

    def key_lookup(self) -> Any:
        if self.op in ("eq", "in") and self.value is not None and not getattr(self.field, "hops", ()):
            return self.field.prop
        return None

    def values(self, dialect: Any, out: list[Any]) -> None:
        op, value = self.op, self.value
        if value is None and op in ("eq", "ne"):
            return
        if op == "like":
            out.append(value)
            return
        convert = self.field._converter(dialect)
        if op == "between":
            low, high = cast("tuple[Any, Any]", value)
            out.append(convert(low)[0])
            out.append(convert(high)[0])
            return
        out.extend(convert(value))

    def mapper_check(self, mapper: Any) -> None:
        self.field.mapper_check(mapper)


_NUMERIC = frozenset({"int", "float", "decimal"})
_ARITH: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
}


class ValueExpr:
    """A value computed by the database from a row's columns, such as
    ``Counter.value + 1``: what ``patch_many`` sets a field to without
    loading the rows (an atomic update)."""

    __hash__ = None  # type: ignore[assignment]

    def __init__(self, op: str, left: Any, right: Any) -> None:
        self.op = op
        self.left = left
        self.right = right
        self.owner: Any = next(x.owner for x in (left, right) if isinstance(x, (FieldExpr, ValueExpr)))
        for x in (left, right):
            if isinstance(x, FieldExpr):
                x.need_number(op)
            elif not isinstance(x, ValueExpr) and (
                    isinstance(x, bool) or not isinstance(x, (int, float, Decimal))):
                raise ValidationError(f"{self!r}: {x!r} is not a number")

    def __repr__(self) -> str:
        return f"({self.left!r} {self.op} {self.right!r})"

    def __add__(self, other: Any) -> "ValueExpr":
        return ValueExpr("+", self, other)

    def __radd__(self, other: Any) -> "ValueExpr":
        return ValueExpr("+", other, self)

    def __sub__(self, other: Any) -> "ValueExpr":
        return ValueExpr("-", self, other)

    def __rsub__(self, other: Any) -> "ValueExpr":
        return ValueExpr("-", other, self)

    def __mul__(self, other: Any) -> "ValueExpr":
        return ValueExpr("*", self, other)

    def __rmul__(self, other: Any) -> "ValueExpr":
        return ValueExpr("*", other, self)

    def mapper_check(self, mapper: Any) -> None:
        for x in (self.left, self.right):
            if isinstance(x, (FieldExpr, ValueExpr)):
                x.mapper_check(mapper)

    def compile_value(self, comp: "Compiler") -> Term:
        """The PyPika term, literals bound as parameters."""
        def term(x: Any) -> Any:
            if isinstance(x, ValueExpr):
                return x.compile_value(comp)
            if isinstance(x, FieldExpr):
                return x._columns(comp)[0]
            return comp.param(x)
        computed: Term = _ARITH[self.op](term(self.left), term(self.right))
        return computed

    def shape(self) -> Any:
        """What its SQL depends on (the statement cache's key): operators and
        fields, a literal as ``"?"``; :meth:`values` gives the literals."""
        return (self.op,) + tuple(x.shape() if isinstance(x, ValueExpr) else
                                  x.prop if isinstance(x, FieldExpr) else "?"
                                  for x in (self.left, self.right))

    def values(self, out: list[Any]) -> None:
        """Append the literals, in the order :meth:`compile_value` binds them."""
        for x in (self.left, self.right):
            if isinstance(x, ValueExpr):
                x.values(out)
            elif not isinstance(x, FieldExpr):
                out.append(x)


class FieldExpr(Generic[T]):
    """A field of a model in a query: ``User.username``. For a reference,
    comparisons take the target object (or its key) and compare keys;
    ``+``, ``-`` and ``*`` on a number field make a :class:`ValueExpr`.
    ``T`` is the type of the field's values, for type checkers."""

    __hash__ = None  # type: ignore[assignment]

    def __init__(self, prop: Prop) -> None:
        self.prop = prop

    def __repr__(self) -> str:
        return f"<{self.prop.owner.name}.{self.prop.name}>"

    def mapper_check(self, mapper: Any) -> None:
        if self.prop.owner is not mapper:
            raise QueryError(
                f"{self.prop.owner.name}.{self.prop.name} is not a field of {mapper.name}; "
                "filter a relation with some()/every()/none() or is_()")

    @property
    def owner(self) -> Any:
        return self.prop.owner

    def need_number(self, op: str) -> None:
        prop = self.prop
        if not isinstance(prop, ScalarProp) or prop.ctype.kind not in _NUMERIC:
            raise QueryError(f"{prop.owner.name}.{prop.name} {op} ...: arithmetic needs a number "
                             "field (int, float or Decimal)")

    # arithmetic: values computed by the database
    def __add__(self, other: Any) -> ValueExpr:
        return ValueExpr("+", self, other)

    def __radd__(self, other: Any) -> ValueExpr:
        return ValueExpr("+", other, self)

    def __sub__(self, other: Any) -> ValueExpr:
        return ValueExpr("-", self, other)

    def __rsub__(self, other: Any) -> ValueExpr:
        return ValueExpr("-", other, self)

    def __mul__(self, other: Any) -> ValueExpr:
        return ValueExpr("*", self, other)

    def __rmul__(self, other: Any) -> ValueExpr:
        return ValueExpr("*", other, self)

    # comparisons
    def __eq__(self, other: Any) -> Condition:  # type: ignore[override]
        return _Compare(self, "eq", other)

    def __ne__(self, other: Any) -> Condition:  # type: ignore[override]
        return _Compare(self, "ne", other)

    def __lt__(self, other: Any) -> Condition:
        return _Compare(self, "lt", other)

    def __le__(self, other: Any) -> Condition:
        return _Compare(self, "le", other)

    def __gt__(self, other: Any) -> Condition:
        return _Compare(self, "gt", other)

    def __ge__(self, other: Any) -> Condition:
        return _Compare(self, "ge", other)

    def in_(self, values: Sequence[Any]) -> Condition:
        return _Compare(self, "in", list(values))

    def not_in(self, values: Sequence[Any]) -> Condition:
        return _Compare(self, "not_in", list(values))

    def like(self, pattern: str) -> Condition:
        return _Compare(self, "like", pattern)

    def is_null(self) -> Condition:
        return _Compare(self, "eq", None)

    def is_not_null(self) -> Condition:
        return _Compare(self, "ne", None)

    def between(self, low: Any, high: Any) -> Condition:
        return _Compare(self, "between", (low, high))

    def is_(self, condition: Optional[Condition] = None) -> Condition:
        """For a reference: the referenced object exists and matches ``condition``
        (``is_(None)``: the reference is NULL)."""
        self._need_reference("is_")
        if condition is None:
            return _Compare(self, "eq", None)
        return _RelFilter(self.prop, "some", condition)

    def is_not(self, condition: Optional[Condition] = None) -> Condition:
        """For a reference: no referenced object matching ``condition``
        (``is_not(None)``: the reference is set)."""
        self._need_reference("is_not")
        if condition is None:
            return _Compare(self, "ne", None)
        return _RelFilter(self.prop, "none", condition)

    def _need_reference(self, what: str) -> None:
        if not isinstance(self.prop, ReferenceProp):
            raise QueryError(f"{what}() is for references; {self.prop.owner.name}."
                             f"{self.prop.name} is a plain field")

    def check_value(self, value: Any) -> None:
        """Raise ValidationError unless ``value`` can be compared with this field."""
        self._checker()(value)

    def _checker(self) -> Callable[[Any], None]:
        """value -> None, or ValidationError; made once per field, so a long
        ``in_()`` list costs one call per value."""
        check = _checks.get(self.prop)
        if check is None:
            check = _checks[self.prop] = _make_checker(self.prop)
        return check

    # compilation
    def _values(self, comp: Compiler, value: Any) -> tuple[Any, ...]:
        """The database values of the field's columns for ``value``."""
        return self._converter(comp.dialect)(value)

    def _converter(self, dialect: Any) -> Callable[[Any], tuple[Any, ...]]:
        """value -> the database values of the field's columns (the condition
        checked every value when it was made: _checker)."""
        prop = self.prop
        return codec(prop.owner, dialect).field_converter(prop)

    def _columns(self, comp: Compiler) -> list[Term]:
        t = comp.table(self.prop.owner)
        return [t.field(col.name) for col in self.prop.columns]  # type: ignore[attr-defined]

    def compile_op(self, comp: Compiler, op: str, value: Any) -> Criterion:
        cols = self._columns(comp)
        if value is None and op in ("eq", "ne"):
            return all_of([c.isnull() if op == "eq" else c.notnull() for c in cols])
        if op in ("in", "not_in"):
            if not value:
                return FALSE if op == "in" else TRUE
            convert = self._converter(comp.dialect)
            if len(cols) == 1:
                values = [convert(v)[0] for v in value]
                bulk = comp.dialect.key_set_criterion(cols[0], values, comp)
                if bulk is not None:  # the whole list as one bound parameter
                    return bulk if op == "in" else negate(bulk)
                params = [comp.param(v) for v in values]
                return cols[0].isin(params) if op == "in" else cols[0].notin(params)
            crit = key_set(comp, cols, [convert(v) for v in value])
            return crit if op == "in" else crit.negate()
        if op == "between":
            low, high = cast("tuple[Any, Any]", value)
            lo, hi = self._values(comp, low)[0], self._values(comp, high)[0]
            return cols[0][comp.param(lo):comp.param(hi)]
        if op == "like":
            if not isinstance(value, str):
                raise ValidationError(f"like() takes a str pattern, not {value!r}")
            if not isinstance(self.prop, ScalarProp):
                raise QueryError(f"{self.prop.owner.name}.{self.prop.name} is a reference; like() needs text")
            # an explicit ESCAPE: a backslash escapes % and _ on every backend
            # (SQLite has no escape character of its own)
            return SqlTemplate("{col} LIKE {pattern} ESCAPE " + comp.dialect.like_escape_sql,
                               col=cols[0], pattern=comp.param(value))
        fn = _OPS[op]
        crits = [fn(col, comp.param(v)) for col, v in zip(cols, self._values(comp, value))]
        if len(crits) == 1:
            return crits[0]
        if op == "eq":
            return all_of(crits)
        if op == "ne":
            return any_of(crits)
        raise QueryError(f"{self.prop.owner.name}.{self.prop.name}: only == and != compare a "
                         "composite reference")


_checks: dict[Any, Callable[[Any], None]] = {}


def _make_checker(prop: Prop) -> Callable[[Any], None]:
    """The comparison check of one field: its generated type check for a
    plain field, the target's model or key for a reference."""
    owner, name = prop.owner.name, prop.name
    if isinstance(prop, ScalarProp):
        ok = prop.check  # the generated per-field check
        kind = prop.ctype.kind

        def check(value: Any) -> None:
            if value is None or not ok(value):
                raise ValidationError(
                    f"{owner}.{name} cannot be compared with {value!r}: not a {kind}")
        return check
    target = prop.target_mapper  # type: ignore[attr-defined]
    what = f"{owner}.{name}"
    cls = target.cls
    checks = target.key_checks()
    one = checks[0][2] if len(checks) == 1 else None  # a one-column key's value check

    def check_ref(value: Any) -> None:
        if type(value) is cls or (one is not None and one(value)):
            return  # (the common cases first)
        if is_model_instance(value):
            if not isinstance(value, target.cls):
                raise ValidationError(
                    f"{what} refers to {target.name}, not {type(value).__name__}")
        else:
            target.check_key(value, what)
    return check_ref


_OPS: dict[str, Callable[[Any, Any], Criterion]] = {
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b, "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
}


class RelationExpr(Generic[T]):
    """A back reference in a query, e.g. ``User.posts``, for relation filters:
    ``User.posts.some(Post.published == True)``. ``T`` is the type of the
    back reference's value (``list[Post]``), for type checkers."""

    __hash__ = None  # type: ignore[assignment]

    def __init__(self, prop: BackRefProp) -> None:
        self.prop = prop

    def __repr__(self) -> str:
        return f"<{self.prop.owner.name}.{self.prop.name}>"

    def some(self, condition: Optional[Condition] = None) -> Condition:
        """At least one related object (matching ``condition``)."""
        return _RelFilter(self.prop, "some", condition)

    def every(self, condition: Condition) -> Condition:
        """Every related object matches ``condition`` (true when there are none)."""
        return _RelFilter(self.prop, "every", _cond(condition))

    def none(self, condition: Optional[Condition] = None) -> Condition:
        """No related object (matching ``condition``)."""
        return _RelFilter(self.prop, "none", condition)

    # aggregates of each row's related objects (matching ``condition``), to
    # compare in filter() or to order by: User.posts.count() >= 2
    def count(self, condition: Optional[Condition] = None) -> RelationAggregate:
        """How many related objects (matching ``condition``)."""
        return RelationAggregate(self.prop, "count", None, condition)

    def sum(self, field: Any, condition: Optional[Condition] = None) -> RelationAggregate:
        return RelationAggregate(self.prop, "sum", field, condition)

    def avg(self, field: Any, condition: Optional[Condition] = None) -> RelationAggregate:
        return RelationAggregate(self.prop, "avg", field, condition)

    def min(self, field: Any, condition: Optional[Condition] = None) -> RelationAggregate:
        return RelationAggregate(self.prop, "min", field, condition)

    def max(self, field: Any, condition: Optional[Condition] = None) -> RelationAggregate:
        return RelationAggregate(self.prop, "max", field, condition)

    def is_(self, condition: Any = MISSING) -> Condition:
        """For a one-to-one back reference: the related object exists (and
        matches ``condition``); ``is_(None)``: there is none, as on a reference."""
        self._need_one("is_")
        if condition is None:
            return _RelFilter(self.prop, "none", None)
        return _RelFilter(self.prop, "some", None if condition is MISSING else condition)

    def is_not(self, condition: Any = MISSING) -> Condition:
        """No related object (matching ``condition``); ``is_not(None)``: there is one."""
        self._need_one("is_not")
        if condition is None:
            return _RelFilter(self.prop, "some", None)
        return _RelFilter(self.prop, "none", None if condition is MISSING else condition)

    def _need_one(self, what: str) -> None:
        if self.prop.many:
            raise QueryError(f"{self.prop.owner.name}.{self.prop.name} is to-many: "
                             f"use some()/every()/none(), not {what}()")


class _RelFilter(Condition):
    """EXISTS / NOT EXISTS over a relation, with a condition on the related model."""

    __slots__ = ("prop", "mode", "cond")
    needs_alias = True

    def __init__(self, prop: Prop, mode: str, cond: Optional[Condition]) -> None:
        self.prop = prop
        self.mode = mode
        self.cond = _cond(cond) if cond is not None else None

    def mapper_check(self, mapper: Any) -> None:
        if self.prop.owner is not mapper:
            raise QueryError(
                f"{self.prop.owner.name}.{self.prop.name} is not a relation of {mapper.name}")
        if self.cond is not None:
            self.cond.mapper_check(self.prop.target_mapper)  # type: ignore[attr-defined]

    def compile(self, comp: Compiler) -> Criterion:
        return relation_filter(comp, self.prop, self.cond, self.mode)


def relation_filter(comp: Compiler, prop: Prop, cond: Optional[Condition], mode: str) -> Criterion:
    def where(inner: Compiler) -> Optional[Criterion]:
        if cond is None:
            return None
        crit = cond.compile(inner)
        if mode == "every":  # the condition is false OR unknown (NULL)
            return not_true(crit)
        return crit

    exists = ExistsCriterion(relation_subquery(comp, prop, where))
    return exists if mode == "some" else exists.negate()
