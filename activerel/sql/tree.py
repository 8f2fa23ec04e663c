"""The one statement that loads a recursive relation
(``join_with("children*")``, ``join_with("parent*")``): a recursive common
table expression walks the relation from the parents' keys, and the SELECT
reading it returns the related rows of every node the walk reached, as the
SELECT of a plain relation does (:func:`activerel.sql.select.relation_select`),
with the walk's node keys in place of a key set::

    WITH RECURSIVE _ar_tree(k0[, d]) AS (
        SELECT <key carried> [, 0] FROM <table> WHERE <primary key> IN <parents' keys>
        UNION
        SELECT <key carried> [, _ar_tree.d + 1]
        FROM <table> [JOIN <pivot>] JOIN _ar_tree ON <one step of the relation>
        WHERE [_ar_tree.d < depth - 1 AND] <the join's filter>)
    SELECT <columns> FROM <table> [JOIN <pivot>]
    WHERE <parent key> IN (SELECT k0 FROM _ar_tree) AND <the join's filter>
    ORDER BY <the join's order>, <primary key>

UNION (not UNION ALL) adds only rows the walk does not hold yet, so a loop
in the data ends the walk; a depth limit counts levels in ``d``. The
dialect wraps the statement as its server needs
(:meth:`activerel.dialects.base.Dialect.with_recursive_sql`).

Called by :mod:`activerel.loading.recursive`. Imports
:mod:`activerel.sql.compiler`, :mod:`activerel.sql.select`,
:mod:`activerel.sql.values`, :mod:`activerel.mapping` and
:mod:`activerel.dialects`."""
from __future__ import annotations

from typing import Any, NamedTuple, Optional, Sequence

from pypika import Table, Tuple
from pypika.terms import Criterion

from ..dialects.base import Dialect
from ..mapping.properties import BackRefProp, Prop, ReferenceProp
from .compiler import Compiler, add_path_joins, key_set
from .expressions import Condition
from .select import RelationSource, order_terms, pivot_source, rows_source
from .values import codec

#: the walk's table, as the statement names it
TREE = Table("_ar_tree")


class Walk(NamedTuple):
    """How a recursive relation steps from one node to the next. Each row of
    the walk carries ``carried`` (columns of a node row, the same for the
    parents and the nodes reached); the next node is a row whose ``edge``
    columns (or its pivot row's, through ``pivot``) equal them."""

    carried: list[str]
    edge: list[str]
    #: many-to-many: (the pivot's mapper, its reference to the parent, to the target)
    pivot: Optional[tuple[Any, ReferenceProp, ReferenceProp]]


def walk(prop: Prop) -> Walk:
    """The walk of a relation from a model to itself."""
    if isinstance(prop, ReferenceProp):
        # up: a node carries its foreign key, the next node is the row it names
        return Walk([c.name for c in prop.columns],
                    [c.target.name for c in prop.columns], None)  # type: ignore[union-attr]
    assert isinstance(prop, BackRefProp)
    if prop.via is None:
        # down: a node carries the key its children's foreign key names
        ref = prop.mapped_by
        assert ref is not None
        return Walk([c.target.name for c in ref.columns],  # type: ignore[union-attr]
                    [c.name for c in ref.columns], None)
    local, remote = prop.via_local, prop.via_remote
    assert local is not None and remote is not None
    # through the pivot: a node carries the key the pivot's local side names
    return Walk([c.target.name for c in local.columns],  # type: ignore[union-attr]
                [c.name for c in local.columns], (prop.via_mapper, local, remote))


def _source(comp: Compiler, alias: Any, w: Walk) -> RelationSource:
    """Where the relation's rows come from, each with the key that links it
    to its parent node: the rows whose ``edge`` columns (or pivot row's) hold
    a key the walk carries."""
    if w.pivot is not None:
        pivot, local, remote = w.pivot
        return pivot_source(comp, alias, pivot, local, remote)
    return rows_source(comp, alias, w.edge)


def _within(terms: Sequence[Any], reached: Any) -> Criterion:
    """``terms IN (reached)``: one term, or a row of them."""
    return terms[0].isin(reached) if len(terms) == 1 else Tuple(*terms).isin(reached)


def quote_char(dialect: Dialect) -> str:
    """The character the dialect's queries quote identifiers with."""
    return dialect.query_class._builder().QUOTE_CHAR


def tree_select(comp: Compiler, prop: Prop, columns: Sequence[str], keys: Sequence[Any],
                conditions: Sequence[Condition], order: Sequence[tuple[str, bool]],
                depth: Optional[int]) -> str:
    """The statement loading the recursive relation ``prop`` (from a model
    to itself) of the parents whose primary keys are ``keys`` (values, or
    tuples for a composite key): the rows of every node the walk reaches,
    ``columns`` first (then the parent key of a many-to-many row), filtered
    by ``conditions`` (which also stop the walk), in ``order`` among the
    children of one parent. ``depth``: at most this many levels (None: all)."""
    dialect = comp.dialect
    q_cls = dialect.query_class
    target = prop.target_mapper  # type: ignore[attr-defined]
    pk_names = codec(target, dialect).pk_names
    w = walk(prop)
    names = [f"k{i}" for i in range(len(w.carried))]
    # the parents: parameters first, as the text names them
    r = comp.alias(target)
    anchor = q_cls.from_(r).select(*[r.field(n) for n in w.carried], *([0] if depth else []))
    anchor = anchor.where(key_set(comp, [r.field(n) for n in pk_names], keys))
    # one step: the nodes next to those the walk holds
    c = comp.alias(target)
    step = q_cls.from_(c)
    near = c
    if w.pivot is not None:
        pivot, _, remote = w.pivot
        near = comp.alias(pivot)
        step = step.join(near).on(Criterion.all(
            [near.field(col.name) == c.field(col.target.name)  # type: ignore[union-attr]
             for col in remote.columns]))
    step = step.join(TREE).on(Criterion.all(
        [near.field(e) == TREE.field(k) for e, k in zip(w.edge, names)]))
    step = step.select(*[c.field(n) for n in w.carried], *([TREE.field("d") + 1] if depth else []))
    if depth:
        step = step.where(TREE.field("d") < depth - 1)
    comp.scopes[0] = (target, c)
    for cond in conditions:
        step = step.where(cond.compile(comp))
    step = add_path_joins(comp, step, c)  # the paths (author.name) of the filter
    # the rows of every node reached
    a = comp.alias(target)
    comp.scopes[0] = (target, a)
    source = _source(comp, a, w)
    reached = q_cls.from_(TREE).select(*[TREE.field(k) for k in names])
    q = source.query.where(_within(source.key_terms, reached))
    for cond in conditions:
        q = q.where(cond.compile(comp))
    ordered = order_terms(target, a, order, pk_names, comp)
    q = add_path_joins(comp, q, a)  # the paths of the filter and order
    q = q.select(*[a.field(n) for n in columns], *source.extra)
    for term, direction in ordered:
        q = q.orderby(term, order=direction)
    qc = quote_char(dialect)
    header = ", ".join(f"{qc}{n}{qc}" for n in names + (["d"] if depth else []))
    cte = f"{qc}{TREE.get_table_name()}{qc}({header}) AS ({anchor.get_sql()} UNION {step.get_sql()})"
    return dialect.with_recursive_sql(cte, q.get_sql(), depth)
