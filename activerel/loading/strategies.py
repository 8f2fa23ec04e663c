"""Eager loading of relations: ``join_with`` and friends.

Strategy: one SELECT per joined relation, keyed by the keys of the parent
rows just loaded (``WHERE fk IN <keys>``), so a query with k joined paths
sends k + 1 SELECTs however many rows it returns. The key set travels as
one bound parameter where the dialect can unpack a list server-side
(SQLite's ``json_each``), so even 100,000 parents stay under the parameter
limit. When the parents are the whole table (no condition, no paging), the
child SELECT takes every row whose key is set instead, and drops in Python
those of parents it did not read.
A ``limit`` inside a join is per parent (ROW_NUMBER() over the parent key);
an INNER join becomes an EXISTS condition on the parent query, so root
``limit``/``skip``/``count`` still count root rows. Loaded rows go through the
identity map: one row is one object across the whole result. Each back
reference is loaded by the function its direction selects in :data:`LOADERS`;
a recursive join (``"children*"``) by :mod:`activerel.loading.recursive`.

Called by :mod:`activerel.query` and the session. Imports
:mod:`activerel.loading.joins`, ``hydrate`` and ``recursive``, :mod:`activerel.sql`,
:mod:`activerel.instance`, :mod:`activerel.mapping` and :mod:`activerel._util`."""
from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import replace
from operator import itemgetter
from typing import Any, Callable, Optional

from .._util.batching import chunks
from ..dialects.base import Dialect
from ..errors import QueryError
from ..instance.collections import RelationList, TrackedList
from ..instance.state import identity_key, remember_json
from ..mapping.mapper import Mapper
from ..mapping.properties import BackRefProp, Direction, ReferenceProp
from ..sql.compiler import Compiler
from ..sql.select import RelationSource, order_terms, pivot_source, relation_select, rows_source
from ..sql.statement_cache import cached, condition_shapes, condition_values
from ..sql.statements import statements
from ..sql.values import ValueCodec, codec
from .hydrate import LoadSession, hydrators
from .joins import Join, inner_conditions, needed_fields
from .recursive import load_recursive


class Loaded:
    """What one query run has hydrated so far, per model: a to-one join need
    not select again a row the same run already read."""

    __slots__ = ("rows", "_keys")

    def __init__(self) -> None:
        #: mapper -> (its value codec, rows hydrated with every field)
        self.rows: dict[Mapper, list[tuple[ValueCodec, list[tuple[Any, ...]]]]] = {}
        self._keys: dict[Mapper, set[Any]] = {}

    def add(self, mapper: Mapper, c: ValueCodec, rows: list[tuple[Any, ...]]) -> None:
        self.rows.setdefault(mapper, []).append((c, rows))
        self._keys.pop(mapper, None)

    def keys(self, mapper: "Mapper") -> set[Any]:
        """The identity keys of the ``mapper`` rows loaded so far."""
        keys = self._keys.get(mapper)
        if keys is None:
            keys = self._keys[mapper] = set()
            for c, rows in self.rows.get(mapper, ()):
                keys.update(c.row_keys(rows))
        return keys


def hydrate(session: LoadSession, mapper: Mapper, rows: list[tuple[Any, ...]], columns: tuple[str, ...],
            joins: tuple[Join, ...], loaded: Optional[Loaded] = None, unique: bool = True,
            whole: bool = False) -> list[Any]:
    """The objects of ``rows`` (one per row, through the identity map) with
    every join of ``joins`` loaded. To-one targets are loaded first, from the
    foreign keys in the rows, so the hydrator finds them in the identity map
    instead of making stubs to fill in later; to-many relations follow, keyed
    by the objects just made. ``unique``: no key repeats among the rows (only
    many-to-many rows repeat their targets). ``whole``: the rows are every row
    of the table, so a to-many relation selects its rows without a key set."""
    if loaded is None:
        loaded = Loaded()
    later: list[tuple[BackRefProp, Join]] = []
    #: filtered to-one joins: (reference, the identity keys of the targets that matched)
    matched: list[tuple[ReferenceProp, set[Any]]] = []
    for join in joins:
        prop = mapper.props[join.name]
        if isinstance(prop, ReferenceProp) and not join.recursive:
            found = _load_reference(session, prop, join, rows, columns, loaded)
            if found is not None:
                matched.append((prop, found))
        else:
            # join paths name relations only; a recursive one loads from the objects
            assert isinstance(prop, BackRefProp) or join.recursive
            later.append((prop, join))  # type: ignore[arg-type]
    c = codec(mapper, session.dialect)
    objs = hydrators(mapper, session.dialect).hydrator(columns)(rows, session, unique)
    if mapper.json_fields:
        remember_json(objs, mapper.json_fields)
    for prop, keys_found in matched:
        _unmatched_to_none(objs, prop.name, keys_found)
    if objs:
        if columns == c.select_columns():
            loaded.add(mapper, c, rows)  # every field: a to-one join may reuse them
        if later:
            # the rows carry the parents' identity keys: no state to ask
            parents, keys = objs, c.row_keys(rows)
            if not unique:
                parents, keys = _distinct(objs, keys)
            for prop, join in later:
                if join.recursive and not (whole and isinstance(prop, BackRefProp)):
                    # (every row a parent: each one's children are all the tree has)
                    load_recursive(session, prop, join, parents, keys, loaded, hydrate, _assign)
                else:
                    LOADERS[prop.direction](session, prop, join, parents, keys, loaded, whole)
    return objs


def _unmatched_to_none(objs: list[Any], name: str, matched: set[Any]) -> None:
    """A filtered to-one join: the objects whose target did not match hold
    None there, as a filtered one-to-one back reference does."""
    for obj in objs:
        d = obj.__dict__
        target = d.get(name)
        if target is not None and identity_key(target) not in matched:
            d[name] = None


def _distinct(objs: list[Any], keys: list[Any]) -> tuple[list[Any], list[Any]]:
    """``objs`` (and their ``keys``) without repeats, in first-seen order."""
    first = {id(o): (o, k) for o, k in zip(objs, keys)}
    return [o for o, _ in first.values()], [k for _, k in first.values()]


def _child_rows(session: LoadSession, target: Mapper, join: Join, keys: Optional[list[Any]],
                source: Callable[[Compiler, Any], RelationSource],
                shape: Any = None) -> tuple[list[tuple[Any, ...]], tuple[str, ...]]:
    """Run the SELECT of a relation: rows of ``target`` whose parent key
    terms match ``keys`` (``None``: any parent, the key terms not NULL),
    filtered, ordered and paged per parent as ``join`` says.
    ``source(comp, alias)`` says where the rows come from. Returns the rows
    and the hydrated column names. One statement, unless the keys are
    composite and more than the parameter limit allows: then one per chunk
    of parents. ``shape``: what ``source`` is, hashable (the statement
    cache's key with the join's own shape), or None."""
    c = codec(target, session.dialect)
    columns = c.select_columns(needed_fields(target, join.fields, join.joins))
    if keys is None:
        return _child_rows_once(session, target, join, None, columns, source, shape), columns
    width = len(keys[0]) if keys and isinstance(keys[0], tuple) else 1
    rows: list[tuple[Any, ...]] = []
    limit = session.dialect.features.param_limit
    parts: Any = chunks(keys, limit, 2 * width) if width > 1 and len(keys) * width > limit // 2 else [keys]
    for part in parts:
        rows.extend(_child_rows_once(session, target, join, list(part), columns, source, shape))
    return rows, columns


def _child_rows_once(session: LoadSession, target: Mapper, join: Join, keys: Optional[list[Any]],
                     columns: tuple[str, ...],
                     source: Callable[[Compiler, Any], RelationSource],
                     shape: Any = None) -> list[tuple[Any, ...]]:
    dialect = session.dialect
    conditions = list(join.where) + inner_conditions(target, join.joins)

    def render() -> tuple[str, list[Any]]:
        c = codec(target, dialect)
        comp = Compiler(target, dialect)
        a = comp.alias(target)
        comp.scopes[0] = (target, a)
        sql = relation_select(comp, source(comp, a), [a.field(n) for n in columns], keys,
                              conditions, order_terms(target, a, join.order, c.pk_names, comp),
                              join.limit, join.offset)
        return sql, comp.params

    def walk() -> list[Any]:
        # the key set's values (one parameter each), then the conditions'
        if not keys:
            out: list[Any] = []
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
                   join.offset, None if keys is None else len(keys))
    sql, params = cached(dialect, key, walk, render)
    return session.fetch(sql, params)


def _key_values(mapper: Mapper, dialect: Dialect, keys: list[Any]) -> list[Any]:
    """Identity keys as the parameters of a key set: values, or tuples."""
    kp = codec(mapper, dialect).key_params
    if len(mapper.pk_columns) == 1:
        return [kp(k)[0] for k in keys]
    return [kp(k) for k in keys]


def _load_reference(session: LoadSession, prop: ReferenceProp, join: Join, rows: list[tuple[Any, ...]],
                    columns: tuple[str, ...], loaded: Loaded) -> Optional[set[Any]]:
    """Load the targets the foreign keys in ``rows`` point at (raw column
    values are already the parameters the key columns take), except rows
    this query run has read already. For a filtered join: the identity keys
    of the targets that matched (every target is selected then); else None."""
    filtered = _narrowed(join)
    target = prop.target_mapper
    pos = [columns.index(c.name) for c in prop.columns]
    # a set, not an ordered dict: the target rows come back in key order anyway
    distinct = set(map(itemgetter(*pos), rows))  # values, or tuples for a composite key
    if len(pos) == 1:
        distinct.discard(None)
        values = list(distinct)
    else:
        values = [v for v in distinct if None not in v]
    if values and target in loaded.rows and not filtered:
        seen = loaded.keys(target)
        keys = _identity_keys(target, session.dialect, values)
        values = [v for v, k in zip(values, keys) if k not in seen]
    if not values:
        return set() if filtered else None
    target_codec = codec(target, session.dialect)
    pk_cols = target_codec.pk_names
    trows, tcolumns = _child_rows(session, target, replace(join, limit=None, offset=None), values,
                                  lambda comp, a: rows_source(comp, a, pk_cols),
                                  ("rows", tuple(pk_cols)))
    hydrate(session, target, trows, tcolumns, join.joins, loaded)
    return set(target_codec.row_keys(trows)) if filtered else None


def _stored_keys(rows: list[tuple[Any, ...]], pos: list[int]) -> list[Any]:
    """The key columns at ``pos`` of each row as stored: a value, or a tuple
    for a composite key (``itemgetter`` of one position gives the value)."""
    return list(map(itemgetter(*pos), rows))


def _identity_keys(mapper: Mapper, dialect: Dialect, stored: list[Any]) -> list[Any]:
    """Stored key values of ``mapper`` -> its identity keys (the same values
    unless the key needs converting)."""
    c = codec(mapper, dialect)
    if len(c.pk_names) == 1:
        if c.converters[c.pk_names[0]] is None:
            return stored
        return [c.row_key((v,)) for v in stored]
    return [c.row_key(v) for v in stored]


def _parent_keys(owner: Mapper, dialect: Dialect, rows: list[tuple[Any, ...]],
                 pos: list[int]) -> list[Any]:
    """The parent's identity key in each row, read from the columns at ``pos``."""
    return _identity_keys(owner, dialect, _stored_keys(rows, pos))


def _group(keys: list[Any], children: list[Any]) -> dict[Any, RelationList]:
    """Parent key -> its children in row order, as the relation lists the
    parents will hold (``baseline``/``partial`` are set by :func:`_assign`)."""
    groups: defaultdict[Any, RelationList] = defaultdict(TrackedList)
    # one C-level pass: each key's list (made on first sight), then append
    deque(map(list.append, map(groups.__getitem__, keys), children), maxlen=0)
    return groups


def _load_back(session: LoadSession, prop: BackRefProp, join: Join, parents: list[Any],
               keys: list[Any], loaded: Loaded, whole: bool) -> None:
    """One-to-many and one-to-one: the children whose foreign key is among the
    parents' keys. ``parents`` are distinct objects just hydrated, ``keys`` their
    identity keys; ``whole``: they are every row of their table, so the SELECT
    needs no key set."""
    target = prop.target_mapper
    ref = prop.mapped_by
    assert ref is not None
    owner = prop.owner
    fk_cols = [c.name for c in ref.columns]
    if join.fields is not None and ref.name not in join.fields:
        join = replace(join, fields=join.fields + (ref.name,))

    rows, columns = _child_rows(session, target, join,
                                None if whole else _key_values(owner, session.dialect, keys),
                                lambda comp, a: rows_source(comp, a, fk_cols),
                                ("rows", tuple(fk_cols)))
    pos = [columns.index(n) for n in fk_cols]
    row_keys = _parent_keys(owner, session.dialect, rows, pos)
    if whole:
        rows, row_keys = _of_parents(keys, rows, row_keys)
    # every child row: the whole child table, when its key to the parents is required
    whole_children = whole and not ref.nullable and not _narrowed(join)
    children = hydrate(session, target, rows, columns, join.joins, loaded, whole=whole_children)
    _assign(prop, parents, keys, _group(row_keys, children), join)


def _narrowed(join: Join) -> bool:
    """Whether ``join`` loads only part of the relation."""
    return bool(join.where or join.limit is not None or join.offset
                or any(j.inner for j in join.joins))


def _of_parents(keys: list[Any], rows: list[tuple[Any, ...]],
                row_keys: list[Any]) -> tuple[list[tuple[Any, ...]], list[Any]]:
    """The rows whose parent key is among ``keys``. A SELECT of every parent's
    children also returns children of parents added since the parents were
    read (on a server whose statements each see the latest commit); they are
    not part of this result."""
    known = set(keys)
    if known.issuperset(row_keys):
        return rows, row_keys
    kept = [i for i, k in enumerate(row_keys) if k in known]
    return [rows[i] for i in kept], [row_keys[i] for i in kept]


def _load_via(session: LoadSession, prop: BackRefProp, join: Join, parents: list[Any],
              keys: list[Any], loaded: Loaded, whole: bool) -> None:
    """Many-to-many: the targets joined to the pivot rows of the parents, each
    row carrying the parent's key at its end; ``whole``: the parents are every
    row of their table, so the SELECT needs no key set."""
    target = prop.target_mapper
    owner = prop.owner
    local, remote = prop.via_local, prop.via_remote
    assert local is not None and remote is not None
    pivot = prop.via_mapper
    key_values = None if whole else _key_values(owner, session.dialect, keys)
    rows, columns = _child_rows(session, target, join, key_values,
                                lambda comp, a: pivot_source(comp, a, pivot, local, remote),
                                ("pivot", pivot, local, remote))
    width = len(local.columns)
    if prop.symmetric:
        # a row links both ways: the parents' rows on the other side too,
        # each parent's targets in key order
        if join.order or join.limit is not None or join.offset:
            raise QueryError(f"{owner.name}.{prop.name} is symmetric: its join takes filter() "
                             "and join_with(), not order_by(), limit() or skip()")
        more, _ = _child_rows(session, target, join, key_values,
                              lambda comp, a: pivot_source(comp, a, pivot, remote, local),
                              ("pivot", pivot, remote, local))
        n_key = len(target.pk_columns)
        rows = sorted(rows + more, key=lambda r: (r[-width:], r[:n_key]))
    pos = list(range(len(columns), len(columns) + width))  # the extra columns, after the target's
    row_keys = _parent_keys(owner, session.dialect, rows, pos)
    if whole:
        rows, row_keys = _of_parents(keys, rows, row_keys)
    children = hydrate(session, target, rows, columns, join.joins, loaded, unique=False)
    _assign(prop, parents, keys, _group(row_keys, children), join)


def _assign(prop: BackRefProp, parents: list[Any], keys: list[Any], groups: dict[Any, RelationList],
            join: Join) -> None:
    """Set the loaded relation on each parent (whose identity keys are ``keys``)
    from ``groups`` (parent key -> children)."""
    name = prop.name
    many = prop.many
    # a filtered or paged join loads part of the relation: the unit of work
    # must not take the list for all of it
    partial = _narrowed(join)
    get = groups.get
    for parent, key in zip(parents, keys):
        items = get(key)
        d = parent.__dict__
        current = d.get(name)
        if current is not None and isinstance(current, RelationList) and current.changed():
            continue  # unsaved changes to the collection win over the reload
        if many:
            if items is None:
                items = TrackedList()
            d[name] = items
            items.baseline = tuple(items)
            items.partial = partial
            items.owner = parent
            items.name = name
        else:
            one = items[0] if items else None
            d[name] = one
            st = parent._ar_state
            if st.baseline is None:
                st.baseline = {}
            st.baseline[name] = one



#: how a back reference is loaded, by its direction
LOADERS: dict[Direction, Callable[..., None]] = {
    Direction.ONE_TO_MANY: _load_back,
    Direction.ONE_TO_ONE: _load_back,
    Direction.MANY_TO_MANY: _load_via,
}


def load_key(session: LoadSession, mapper: Mapper, key: Any) -> Optional[Any]:
    """Load (or refresh) the row with identity key ``key`` by the cached
    one-key SELECT; None if there is no such row."""
    dialect = session.dialect
    c = codec(mapper, dialect)
    columns = c.select_columns()
    rows = session.fetch(statements(mapper, dialect).select_by_key_sql(columns, 1), c.key_params(key))
    if not rows:
        return None
    objs = hydrators(mapper, dialect).hydrator(columns)(rows, session, True)
    if mapper.json_fields:
        remember_json(objs, mapper.json_fields)
    return objs[0]
