"""The SELECT of a joined relation's rows: where they come from (the child
table, or the target joined to a pivot), the statement for a set of parent
keys, the statement that can travel in the query's own round trip before
the parents' keys are known (``ahead_statement``: the parent query as a
CTE, with marker rows naming the parents that statement saw), and the
relation's branch of a UNION ALL that reads it in the query's own
statement (``union_part``, ``union_branch``).

Called by :mod:`activerel.loading.strategies` (which turns the rows into
objects) and :mod:`activerel.querying.statement` (which sends the
read-ahead statements with its own, or the UNION). Imports
:mod:`activerel.loading.joins`, :mod:`activerel.sql`,
:mod:`activerel.mapping`, :mod:`activerel._util` and ``hydrate`` (the
``LoadSession`` Protocol)."""
from __future__ import annotations

from bisect import bisect_left
from dataclasses import replace
from operator import itemgetter
from typing import Any, Callable, NamedTuple, Optional, Sequence

from pypika import Order
from pypika.terms import LiteralValue, NullValue

from .._util.batching import chunks
from ..mapping.mapper import Mapper
from ..mapping.properties import BackRefProp, Direction, ReferenceProp
from ..sql.compiler import Compiler
from ..sql.select import (ParentKeys, RelationSource, column_positions, order_terms, pivot_source,
                          relation_select, relation_select_ahead, relation_select_in, rows_source)
from ..sql.statement_cache import cached, condition_shapes, condition_values
from ..sql.values import codec
from .hydrate import LoadSession
from .joins import Join, inner_conditions, needed_fields

Rows = list[tuple[Any, ...]]


class ChildSource(NamedTuple):
    """Where a back reference's rows come from and how each names its parent."""

    #: the join, with the fields the loader needs added to a narrowed selection
    join: Join
    #: ``source(comp, alias)``: the FROM (and pivot JOIN) of the rows
    source: Callable[[Compiler, Any], RelationSource]
    #: what ``source`` is, hashable: part of the statement cache's key
    shape: Any
    #: the parent's key columns the rows point at, in the rows' key order
    parent_columns: tuple[str, ...]
    #: the target's columns holding the parent key (a child's foreign key);
    #: None: the pivot's, selected after the target's columns
    key_columns: Optional[tuple[str, ...]]

    def key_positions(self, columns: Sequence[str]) -> list[int]:
        """Where each row holds its parent's key, given the selected ``columns``."""
        if self.key_columns is not None:
            return [list(columns).index(n) for n in self.key_columns]
        return list(range(len(columns), len(columns) + len(self.parent_columns)))


def child_source(prop: BackRefProp, join: Join, reverse: bool = False) -> ChildSource:
    """How the rows of back reference ``prop`` are selected; ``reverse``: a
    symmetric many-to-many relation's other side of the pivot."""
    if prop.direction is Direction.MANY_TO_MANY:
        local, remote = prop.via_local, prop.via_remote
        assert local is not None and remote is not None
        if reverse:
            local, remote = remote, local
        pivot = prop.via_mapper
        return ChildSource(join, lambda comp, a: pivot_source(comp, a, pivot, local, remote),
                           ("pivot", pivot, local, remote), _targets(local), None)
    ref = prop.mapped_by
    assert ref is not None
    fk_cols = tuple(c.name for c in ref.columns)
    if join.fields is not None and ref.name not in join.fields:
        join = replace(join, fields=join.fields + (ref.name,))
    return ChildSource(join, lambda comp, a: rows_source(comp, a, fk_cols), ("rows", fk_cols),
                       _targets(ref), fk_cols)


def _targets(ref: ReferenceProp) -> tuple[str, ...]:
    return tuple(c.target.name for c in ref.columns)  # type: ignore[union-attr]


def child_columns(session: LoadSession, target: Mapper, join: Join) -> tuple[str, ...]:
    """The columns a join selects of its ``target``."""
    return codec(target, session.dialect).select_columns(
        needed_fields(target, join.fields, join.joins))


def child_rows(session: LoadSession, target: Mapper, join: Join, keys: Optional[list[Any]],
               source: Callable[[Compiler, Any], RelationSource],
               shape: Any = None) -> tuple[Rows, tuple[str, ...]]:
    """Run the SELECT of a relation: rows of ``target`` whose parent key
    terms match ``keys`` (``None``: any parent, the key terms not NULL),
    filtered, ordered and paged per parent as ``join`` says.
    ``source(comp, alias)`` says where the rows come from. Returns the rows
    and the hydrated column names. One statement, unless the keys are
    composite and more than the parameter limit allows: then one per chunk
    of parents. ``shape``: what ``source`` is, hashable (the statement
    cache's key with the join's own shape), or None."""
    columns = child_columns(session, target, join)
    if keys is None:
        sql, params = child_statement(session, target, join, None, columns, source, shape)
        return session.fetch(sql, params), columns
    width = len(keys[0]) if keys and isinstance(keys[0], tuple) else 1
    rows: Rows = []
    limit = session.dialect.features.param_limit
    parts: Any = chunks(keys, limit, 2 * width) if width > 1 and len(keys) * width > limit // 2 else [keys]
    for part in parts:
        sql, params = child_statement(session, target, join, list(part), columns, source, shape)
        rows.extend(session.fetch(sql, params))
    return rows, columns


def child_statement(session: LoadSession, target: Mapper, join: Join, keys: Optional[list[Any]],
                    columns: tuple[str, ...], source: Callable[[Compiler, Any], RelationSource],
                    shape: Any = None, parents: Optional[ParentKeys] = None,
                    key_at: Sequence[int] = ()) -> tuple[str, list[Any]]:
    """The SQL and parameters of :func:`child_rows`'s statement for ``keys``,
    or with ``parents`` for the parents that SELECT names (``key_at``: where
    the rows hold the parent key; see :func:`relation_select_ahead`)."""
    dialect = session.dialect
    conditions = list(join.where) + inner_conditions(target, join.joins)

    def render() -> tuple[str, list[Any]]:
        c = codec(target, dialect)
        comp = Compiler(target, dialect)
        a = comp.alias(target)
        comp.scopes[0] = (target, a)
        fields = [a.field(n) for n in columns]
        order = order_terms(target, a, join.order, c.pk_names, comp)
        if parents is not None:
            sql = relation_select_ahead(comp, source(comp, a), fields, parents, key_at, conditions,
                                        order, join.limit, join.offset)
        else:
            sql = relation_select(comp, source(comp, a), fields, keys, conditions, order,
                                  join.limit, join.offset)
        return sql, comp.params

    def walk() -> list[Any]:
        # the key set's values (one parameter each), then the conditions'
        if parents is not None:
            out = list(parents.params)
        elif not keys:
            out = []
        elif isinstance(keys[0], tuple):
            out = [v for k in keys for v in k]
        else:
            out = list(keys)
        return condition_values(conditions, dialect, out)

    key = None
    if shape is not None and len(conditions) == len(join.where):
        shapes = condition_shapes(conditions)
        if shapes is not None:
            key = ("relation", shape, target, columns, shapes, join.order, join.limit,
                   join.offset, None if keys is None else len(keys),
                   None if parents is None else parents.sql)
    return cached(dialect, key, walk, render)


def reads_ahead(owner: Mapper, join: Join) -> bool:
    """Whether a joined relation's rows can be read before its parents'
    keys are known: a back reference, neither recursive nor symmetric."""
    prop = owner.props[join.name]
    return isinstance(prop, BackRefProp) and not join.recursive and not prop.symmetric


class Ahead(NamedTuple):
    """A relation's rows read in the query's own round trip."""

    rows: Rows
    columns: tuple[str, ...]
    #: the rows begin with marker rows (the parents the statement saw) and
    #: end with their ordinal; False: the rows of every parent, unmarked
    marked: bool


def ahead_statement(session: LoadSession, owner: Mapper, join: Join,
                    parents: Optional[Callable[[tuple[str, ...]], ParentKeys]]
                    ) -> Optional[tuple[str, list[Any], tuple[str, ...]]]:
    """The SELECT of a joined back reference's rows that can go with the
    query's own before its rows are read: for the parents ``parents(key
    columns)`` selects, or (None) for every parent, the query reading the
    whole table. None where the loader needs the parents first (a to-one
    or recursive join, a symmetric relation's two statements)."""
    if not reads_ahead(owner, join):
        return None
    prop = owner.props[join.name]
    assert isinstance(prop, BackRefProp)
    src = child_source(prop, join)
    target = prop.target_mapper
    columns = child_columns(session, target, src.join)
    keys = None if parents is None else parents(src.parent_columns)
    sql, params = child_statement(session, target, src.join, None, columns, src.source, src.shape,
                                  keys, src.key_positions(columns))
    return sql, params, columns


class UnionPart(NamedTuple):
    """A joined back reference read as a branch of its query's UNION."""

    name: str
    target: Mapper
    source: ChildSource
    #: the target's columns the branch selects (the pivot's key columns follow them)
    columns: tuple[str, ...]
    #: how many of the UNION's columns the branch fills: its columns and the pivot's
    width: int


def union_part(session: LoadSession, owner: Mapper, join: Join) -> Optional[UnionPart]:
    """What a joined relation's branch of the query's UNION reads, or None
    where it is read after the query's rows: a to-one or recursive join, a
    symmetric relation's two statements, or a join filtered or paged per
    parent (its parameters or its paging would not be the query's)."""
    prop = owner.props[join.name]
    if (not reads_ahead(owner, join) or join.where or join.limit is not None or join.offset
            or any(j.inner for j in join.joins)):
        return None
    assert isinstance(prop, BackRefProp)
    src = child_source(prop, join)
    target = prop.target_mapper
    columns = child_columns(session, target, src.join)
    extra = len(src.parent_columns) if src.key_columns is None else 0
    return UnionPart(join.name, target, src, columns, len(columns) + extra)


def union_branch(session: LoadSession, part: UnionPart, parents: ParentKeys, before: int,
                 after: int, branch: int, ordinal: bool, paged: bool
                 ) -> Optional[tuple[str, list[Any], list[tuple[int, Order]]]]:
    """The SQL and parameters of ``part``'s branch of the UNION, and where
    in its rows the relation's order is: NULL in the ``before`` columns of
    the branches ahead of it, its own columns, NULL in the ``after``
    columns of those behind it, the branch's number, then (``ordinal``)
    each row's place in the relation's order. Without ``ordinal``, None
    where an ordered term is not one of its columns. ``paged``: the
    parents' SELECT is paged."""
    dialect, target, join = session.dialect, part.target, part.source.join
    c = codec(target, dialect)
    comp = Compiler(target, dialect)
    a = comp.alias(target)
    comp.scopes[0] = (target, a)
    order = order_terms(target, a, join.order, c.pk_names, comp)
    positions = [] if ordinal else column_positions(order, a, part.columns, before)
    if positions is None:
        return None
    fields = [NullValue()] * before + [a.field(n) for n in part.columns]
    tail = [NullValue()] * after + [LiteralValue(str(branch))]
    sql = relation_select_in(comp, part.source.source(comp, a), fields, parents, order, tail,
                             ordinal, paged)
    return sql, comp.params, positions


def marker_count(rows: Rows) -> int:
    """How many of a read-ahead statement's rows are markers: they come
    first, with ordinal 0; the relation's rows follow from ordinal 1."""
    return bisect_left(rows, 1, key=itemgetter(-1))
