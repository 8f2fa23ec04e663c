"""SELECT statements built per call (their shape depends on the query):
a query's rows, a relation's rows for a set of parents (filtered, ordered,
paged per parent with ROW_NUMBER()), the branches of the UNION ALL that
reads a query and its relations in one statement, the ORDER BY with the
primary key as tie-break, and the lookup of pivot rows that already link an
object to others.

Called by :mod:`activerel.query`, :mod:`activerel.querying.statement`,
:mod:`activerel.loading` and the unit of work. Imports :mod:`activerel.sql.expressions`,
:mod:`activerel.sql.paths` (ordering by a path),
:mod:`activerel.sql.aggregates` (ordering by a relation aggregate),
:mod:`activerel.sql.statements` and :mod:`activerel.mapping`."""
from __future__ import annotations

from typing import Any, NamedTuple, Optional, Sequence

from pypika import Order, Parameter
from pypika import analytics as an
from pypika.terms import Criterion, Field, Tuple

from ..errors import QueryError
from .aggregates import OrderKey, relation_aggregate
from .._util.pypika import SqlTemplate
from .compiler import Compiler, add_path_joins, key_set
from .expressions import Condition
from .paths import resolve_path

from ..mapping.mapper import Mapper
from ..mapping.properties import ReferenceProp
from .statements import Statements


def order_terms(mapper: Mapper, table: Any, order: Sequence[tuple[str, bool]],
                pk_names: Sequence[str],
                comp: Optional[Compiler] = None) -> list[tuple[Any, Order]]:
    """``(term, direction)`` of each ordered field's columns on ``table``,
    then the primary key's columns ascending that are not ordered already
    (all of them, or the rest of a composite key), so the order is total
    and paging is stable. A dotted path (``"author.username"``) orders by a
    column ``comp`` joins in."""
    terms = []
    ordered: set[str] = set()
    for name, desc in order:
        rel = relation_aggregate(mapper, name, "order_by") if "." in name else None
        if isinstance(name, OrderKey) or (rel is not None and comp is None):
            raise QueryError(f"order_by({name}): an aggregate orders the rows of a grouped query "
                             "(group_by()) and a relation aggregate those of the query itself")
        if rel is not None and comp is not None:  # "posts.count": a correlated subquery
            cols = [rel.sql(comp)]
        elif "." in name and comp is not None:
            cols = resolve_path(mapper, name, "order_by")._columns(comp)
        else:
            prop: Any = mapper.props[name]
            cols = [table.field(col.name) for col in prop.columns]
            ordered.update(col.name for col in prop.columns)
        terms += [(col, Order.desc if desc else Order.asc) for col in cols]
    terms += [(table.field(n), Order.asc) for n in pk_names if n not in ordered]
    return terms


def linked_pairs_sql(pivot: Statements, local: ReferenceProp, remote: ReferenceProp,
                     count: int) -> str:
    """SELECT the remote key of the pivot rows linking one local key (its
    parameters first) to any of ``count`` remote keys (theirs after)."""
    t = pivot.table
    ph = Parameter(pivot.ph)
    crit = Criterion.all([t.field(col.name) == ph for col in local.columns])
    groups = [Criterion.all([t.field(col.name) == ph for col in remote.columns])] * count
    return (pivot.dialect.query_class.from_(t).select(*[t.field(col.name) for col in remote.columns])
            .where(crit).where(Criterion.any(groups)).get_sql())


def query_select(comp: Compiler, table: Any, select: Sequence[Any], conditions: Sequence[Condition],
                 order: Sequence[tuple[Any, Order]], limit: Optional[int], offset: Optional[int],
                 limit_max: int) -> Any:
    """The SELECT of a query's rows (a PyPika query, to render or nest):
    ``select`` (column names or terms) from ``table`` where every condition
    holds, in ``order``, paged; an offset without a limit gets ``limit_max``."""
    q = comp.dialect.query_class.from_(table).select(
        *[table.field(s) if isinstance(s, str) else s for s in select])
    for cond in conditions:
        q = q.where(cond.compile(comp))
    q = add_path_joins(comp, q, table)  # the LEFT JOINs of the paths in conditions and order
    for term, direction in order:
        q = q.orderby(term, order=direction)
    if limit is not None:
        q = q.limit(limit)
    if offset is not None:
        if limit is None:
            q = q.limit(limit_max)
        q = q.offset(offset)
    return q


class RelationSource(NamedTuple):
    """Where a relation's rows come from: the FROM (and JOIN) of the query,
    the terms holding each row's parent key, and extra selected terms."""

    query: Any
    key_terms: list[Any]
    extra: list[Any]


def rows_source(comp: Compiler, alias: Any, key_columns: Sequence[str]) -> RelationSource:
    """Rows of one table whose ``key_columns`` name their parent (a reference
    target's own key, or a child's foreign key)."""
    return RelationSource(comp.dialect.query_class.from_(alias),
                          [alias.field(n) for n in key_columns], [])


def pivot_source(comp: Compiler, alias: Any, pivot: Mapper, local: ReferenceProp,
                 remote: ReferenceProp) -> RelationSource:
    """Rows of a many-to-many target joined to the pivot rows naming them;
    each row carries the parent's key (the pivot's ``local`` columns) at its
    end as ``_ar_k0``, ``_ar_k1``, ..."""
    p = comp.alias(pivot)
    on = Criterion.all([p.field(c.name) == alias.field(c.target.name)  # type: ignore[union-attr]
                        for c in remote.columns])
    q = comp.dialect.query_class.from_(alias).join(p).on(on)
    return RelationSource(q, [p.field(c.name) for c in local.columns],
                          [p.field(c.name).as_(f"_ar_k{i}") for i, c in enumerate(local.columns)])


def keyed_rows(comp: Compiler, source: RelationSource, keys: Optional[Sequence[Any]]) -> Any:
    """The related rows of a relation source whose parent key is among
    ``keys`` (None: of any parent, the key set: every key that is not NULL)."""
    q = source.query
    if keys is None:
        for term in source.key_terms:
            q = q.where(term.notnull())
        return q
    return q.where(key_set(comp, source.key_terms, keys))


def relation_select(comp: Compiler, source: RelationSource, select: list[Any],
                    keys: Optional[Sequence[Any]], conditions: Sequence[Condition],
                    order: Sequence[tuple[Any, Order]], limit: Optional[int],
                    offset: Optional[int]) -> str:
    """The SELECT of a relation's rows whose parent key is among ``keys``
    (None: any parent, the key set), filtered by ``conditions``, in ``order``,
    at most ``limit`` per parent after skipping ``offset`` (ROW_NUMBER() over
    the parent key in a subquery)."""
    q = _relation_rows(comp, keyed_rows(comp, source, keys), source, select, conditions,
                       order, limit, offset, False)
    sql: str = q.get_sql()
    return sql


class ParentKeys(NamedTuple):
    """The key columns of a query's rows as a SELECT of their own (SQL and
    parameters): the parents of a relation read in the same round trip as
    the parents themselves."""

    sql: str
    params: Sequence[Any]
    #: the names of the key columns it selects, in the order of the relation's key terms
    columns: Sequence[str]


def relation_select_ahead(comp: Compiler, source: RelationSource, select: list[Any],
                          parents: ParentKeys, key_at: Sequence[int],
                          conditions: Sequence[Condition], order: Sequence[tuple[Any, Order]],
                          limit: Optional[int], offset: Optional[int]) -> str:
    """:func:`relation_select` for the parents ``parents`` selects, when
    their keys are not known yet. First comes one marker row per parent key
    the statement itself found (NULL but for the key, at the output
    positions ``key_at``): a parent the two statements disagree on (it
    changed in between, on a server where each statement sees the latest
    commit) is told apart from one without rows. Every row ends with its
    ordinal: 0 for a marker, then the relation's rows in ``order`` (per
    parent when paged, from 1), which is the statement's order. The parents'
    SELECT runs once, as a common table expression."""
    q = comp.dialect.quote
    # the parents' keys once, as a CTE both the markers and the key set read
    # (a CTE, not the SELECT itself in IN: MySQL takes no LIMIT in an IN subquery)
    cte = q("_ar_p")
    comp.params.extend(parents.params)
    rows = _relation_rows(comp, _keyed_by(source, f"SELECT * FROM {cte}"), source, select,
                          conditions, order, limit, offset, True)
    width = len(select) + len(source.extra)
    marks = ["NULL"] * width
    for name, pos in zip(parents.columns, key_at):
        marks[pos] = f"{cte}.{q(name)}"
    return (f"WITH {cte} AS ({parents.sql}) SELECT {', '.join(marks)}, 0 FROM {cte} "
            f"UNION ALL {rows.get_sql()} ORDER BY {width + 1}")


def relation_select_in(comp: Compiler, source: RelationSource, select: list[Any],
                       parents: ParentKeys, order: Sequence[tuple[Any, Order]],
                       tail: Sequence[Any], ordinal: bool, paged: bool) -> str:
    """:func:`relation_select` for the parents ``parents`` selects, as a
    branch of the UNION a query and its relations are read by in one
    statement: ``select``, the ``tail`` terms, then (``ordinal``) each row's
    place in ``order``; no ORDER BY (the UNION's orders its rows). A
    ``paged`` parents' SELECT is the key set's subquery through a derived
    table (MySQL takes no LIMIT in an IN subquery itself)."""
    keys = f"SELECT * FROM ({parents.sql}) {comp.dialect.quote('_ar_p')}" if paged else parents.sql
    comp.params.extend(parents.params)
    rows = _relation_rows(comp, _keyed_by(source, keys), source, select, (),
                          order if ordinal else (), None, None, ordinal, tail)
    sql: str = rows.get_sql()
    return sql


def _keyed_by(source: RelationSource, keys_sql: str) -> Any:
    """The relation's rows whose parent key is among those the SELECT
    ``keys_sql`` returns (its parameters are the caller's to add)."""
    terms = source.key_terms
    crit = SqlTemplate("{k} IN " + f"({keys_sql})".replace("{", "{{").replace("}", "}}"),
                       k=terms[0] if len(terms) == 1 else Tuple(*terms))
    return source.query.where(crit)


def query_branch(comp: Compiler, table: Any, select: Sequence[str],
                 conditions: Sequence[Condition], order: Sequence[tuple[Any, Order]],
                 tail: Sequence[Any], ordinal: bool,
                 page: Optional[tuple[Optional[int], Optional[int], int]] = None) -> str:
    """:func:`query_select` as the first branch of that UNION: the columns
    ``select``, the ``tail`` terms, then (``ordinal``) each row's place in
    ``order``, which a UNION's branch cannot keep as its ORDER BY.
    ``page``: (limit, offset, the dialect's largest limit): the page is
    picked, in ``order``, by a derived table the branch reads (so that the
    statement still begins with SELECT)."""
    rn = [_row_number(order).as_("_ar_rn")] if ordinal else []
    if page is None:
        sql: str = query_select(comp, table, [*select, *tail, *rn], conditions, (), None, None,
                                0).get_sql()
        return sql
    limit, offset, limit_max = page
    rows = query_select(comp, table, [*select, *rn], conditions, order, limit, offset,
                        limit_max).as_("_ar_q")
    picked = [rows.field(name) for name in select] + list(tail)
    sql = comp.dialect.query_class.from_(rows).select(
        *picked, *([rows.field("_ar_rn")] if ordinal else [])).get_sql()
    return sql


def column_positions(order: Sequence[tuple[Any, Order]], table: Any, names: Sequence[str],
                     at: int) -> Optional[list[tuple[int, Order]]]:
    """Where, in the rows of that UNION, the ``order`` terms are (1-based):
    each must be one of the columns ``names`` of ``table``, which a
    branch selects from position ``at + 1`` on. None where one is not (an
    expression, a path's column, a column not selected)."""
    out = []
    for term, direction in order:
        if not isinstance(term, Field) or term.table is not table or term.name not in names:
            return None
        out.append((at + list(names).index(term.name) + 1, direction))
    return out


def _relation_rows(comp: Compiler, q: Any, source: RelationSource, select: list[Any],
                   conditions: Sequence[Condition], order: Sequence[tuple[Any, Order]],
                   limit: Optional[int], offset: Optional[int], ordinal: bool,
                   tail: Sequence[Any] = ()) -> Any:
    """The relation's rows of ``q`` (its FROM and key condition), filtered,
    ordered and paged per parent; ``ordinal``: each row's place in the order
    (per parent when paged) is its last column ``_ar_rn``, and the query has
    no ORDER BY of its own (a branch of a UNION). The ``tail`` terms (only
    unpaged) follow the selected ones."""
    for cond in conditions:
        q = q.where(cond.compile(comp))
    q = add_path_joins(comp, q)  # the paths of the conditions and order, on the related rows
    select = select + source.extra
    if limit is None and not offset:
        if ordinal:
            return q.select(*select, *tail, _row_number(order).as_("_ar_rn"))
        q = q.select(*select, *tail)
        for term, direction in order:
            q = q.orderby(term, order=direction)
        return q
    q = q.select(*select, _row_number(order, source.key_terms).as_("_ar_rn"))
    sq = q.as_("_ar_sq")
    names = [s.alias or s.name for s in select]
    outer = comp.dialect.query_class.from_(sq).select(*[sq.field(n) for n in names])
    low = offset or 0
    if low:
        outer = outer.where(sq.field("_ar_rn") > low)
    if limit is not None:
        outer = outer.where(sq.field("_ar_rn") <= low + limit)
    if ordinal:
        return outer.select(sq.field("_ar_rn"))
    return outer.orderby(sq.field("_ar_rn"))


def _row_number(order: Sequence[tuple[Any, Order]], partition: Sequence[Any] = ()) -> Any:
    """``ROW_NUMBER()`` in ``order``, restarting for each value of the
    ``partition`` terms (none: numbered across the whole result)."""
    rn: Any = an.RowNumber()
    if partition:
        rn = rn.over(*partition)
    for term, direction in order:
        rn = rn.orderby(term, order=direction)
    return rn
