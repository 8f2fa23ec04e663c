"""Referential actions, enforced by the unit of work as well as by the
database, so they hold where foreign keys are missing or switched off.

Deletes are planned set-based, one statement per table per level: the
CASCADE closure is found with ``SELECT key ... WHERE fk IN (...)``, then
every RESTRICT / NO ACTION is checked before anything is written, then SET
NULL / SET DEFAULT rewrite the surviving dependents and the rows are deleted
children first. Loaded objects are updated to match."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Optional, Sequence

from pypika import Parameter, Table, Tuple
from pypika.functions import Count
from pypika.terms import Criterion, Star

from .compiled import compiled, flat_key
from .expressions import _FALSE, SqlTemplate
from .errors import IntegrityError
from .relations import RelationList
from .state import DELETED

if TYPE_CHECKING:
    from .mapper import Mapper, ReferenceProp
    from .session import Session


def _chunks(keys: Sequence[Any], width: int, limit: int) -> Iterable[Sequence[Any]]:
    step = max(1, limit // max(1, width))
    for i in range(0, len(keys), step):
        yield keys[i:i + step]


def dependents(session: "Session", ref: "ReferenceProp", keys: Sequence[Any]) -> list[Any]:
    """Keys of the rows of ``ref``'s table whose ``ref`` points at one of ``keys``."""
    owner = ref.owner
    c = compiled(owner, session.dialect)
    target = compiled(ref.target_mapper, session.dialect)
    out: list[Any] = []
    for chunk in _chunks(keys, len(ref.columns), session.dialect.param_limit):
        params: list[Any] = []
        for k in chunk:
            params.extend(target.key_params(k))
        rows = session.fetch(c.fk_select_sql(ref, len(chunk)), params)
        out.extend(c.row_key(r) for r in rows)
    return out


def delete_objects(session: "Session", objs: Sequence[Any]) -> int:
    roots: dict[Any, dict[Any, None]] = {}
    for obj in objs:
        st = obj._ar_state
        if st.status == DELETED or st.key is None:
            continue
        roots.setdefault(type(obj).__ar_mapper__, {})[st.key] = None
        if st.session is not session:
            session.attach(obj)
    return delete_keys(session, {m: list(k) for m, k in roots.items()}, _loaded_dependents(objs))


def _loaded_dependents(objs: Sequence[Any]) -> dict[tuple["Mapper", Any], Any]:
    """Objects reachable from ``objs`` through loaded back references, by
    (mapper, key): they may live outside the session's identity map (loaded in
    an earlier session) and must still reflect the delete."""
    found: dict[tuple["Mapper", Any], Any] = {}
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


def delete_keys(session: "Session", roots: dict["Mapper", list[Any]],
                known: Optional[dict[tuple["Mapper", Any], Any]] = None) -> int:
    """Delete these rows and apply every on_delete pointing at them; returns
    the number of root rows deleted."""
    region = _cascade_region(session.db, roots)
    if region is not None:
        (root, keys), = roots.items()
        width = len(root.pk_columns)
        step = max(1, session.dialect.param_limit // (8 * width))
        count = 0
        for i in range(0, len(keys), step):
            count += _delete_by_subqueries(session, root, keys[i:i + step], region, known or {})
        return count
    return _delete_by_keys(session, roots, known)


def _cascade_region(db: Any, roots: dict["Mapper", list[Any]]) -> Optional[list["Mapper"]]:
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
        for ref in db.incoming(m):
            if ref.on_delete == "CASCADE":
                if ref.owner not in seen:
                    seen.add(ref.owner)
                    region.append(ref.owner)
    # the CASCADE edges inside the region must not form a cycle
    order: list["Mapper"] = []
    state: dict["Mapper", int] = {}

    def visit(m: "Mapper") -> bool:
        state[m] = 1
        for ref in m.references:
            t = ref.target_mapper
            if ref.on_delete == "CASCADE" and t in seen:
                if state.get(t) == 1 or t is m:
                    return False
                if t not in state and not visit(t):
                    return False
        state[m] = 2
        order.append(m)
        return True

    for m in region:
        if m not in state and not visit(m):
            return None
    # which tables each table's subquery reads: itself and its cascade parents
    reads: dict["Mapper", set["Mapper"]] = {}
    for m in order:
        reads[m] = {m}.union(*[reads[r.target_mapper] for r in m.references
                               if r.on_delete == "CASCADE" and r.target_mapper in seen])
    for m in region:
        for ref in db.incoming(m):
            if ref.on_delete != "CASCADE" and ref.owner in reads[m]:
                return None
    return order


class _Subqueries:
    """SQL that finds the rows a delete reaches, nested per table, with the
    bound parameters collected in the order the SQL names them."""

    def __init__(self, session: "Session", root: "Mapper", keys: Sequence[Any],
                 region: list["Mapper"], where: Sequence[Any] = ()) -> None:
        self.session = session
        self.q = session.dialect.query_class
        self.ph = Parameter(session.dialect.placeholder)
        self.root = root
        self.keys = keys
        #: plain conditions choosing the root rows, used instead of keys
        self.where = where
        self.region = set(region)

    def _table(self, m: "Mapper") -> Any:
        return Table(m.table)

    def _key_terms(self, m: "Mapper", t: Any) -> Any:
        cols = [t.field(c.name) for c in m.pk_columns]
        return cols[0] if len(cols) == 1 else Tuple(*cols)

    def cond(self, m: "Mapper", t: Any, params: list[Any]) -> Any:
        """A criterion on table ``t`` of ``m``: the row is deleted."""
        c = compiled(m, self.session.dialect)
        if m is self.root and self.where:
            from .expressions import Compiler
            comp = Compiler(c, t)
            crit = Criterion.all([cond.compile(comp) for cond in self.where])
            params.extend(comp.params)
            return crit
        if m is self.root:
            if not self.keys:
                return _FALSE
            if len(c.pk_names) == 1:
                values = [c.key_params(k)[0] for k in self.keys]
                bulk = self.session.dialect.key_set_criterion(t.field(c.pk_names[0]), values,
                                                              _Params(params, self.session.dialect.placeholder))
                if bulk is not None:  # the whole key set as one bound parameter
                    return bulk
            for k in self.keys:
                params.extend(c.key_params(k))
            return c.key_criterion(len(self.keys))
        parts = []
        for ref in m.references:
            if ref.on_delete == "CASCADE" and ref.target_mapper in self.region:
                parts.append(self.points_into(ref, t, params))
        return Criterion.any(parts)

    def points_into(self, ref: "ReferenceProp", t: Any, params: list[Any]) -> Any:
        """``ref``'s columns on ``t`` name a row that is deleted."""
        cols = [t.field(c.name) for c in ref.columns]
        term = cols[0] if len(cols) == 1 else Tuple(*cols)
        return term.isin(self.subquery(ref.target_mapper, params))

    def subquery(self, m: "Mapper", params: list[Any]) -> Any:
        t = self._table(m)
        q = self.q.from_(t).select(*[t.field(c.name) for c in m.pk_columns])
        return q.where(self.cond(m, t, params))


class _Params:
    """Collects bound parameters for a dialect's key-set criterion."""

    def __init__(self, params: list[Any], placeholder: str) -> None:
        self.params = params
        self.ph = placeholder

    def param(self, value: Any) -> Parameter:
        self.params.append(value)
        return Parameter(self.ph)


def delete_where(session: "Session", root: "Mapper", where: Sequence[Any]) -> Optional[int]:
    """Delete the rows matching plain conditions without fetching their keys
    first, where that is possible (no root row loaded in the session, a
    region subqueries can reach); None when it is not."""
    if not where or session.identity.maps.get(root) or any(c.needs_alias for c in where):
        return None
    region = _cascade_region(session.db, {root: []})
    if region is None:
        return None
    return _delete_by_subqueries(session, root, (), region, {}, where)


def _delete_by_subqueries(session: "Session", root: "Mapper", keys: Sequence[Any],
                          region: list["Mapper"], known: dict[tuple["Mapper", Any], Any],
                          where: Sequence[Any] = ()) -> int:
    db = session.db
    sq = _Subqueries(session, root, keys, region, where)
    inside = set(region)
    known_mappers = {m for m, _ in known}

    def loaded(m: "Mapper") -> bool:
        return bool(session.identity.maps.get(m)) or m in known_mappers

    # 1. RESTRICT / NO ACTION: nothing written yet
    nulls: list[tuple["ReferenceProp", list[Any]]] = []
    updates: list[tuple[str, list[Any]]] = []
    for m in region:
        for ref in db.incoming(m):
            if ref.on_delete == "CASCADE":
                continue
            owner = ref.owner
            t = Table(owner.table)
            params: list[Any] = []
            crit = sq.points_into(ref, t, params)
            if ref.on_delete in ("RESTRICT", "NO ACTION") and owner in inside:
                # rows the delete removes anyway do not hold it back
                crit = crit & SqlTemplate("NOT ({c})", c=sq.cond(owner, t, params))
            if ref.on_delete in ("RESTRICT", "NO ACTION"):
                n = session.fetch(sq.q.from_(t).select(Count(Star())).where(crit).get_sql(), params)[0][0]
                if n:
                    raise IntegrityError(
                        f"cannot delete {m.name} rows: {n} {owner.name} row(s) still reference "
                        f"them through {owner.name}.{ref.name} (on_delete={ref.on_delete!r}); "
                        "delete or re-point them first")
                continue
            if loaded(owner):
                c = compiled(owner, session.dialect)
                rows = session.fetch(sq.q.from_(t).select(*[t.field(n) for n in c.pk_names])
                                     .where(crit).get_sql(), params)
                nulls.append((ref, [c.row_key(r) for r in rows]))
            upd = sq.q.update(t)
            for col in ref.columns:
                upd = upd.set(t.field(col.name), None)
            updates.append((upd.where(crit).get_sql(), params))
    # the database applies every action of the region itself, and no object
    # it reaches is loaded: deleting the root rows is all that is left to do
    if not nulls and session.dialect.database_cascades_faster and all(
            session.db.enforces(session, ref) for m in region for ref in db.incoming(m)) \
            and not any(loaded(m) for m in region if m is not root):
        t = Table(root.table)
        params = []
        cur = session.execute(sq.q.from_(t).delete().where(sq.cond(root, t, params)).get_sql(), params)
        _reflect(session, {root: dict.fromkeys(keys)}, [], known)
        return max(cur.rowcount, 0)
    if where and any(loaded(m) for m in region):
        return -1  # loaded objects to reflect: the caller goes by keys
    if where:
        # nothing matches: write nothing (the statements below would touch no row)
        t = Table(root.table)
        params = []
        probe = sq.q.from_(t).select(1).where(sq.cond(root, t, params)).limit(1)
        if not session.fetch(probe.get_sql(), params):
            return 0
    # 2. keys of the loaded objects the delete reaches, to reflect it on them
    doomed: dict["Mapper", dict[Any, None]] = {root: dict.fromkeys(keys)}
    for m in region:
        if m is not root and loaded(m):
            t = Table(m.table)
            params = []
            c = compiled(m, session.dialect)
            rows = session.fetch(sq.q.from_(t).select(*[t.field(n) for n in c.pk_names])
                                 .where(sq.cond(m, t, params)).get_sql(), params)
            doomed[m] = dict.fromkeys(c.row_key(r) for r in rows)
    if where and nulls:
        return -1
    # 3. writes: SET NULL / SET DEFAULT, then deletes children first
    for sql, params in updates:
        session.execute(sql, params)
    count = 0
    for m in db.delete_order(inside):
        t = Table(m.table)
        params = []
        crit = sq.cond(m, t, params)
        cur = session.execute(sq.q.from_(t).delete().where(crit).get_sql(), params)
        if m is root:
            count = max(cur.rowcount, 0)
    _reflect(session, doomed, nulls, known)
    return count


def _delete_by_keys(session: "Session", roots: dict["Mapper", list[Any]],
                    known: Optional[dict[tuple["Mapper", Any], Any]] = None) -> int:
    """Delete by key lists: for cycles, self-references and several root
    tables, where rows are found level by level with their keys."""
    db = session.db
    doomed: dict["Mapper", dict[Any, None]] = {m: dict.fromkeys(keys) for m, keys in roots.items()}
    work = [(m, list(keys)) for m, keys in roots.items() if keys]
    while work:
        mapper, keys = work.pop()
        for ref in db.incoming(mapper):
            if ref.on_delete != "CASCADE":
                continue
            found = dependents(session, ref, keys)
            have = doomed.setdefault(ref.owner, {})
            fresh = [k for k in found if k not in have]
            if fresh:
                have.update(dict.fromkeys(fresh))
                work.append((ref.owner, fresh))
    nulls: list[tuple["ReferenceProp", list[Any]]] = []
    for mapper, keys in doomed.items():
        if not keys:
            continue
        for ref in db.incoming(mapper):
            if ref.on_delete == "CASCADE":
                continue
            found = dependents(session, ref, list(keys))
            gone = doomed.get(ref.owner, {})
            left = [k for k in found if k not in gone]
            if not left:
                continue
            if ref.on_delete in ("RESTRICT", "NO ACTION"):
                shown = ", ".join(repr(k) for k in list(keys)[:5])
                raise IntegrityError(
                    f"cannot delete {mapper.name} {shown}: {len(left)} {ref.owner.name} row(s) "
                    f"still reference it through {ref.owner.name}.{ref.name} "
                    f"(on_delete={ref.on_delete!r}); delete or re-point them first")
            nulls.append((ref, left))
    limit = session.dialect.param_limit
    for ref, keys in nulls:
        c = compiled(ref.owner, session.dialect)
        width = len(c.pk_names)
        blank = (None,) * len(ref.columns)
        for chunk in _chunks(keys, width, limit - len(ref.columns)):
            params: list[Any] = list(blank)
            for k in chunk:
                params.extend(c.key_params(k))
            session.execute(c.set_ref_sql(ref, len(chunk)), params)
    count = 0
    for mapper in db.delete_order(doomed):
        keys = list(doomed[mapper])
        if not keys:
            continue
        c = compiled(mapper, session.dialect)
        for chunk in _chunks(keys, len(c.pk_names), limit):
            params = []
            for k in chunk:
                params.extend(c.key_params(k))
            cur = session.execute(c.delete_sql(len(chunk)), params)
            if mapper in roots:
                count += max(cur.rowcount, 0)
    _reflect(session, doomed, nulls, known or {})
    return count


def _reflect(session: "Session", doomed: dict["Mapper", dict[Any, None]],
             nulls: list[tuple["ReferenceProp", list[Any]]],
             known: dict[tuple["Mapper", Any], Any]) -> None:
    """Make loaded objects agree with what was just written."""
    undo = session.undo
    identity = session.identity
    for ref, keys in nulls:
        imap = identity.for_mapper(ref.owner)
        for k in keys:
            obj = imap.get(k) or known.get((ref.owner, k))
            if obj is None:
                continue
            d = obj.__dict__
            old = d.get(ref.name)
            undo.save(obj)
            if old is not None:
                _unlink(undo, obj, ref, old)
            d[ref.name] = None
            st = obj._ar_state
            if st.dirty and ref.name in st.dirty:
                del st.dirty[ref.name]
                if not st.dirty:
                    st.dirty = None
    for mapper, keys in doomed.items():
        imap = identity.for_mapper(mapper)
        for k in keys:
            obj = imap.pop(k, None) or known.get((mapper, k))
            if obj is None or obj._ar_state.status == DELETED:
                continue
            undo.save(obj)
            obj._ar_state.status = DELETED
            d = obj.__dict__
            for ref in mapper.references:
                t = d.get(ref.name)
                if t is not None and t._ar_state.status != DELETED:
                    _unlink(undo, obj, ref, t)
            for back in mapper.backrefs:
                inverse = back.via_inverse
                if inverse is None or back.name not in d:
                    continue
                for item in d[back.name]:
                    lst = item.__dict__.get(inverse.name)
                    if isinstance(lst, RelationList) and any(o is obj for o in lst):
                        undo.save(item)
                        lst[:] = [o for o in lst if o is not obj]
                        lst.baseline = tuple(o for o in lst.baseline if o is not obj)


def _unlink(undo: Any, obj: Any, ref: "ReferenceProp", target: Any) -> None:
    """Take ``obj`` out of ``target``'s loaded back references of ``ref``."""
    td = target.__dict__
    for back in ref.inverses:
        if back.name not in td:
            continue
        if back.many:
            lst = td[back.name]
            if any(o is obj for o in lst):
                undo.save(target)
                lst[:] = [o for o in lst if o is not obj]
                lst.baseline = tuple(o for o in lst.baseline if o is not obj)
        elif td[back.name] is obj:
            undo.save(target)
            td[back.name] = None
            base = target._ar_state.baseline
            if base is not None and base.get(back.name) is obj:
                base[back.name] = None


def apply_key_change(session: "Session", mapper: "Mapper", old: Any, new: Any) -> None:
    """A row's primary key changed from ``old`` to ``new``: apply on_update."""
    for ref in session.db.incoming(mapper):
        found = dependents(session, ref, [old])
        if not found:
            continue
        if ref.on_update in ("RESTRICT", "NO ACTION"):
            raise IntegrityError(
                f"cannot change the key of {mapper.name} {old!r}: {len(found)} {ref.owner.name} "
                f"row(s) reference it through {ref.owner.name}.{ref.name} "
                f"(on_update={ref.on_update!r})")
        c = compiled(ref.owner, session.dialect)
        target = compiled(mapper, session.dialect)
        values = target.key_params(new) if ref.on_update == "CASCADE" else (None,) * len(ref.columns)
        for chunk in _chunks(found, len(c.pk_names), session.dialect.param_limit - len(ref.columns)):
            params: list[Any] = list(values)
            for k in chunk:
                params.extend(c.key_params(k))
            session.execute(c.set_ref_sql(ref, len(chunk)), params)
        if ref.on_update == "SET NULL":
            imap = session.identity.for_mapper(ref.owner)
            for k in found:
                obj = imap.get(k)
                if obj is not None:
                    session.undo.save(obj)
                    obj.__dict__[ref.name] = None


__all__ = ["delete_objects", "delete_keys", "dependents", "apply_key_change", "flat_key"]
