"""Query expressions: ``User.created >= since``, ``(User.id > 3) &
~User.username.like("a%")``, ``Post.author == user``. Expressions are small
immutable trees; the query compiles them to PyPika criteria, with every
value adapted by the column's dialect adapter and sent as a bound parameter."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

from pypika import Parameter
from pypika.terms import Criterion, Term

from .errors import QueryError, ValidationError

if TYPE_CHECKING:
    from .compiled import CompiledMapper
    from .mapper import Prop


class Compiler:
    """Collects bound parameters while expressions become PyPika terms."""

    def __init__(self, c: "CompiledMapper") -> None:
        self.c = c
        self.params: list[Any] = []
        self.ph = c.dialect.placeholder

    def param(self, value: Any) -> Parameter:
        self.params.append(value)
        return Parameter(self.ph)


class Condition:
    """A boolean expression; combine with ``&``, ``|`` and ``~``."""

    def __and__(self, other: "Condition") -> "Condition":
        return _Bool("and", (self, _cond(other)))

    def __or__(self, other: "Condition") -> "Condition":
        return _Bool("or", (self, _cond(other)))

    def __invert__(self) -> "Condition":
        return _Not(self)

    def __bool__(self) -> bool:
        raise TypeError("use & | ~ to combine conditions, not and/or/not")

    def compile(self, comp: Compiler) -> Criterion:
        raise NotImplementedError

    def mapper_check(self, mapper: Any) -> None:
        """Raise QueryError when this condition names another model's fields."""


def _cond(value: Any) -> Condition:
    if not isinstance(value, Condition):
        raise TypeError(f"expected a condition such as User.id > 3, got {value!r}")
    return value


class _Bool(Condition):
    __slots__ = ("op", "parts")

    def __init__(self, op: str, parts: Sequence[Condition]) -> None:
        self.op = op
        self.parts = tuple(parts)

    def compile(self, comp: Compiler) -> Criterion:
        terms = [p.compile(comp) for p in self.parts]
        return Criterion.all(terms) if self.op == "and" else Criterion.any(terms)

    def mapper_check(self, mapper: Any) -> None:
        for p in self.parts:
            p.mapper_check(mapper)


class _Not(Condition):
    __slots__ = ("inner",)

    def __init__(self, inner: Condition) -> None:
        self.inner = inner

    def compile(self, comp: Compiler) -> Criterion:
        return self.inner.compile(comp).negate()

    def mapper_check(self, mapper: Any) -> None:
        self.inner.mapper_check(mapper)


class _Compare(Condition):
    __slots__ = ("field", "op", "value")

    def __init__(self, field: "FieldExpr", op: str, value: Any) -> None:
        self.field = field
        self.op = op
        self.value = value
        if op in ("in", "not_in"):
            for v in value:
                field.check_value(v)
        elif op == "between":
            field.check_value(value[0])
            field.check_value(value[1])
        elif op == "like":
            if not isinstance(value, str):
                raise ValidationError(f"like() takes a str pattern, not {value!r}")
        elif value is not None or op not in ("eq", "ne"):
            field.check_value(value)

    def compile(self, comp: Compiler) -> Criterion:
        return self.field.compile_op(comp, self.op, self.value)

    def mapper_check(self, mapper: Any) -> None:
        self.field.mapper_check(mapper)


class FieldExpr:
    """A field of a model in a query: ``User.username``. For a reference,
    comparisons take the target object (or its key) and compare keys."""

    __hash__ = None  # type: ignore[assignment]

    def __init__(self, prop: "Prop") -> None:
        self.prop = prop

    def __repr__(self) -> str:
        return f"<{self.prop.owner.name}.{self.prop.name}>"

    def mapper_check(self, mapper: Any) -> None:
        if self.prop.owner is not mapper:
            raise QueryError(
                f"{self.prop.owner.name}.{self.prop.name} is not a field of {mapper.name}; "
                "filter a relation with some()/every()/none() or is_()")

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

    def check_value(self, value: Any) -> None:
        """Raise ValidationError unless ``value`` can be compared with this field."""
        prop = self.prop
        from .model import Model
        if prop.kind == "scalar":
            from .codegen import _make_check  # the generated per-field check
            check = _checks.get(prop)
            if check is None:
                check = _checks[prop] = _make_check(prop)
            if value is None or not check(value):
                raise ValidationError(
                    f"{prop.owner.name}.{prop.name} cannot be compared with {value!r}: not a "
                    f"{prop.ctype.kind}")  # type: ignore[attr-defined]
        elif isinstance(value, Model):
            target = prop.target_mapper  # type: ignore[attr-defined]
            if not isinstance(value, target.cls):
                raise ValidationError(
                    f"{prop.owner.name}.{prop.name} refers to {target.name}, not "
                    f"{type(value).__name__}")
        else:
            target = prop.target_mapper  # type: ignore[attr-defined]
            target.check_key(value, f"{prop.owner.name}.{prop.name}")

    # compilation
    def _values(self, comp: Compiler, value: Any) -> tuple:
        """The database values of the field's columns for ``value``."""
        prop = self.prop
        c = comp.c
        if prop.kind == "scalar":
            adapt = c.adapters[prop.column.name]  # type: ignore[attr-defined]
            return (value if adapt is None else adapt(value),)
        from .model import Model
        target = prop.target_mapper  # type: ignore[attr-defined]
        from .compiled import compiled
        tc = compiled(target, c.dialect)
        if isinstance(value, Model):
            if not isinstance(value, target.cls):
                raise ValidationError(
                    f"{prop.owner.name}.{prop.name} refers to {target.name}, not "
                    f"{type(value).__name__}")
            key = target.key_of(value)
        else:
            key = value
        return tc.key_params(key)

    def _columns(self, comp: Compiler) -> list[Term]:
        t = comp.c.table
        return [t.field(col.name) for col in self.prop.columns]  # type: ignore[attr-defined]

    def compile_op(self, comp: Compiler, op: str, value: Any) -> Criterion:
        cols = self._columns(comp)
        if value is None and op in ("eq", "ne"):
            crits = [c.isnull() if op == "eq" else c.notnull() for c in cols]
            return Criterion.all(crits)
        if op in ("in", "not_in"):
            if not value:
                return _FALSE if op == "in" else _TRUE
            if len(cols) == 1:
                params = [comp.param(self._values(comp, v)[0]) for v in value]
                return cols[0].isin(params) if op == "in" else cols[0].notin(params)
            from pypika import Tuple
            groups = [Tuple(*[comp.param(x) for x in self._values(comp, v)]) for v in value]
            crit = Tuple(*cols).isin(groups)
            return crit if op == "in" else crit.negate()
        if op == "between":
            low, high = value
            lo, hi = self._values(comp, low)[0], self._values(comp, high)[0]
            return cols[0][comp.param(lo):comp.param(hi)]
        if op == "like":
            if not isinstance(value, str):
                raise ValidationError(f"like() takes a str pattern, not {value!r}")
            if self.prop.kind != "scalar":
                raise QueryError(f"{self.prop.owner.name}.{self.prop.name} is a reference; like() needs text")
            return cols[0].like(comp.param(value))
        values = self._values(comp, value)
        fn = _OPS[op]
        crits = [fn(col, comp.param(v)) for col, v in zip(cols, values)]
        if len(crits) == 1:
            return crits[0]
        if op == "eq":
            return Criterion.all(crits)
        if op == "ne":
            return Criterion.any(crits)
        raise QueryError(f"{self.prop.owner.name}.{self.prop.name}: only == and != compare a "
                         "composite reference")


_checks: dict[Any, Callable[[Any], bool]] = {}

_OPS: dict[str, Callable[[Any, Any], Criterion]] = {
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b, "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
}


class _Raw(Criterion):  # type: ignore[misc]
    def __init__(self, sql: str) -> None:
        super().__init__()
        self.sql = sql

    def get_sql(self, **kwargs: Any) -> str:
        return self.sql


_TRUE = _Raw("1=1")
_FALSE = _Raw("1=0")


class RelationExpr:
    """A back reference in a query, e.g. ``User.posts``; relation filters
    (``some``/``every``/``none``) come with relation loading."""

    __hash__ = None  # type: ignore[assignment]

    def __init__(self, prop: "Prop") -> None:
        self.prop = prop

    def __repr__(self) -> str:
        return f"<{self.prop.owner.name}.{self.prop.name}>"


def expression_for(prop: "Prop") -> Any:
    if prop.kind == "backref":
        return RelationExpr(prop)
    return FieldExpr(prop)
