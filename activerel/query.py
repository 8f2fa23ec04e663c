"""``Query[T]``: an immutable builder (every call returns a new query, as
PyPika's builders do) and its terminals. Queries run in the current session
(flushing its pending changes first), or in a session of their own.

Called by the model and the database facade. Imports :mod:`activerel.session`,
:mod:`activerel.loading`, :mod:`activerel.unitofwork` (bulk deletes and
updates), :mod:`activerel.sql` and :mod:`activerel.mapping`."""
from __future__ import annotations

from typing import Any, Callable, Generic, Iterator, Optional, Sequence, TypeVar

from pypika import Table
from pypika.functions import Count
from pypika.terms import Star

from ._util.gcpause import gc_paused
from .connection import require_write_lock
from .errors import NotFound, QueryError, ValidationError
from .loading.aggregates import load_aggregates
from .loading.joins import Join, add_path, inner_conditions
from .loading.strategies import hydrate
from .mapping.mapper import Mapper, mapper_of
from .querying.checks import (OrderField, checked_conditions, checked_ordering, column_prop,
                              join_path, page_count, selection)
from .querying.aggregates import AggregateQueries, grouped_error
from .querying.joinquery import JoinQuery
from .querying.shapes import cached, shape_key
from .querying.relaggregates import RelationAggregateQueries
from .querying.statement import StatementQueries
from .querying.stream import StreamMixin
from .querying.subqueries import SubqueryMixin
from .session import Session, SessionFactory, current_session, use_session
from .sql.compiler import Compiler
from .sql.expressions import Condition, FieldExpr, ValueExpr
from .sql.select import order_terms, query_select
from .sql.values import ValueCodec, codec
from .unitofwork.bulk import patch_rows
from .unitofwork.cascade import delete_keys, delete_where

T = TypeVar("T")
R = TypeVar("R")

#: the state of a query that has no condition, order, page, selection or join yet
_BLANK: dict[str, Any] = {
    "_where": (), "_order": (), "_limit": None, "_offset": None, "_fields": None,
    "_joins": (), "_lock": None, "_distinct": False, "_group": (), "_having": (),
    "_aggregates": ()}

#: a query paged to at most this many rows, with no relation loaded, runs
#: without pausing the garbage collector (``gc_paused``)
_FEW = 100


class _QueryState:
    """The attributes of a query (set together from ``_BLANK``: see
    ``Query.__init__``)."""

    _cls: type
    _mapper: Mapper
    _db: Optional[SessionFactory]
    _session: Optional[Session]
    _where: tuple[Condition, ...]
    _order: tuple[tuple[str, bool], ...]
    _limit: Optional[int]
    _offset: Optional[int]
    _fields: Optional[tuple[str, ...]]
    _joins: tuple[Join, ...]
    #: for_update(): (nowait, skip_locked), or None
    _lock: Optional[tuple[bool, bool]]
    #: distinct(), group_by(...) and having(...) (see querying.aggregates)
    _distinct: bool
    _group: tuple[Any, ...]
    _having: tuple[Any, ...]
    #: relation aggregates loaded onto the objects (with_count, ...)
    _aggregates: tuple[Any, ...]


class Query(SubqueryMixin, StreamMixin[T], AggregateQueries, RelationAggregateQueries,
            StatementQueries[T], _QueryState, Generic[T]):
    """A query over one model. Build with ``filter``, ``order_by``, ``limit``,
    ``skip`` and ``select``; run with ``find``, ``find_one``, ``count``, ..."""

    # No __slots__: copying an instance dict (every builder call) is one C call.
    def __init__(self, cls: type[T], db: Optional[SessionFactory] = None,
                 session: Optional[Session] = None) -> None:
        # one dict display: every query of a short session starts here
        self.__dict__ = {"_cls": cls, "_mapper": mapper_of(cls), "_db": db,
                         "_session": session, **_BLANK}

    def _copy(self, **changes: Any) -> "Query[T]":
        q: Query[T] = object.__new__(Query)
        q.__dict__ = {**self.__dict__, **changes}
        return q

    def __repr__(self) -> str:
        return f"<Query {self._mapper.name} where={len(self._where)} order={self._order}>"

    # -- building ----------------------------------------------------------------
    def filter(self, *conditions: Condition, **equals: Any) -> "Query[T]":
        """Keep rows matching every condition; ``name=value`` means equality
        (a reference compares by key: ``author=user`` or ``author=5``)."""
        return self._copy(_where=self._where + checked_conditions(self._mapper, conditions, equals))

    def order_by(self, *fields: OrderField) -> "Query[T]":
        """Sort by fields; ``"-name"`` sorts descending."""
        return self._copy(_order=self._order + checked_ordering(self._mapper, fields))

    def limit(self, n: Optional[int]) -> "Query[T]":
        return self._copy(_limit=page_count(n, "limit"))

    def skip(self, n: Optional[int]) -> "Query[T]":
        return self._copy(_offset=page_count(n, "skip"))

    def select(self, *fields: str) -> "Query[T]":
        """Load only these fields (and the primary key): partial objects.
        Naming a relation (or a dotted path) loads it, as ``join_with`` does."""
        plain, joins = selection(self._mapper, fields, self._joins)
        return self._copy(_fields=plain, _joins=joins)

    def for_update(self, nowait: bool = False, skip_locked: bool = False) -> "Query[T]":
        """Lock the rows this query reads until the session's transaction ends
        (``SELECT ... FOR UPDATE``): another session's for_update() or write
        of them waits. ``nowait``: fail at once instead of waiting;
        ``skip_locked``: leave out rows another transaction has locked. On
        SQLite, which locks the whole database, the session's transaction
        takes the write lock when it begins (it must be the session's first
        statement, or the session opened with ``db.session(write=True)``)."""
        if nowait and skip_locked:
            raise QueryError("for_update() takes nowait or skip_locked, not both")
        return self._copy(_lock=(bool(nowait), bool(skip_locked)))

    # -- relations -----------------------------------------------------------------
    def join_with(self, path: str, *, depth: Optional[int] = None) -> "Query[T]":
        """Load the relation at ``path`` (e.g. ``"posts.comments.author"``) with
        the results; parents without a match are kept (LEFT semantics). A
        name ending in ``*`` (``"children*"``, ``"parent*"``) follows a
        relation of a model to itself again from every object it reaches (a
        whole subtree, or the ancestors), at most ``depth`` levels."""
        return self._copy(_joins=add_path(self._joins, self._mapper, join_path(path), False,
                                          depth=depth))

    def inner_join_with(self, path: str, *, depth: Optional[int] = None) -> "Query[T]":
        """Like ``join_with``, keeping only rows that have a match."""
        return self._copy(_joins=add_path(self._joins, self._mapper, join_path(path), True,
                                          depth=depth))

    def use_join_with(self, path: str, *, depth: Optional[int] = None) -> "JoinQuery[Query[T]]":
        """Shape the joined relation at ``path``: ``.filter()``, ``.order_by()``,
        ``.limit()`` (per parent row), ... then ``.end()`` back to this query."""
        return JoinQuery(self, join_path(path).split("."), False, depth)

    def use_inner_join_with(self, path: str, *,
                            depth: Optional[int] = None) -> "JoinQuery[Query[T]]":
        return JoinQuery(self, join_path(path).split("."), True, depth)

    # the origin protocol of JoinQuery
    def _root_mapper_for_join(self) -> Mapper:
        return self._mapper

    def _current_joins(self) -> tuple[Join, ...]:
        return self._joins

    def _with_joins(self, joins: tuple[Join, ...]) -> "Query[T]":
        return self._copy(_joins=joins)

    # -- compiling -----------------------------------------------------------------
    def _codec(self, session: Session) -> ValueCodec:
        return codec(self._mapper, session.dialect)

    def _conditions(self) -> list[Condition]:
        return list(self._where) + inner_conditions(self._mapper, self._joins)

    def _compiler(self, c: ValueCodec) -> Compiler:
        """A compiler whose root table is aliased when a condition correlates a
        subquery with it (so the SQL names the outer row unambiguously)."""
        if any(cond.needs_alias for cond in self._conditions()):
            return Compiler(self._mapper, c.dialect, Table(self._mapper.table).as_("_ar0"))
        return Compiler(self._mapper, c.dialect)

    def _base(self, c: ValueCodec, select: Sequence[Any], comp: Compiler,
              ordered: bool = True, paged: bool = True) -> Any:
        t = comp.table(self._mapper)
        order = order_terms(self._mapper, t, self._order, c.pk_names, comp) if ordered else ()
        return query_select(comp, t, select, self._conditions(), order,
                            self._limit if paged else None, self._offset if paged else None,
                            c.dialect.features.limit_max)

    def _rendered(self, c: ValueCodec, select: Sequence[Any],
                  ordered: bool = True) -> tuple[str, list[Any]]:
        """The SQL and parameters of this query's SELECT of ``select``."""
        comp = self._compiler(c)
        return self._base(c, select, comp, ordered=ordered).get_sql(), comp.params

    def _run(self, fn: Callable[[Session], R], grouped: bool = False) -> R:
        if (self._group or self._having) and not grouped:  # rows of groups, not objects
            raise grouped_error(self._mapper)
        s = self._session
        if s is None or not s.active:
            s = current_session()  # (what use_session finds, without entering it)
            if s is None or (self._db is not None and s.db is not self._db):
                with use_session(self._db) as s:
                    s.catalog.serving(self._cls)
                    return fn(s)
        s.catalog.serving(self._cls)
        return fn(s)

    # -- terminals -----------------------------------------------------------------
    def find(self) -> list[T]:
        """Every matching object."""
        return self._run(self._find)

    def __iter__(self) -> Iterator[T]:
        return iter(self.find())

    def _find(self, s: Session, limit: Optional[int] = None) -> list[T]:
        s.flush()
        if self._lock is not None:
            require_write_lock(s.connection)
        most = self._limit if limit is None else limit
        if most is not None and most <= _FEW and not (self._joins or self._aggregates):
            # a few objects and nothing loaded with them: pausing the
            # collector would cost more than the scans it saves
            rows, columns, whole, ahead = self._read(s, limit)
            return hydrate(s, self._mapper, rows, columns, (), whole=whole, ahead=ahead)
        with gc_paused():
            rows, columns, whole, ahead = self._read(s, limit)
            objs = hydrate(s, self._mapper, rows, columns, self._joins, whole=whole, ahead=ahead)
            del rows  # freed before the collector's catch-up pass, which need not scan them
            if self._aggregates:
                load_aggregates(s, self._mapper, objs, self._aggregates, whole)
        return objs

    def find_one(self) -> T:
        """The first matching object; ``NotFound`` if there is none."""
        found = self._run(lambda s: self._find(s, 1))
        if not found:
            raise NotFound(f"no {self._mapper.name} matches the query")
        return found[0]

    def find_one_or_none(self) -> Optional[T]:
        found = self._run(lambda s: self._find(s, 1))
        return found[0] if found else None

    def count(self) -> int:
        """How many rows match (limit and skip apply); groups after group_by()."""
        if self._group or self._having:
            return self._count_groups()

        def run(s: Session) -> int:
            s.flush()
            c = self._codec(s)

            def render() -> tuple[str, list[Any]]:
                if self._limit is None and self._offset is None:
                    return self._rendered(c, [Count(Star())], ordered=False)
                comp = self._compiler(c)
                inner = self._base(c, c.pk_names, comp)
                sub = c.dialect.query_class.from_(inner.as_("sub")).select(Count(Star()))
                return sub.get_sql(), comp.params

            key = shape_key(self, c, "count", (), self._limit, self._offset)
            sql, params = cached(self, c, key, render)
            return int(s.fetch(sql, params)[0][0])
        return self._run(run)

    def exists(self) -> bool:
        def run(s: Session) -> bool:
            s.flush()
            c = self._codec(s)
            if self._limit == 0:
                return False
            key = shape_key(self, c, "exists", (), 1, self._offset)
            sql, params = cached(self, c, key, lambda: self._copy(_limit=1)._rendered(
                c, [c.pk_names[0]], ordered=self._offset is not None))
            return bool(s.fetch(sql, params))
        return self._run(run)

    def ids(self) -> list[Any]:
        """The primary keys of the matching rows, in query order."""
        def run(s: Session) -> list[Any]:
            s.flush()
            c = self._codec(s)
            key = shape_key(self, c, "ids", c.pk_names, self._limit, self._offset)
            sql, params = cached(self, c, key, lambda: self._rendered(c, c.pk_names))
            return [c.row_key(r) for r in s.fetch(sql, params)]
        return self._run(run)

    def delete_many(self) -> int:
        """Delete every matching row, applying the same referential actions as
        ``delete()``; loaded objects are marked deleted. Returns the row count."""
        def run(s: Session) -> int:
            s.flush()
            if self._limit is None and self._offset is None and not self._joins:
                done = delete_where(s, self._mapper, self._where)
                if done is not None and done >= 0:
                    return done
            keys = self.ids() if self._session is s else self._copy(_session=s).ids()
            if not keys:
                return 0
            return delete_keys(s, {self._mapper: keys})
        return self._run(run)

    def patch_many(self, **values: Any) -> int:
        """Set fields on every matching row in one UPDATE; loaded objects get
        the new values (unsaved changes are kept). Returns the row count."""
        if self._limit is not None or self._offset is not None:
            raise QueryError("patch_many() does not take limit()/skip()")
        props, values = self._patch(values, "patch_many")

        def run(s: Session) -> int:
            s.flush()
            # relation filters and inner joins select the rows first, then
            # update them by key; plain conditions go straight into the UPDATE
            by_keys = any(cond.needs_alias for cond in self._conditions())
            query = self if self._session is s else self._copy(_session=s)
            keys = query.ids() if (by_keys or s.identity.maps.get(self._mapper)) else None
            return patch_rows(s, self._mapper, props, values, self._where, keys, by_keys)
        return self._run(run)

    def patch_one(self, **values: Any) -> None:
        """Set fields on the first matching row (in the query's order), as
        ``patch_many`` does; ``NotFound`` if no row matches."""
        props, values = self._patch(values, "patch_one")

        def run(s: Session) -> None:
            s.flush()
            patch_rows(s, self._mapper, props, values, (), [self._first_key(s, "patch_one")], True)
        self._run(run)

    def delete_one(self) -> None:
        """Delete the first matching row (in the query's order) with its
        referential actions, as ``delete()`` does; ``NotFound`` if none."""
        def run(s: Session) -> None:
            s.flush()
            delete_keys(s, {self._mapper: [self._first_key(s, "delete_one")]})
        self._run(run)

    def _first_key(self, s: Session, what: str) -> Any:
        query = self if self._session is s else self._copy(_session=s)
        keys = query._copy(_limit=1).ids()
        if not keys:
            raise NotFound(f"{what}(): no {self._mapper.name} matches the query")
        return keys[0]

    def _patch(self, values: dict[str, Any], what: str) -> tuple[list[Any], dict[str, Any]]:
        """The checked fields and values of a patch (a Version field bumped)."""
        mapper = self._mapper
        if not values:
            raise QueryError(f"{what}() on {mapper.name} needs field=value arguments")
        props = [column_prop(mapper, name, what) for name in values]
        for prop in props:
            if prop.primary_key:
                raise QueryError(f"{what}() cannot change the primary key {mapper.name}.{prop.name}")
            value = values[prop.name]
            if isinstance(value, ValueExpr):
                value.mapper_check(mapper)
                FieldExpr(prop).need_number("=")
            elif not prop.check(value):
                raise ValidationError(f"{mapper.name}.{prop.name} cannot be set to {value!r}")
        version = mapper.version
        if version is not None and version.name not in values:
            # a write like any other: rows loaded before it are stale now
            values = {**values, version.name: FieldExpr(version) + 1}
            props.append(version)
        return props, values
