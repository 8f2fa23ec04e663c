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

Where the backend batches reads, the query may have read a relation's rows
in its own round trip (:mod:`activerel.loading.relrows`): the loader takes
those, reads again by key the parents their marker rows do not name, and
drops the rows of parents the query did not return. Where it reads them in
the query's own statement (a UNION ALL), the rows come unmarked: one
statement saw the parents and their relations at once.

Called by :mod:`activerel.query` and the session. Imports
:mod:`activerel.loading.joins`, ``hydrate``, ``recursive`` and ``relrows``,
:mod:`activerel.sql`, :mod:`activerel.instance`, :mod:`activerel.mapping`
and :mod:`activerel.dialects` (a type)."""
from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import replace
from operator import itemgetter
from typing import Any, Callable, Optional

from ..dialects.base import Dialect
from ..errors import QueryError
from ..instance.collections import RelationList, TrackedList
from ..instance.state import identity_key, remember_json
from ..mapping.mapper import Mapper
from ..mapping.properties import BackRefProp, Direction, ReferenceProp
from ..sql.select import rows_source
from ..sql.statements import statements
from ..sql.values import ValueCodec, codec
from .hydrate import LoadSession, hydrators
from .joins import Join
from .recursive import load_recursive
from .relrows import Ahead, ChildSource, Rows, child_rows, child_source, marker_count


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
            whole: bool = False, ahead: Optional[dict[str, Ahead]] = None) -> list[Any]:
    """The objects of ``rows`` (one per row, through the identity map) with
    every join of ``joins`` loaded. To-one targets are loaded first, from the
    foreign keys in the rows, so the hydrator finds them in the identity map
    instead of making stubs to fill in later; to-many relations follow, keyed
    by the objects just made. ``unique``: no key repeats among the rows (only
    many-to-many rows repeat their targets). ``whole``: the rows are every row
    of the table, so a to-many relation selects its rows without a key set.
    ``ahead``: rows of joined relations read with ``rows`` (by join name)."""
    if not joins and loaded is None:  # the objects alone (no relation reuses the rows)
        objs = hydrators(mapper, session.dialect).hydrator(columns)(rows, session, unique)
        if mapper.json_fields:
            remember_json(objs, mapper.json_fields)
        return objs
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
                    LOADERS[prop.direction](session, prop, join, parents, keys, loaded, whole,
                                            ahead.get(join.name) if ahead else None)
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
    trows, tcolumns = child_rows(session, target, replace(join, limit=None, offset=None), values,
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
               keys: list[Any], loaded: Loaded, whole: bool, ahead: Optional[Ahead] = None) -> None:
    """One-to-many and one-to-one: the children whose foreign key is among the
    parents' keys. ``parents`` are distinct objects just hydrated, ``keys`` their
    identity keys; ``whole``: they are every row of their table, so the SELECT
    needs no key set; ``ahead``: the rows, read with the parents."""
    src = child_source(prop, join)
    rows, columns, row_keys = _relation_rows(session, prop, src, keys, whole, ahead)
    ref = prop.mapped_by
    assert ref is not None
    # every child row: the whole child table, when its key to the parents is required
    whole_children = whole and not ref.nullable and not _narrowed(join)
    children = hydrate(session, prop.target_mapper, rows, columns, src.join.joins, loaded,
                       whole=whole_children)
    _assign(prop, parents, keys, _group(row_keys, children), join)


def _relation_rows(session: LoadSession, prop: BackRefProp, src: ChildSource, keys: list[Any],
                   whole: bool, ahead: Optional[Ahead]) -> tuple[Rows, tuple[str, ...], list[Any]]:
    """The rows of ``prop`` for the parents whose identity keys are ``keys``
    (read now, or ``ahead``), their columns, and each row's parent key. Rows
    read for a statement's own idea of the parents (``whole``, or ahead)
    keep only those of ``keys``; a parent the read-ahead statement did not
    see (it changed between the two statements) has its rows read again."""
    owner, target, dialect = prop.owner, prop.target_mapper, session.dialect
    if ahead is None:
        rows, columns = child_rows(session, target, src.join,
                                   None if whole else _key_values(owner, dialect, keys),
                                   src.source, src.shape)
    else:
        rows, columns = ahead.rows, ahead.columns
    pos = src.key_positions(columns)
    row_keys = _parent_keys(owner, dialect, rows, pos)
    if ahead is not None and ahead.marked:
        m = marker_count(rows)
        seen = set(row_keys[:m])
        rows, row_keys = rows[m:], row_keys[m:]
        missing = [k for k in keys if k not in seen]
        if missing:
            more, _ = child_rows(session, target, src.join, _key_values(owner, dialect, missing),
                                 src.source, src.shape)
            rows += more
            row_keys += _parent_keys(owner, dialect, more, pos)
    if whole or ahead is not None:
        rows, row_keys = _of_parents(keys, rows, row_keys)
    return rows, columns, row_keys


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
              keys: list[Any], loaded: Loaded, whole: bool, ahead: Optional[Ahead] = None) -> None:
    """Many-to-many: the targets joined to the pivot rows of the parents, each
    row carrying the parent's key at its end; ``whole``: the parents are every
    row of their table, so the SELECT needs no key set; ``ahead``: the rows,
    read with the parents."""
    src = child_source(prop, join)
    rows, columns, row_keys = _relation_rows(session, prop, src, keys, whole, ahead)
    if prop.symmetric:
        # a row links both ways: the parents' rows on the other side too,
        # each parent's targets in key order
        if join.order or join.limit is not None or join.offset:
            raise QueryError(f"{prop.owner.name}.{prop.name} is symmetric: its join takes filter() "
                             "and join_with(), not order_by(), limit() or skip()")
        other = child_source(prop, join, reverse=True)
        more, _, more_keys = _relation_rows(session, prop, other, keys, whole, None)
        n_key = len(prop.target_mapper.pk_columns)
        width = len(other.parent_columns)
        pairs = sorted(zip(rows + more, row_keys + more_keys),
                       key=lambda p: (p[0][-width:], p[0][:n_key]))
        rows, row_keys = [r for r, _ in pairs], [k for _, k in pairs]
    children = hydrate(session, prop.target_mapper, rows, columns, join.joins, loaded, unique=False)
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
