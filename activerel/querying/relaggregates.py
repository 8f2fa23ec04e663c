"""Relation aggregates loaded onto the objects a query returns:
``with_count("posts")`` (optionally over the related rows matching a
condition) and ``with_sum`` / ``with_avg`` / ``with_min`` / ``with_max`` of
a related field, each loaded with one SELECT for all the objects
(:mod:`activerel.loading.aggregates`) into a plain attribute of each.

:class:`RelationAggregateQueries` is a base of ``Query``. Used by
:mod:`activerel.query`. Imports :mod:`activerel.loading.aggregates`,
:mod:`activerel.sql.aggregates` and :mod:`activerel.mapping`."""
from __future__ import annotations

from typing import Any, Callable, Optional, TypeVar

from ..errors import QueryError
from ..loading.aggregates import LoadedAggregate
from ..mapping.mapper import Mapper
from ..mapping.properties import BackRefProp
from ..sql.aggregates import RelationAggregate
from ..sql.conditions import Condition

Q = TypeVar("Q", bound="RelationAggregateQueries")


class RelationAggregateQueries:
    """``with_count()`` and friends, of ``Query``."""

    __slots__ = ()
    # the query's state and helpers (``Query`` has them)
    _mapper: Mapper
    _aggregates: tuple[LoadedAggregate, ...]
    _copy: Callable[..., Any]

    def with_count(self: Q, relation: str, condition: Optional[Condition] = None, *,
                   name: Optional[str] = None) -> Q:
        """Load onto each object the number of its related rows (matching
        ``condition``) through the to-many relation ``relation``, as the
        attribute ``name`` (default ``"<relation>_count"``): one SELECT more."""
        return self._with(RelationAggregate(self._relation(relation), "count", None, condition),
                          name)

    def with_sum(self: Q, relation: str, field: Any, condition: Optional[Condition] = None, *,
                 name: Optional[str] = None) -> Q:
        """Load the sum of ``field`` over each object's related rows, as
        ``name`` (default ``"<relation>_sum_<field>"``); None without any."""
        return self._with(RelationAggregate(self._relation(relation), "sum", field, condition),
                          name)

    def with_avg(self: Q, relation: str, field: Any, condition: Optional[Condition] = None, *,
                 name: Optional[str] = None) -> Q:
        """Load the average of ``field`` over each object's related rows."""
        return self._with(RelationAggregate(self._relation(relation), "avg", field, condition),
                          name)

    def with_min(self: Q, relation: str, field: Any, condition: Optional[Condition] = None, *,
                 name: Optional[str] = None) -> Q:
        """Load the least ``field`` of each object's related rows."""
        return self._with(RelationAggregate(self._relation(relation), "min", field, condition),
                          name)

    def with_max(self: Q, relation: str, field: Any, condition: Optional[Condition] = None, *,
                 name: Optional[str] = None) -> Q:
        """Load the greatest ``field`` of each object's related rows."""
        return self._with(RelationAggregate(self._relation(relation), "max", field, condition),
                          name)

    def _relation(self, relation: str) -> BackRefProp:
        mapper = self._mapper
        prop = mapper.props.get(relation) if isinstance(relation, str) else None
        if not isinstance(prop, BackRefProp):
            relations = [p.name for p in mapper.props.values() if isinstance(p, BackRefProp)]
            raise QueryError(f"{relation!r} is not a back reference of {mapper.name}; relation "
                             f"aggregates take one of {', '.join(relations) or 'none'}")
        return prop

    def _with(self: Q, agg: RelationAggregate, name: Optional[str]) -> Q:
        mapper = self._mapper
        name = agg.default_name if name is None else name
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
            raise QueryError(f"{agg!r}: name={name!r} must be an identifier not starting with _")
        if name in mapper.props or hasattr(mapper.cls, name):
            raise QueryError(f"{agg!r} cannot be loaded as {mapper.name}.{name}: {mapper.name} "
                             f"already has {name!r}; choose another with name=...")
        kept = []
        for spec in self._aggregates:
            if spec.name == name:
                if spec.agg.same(agg):
                    return self
                raise QueryError(f"{mapper.name}.{name} is loaded twice, by {spec.agg!r} and "
                                 f"{agg!r}; give one another name=...")
            kept.append(spec)
        q: Q = self._copy(_aggregates=tuple(kept) + (LoadedAggregate(name, agg),))
        return q
