"""Loading a recursive join (``join_with("children*")``, ``"parent*"``): the
whole subtree, or the chain of ancestors, of every parent row in ONE
statement (a recursive CTE, :func:`activerel.sql.tree.tree_select`),
whatever the depth. The rows are hydrated once, through the identity map (a
node reached twice is one object), with the join's nested joins; then the
relation is set on every node the walk went through, level by level from
the parents, and not on the nodes at the depth limit (reading it there
raises ``ReferenceNotLoaded``, as for a relation nobody joined). A loop in
the data ends the walk where it meets a node already reached.

:func:`load_recursive` picks the loader by the relation's kind, as
``LOADERS`` does by direction: :func:`_load_up` for a reference (the
ancestors), :func:`_load_down` for a back reference, one-to-many,
one-to-one or through a pivot (the descendants).

Called by :mod:`activerel.loading.strategies`, which hands in its
``hydrate`` and its ``assign`` (so the two modules do not import each
other). Imports :mod:`activerel.loading.joins` and ``hydrate``,
:mod:`activerel.sql`, :mod:`activerel.instance` and :mod:`activerel.mapping`."""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable, Optional

from ..instance.collections import RelationList, TrackedList
from ..instance.state import identity_key
from ..mapping.mapper import Mapper
from ..mapping.properties import BackRefProp, Prop, ReferenceProp
from ..sql.compiler import Compiler
from ..sql.tree import tree_select
from ..sql.values import ValueCodec, codec
from .hydrate import LoadSession
from .joins import Join, inner_conditions, needed_fields

#: strategies.hydrate and strategies._assign, as handed in
Hydrate = Callable[..., list[Any]]
Assign = Callable[[BackRefProp, list[Any], list[Any], dict[Any, RelationList], Join], None]


def load_recursive(session: LoadSession, prop: Prop, join: Join, parents: list[Any],
                   keys: list[Any], loaded: Any, hydrate: Hydrate, assign: Assign) -> None:
    """Load the recursive join ``join`` of ``prop`` onto ``parents`` (distinct
    objects just hydrated, ``keys`` their identity keys)."""
    if isinstance(prop, ReferenceProp):
        _load_up(session, prop, join, parents, keys, loaded, hydrate)
    else:
        assert isinstance(prop, BackRefProp)
        _load_down(session, prop, join, parents, keys, loaded, hydrate, assign)


def _fetch(session: LoadSession, prop: Prop, join: Join, keys: list[Any],
           fields: Optional[tuple[str, ...]]) -> tuple[list[tuple[Any, ...]], tuple[str, ...], ValueCodec]:
    """Run the one statement: the rows of every node the walk reaches from
    the parents with identity keys ``keys``, and their column names."""
    target: Mapper = prop.target_mapper  # type: ignore[attr-defined]
    dialect = session.dialect
    c = codec(target, dialect)
    columns = c.select_columns(needed_fields(target, fields, join.joins))
    kp = c.key_params
    values = [kp(k)[0] for k in keys] if len(c.pk_names) == 1 else [kp(k) for k in keys]
    comp = Compiler(target, dialect)
    conditions = list(join.where) + inner_conditions(target, join.joins)
    sql = tree_select(comp, prop, columns, values, conditions, join.order, join.depth)
    return session.fetch(sql, comp.params), columns, c


def _identity_keys(c: ValueCodec, rows: list[tuple[Any, ...]], pos: list[int]) -> list[Any]:
    """The identity keys stored in the columns at ``pos`` of each row."""
    if len(pos) == 1:
        i = pos[0]
        if c.converters[c.pk_names[0]] is None:
            return [r[i] for r in rows]
        return [c.row_key((r[i],)) for r in rows]
    return [c.row_key(tuple(r[i] for i in pos)) for r in rows]


def _load_down(session: LoadSession, prop: BackRefProp, join: Join, parents: list[Any],
               keys: list[Any], loaded: Any, hydrate: Hydrate, assign: Assign) -> None:
    """The descendants: every node's children, level by level, set on each
    node above the depth limit."""
    fields = join.fields
    ref = prop.mapped_by
    if prop.via is None:
        assert ref is not None
        if fields is not None and ref.name not in fields:
            fields = fields + (ref.name,)  # the key to the parent, to group by
    rows, columns, c = _fetch(session, prop, join, keys, fields)
    if prop.via is None:
        assert ref is not None
        pos = [columns.index(col.name) for col in ref.columns]
    else:
        assert prop.via_local is not None
        pos = list(range(len(columns), len(columns) + len(prop.via_local.columns)))
    parent_keys = _identity_keys(c, rows, pos)
    own_keys = c.row_keys(rows)
    # a many-to-many row repeats its target under each parent
    children = hydrate(session, prop.target_mapper, rows, columns, join.joins, loaded,
                       unique=prop.via is None)
    groups: defaultdict[Any, RelationList] = defaultdict(TrackedList)
    below: defaultdict[Any, list[tuple[Any, Any]]] = defaultdict(list)
    for pk, obj, key in zip(parent_keys, children, own_keys):
        groups[pk].append(obj)
        below[pk].append((obj, key))
    # the nodes whose relation the statement loaded: the parents, then each
    # level down to the depth limit; a node met again (a loop) is not walked twice
    nodes, node_keys = list(parents), list(keys)
    seen = set(keys)
    level, frontier = 1, keys
    depth = join.depth
    while frontier and (depth is None or level < depth):
        reached = []
        for k in frontier:
            for obj, key in below.get(k, ()):
                if key not in seen:
                    seen.add(key)
                    nodes.append(obj)
                    node_keys.append(key)
                    reached.append(key)
        frontier = reached
        level += 1
    assign(prop, nodes, node_keys, groups, join)


def _load_up(session: LoadSession, prop: ReferenceProp, join: Join, parents: list[Any],
             keys: list[Any], loaded: Any, hydrate: Hydrate) -> None:
    """The ancestors: the hydrator links each loaded row to its own parent
    (the stubs the rows below hold are filled in), up to the depth limit.
    A filtered join: a node whose parent did not match holds None there, as
    a filtered plain reference join leaves it."""
    fields = join.fields
    if fields is not None and prop.name not in fields:
        fields = fields + (prop.name,)  # the key to the next ancestor
    rows, columns, c = _fetch(session, prop, join, keys, fields)
    hydrate(session, prop.target_mapper, rows, columns, join.joins, loaded)
    if not (join.where or any(j.inner for j in join.joins)):
        return
    matched = set(c.row_keys(rows))
    name = prop.name
    seen = set(keys)
    level, frontier = 0, parents
    while frontier and (join.depth is None or level < join.depth):
        reached = []
        for obj in frontier:
            d = obj.__dict__
            target = d.get(name)
            if target is None:
                continue
            key = identity_key(target)
            if key not in matched:
                d[name] = None
            elif key not in seen:
                seen.add(key)
                reached.append(target)
        frontier = reached
        level += 1
