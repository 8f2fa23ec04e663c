"""Referential actions, enforced by the unit of work as well as by the
database, so they hold where foreign keys are missing or switched off.

Deletes are planned set-based, one statement per table per level: the
CASCADE closure is found with ``SELECT key ... WHERE fk IN (...)``, then
every RESTRICT / NO ACTION is checked before anything is written, then SET
NULL / SET DEFAULT rewrite the surviving dependents and the rows are deleted
children first (plan, check, write, reflect). Loaded objects are updated to
match (:mod:`activerel.unitofwork.reflect`).

The statements of a set-based delete come from
:mod:`activerel.unitofwork.deletesql` (from the statement cache when
``delete_many()``'s conditions choose the rows).

Called by the flush, by bulk deletes (``Query.delete_many``) and by key
changes. Imports :mod:`activerel.unitofwork.deletesql`, ``reflect`` and ``plan``,
:mod:`activerel.sql`, :mod:`activerel.instance`, :mod:`activerel.mapping`
and :mod:`activerel._util`."""
from __future__ import annotations

from typing import Any, Optional, Sequence

from .._util import graph
from .._util.batching import chunks
from ..errors import IntegrityError, StaleObjectError
from ..instance.state import DELETED
from ..mapping.catalog import Catalog
from ..mapping.mapper import Mapper
from ..mapping.markers import ACTION_EFFECTS, Effect
from ..mapping.properties import ReferenceProp
from ..sql.statements import statements
from ..sql.values import codec
from .deletesql import DeleteSql
from .deletesql import on_delete as on_delete  # re-exported: deleteplan takes it from here
from .plan import FlushSession
from .reflect import reflect


def on_update(ref: ReferenceProp) -> Effect:
    """What changing a target row's key does to rows of ``ref``'s table."""
    return ACTION_EFFECTS[ref.on_update]


def dependents(session: FlushSession, ref: ReferenceProp, keys: Sequence[Any]) -> list[Any]:
    """Keys of the rows of ``ref``'s table whose ``ref`` points at one of ``keys``."""
    owner = ref.owner
    c = codec(owner, session.dialect)
    stmts = statements(owner, session.dialect)
    target = codec(ref.target_mapper, session.dialect)
    out: list[Any] = []
    for chunk in chunks(keys, session.dialect.features.param_limit, len(ref.columns)):
        params: list[Any] = []
        for k in chunk:
            params.extend(target.key_params(k))
        rows = session.fetch(stmts.fk_select_sql(ref, len(chunk)), params)
        out.extend(c.row_key(r) for r in rows)
    return out


def check_versions(session: FlushSession, mapper: Mapper, objs: Sequence[Any]) -> None:
    """Before deleting objects of a model with a Version field: their rows
    must still have the versions they were loaded with (read with FOR
    UPDATE where the backend locks rows, so no one changes them until the
    commit); StaleObjectError, before anything is written, if one does not."""
    version = mapper.version
    assert version is not None
    c = codec(mapper, session.dialect)
    stmts = statements(mapper, session.dialect)
    lock = session.dialect.features.row_locks
    found: dict[Any, Any] = {}
    for chunk in chunks(objs, session.dialect.features.param_limit, len(c.pk_names)):
        params: list[Any] = []
        for o in chunk:
            params.extend(c.key_params(o._ar_state.key))
        sql = stmts.key_and_column_sql(version.column.name, len(chunk), lock)
        for row in session.fetch(sql, params):
            found[c.row_key(row)] = row[-1]
    for o in objs:
        st = o._ar_state
        loaded = st.dirty.get(version.name, o.__dict__[version.name]) if st.dirty \
            else o.__dict__[version.name]
        if st.key not in found or found[st.key] != loaded:
            raise StaleObjectError(
                f"cannot delete {mapper.name} {st.key!r}: another transaction "
                f"{'deleted it' if st.key not in found else 'changed it'} since it was loaded "
                f"with {version.name}={loaded}; nothing was written")


def delete_objects(session: FlushSession, objs: Sequence[Any]) -> int:
    """Delete loaded objects (and what their on_delete actions reach)."""
    versioned: dict[Mapper, list[Any]] = {}
    for obj in objs:
        mapper = type(obj).__ar_mapper__
        st = obj._ar_state
        if mapper.version is not None and st.key is not None and st.status != DELETED:
            versioned.setdefault(mapper, []).append(obj)
    for mapper, group in versioned.items():
        check_versions(session, mapper, group)
    roots: dict[Any, dict[Any, None]] = {}
    for obj in objs:
        st = obj._ar_state
        if st.status == DELETED or st.key is None:
            continue
        roots.setdefault(type(obj).__ar_mapper__, {})[st.key] = None
        if st.session is not session:
            session.attach(obj)
    return delete_keys(session, {m: list(k) for m, k in roots.items()}, _loaded_dependents(objs))


def _loaded_dependents(objs: Sequence[Any]) -> dict[tuple[Mapper, Any], Any]:
    """Objects reachable from ``objs`` through loaded back references, by
    (mapper, key): they may live outside the session's identity map (loaded in
    an earlier session) and must still reflect the delete."""
    found: dict[tuple[Mapper, Any], Any] = {}
    stack = list(objs)
    seen: set[int] = set()
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        mapper = type(obj).__ar_mapper__
        st = obj._ar_state
        if st.key is not None:
            found[(mapper, st.key)] = obj
        d = obj.__dict__
        for back in mapper.backrefs:
            if back.via is not None or back.name not in d:
                continue
            value = d[back.name]
            items = value if back.many else ([value] if value is not None else [])
            for item in items:
                if item._ar_state.status != DELETED:
                    stack.append(item)
    return found


def delete_keys(session: FlushSession, roots: dict[Mapper, list[Any]],
                known: Optional[dict[tuple[Mapper, Any], Any]] = None) -> int:
    """Delete these rows and apply every on_delete pointing at them; returns
    the number of root rows deleted."""
    region = cascade_region(session.catalog, roots)
    if region is not None:
        (root, keys), = roots.items()
        count = 0
        # a key may be named in up to 8 statements' subqueries
        for chunk in chunks(keys, session.dialect.features.param_limit, 8 * len(root.pk_columns)):
            count += _delete_by_subqueries(session, root, chunk, region, known or {})
        return count
    return _delete_by_keys(session, roots, known)


def cascade_region(catalog: Catalog, roots: dict[Mapper, list[Any]]) -> Optional[list[Mapper]]:
    """The tables a delete of one table's rows cascades into, parents first,
    when rows can be found with subqueries: one root table, no cycle of
    CASCADE references, and no other action on a reference whose table the
    target's own subquery reads (those need rows taken one level at a time).
    None otherwise."""
    if len(roots) != 1:
        return None
    (root,) = roots
    region = [root]
    seen = {root}
    i = 0
    while i < len(region):
        m = region[i]
        i += 1
        for ref in catalog.incoming(m):
            if on_delete(ref) is Effect.CASCADE:
                if ref.owner not in seen:
                    seen.add(ref.owner)
                    region.append(ref.owner)
    # the CASCADE edges inside the region must not form a cycle
    order = graph.sort(region, lambda m: [r.target_mapper for r in m.references
                                          if on_delete(r) is Effect.CASCADE])
    if order is None:
        return None
    # which tables each table's subquery reads: itself and its cascade parents
    reads: dict[Mapper, set[Mapper]] = {}
    for m in order:
        reads[m] = {m}.union(*[reads[r.target_mapper] for r in m.references
                               if on_delete(r) is Effect.CASCADE and r.target_mapper in seen])
    for m in region:
        for ref in catalog.incoming(m):
            if on_delete(ref) is not Effect.CASCADE and ref.owner in reads[m]:
                return None
    return order


def delete_where(session: FlushSession, root: Mapper, where: Sequence[Any]) -> Optional[int]:
    """Delete the rows matching plain conditions without fetching their keys
    first, where that is possible (no root row loaded in the session, a
    region subqueries can reach); None when it is not."""
    if not where or session.identity.maps.get(root) or any(c.needs_alias for c in where):
        return None
    region = cascade_region(session.catalog, {root: []})
    if region is None:
        return None
    return _delete_by_subqueries(session, root, (), region, {}, where)


def _delete_by_subqueries(session: FlushSession, root: Mapper, keys: Sequence[Any],
                          region: list[Mapper], known: dict[tuple[Mapper, Any], Any],
                          where: Sequence[Any] = ()) -> int:
    catalog = session.catalog
    sq = DeleteSql(session, root, keys, region, where)
    inside = set(region)
    known_mappers = {m for m, _ in known}

    def loaded(m: Mapper) -> bool:
        return bool(session.identity.maps.get(m)) or m in known_mappers

    # 1. RESTRICT / NO ACTION: nothing written yet
    nulls: list[tuple[ReferenceProp, list[Any]]] = []
    updates: list[tuple[str, list[Any]]] = []
    for m in region:
        for ref in catalog.incoming(m):
            if on_delete(ref) is Effect.CASCADE:
                continue
            owner = ref.owner
            if on_delete(ref) is Effect.REFUSE:
                # rows the delete removes anyway do not hold it back
                n = session.fetch(*sq.refusing(ref))[0][0]
                if n:
                    raise IntegrityError(
                        f"cannot delete {m.name} rows: {n} {owner.name} row(s) still reference "
                        f"them through {owner.name}.{ref.name} (on_delete={ref.on_delete!r}); "
                        "delete or re-point them first")
                continue
            if loaded(owner):
                c = codec(owner, session.dialect)
                rows = session.fetch(*sq.referring_keys(ref))
                nulls.append((ref, [c.row_key(r) for r in rows]))
            updates.append(sq.nullify(ref))
    # the database applies every action of the region itself, and no object
    # it reaches is loaded: deleting the root rows is all that is left to do.
    # Not where a refusing reference points from a row the delete removes
    # anyway: the server checks it while it cascades, before that row goes
    # (a "diamond"), and would refuse what every backend must allow.
    if not nulls and session.dialect.features.database_cascades_faster and all(
            session.enforces(ref) for m in region for ref in catalog.incoming(m)) \
            and not any(on_delete(ref) is Effect.REFUSE and ref.owner in inside
                        for m in region for ref in catalog.incoming(m)) \
            and not any(loaded(m) for m in region if m is not root):
        cur = session.execute(*sq.delete(root))
        reflect(session, {root: dict.fromkeys(keys)}, [], known)
        count: int = max(cur.rowcount, 0)
        return count
    if where and any(loaded(m) for m in region):
        return -1  # loaded objects to reflect: the caller goes by keys
    if where:
        # nothing matches: write nothing (the statements below would touch no row)
        if not session.fetch(*sq.probe()):
            return 0
    # 2. keys of the loaded objects the delete reaches, to reflect it on them
    doomed: dict[Mapper, dict[Any, None]] = {root: dict.fromkeys(keys)}
    for m in region:
        if m is not root and loaded(m):
            c = codec(m, session.dialect)
            rows = session.fetch(*sq.doomed_keys(m))
            doomed[m] = dict.fromkeys(c.row_key(r) for r in rows)
    if where and nulls:
        return -1
    # 3. writes: SET NULL / SET DEFAULT, then deletes children first
    for sql, params in updates:
        session.execute(sql, params)
    count = 0
    for m in catalog.delete_order(inside):
        cur = session.execute(*sq.delete(m))
        if m is root:
            count = max(cur.rowcount, 0)
    reflect(session, doomed, nulls, known)
    return count


def _delete_by_keys(session: FlushSession, roots: dict[Mapper, list[Any]],
                    known: Optional[dict[tuple[Mapper, Any], Any]] = None) -> int:
    """Delete by key lists: for cycles, self-references and several root
    tables, where rows are found level by level with their keys."""
    catalog = session.catalog
    doomed: dict[Mapper, dict[Any, None]] = {m: dict.fromkeys(keys) for m, keys in roots.items()}
    work = [(m, list(keys)) for m, keys in roots.items() if keys]
    while work:
        mapper, keys = work.pop()
        for ref in catalog.incoming(mapper):
            if on_delete(ref) is not Effect.CASCADE:
                continue
            found = dependents(session, ref, keys)
            have = doomed.setdefault(ref.owner, {})
            fresh = [k for k in found if k not in have]
            if fresh:
                have.update(dict.fromkeys(fresh))
                work.append((ref.owner, fresh))
    nulls: list[tuple[ReferenceProp, list[Any]]] = []
    for mapper, gone_keys in doomed.items():
        if not gone_keys:
            continue
        for ref in catalog.incoming(mapper):
            if on_delete(ref) is Effect.CASCADE:
                continue
            found = dependents(session, ref, list(gone_keys))
            gone = doomed.get(ref.owner, {})
            left = [k for k in found if k not in gone]
            if not left:
                continue
            if on_delete(ref) is Effect.REFUSE:
                shown = ", ".join(repr(k) for k in list(gone_keys)[:5])
                raise IntegrityError(
                    f"cannot delete {mapper.name} {shown}: {len(left)} {ref.owner.name} row(s) "
                    f"still reference it through {ref.owner.name}.{ref.name} "
                    f"(on_delete={ref.on_delete!r}); delete or re-point them first")
            nulls.append((ref, left))
    limit = session.dialect.features.param_limit
    for ref, keys in nulls:
        c = codec(ref.owner, session.dialect)
        stmts = statements(ref.owner, session.dialect)
        blank = (None,) * len(ref.columns)
        for chunk in chunks(keys, limit, len(c.pk_names), len(ref.columns)):
            params: list[Any] = list(blank)
            for k in chunk:
                params.extend(c.key_params(k))
            session.execute(stmts.set_ref_sql(ref, len(chunk)), params)
    count = 0
    for mapper in catalog.delete_order(doomed):
        keys = list(doomed[mapper])
        if not keys:
            continue
        c = codec(mapper, session.dialect)
        stmts = statements(mapper, session.dialect)
        for chunk in chunks(keys, limit, len(c.pk_names)):
            params = []
            for k in chunk:
                params.extend(c.key_params(k))
            cur = session.execute(stmts.delete_sql(len(chunk)), params)
            if mapper in roots:
                count += max(cur.rowcount, 0)
    reflect(session, doomed, nulls, known or {})
    return count


def apply_key_change(session: FlushSession, mapper: Mapper, old: Any, new: Any) -> None:
    """A row's primary key changed from ``old`` to ``new``: apply on_update."""
    for ref in session.catalog.incoming(mapper):
        found = dependents(session, ref, [old])
        if not found:
            continue
        if on_update(ref) is Effect.REFUSE:
            raise IntegrityError(
                f"cannot change the key of {mapper.name} {old!r}: {len(found)} {ref.owner.name} "
                f"row(s) reference it through {ref.owner.name}.{ref.name} "
                f"(on_update={ref.on_update!r})")
        c = codec(ref.owner, session.dialect)
        stmts = statements(ref.owner, session.dialect)
        target = codec(mapper, session.dialect)
        values = target.key_params(new) if on_update(ref) is Effect.CASCADE else (None,) * len(ref.columns)
        for chunk in chunks(found, session.dialect.features.param_limit, len(c.pk_names), len(ref.columns)):
            params: list[Any] = list(values)
            for k in chunk:
                params.extend(c.key_params(k))
            session.execute(stmts.set_ref_sql(ref, len(chunk)), params)
        if on_update(ref) is Effect.NULLIFY:
            imap = session.identity.for_mapper(ref.owner)
            for k in found:
                obj = imap.get(k)
                if obj is not None:
                    session.undo.save(obj)
                    obj.__dict__[ref.name] = None
