"""Paths through references in queries: ``Post.author.username`` (and
``Comment.post.author.username``, any chain of references) is a column
expression like ``Post.title``, compiled as one LEFT JOIN per hop on the
scope it starts from (``Compiler.path_table``); ``filter(**{"author.username":
...})`` and ``order_by("author.username")`` name the same paths as strings
(:func:`resolve_path`). A relation at the end of a path (``Comment.post.posts``)
takes ``some()`` / ``every()`` / ``none()``; any field past a to-many relation
is a ``QueryError`` saying so. The class-level expressions made here also
take subqueries (:mod:`activerel.sql.subqueries`) in comparisons and ``in_()``.

Used by the model (:func:`expression_for`), the query's argument checks and
SELECT rendering (:func:`resolve_path`). Imports
:mod:`activerel.sql.expressions`, :mod:`activerel.sql.subqueries`,
:mod:`activerel.sql.compiler` and :mod:`activerel.mapping`."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence, TypeVar

from pypika.terms import Criterion, Term

from ..errors import QueryError
from ..mapping.markers import MISSING
from ..mapping.properties import BackRefProp, Prop, ReferenceProp, ScalarProp
from .compiler import Compiler
from .expressions import Condition, FieldExpr, RelationExpr
from .subqueries import SubqueryCompare, as_subquery

Hops = tuple[ReferenceProp, ...]
T = TypeVar("T")


def _dotted(hops: Hops, name: str) -> str:
    return ".".join([h.name for h in hops] + [name])


class PathExpr(FieldExpr[T]):
    """A field reached from a model through zero or more references:
    ``Post.title`` (no hop), ``Post.author.username`` (one), ... Compares,
    orders and combines as any field does; a subquery may be the value of a
    comparison or of ``in_()``. A reference's is a :class:`ReferencePath`."""

    def __init__(self, prop: Prop, hops: Sequence[ReferenceProp] = ()) -> None:
        super().__init__(prop)
        self.hops: Hops = tuple(hops)

    @property
    def root(self) -> Any:
        """The model the path starts from."""
        return self.hops[0].owner if self.hops else self.prop.owner

    @property
    def dotted(self) -> str:
        """The path from the root model: ``"author.username"``."""
        return _dotted(self.hops, self.prop.name)

    @property
    def owner(self) -> Any:
        return self.root

    def __repr__(self) -> str:
        return f"<{self.root.name}.{self.dotted}>"

    def mapper_check(self, mapper: Any) -> None:
        if not self.hops:
            return super().mapper_check(mapper)
        if self.root is not mapper:
            raise QueryError(f"{self.root.name}.{self.dotted} is not a field of {mapper.name}; "
                             "filter a relation with some()/every()/none() or is_()")

    def need_number(self, op: str) -> None:
        if self.hops:
            raise QueryError(f"{self.root.name}.{self.dotted} {op} ...: a computed value takes "
                             "fields of the model itself, not a path through a relation")
        super().need_number(op)

    def _columns(self, comp: Compiler) -> list[Term]:
        if not self.hops:
            return super()._columns(comp)
        t = comp.path_table(self.hops)
        return [t.field(col.name) for col in self.prop.columns]  # type: ignore[attr-defined]

    # conditions: a subquery value makes a SubqueryCompare; a path marks its
    # conditions, since an UPDATE or DELETE cannot join (patch_many() and
    # delete_many() select the keys first, as for relation filters)
    def _joined(self, cond: Condition) -> Condition:
        if self.hops:
            cond.needs_alias = True
        return cond

    def _compare(self, make: Callable[[Any, Any], Condition], op: str, value: Any) -> Condition:
        sub = as_subquery(value)
        if sub is not None:
            return SubqueryCompare(self, op, sub)
        return self._joined(make(self, value))

    def __eq__(self, other: Any) -> Condition:  # type: ignore[override]
        return self._compare(FieldExpr.__eq__, "eq", other)

    def __ne__(self, other: Any) -> Condition:  # type: ignore[override]
        return self._compare(FieldExpr.__ne__, "ne", other)

    def __lt__(self, other: Any) -> Condition:
        return self._compare(FieldExpr.__lt__, "lt", other)

    def __le__(self, other: Any) -> Condition:
        return self._compare(FieldExpr.__le__, "le", other)

    def __gt__(self, other: Any) -> Condition:
        return self._compare(FieldExpr.__gt__, "gt", other)

    def __ge__(self, other: Any) -> Condition:
        return self._compare(FieldExpr.__ge__, "ge", other)

    def in_(self, values: Any) -> Condition:
        """``IN`` a list of values, or a subquery: a query of the referenced
        model (its keys) or ``query.column("field")``."""
        return self._compare(FieldExpr.in_, "in", values)

    def not_in(self, values: Any) -> Condition:
        return self._compare(FieldExpr.not_in, "not_in", values)

    def like(self, pattern: str) -> Condition:
        return self._joined(FieldExpr.like(self, pattern))

    def is_null(self) -> Condition:
        return self._joined(FieldExpr.is_null(self))

    def is_not_null(self) -> Condition:
        return self._joined(FieldExpr.is_not_null(self))

    def between(self, low: Any, high: Any) -> Condition:
        return self._joined(FieldExpr.between(self, low, high))

    def is_(self, condition: Optional[Condition] = None) -> Condition:
        cond = FieldExpr.is_(self, condition)
        return self._joined(cond) if condition is None else scoped(self.hops, cond)

    def is_not(self, condition: Optional[Condition] = None) -> Condition:
        cond = FieldExpr.is_not(self, condition)
        return self._joined(cond) if condition is None else scoped(self.hops, cond)


class ReferencePath(PathExpr[T]):
    """A reference reached from a model (``Post.author``, ``Comment.post.author``):
    a field that compares by key, takes ``is_()`` / ``is_not()``, and leads
    on to the fields of the model it refers to (``Post.author.username``)."""

    def __getattr__(self, name: str) -> Any:
        prop = self.__dict__.get("prop")
        if name.startswith("_") or name == "hops" or not isinstance(prop, ReferenceProp):
            raise AttributeError(f"{type(self).__name__} object has no attribute {name!r}")
        return step(self.root, self.hops + (prop,), name)


def path_expr(prop: Prop, hops: Sequence[ReferenceProp] = ()) -> PathExpr[Any]:
    """The expression of the column field ``prop`` reached through ``hops``."""
    if isinstance(prop, ReferenceProp):
        return ReferencePath(prop, hops)
    return PathExpr(prop, hops)


class RelationPath(RelationExpr[T]):
    """A back reference in a query, reached through zero or more references:
    ``User.posts``, or ``Comment.post.author.posts`` (filtered from the row
    the path reaches). Fields lie past it only inside ``some()`` /
    ``every()`` / ``none()``."""

    def __init__(self, prop: BackRefProp, hops: Sequence[ReferenceProp] = ()) -> None:
        super().__init__(prop)
        self.hops: Hops = tuple(hops)

    def __repr__(self) -> str:
        root = self.hops[0].owner if self.hops else self.prop.owner
        return f"<{root.name}.{_dotted(self.hops, self.prop.name)}>"

    if not TYPE_CHECKING:  # checkers report an unknown attribute; this says why
        def __getattr__(self, name: str) -> Any:
            prop = self.__dict__.get("prop")
            if name.startswith("_") or name == "hops" or prop is None:
                raise AttributeError(f"{type(self).__name__} object has no attribute {name!r}")
            hops = self.__dict__.get("hops", ())
            root = hops[0].owner if hops else prop.owner
            raise through_relation(root, _dotted(hops, f"{prop.name}.{name}"), prop, "")

    def some(self, condition: Optional[Condition] = None) -> Condition:
        return scoped(self.hops, super().some(condition))

    def every(self, condition: Condition) -> Condition:
        return scoped(self.hops, super().every(condition))

    def none(self, condition: Optional[Condition] = None) -> Condition:
        return scoped(self.hops, super().none(condition))

    def is_(self, condition: Any = MISSING) -> Condition:
        return scoped(self.hops, super().is_(condition))

    def is_not(self, condition: Any = MISSING) -> Condition:
        return scoped(self.hops, super().is_not(condition))


class _PathScoped(Condition):
    """A relation filter on the row a path reaches: the path's LEFT JOINs,
    then the filter correlated with the last one."""

    __slots__ = ("hops", "inner")
    needs_alias = True

    def __init__(self, hops: Hops, inner: Condition) -> None:
        self.hops = hops
        self.inner = inner

    def compile(self, comp: Compiler) -> Criterion:
        comp.scopes.append((self.hops[-1].target_mapper, comp.path_table(self.hops)))
        try:
            return self.inner.compile(comp)
        finally:
            comp.scopes.pop()

    def mapper_check(self, mapper: Any) -> None:
        root = self.hops[0].owner
        if root is not mapper:
            path = ".".join(h.name for h in self.hops)
            raise QueryError(f"{root.name}.{path} is not a relation of {mapper.name}")
        self.inner.mapper_check(self.hops[-1].target_mapper)


def scoped(hops: Hops, cond: Condition) -> Condition:
    """``cond`` (a relation filter on the row ``hops`` reach) from the root row."""
    return _PathScoped(hops, cond) if hops else cond


def through_relation(root: Any, path: str, prop: BackRefProp, what: str) -> QueryError:
    """The error for a path that goes on past a back reference."""
    rel = f"{prop.owner.name}.{prop.name}"
    if prop.many:
        how = (f"{rel} is a to-many relation: filter through it with {rel}.some(...), "
               "every(...) or none(...)")
    else:
        how = f"{rel} is a back reference: filter through it with {rel}.is_(...)"
    return QueryError(f"{what}{root.name}.{path}: a path goes through references only; {how}")


def step(root: Any, hops: Hops, name: str, what: str = "") -> Any:
    """The expression for field ``name`` of the model ``hops`` reach."""
    here = hops[-1].target_mapper
    prop = here.props.get(name)
    if prop is None:
        raise QueryError(f"{what}{root.name}.{_dotted(hops, name)}: {here.name} has no field "
                         f"{name!r}; its fields are {', '.join(here.props)}")
    if isinstance(prop, BackRefProp):
        return RelationPath(prop, hops)
    return path_expr(prop, hops)


def resolve_path(mapper: Any, dotted: str, what: str) -> PathExpr[Any]:
    """The column expression of a dotted path on ``mapper``
    (``"author.username"``), for ``what()``; QueryError naming the model and
    the path when a name is unknown or the path leaves the to-one references."""
    names = dotted.split(".")
    if not all(names):
        raise QueryError(f"{what}(): {dotted!r} is not a field path of {mapper.name}")
    prefix = f"{what}(): "
    hops: Hops = ()
    here = mapper
    prop: Any = None  # a Prop: names is never empty
    for i, name in enumerate(names):
        prop = here.props.get(name)
        if prop is None:
            raise QueryError(f"{prefix}{mapper.name}.{dotted}: {here.name} has no field {name!r}; "
                             f"its fields are {', '.join(here.props)}")
        if isinstance(prop, BackRefProp):
            raise through_relation(mapper, dotted, prop, prefix)
        if i == len(names) - 1:
            break
        if isinstance(prop, ScalarProp):
            raise QueryError(f"{prefix}{mapper.name}.{dotted}: {here.name}.{name} is a plain "
                             "field, not a reference")
        hops += (prop,)
        here = prop.target_mapper
    return path_expr(prop, hops)


def expression_for(prop: Prop) -> Any:
    """The class-level expression of a field: ``User.posts`` or ``User.name``."""
    if isinstance(prop, BackRefProp):
        return RelationPath(prop)
    return path_expr(prop)
