"""The base of every query condition: :class:`Condition`, combined with
``&``, ``|`` and ``~`` into AND / OR / NOT trees. Kept apart from the
expressions that make conditions (:mod:`activerel.sql.expressions`, which
re-exports it) so that modules below them, such as the relation aggregates
``User.posts.count()`` return (:mod:`activerel.sql.relaggregates`), can
make conditions too.

Used by every module that makes or compiles conditions. Imports
:mod:`activerel.sql.compiler` and :mod:`activerel._util`."""
from __future__ import annotations

from typing import Any, Sequence

from pypika.terms import Criterion

from .._util.pypika import all_of, any_of, negate
from .compiler import Compiler


class Condition:
    """A boolean expression; combine with ``&``, ``|`` and ``~``."""

    #: whether compiling it needs the outer table aliased (a correlated subquery)
    needs_alias = False

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

    def shape(self) -> Any:
        """What the SQL of this condition depends on, hashable, without its
        values (the statement cache's key); None when the SQL depends on the
        values too, so that it is rendered each time."""
        return None

    def values(self, dialect: Any, out: list[Any]) -> None:
        """Append the bound parameters of this condition, in the order its
        compiled SQL takes them (only for a condition with a shape)."""
        raise NotImplementedError

    def mapper_check(self, mapper: Any) -> None:
        """Raise QueryError when this condition names another model's fields."""

    def key_lookup(self) -> Any:
        """The field of the query's own model this condition requires equal
        to given values (``==``, ``in_``), which an index on it can look up;
        None for any other condition."""
        return None


def _cond(value: Any) -> Condition:
    if not isinstance(value, Condition):
        raise TypeError(f"expected a condition such as User.id > 3, got {value!r}")
    return value


class _Bool(Condition):
    __slots__ = ("op", "parts")

    def __init__(self, op: str, parts: Sequence[Condition]) -> None:
        self.op = op
        self.parts = tuple(parts)
        self.needs_alias = any(p.needs_alias for p in self.parts)

    def compile(self, comp: Compiler) -> Criterion:
        terms = [p.compile(comp) for p in self.parts]
        return all_of(terms) if self.op == "and" else any_of(terms)

    def shape(self) -> Any:
        parts = tuple(p.shape() for p in self.parts)
        return None if None in parts else (self.op, parts)

    def values(self, dialect: Any, out: list[Any]) -> None:
        for p in self.parts:
            p.values(dialect, out)

    def mapper_check(self, mapper: Any) -> None:
        for p in self.parts:
            p.mapper_check(mapper)


class _Not(Condition):
    __slots__ = ("inner",)

    def __init__(self, inner: Condition) -> None:
        self.inner = inner
        self.needs_alias = inner.needs_alias

    def compile(self, comp: Compiler) -> Criterion:
        return negate(self.inner.compile(comp))

    def shape(self) -> Any:
        inner = self.inner.shape()
        return None if inner is None else ("not", inner)

    def values(self, dialect: Any, out: list[Any]) -> None:
        self.inner.values(dialect, out)

    def mapper_check(self, mapper: Any) -> None:
        self.inner.mapper_check(mapper)
