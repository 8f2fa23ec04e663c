"""The argument checks every query builder shares: a field name must name a
column field, a condition must be about the query's model, an ordering must
name fields, a page size must be a non-negative int, a join path a dotted
string. Each raises QueryError naming the model and the field.

Used by :mod:`activerel.query` and :mod:`activerel.querying.joinquery`.
Imports :mod:`activerel.loading.joins`, :mod:`activerel.sql.expressions`,
:mod:`activerel.sql.paths` (dotted paths), :mod:`activerel.sql.aggregates`
(ordering by aggregates) and :mod:`activerel.mapping`."""
from __future__ import annotations

from typing import Any, Optional, Sequence, Union

from ..errors import QueryError
from ..loading.joins import Join, add_path
from ..mapping.mapper import Mapper
from ..mapping.properties import BackRefProp, ReferenceProp
from ..sql.aggregates import (AggregateTerm, Ordering, aggregate_order, is_aggregate_order,
                              relation_aggregate)
from ..sql.expressions import Condition, FieldExpr
from ..sql.paths import PathExpr, resolve_path

#: what ``order_by()`` takes: a field name (``"-created"``, ``"author.username"``,
#: ``"posts.count"``), a field (``Post.title``), or an aggregate or its
#: ``desc()`` / ``asc()`` (``User.posts.count().desc()``, ``agg.count()``)
OrderField = Union[str, FieldExpr[Any], AggregateTerm, Ordering]


def column_prop(mapper: Mapper, name: str, what: str) -> Any:
    """The column field ``name`` of ``mapper``, for ``what()``."""
    prop = mapper.props.get(name)
    if prop is None:
        raise QueryError(f"{what}(): {mapper.name} has no field {name!r}; its fields are "
                         f"{', '.join(mapper.props)}")
    if isinstance(prop, BackRefProp):
        raise QueryError(f"{what}(): {mapper.name}.{name} is a back reference, not a column")
    return prop


def checked_conditions(mapper: Mapper, conditions: Sequence[Any],
                equals: dict[str, Any]) -> tuple[Condition, ...]:
    """The conditions of ``filter()`` on ``mapper``, checked."""
    added = []
    for cond in conditions:
        if not isinstance(cond, Condition):
            raise QueryError(f"{mapper.name}.query().filter() takes conditions such as "
                             f"{mapper.name}.id > 3, not {cond!r}")
        cond.mapper_check(mapper)
        added.append(cond)
    for name, value in equals.items():
        added.append(field_path(mapper, name, "filter") == value)
    return tuple(added)


def field_path(mapper: Mapper, name: str, what: str) -> PathExpr[Any]:
    """The column expression ``name`` names on ``mapper``, for ``what()``: a
    field, or a dotted path through references (``"author.username"``)."""
    if "." in name:
        return resolve_path(mapper, name, what)
    return PathExpr(column_prop(mapper, name, what))


#: (mapper, field names) -> their checked ordering (names are checked once)
_ORDERS: dict[tuple[Any, ...], tuple[tuple[str, bool], ...]] = {}


def checked_ordering(mapper: Mapper, fields: Sequence[Any]) -> tuple[tuple[str, bool], ...]:
    """(field, descending) of each ``order_by()`` argument, checked."""
    if all(type(f) is str for f in fields):
        key = (mapper, *fields)
        done = _ORDERS.get(key)
        if done is None:
            done = _checked_ordering(mapper, fields)
            if len(_ORDERS) >= 1024:
                _ORDERS.clear()
            _ORDERS[key] = done
        return done
    return _checked_ordering(mapper, fields)


def _checked_ordering(mapper: Mapper, fields: Sequence[Any]) -> tuple[tuple[str, bool], ...]:
    order = []
    for f in fields:
        if is_aggregate_order(f):  # User.posts.count().desc(), agg.count() (grouped)
            order.append(aggregate_order(mapper, f))
            continue
        if isinstance(f, FieldExpr):
            f.mapper_check(mapper)
            order.append((f.dotted if isinstance(f, PathExpr) else f.prop.name, False))
            continue
        if not isinstance(f, str):
            raise QueryError(f"order_by() takes field names, not {f!r}")
        name = f.lstrip("-+")
        if relation_aggregate(mapper, name, "order_by") is None:  # else "posts.count", ...
            field_path(mapper, name, "order_by")
        order.append((name, f.startswith("-")))
    return tuple(order)


def page_count(n: Optional[int], what: str) -> Optional[int]:
    """``n`` if it is a valid ``limit()`` / ``skip()`` argument."""
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 0):
        raise QueryError(f"{what}() takes a non-negative int, not {n!r}")
    return n


def selection(mapper: Mapper, fields: Sequence[str],
               joins: tuple[Join, ...]) -> tuple[tuple[str, ...], tuple[Join, ...]]:
    """``select()``'s plain fields, and ``joins`` with the relations it names."""
    plain = []
    for f in fields:
        prop = mapper.props.get(f.split(".", 1)[0])
        if isinstance(prop, BackRefProp) or (isinstance(prop, ReferenceProp) and "." in f):
            joins = add_path(joins, mapper, f, False)
        else:
            column_prop(mapper, f, "select")
            plain.append(f)
    return tuple(plain), joins


def join_path(path: str) -> str:
    if not isinstance(path, str) or not path or any(not p for p in path.split(".")):
        raise QueryError(f"a join path is a dotted string of relation names, not {path!r}")
    return path
