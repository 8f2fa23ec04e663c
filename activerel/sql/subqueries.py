"""Subqueries as values in conditions, rendered into the statement that holds
them (their bound parameters in place among the outer ones) and never run by
themselves: ``Post.author.in_(User.query().filter(...))`` (a query stands for
its primary keys), ``Post.title.in_(Draft.query().column("title"))`` and
``Post.views > Post.query().column("views").avg()``.

:class:`Subquery` is what a condition needs of one; the query layer makes
them (:mod:`activerel.querying.subqueries`). :class:`SubqueryCompare` is the
condition comparing a field with one, checked when it is made.

Used by :mod:`activerel.sql.paths`. Imports :mod:`activerel.sql.conditions`,
:mod:`activerel.sql.compiler` and :mod:`activerel.mapping`."""
from __future__ import annotations

from typing import Any, Callable, Optional

from pypika import Tuple
from pypika.terms import Criterion

from ..errors import QueryError, ValidationError
from ..mapping.properties import ReferenceProp
from .compiler import Compiler
from .conditions import Condition

_NUMBERS = frozenset({"int", "float", "decimal"})
#: the types of plain values, never a subquery
_PLAIN = frozenset({int, str, float, bool, bytes, type(None)})

#: the comparisons a subquery takes, with how each is written in Python
_OPS: dict[str, tuple[str, Callable[[Any, Any], Criterion]]] = {
    "eq": ("==", lambda a, b: a == b), "ne": ("!=", lambda a, b: a != b),
    "lt": ("<", lambda a, b: a < b), "le": ("<=", lambda a, b: a <= b),
    "gt": (">", lambda a, b: a > b), "ge": (">=", lambda a, b: a >= b),
    "in": ("in_()", lambda a, b: a.isin(b)), "not_in": ("not_in()", lambda a, b: a.notin(b)),
}


class Subquery:
    """An unexecuted query as a value: the values of its column(s) for
    ``in_()`` / ``not_in()``, or its one value for a comparison."""

    #: the query's model when the subquery stands for its primary keys (a
    #: query given as it is); None for a chosen column
    model: Any = None
    #: (kind, Python type) of each column of its rows, for the type checks
    types: tuple[tuple[str, Any], ...] = ()
    #: whether it gives at most one row (an aggregate, or limit(1))
    single = False

    def rows(self, comp: Compiler) -> Any:
        """The SELECT of its non-NULL values, its parameters added to ``comp``."""
        raise NotImplementedError

    def value(self, comp: Compiler) -> Any:
        """The SELECT of its one value, its parameters added to ``comp``."""
        raise NotImplementedError


def as_subquery(value: Any) -> Optional[Subquery]:
    """``value`` as a subquery: itself, or a query's primary keys (a class
    with ``_as_subquery()``, such as ``Query``); None for any other value."""
    if type(value) in _PLAIN:  # the common case, at the cost of one set lookup
        return None
    if isinstance(value, Subquery):
        return value
    make = getattr(type(value), "_as_subquery", None)
    return make(value) if make is not None else None


def column_type(ctype: Any) -> tuple[str, Any]:
    """What a type check compares of a column type: its kind, and for an
    enum the enum class."""
    return ctype.kind, ctype.python_type if ctype.kind == "enum" else None


class SubqueryCompare(Condition):
    """A field compared with a subquery: ``IN (SELECT ...)``, ``NOT IN``, or
    ``<op> (SELECT ...)`` with one value."""

    __slots__ = ("field", "op", "sub")
    #: patch_many() and delete_many() select the keys first (MySQL cannot
    #: update or delete from a table its own subquery reads)
    needs_alias = True

    def __init__(self, field: Any, op: str, sub: Subquery) -> None:
        self.field = field
        self.op = op
        self.sub = sub
        prop = field.prop
        label = repr(field)[1:-1]
        if op not in _OPS:
            raise QueryError(f"{label}: a subquery is compared with ==, !=, <, <=, >, >=, "
                             "in_() or not_in()")
        sym = _OPS[op][0]
        model = sub.model
        if model is not None and not (
                (isinstance(prop, ReferenceProp) and prop.target_mapper is model)
                or (len(model.pk_props) == 1 and prop is model.pk_props[0])):
            raise QueryError(f"{label} {sym} {sub!r}: a query stands for its {model.name} keys, "
                             f"and {label} is not a reference to {model.name}; choose the "
                             f"values with .column(\"field\")")
        if op not in ("in", "not_in") and not sub.single:
            raise QueryError(f"{label} {sym} {sub!r}: a subquery compared with {sym} must give "
                             "one value: use an aggregate (.max(), .count(), ...) or limit(1)")
        mine = tuple(column_type(c.ctype) for c in prop.columns)
        if len(mine) != len(sub.types):
            raise QueryError(f"{label} {sym} {sub!r}: {label} has {len(mine)} column(s), the "
                             f"subquery gives {len(sub.types)}")
        for a, b in zip(mine, sub.types):
            if a != b and not (a[0] in _NUMBERS and b[0] in _NUMBERS):
                raise ValidationError(f"{label} ({a[0]}) cannot be compared with {sub!r} "
                                      f"({b[0]} values)")
        if len(mine) > 1 and op not in ("eq", "ne", "in", "not_in"):
            raise QueryError(f"{label}: only ==, !=, in_() and not_in() compare a composite "
                             "reference")

    def compile(self, comp: Compiler) -> Criterion:
        cols = self.field._columns(comp)
        term = cols[0] if len(cols) == 1 else Tuple(*cols)
        sub = self.sub.rows(comp) if self.op in ("in", "not_in") else self.sub.value(comp)
        return _OPS[self.op][1](term, sub)

    def mapper_check(self, mapper: Any) -> None:
        self.field.mapper_check(mapper)
