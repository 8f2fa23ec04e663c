"""The statements of a query's object terminals: the SELECT ``find()``
sends first (also what ``first()``, ``find_one()`` and the others send),
with, where the backend batches reads, its joined relations' SELECTs in
the same round trip, or, where it reads them in the query's own statement,
a UNION ALL of the query and those SELECTs (``_read``); ``sql()``, which
shows it (or the one ``aggregate()`` would send) with its parameters
without running anything; and ``first()``.

:class:`StatementQueries` is a base of ``Query``. Used by
:mod:`activerel.query`. Imports :mod:`activerel.loading.joins` and
``relrows``, :mod:`activerel.querying.shapes`, :mod:`activerel.sql`,
:mod:`activerel.mapping` and :mod:`activerel.errors`."""
from __future__ import annotations

from bisect import bisect_left
from itertools import repeat
from operator import getitem, itemgetter
from typing import Any, Callable, Generic, NamedTuple, Optional, TypeVar, cast

from pypika import Order
from pypika.terms import LiteralValue, NullValue

from ..errors import QueryError
from ..loading.joins import Join, needed_fields
from ..loading.relrows import (Ahead, UnionPart, ahead_statement, reads_ahead, union_branch,
                               union_part)
from ..mapping.mapper import Mapper
from ..sql.aggregates import Aggregate
from ..sql.compiler import Compiler
from ..sql.select import ParentKeys, column_positions, order_terms, query_branch
from ..sql.statement_cache import LIMIT as CACHE_LIMIT
from ..sql.values import ValueCodec, codec
from .shapes import cached, index_lookup, shape_key

T = TypeVar("T")


class Statement(NamedTuple):
    """A statement as a terminal would send it: its SQL (with the backend's
    placeholders) and its bound parameters, in order."""

    sql: str
    params: tuple[Any, ...]


class StatementQueries(Generic[T]):
    """``first()``, ``sql()`` and the first SELECT of ``find()``."""

    __slots__ = ()
    # the query's state and helpers (``Query`` has them)
    _mapper: Mapper
    _fields: Optional[tuple[str, ...]]
    _where: tuple[Any, ...]
    _order: tuple[tuple[str, bool], ...]
    _joins: tuple[Join, ...]
    _lock: Optional[tuple[bool, bool]]
    _limit: Optional[int]
    _offset: Optional[int]
    _group: tuple[str, ...]
    _copy: Callable[..., Any]
    _run: Callable[..., Any]
    _find: Callable[..., list[Any]]
    _conditions: Callable[[], list[Any]]
    _compiler: Callable[[ValueCodec], Compiler]
    _base: Callable[..., Any]
    _aggregate_statement: Callable[..., tuple[str, list[Any], list[Any]]]
    _rendered: Callable[..., tuple[str, list[Any]]]

    def first(self) -> Optional[T]:
        """The first matching object in the query's order (primary-key order
        without ``order_by``), or None; joins and relation aggregates loaded."""
        found = self._run(lambda s: self._find(s, 1))
        return found[0] if found else None

    def sql(self, **aggregates: Aggregate) -> Statement:
        """The statement ``find()`` would send first (the root SELECT; each
        joined relation and relation aggregate then adds one SELECT keyed by
        the rows it returns, which cannot be known before; on PostgreSQL
        and MySQL a query an index serves may send its relations' SELECTs
        with it, or in one statement with it: see relations.md), or with
        aggregates (or after ``group_by()``) the one ``aggregate(**aggregates)``
        would send: SQL and parameters, built in the query's session or a new
        one, without running anything or flushing pending changes."""
        def run(s: Any) -> Statement:
            if aggregates or self._group:
                for a in aggregates.values():
                    if not isinstance(a, Aggregate):
                        raise QueryError(f"sql() takes aggregates such as n=agg.count(), not {a!r}")
                    a.mapper_check(self._mapper)
                sql, params, _ = self._aggregate_statement(s.dialect, aggregates)
            else:
                sql, params, _, _ = self._find_statement(codec(self._mapper, s.dialect))
            return Statement(sql, tuple(params))
        statement: Statement = self._run(run, True)
        return statement

    def _find_statement(self, c: ValueCodec, limit: Optional[int] = None
                        ) -> tuple[str, list[Any], tuple[str, ...], bool]:
        """The SELECT ``find()`` sends first: its SQL, parameters and columns,
        and whether its rows are the whole table (no condition, no paging)."""
        columns = c.select_columns(needed_fields(self._mapper, self._fields, self._joins))
        most = self._limit if limit is None else limit
        whole = (most is None and not self._offset and not self._where
                 and not any(j.inner for j in self._joins))  # (inner joins are conditions)

        def render() -> tuple[str, list[Any]]:
            q = self if limit is None else self._copy(_limit=limit)
            comp = self._compiler(c)
            select = q._base(c, columns, comp)
            if self._lock is not None and c.dialect.features.row_locks:
                nowait, skip_locked = self._lock
                # beside a path's LEFT JOIN, PostgreSQL locks the query's own rows only by name
                of = ((comp.table(self._mapper).get_table_name(),)
                      if c.dialect.features.lock_of_table else ())
                select = select.for_update(nowait=nowait, skip_locked=skip_locked, of=of)
            return select.get_sql(), comp.params

        key = shape_key(self, c, "find", columns, most, self._offset)
        sql, params = cached(self, c, key, render)
        return sql, params, columns, whole

    def _read(self, s: Any, limit: Optional[int]
              ) -> tuple[list[Any], tuple[str, ...], bool, Optional[dict[str, Ahead]]]:
        """The rows of ``find()``'s SELECT, its columns, whether they are the
        whole table, and the rows of the joined relations read in the same
        round trip (by join name), if any."""
        c = codec(self._mapper, s.dialect)
        sql, params, columns, whole = self._find_statement(c, limit)
        if not self._joins or self._lock is not None:
            return s.fetch(sql, params), columns, whole, None
        features = c.dialect.features
        union = (self._union(s, c, sql, params, columns, limit)
                 if features.union_reads and not whole else None)
        if union is not None:
            rows, related = union.split(s.fetch(union.sql, union.params))
            return rows, columns, False, related
        if not features.batch_reads:
            return s.fetch(sql, params), columns, whole, None
        # which relations go ahead, and their SQL, depend on the query's SQL and
        # its joins only; their parameters are the query's own when no join
        # has a condition: then they are worked out once
        cache = c.dialect.statement_cache
        memo = ("ahead", sql, self._joins) if not _conditioned(self._joins) else None
        ahead = cache.get(memo) if memo is not None else None
        if ahead is None:
            made = self._ahead_statements(s, c, limit, whole)
            ahead = tuple((name, a_sql, a_columns) for name, a_sql, _, a_columns in made)
            if memo is not None and all(a_params == params for _, _, a_params, _ in made):
                if len(cache) >= CACHE_LIMIT:
                    cache.clear()
                cache[memo] = ahead
            statements = [(sql, params)] + [(a_sql, a_params) for _, a_sql, a_params, _ in made]
        else:
            statements = [(sql, params)] + [(a_sql, params) for _, a_sql, _ in ahead]
        if not ahead:
            return s.fetch(sql, params), columns, whole, None
        rows, *more = s.fetch_batch(statements)
        return rows, columns, whole, {name: Ahead(r, a_columns, not whole)
                                      for (name, _, a_columns), r in zip(ahead, more)}

    def _ahead_statements(self, s: Any, c: ValueCodec, limit: Optional[int], whole: bool
                          ) -> list[tuple[str, str, list[Any], tuple[str, ...]]]:
        """The SELECTs of the joined relations that can go with ``find()``'s
        own in one round trip, where the dialect batches reads: (join name,
        SQL, parameters, columns) of each, keyed by this query's rows as a
        subquery (by nothing when it reads the whole table). None for a
        query paged to no rows, and for one whose rows no index finds (its
        SELECT is not run again); ``_read`` asks for none for a locking query
        (its relations are read after its rows are locked)."""
        q = self if limit is None else self._copy(_limit=limit)
        if q._limit == 0 or not (whole or index_lookup(self._mapper, self._conditions())):
            return []
        paged = q._limit is not None or bool(q._offset)

        def parents(columns: tuple[str, ...]) -> ParentKeys:
            key = shape_key(self, c, "keys", columns, q._limit, q._offset)
            sql, params = cached(self, c, key, lambda: q._rendered(c, list(columns), paged))
            return ParentKeys(sql, params, columns)

        out: list[tuple[str, str, list[Any], tuple[str, ...]]] = []
        for join in self._joins:
            st = ahead_statement(s, self._mapper, join, None if whole else parents)
            if st is not None:
                sql, params, columns = st
                out.append((join.name, sql, params, columns))
        return out

    def _union(self, s: Any, c: ValueCodec, sql: str, params: list[Any],
               columns: tuple[str, ...], limit: Optional[int]) -> Optional["UnionRead"]:
        """Where the dialect reads relations in the query's own statement
        (``features.union_reads``): that statement, a UNION ALL of
        ``find()``'s SELECT and a branch per joined relation that can go with
        it (:func:`union_part`), in the order of the branches' numbers and
        then their own (``limit``: at most that many of the query's rows).
        None where no relation can, where no index finds the query's rows
        (its conditions then run once only), where it is paged and reads are
        batched (the pipeline serves it), where it joins more relations than
        the dialect takes in one UNION, where reads are batched and a
        relation the pipeline would take could not go in it, or where the
        repeated parameters would pass the dialect's limit. Worked out once
        per shape of ``find()``'s SELECT and joins (each time where a join
        is filtered)."""
        cache = c.dialect.statement_cache
        if _conditioned(self._joins):
            # a filtered join's conditions would make every query a key of its own
            return self._union_statement(s, c, columns, limit)
        memo = ("union", sql, self._joins)
        known = cache.get(memo, False)
        if known is None:
            return None
        if known is not False:
            union_sql, branch_at, layout = known
            return UnionRead(union_sql, params * (len(layout) + 1), branch_at, layout)
        made = self._union_statement(s, c, columns, limit)
        if made is not None and made.params != params * (len(made.layout) + 1):
            return made  # its parameters are not the query's, repeated: not reused
        if len(cache) >= CACHE_LIMIT:
            cache.clear()
        cache[memo] = None if made is None else (made.sql, made.branch_at, made.layout)
        return made

    def _union_statement(self, s: Any, c: ValueCodec, columns: tuple[str, ...],
                         limit: Optional[int]) -> Optional["UnionRead"]:
        q = self if limit is None else self._copy(_limit=limit)
        paged = q._limit is not None or q._offset is not None
        paths = any(not isinstance(name, str) or "." in name for name, _ in self._order)
        if ((paged and c.dialect.features.batch_reads) or q._limit == 0 or paths
                or not index_lookup(self._mapper, self._conditions())):
            return None
        parts = [p for p in (union_part(s, self._mapper, j) for j in self._joins) if p is not None]
        most = c.dialect.features.union_relations
        if not parts or (most is not None and len(parts) > most):
            return None
        if c.dialect.features.batch_reads and len(parts) < sum(
                reads_ahead(self._mapper, j) for j in self._joins):
            return None  # the pipeline takes them all in the query's round trip
        # ordered by the branches' own columns where every ordered term is one
        # of them; else each branch numbers its rows (ROW_NUMBER(), which costs
        # the server a sort per branch)
        made = (q._union_branches(s, c, columns, parts, False, paged)
                or q._union_branches(s, c, columns, parts, True, paged))
        if made is not None and len(made.params) > c.dialect.features.param_limit:
            return None  # each branch repeats the query's parameters: too many for one statement
        return made

    def _union_branches(self, s: Any, c: ValueCodec, columns: tuple[str, ...],
                        parts: list[UnionPart], ordinal: bool, paged: bool
                        ) -> Optional["UnionRead"]:
        width = len(columns) + sum(p.width for p in parts)
        comp = self._compiler(c)
        t = comp.table(self._mapper)
        order = order_terms(self._mapper, t, self._order, c.pk_names, comp)
        by = [] if ordinal else column_positions(order, t, columns, 0)
        if by is None:
            return None
        tail = [NullValue()] * (width - len(columns)) + [LiteralValue("0")]
        page = (self._limit, self._offset, c.dialect.features.limit_max) if paged else None
        branches = [query_branch(comp, t, columns, self._conditions(), order, tail, ordinal, page)]
        params = list(comp.params)
        layout = []
        at = len(columns)
        for n, p in enumerate(parts, 1):
            key_columns = list(p.source.parent_columns)
            keys = ParentKeys(*self._rendered(c, key_columns, ordered=paged), key_columns)
            branch = union_branch(s, p, keys, at, width - at - p.width, n, ordinal, paged)
            if branch is None:
                return None
            branches.append(branch[0])
            params += branch[1]
            by += branch[2]
            layout.append((p.name, at, p.width, p.columns))
            at += p.width
        # the branch's number first, then the branches' orders or their ordinals
        by = [(width + 1, Order.asc)] + (by if not ordinal else [(width + 2, Order.asc)])
        sql = (" UNION ALL ".join(branches) + " ORDER BY "
               + ", ".join(f"{i} {d.value}" for i, d in by))
        return UnionRead(sql, params, width, tuple(layout))


class UnionRead(NamedTuple):
    """A query's SELECT with its relations' rows, in one statement (``_union``)."""

    sql: str
    params: list[Any]
    #: where each row has its branch's number
    branch_at: int
    #: per relation read with it: (join name, its first column, how many it
    #: fills, its target's columns among them); the query's own columns
    #: come before the first
    layout: tuple[tuple[str, int, int, tuple[str, ...]], ...]

    def split(self, rows: list[tuple[Any, ...]]) -> tuple[list[Any], dict[str, Ahead]]:
        """The query's rows and each relation's, from the statement's rows
        (which come in the order of their branches' numbers)."""
        number = itemgetter(self.branch_at)
        ends = [bisect_left(rows, n, key=number) for n in range(1, len(self.layout) + 1)]
        ends.append(len(rows))
        own = list(map(_cut, rows[:ends[0]], repeat(slice(0, self.layout[0][1]))))
        ahead = {name: Ahead(list(map(_cut, rows[ends[n]:ends[n + 1]],
                                      repeat(slice(at, at + width)))), columns, False)
                 for n, (name, at, width, columns) in enumerate(self.layout)}
        return own, ahead


#: ``_cut(row, slice)``: part of a row (``map`` applies it in C, row after row)
_cut: Callable[[Any, slice], Any] = cast(Any, getitem)


def _conditioned(joins: tuple[Join, ...]) -> bool:
    """Whether a join of the tree filters its rows (has values of its own)."""
    return any(j.where or _conditioned(j.joins) for j in joins)
