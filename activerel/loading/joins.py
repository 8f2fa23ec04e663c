"""The join tree of a query: which relations ``join_with`` loads, each with
its filters, order, per-parent paging, selected fields and nested joins;
paths through it; and INNER joins as EXISTS conditions on the parent rows.

Built by :mod:`activerel.query`; run by :mod:`activerel.loading.strategies`.
Imports :mod:`activerel.sql.expressions` and :mod:`activerel.mapping`."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Optional, Sequence

from pypika.terms import Criterion, ExistsCriterion

from ..errors import QueryError
from ..mapping.mapper import Mapper
from ..mapping.properties import BackRefProp, Prop, ReferenceProp, ScalarProp
from ..sql.compiler import Compiler, relation_subquery
from ..sql.expressions import Condition


@dataclass(frozen=True)
class Join:
    """How one relation is loaded: its filters, order, per-parent paging,
    selected fields and nested joins. Immutable, like the query holding it."""

    name: str
    inner: bool = False
    where: tuple[Condition, ...] = ()
    order: tuple[tuple[str, bool], ...] = ()
    limit: Optional[int] = None
    offset: Optional[int] = None
    fields: Optional[tuple[str, ...]] = None
    joins: tuple["Join", ...] = ()
    #: ``name*``: the relation followed again from every object it reaches
    #: (loading/recursive.py), at most ``depth`` levels (None: all)
    recursive: bool = False
    depth: Optional[int] = None


def relation_prop(mapper: Mapper, name: str, path: str) -> Prop:
    """The relation ``name`` of ``mapper`` (a step of the join path ``path``)."""
    prop = mapper.props.get(name)
    if prop is None or isinstance(prop, ScalarProp):
        relations = [p.name for p in mapper.props.values() if not isinstance(p, ScalarProp)]
        what = "no relation" if prop is None else "a plain field, not a relation,"
        raise QueryError(
            f"join path {path!r}: {mapper.name} has {what} {name!r}; its relations are "
            f"{', '.join(relations) or 'none'}")
    return prop


def recursive_prop(mapper: Mapper, name: str, path: str) -> Prop:
    """The relation ``name`` of ``mapper`` followed recursively (``name*``
    in the join path ``path``): one from the model to itself."""
    prop = relation_prop(mapper, name, path)
    target = prop.target_mapper  # type: ignore[attr-defined]
    if target is not mapper:
        raise QueryError(
            f"join path {path!r}: {mapper.name}.{name} leads to {target.name}, not back to "
            f"{mapper.name}; {name}* (recursive) follows a relation from a model to itself, "
            "such as Category.children or Category.parent")
    if getattr(prop, "symmetric", False):
        raise QueryError(
            f"join path {path!r}: {mapper.name}.{name} is symmetric (one pivot row links both "
            "ways); a recursive path (name*) follows a self-referencing reference, a one-to-many "
            "or one-to-one back reference, or a one-way many-to-many relation")
    return prop


def _checked_depth(path: str, depth: Optional[int]) -> None:
    if depth is None:
        return
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
        raise QueryError(f"depth= takes a positive int (the levels to load), not {depth!r}")
    if not any(step.endswith("*") for step in path.split(".")):
        raise QueryError(f"depth= limits a recursive path (a name ending in *, such as "
                         f"\"children*\"); {path!r} has none")


#: (mapper, path, inner, depth) -> the joins of a query's first join_with()
_FIRST: dict[tuple[Any, ...], tuple[Join, ...]] = {}


def add_path(joins: tuple[Join, ...], mapper: Mapper, path: str, inner: bool,
             full: Optional[str] = None, *, depth: Optional[int] = None) -> tuple[Join, ...]:
    """``joins`` with the dotted ``path`` present (reusing joins already there).
    A step ``name*`` is recursive, at most ``depth`` levels deep (None: the
    depth it had, else all). A query's first path is made once per model
    and path (the joins are immutable)."""
    if joins or full is not None:
        return _add_path(joins, mapper, path, inner, full, depth)
    key = (mapper, path, inner, depth)
    made = _FIRST.get(key)
    if made is None:
        made = _add_path((), mapper, path, inner, None, depth)
        if len(_FIRST) >= 1024:
            _FIRST.clear()
        _FIRST[key] = made
    return made


def _add_path(joins: tuple[Join, ...], mapper: Mapper, path: str, inner: bool,
              full: Optional[str], depth: Optional[int]) -> tuple[Join, ...]:
    head, _, rest = path.partition(".")
    if full is None:
        _checked_depth(path, depth)
    full = full or path
    recursive = head.endswith("*")
    if recursive:
        head = head[:-1]
        prop = recursive_prop(mapper, head, full)
    else:
        prop = relation_prop(mapper, head, full)
    out = list(joins)
    for i, j in enumerate(out):
        if j.name == head:
            break
    else:
        out.append(Join(head))
        i = len(out) - 1
    j = out[i]
    if inner and not j.inner:
        j = replace(j, inner=True)
    if recursive:
        j = replace(j, recursive=True, depth=j.depth if depth is None else depth)
    if rest:
        j = replace(j, joins=_add_path(j.joins, prop.target_mapper, rest,  # type: ignore[attr-defined]
                                       inner, full, depth))
    out[i] = j
    return tuple(out)


def merge_joins(base: tuple[Join, ...], extra: tuple[Join, ...]) -> tuple[Join, ...]:
    """``base`` with every join of ``extra`` added (recursively merged by name)."""
    out = list(base)
    for j in extra:
        for i, b in enumerate(out):
            if b.name == j.name:
                out[i] = replace(b, inner=b.inner or j.inner, joins=merge_joins(b.joins, j.joins))
                break
        else:
            out.append(j)
    return tuple(out)


def get_path(joins: tuple[Join, ...], path: Sequence[str]) -> Join:
    for j in joins:
        if j.name == path[0]:
            return j if len(path) == 1 else get_path(j.joins, path[1:])
    raise KeyError(path)


def set_path(joins: tuple[Join, ...], path: Sequence[str], join: Join) -> tuple[Join, ...]:
    out = []
    for j in joins:
        if j.name == path[0]:
            j = join if len(path) == 1 else replace(j, joins=set_path(j.joins, path[1:], join))
        out.append(j)
    return tuple(out)


class JoinExists(Condition):
    """An INNER join as a condition on the parent: a matching related row exists."""

    needs_alias = True

    def __init__(self, prop: Prop, join: Join) -> None:
        self.prop = prop
        self.join = join

    def compile(self, comp: Compiler) -> Criterion:
        join = self.join
        target = self.prop.target_mapper  # type: ignore[attr-defined]

        def where(inner: Compiler) -> Optional[Criterion]:
            crits = [c.compile(inner) for c in join.where]
            crits += [c.compile(inner) for c in inner_conditions(target, join.joins)]
            return Criterion.all(crits) if crits else None

        return ExistsCriterion(relation_subquery(comp, self.prop, where))


def inner_conditions(mapper: Mapper, joins: tuple[Join, ...]) -> list[Condition]:
    """The INNER joins of ``joins`` as EXISTS conditions on ``mapper``'s rows."""
    return [JoinExists(mapper.props[j.name], j) for j in joins if j.inner]


def needed_fields(mapper: Mapper, fields: Optional[tuple[str, ...]],
                  joins: tuple[Join, ...]) -> Optional[tuple[str, ...]]:
    """A partial select must still load the foreign keys its reference joins use."""
    if fields is None:
        return None
    props = mapper.props
    extra = [j.name for j in joins if isinstance(props[j.name], ReferenceProp) and j.name not in fields]
    return tuple(f for f in fields if not isinstance(props[f], BackRefProp)) + tuple(extra)
