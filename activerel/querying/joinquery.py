"""``JoinQuery``: shapes one joined relation of a query (``use_join_with``):
its filter, order, per-parent paging, fields and nested joins; ``end()``
returns to the query it was opened from.

Used by :mod:`activerel.query`. Imports :mod:`activerel.querying.checks`,
:mod:`activerel.loading.joins` and :mod:`activerel.mapping`."""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Generic, Optional, Sequence, TypeVar

from ..errors import QueryError
from ..loading.joins import Join, add_path, get_path, merge_joins, set_path
from ..mapping.mapper import Mapper
from ..mapping.properties import BackRefProp
from ..sql.expressions import Condition
from .checks import (OrderField, checked_conditions, checked_ordering, join_path, page_count,
                     selection)

#: the query (or outer join) a join was opened from, which ``end()`` returns:
#: ``User.query().use_join_with("posts")`` is a ``JoinQuery[Query[User]]``
O = TypeVar("O")


class JoinQuery(Generic[O]):
    """Shapes one joined relation of a query (``use_join_with``); ``end()``
    returns the query (or outer join) it was opened from, with the change."""

    __slots__ = ("_origin", "_path", "_mapper")

    def __init__(self, origin: Any, path: Sequence[str], inner: bool,
                 depth: Optional[int] = None) -> None:
        root = origin._root_mapper_for_join()
        joins = origin._current_joins()
        joins = add_path(joins, root, ".".join(path), inner, depth=depth)
        self._origin = origin._with_joins(joins)
        self._path = tuple(name.rstrip("*") for name in path)  # a recursive step's relation
        mapper = root
        for name in self._path:
            mapper = mapper.props[name].target_mapper
        self._mapper: Mapper = mapper

    # the origin protocol, so joins can nest
    def _root_mapper_for_join(self) -> Mapper:
        return self._mapper

    def _current_joins(self) -> tuple[Join, ...]:
        return self._join().joins

    def _with_joins(self, joins: tuple[Join, ...]) -> "JoinQuery[O]":
        return self._edit(joins=joins)

    def _join(self) -> Join:
        return get_path(self._origin._current_joins(), self._path)

    def _edit(self, **changes: Any) -> "JoinQuery[O]":
        joins = set_path(self._origin._current_joins(), self._path, replace(self._join(), **changes))
        q: JoinQuery[O] = object.__new__(JoinQuery)
        q._origin = self._origin._with_joins(joins)
        q._path = self._path
        q._mapper = self._mapper
        return q

    def filter(self, *conditions: Condition, **equals: Any) -> "JoinQuery[O]":
        return self._edit(where=self._join().where + checked_conditions(self._mapper, conditions, equals))

    def order_by(self, *fields: OrderField) -> "JoinQuery[O]":
        return self._edit(order=self._join().order + checked_ordering(self._mapper, fields))

    def limit(self, n: Optional[int]) -> "JoinQuery[O]":
        """At most ``n`` related rows per parent row."""
        page_count(n, "limit")
        self._to_many("limit")
        return self._edit(limit=n)

    def skip(self, n: Optional[int]) -> "JoinQuery[O]":
        """Skip the first ``n`` related rows of each parent row."""
        page_count(n, "skip")
        self._to_many("skip")
        return self._edit(offset=n)

    def _to_many(self, what: str) -> None:
        parent = self._origin._root_mapper_for_join()
        for name in self._path[:-1]:
            parent = parent.props[name].target_mapper
        prop = parent.props[self._path[-1]]
        if not isinstance(prop, BackRefProp) or not prop.many:
            raise QueryError(f"{what}() pages a to-many relation per parent row; "
                             f"{parent.name}.{prop.name} is to-one")
        if self._join().recursive:
            raise QueryError(f"{what}() does not apply to the recursive join "
                             f"{parent.name}.{prop.name}*: filter() and order_by() do")

    def select(self, *fields: str) -> "JoinQuery[O]":
        plain, joins = selection(self._mapper, fields, ())
        return self._edit(fields=plain, joins=merge_joins(self._join().joins, joins))

    def join_with(self, path: str, *, depth: Optional[int] = None) -> "JoinQuery[O]":
        return self._edit(joins=add_path(self._join().joins, self._mapper, join_path(path), False,
                                         depth=depth))

    def inner_join_with(self, path: str, *, depth: Optional[int] = None) -> "JoinQuery[O]":
        return self._edit(joins=add_path(self._join().joins, self._mapper, join_path(path), True,
                                         depth=depth))

    def use_join_with(self, path: str, *, depth: Optional[int] = None) -> "JoinQuery[JoinQuery[O]]":
        return JoinQuery(self, join_path(path).split("."), False, depth)

    def use_inner_join_with(self, path: str, *,
                            depth: Optional[int] = None) -> "JoinQuery[JoinQuery[O]]":
        return JoinQuery(self, join_path(path).split("."), True, depth)

    def end(self) -> O:
        """Back to the query (or outer join) this join was opened from."""
        origin: O = self._origin
        return origin
