"""The unit of work: turns a session's pending objects into SQL.

A flush walks the object graph from the persisted roots and the changed
objects, orders new objects so every row is inserted after the rows it
references (a cycle through a nullable reference is broken by inserting NULL
and updating afterwards), inserts one multi-row statement per table, level
and column shape, updates only changed columns, then applies deletes with
their referential actions. Every object is snapshotted in the session's undo
log before it is touched, so a failure restores all of them."""
from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

from .compiled import compiled, flat_key
from .errors import IntegrityError, ValidationError
from .markers import MISSING
from .relations import RelationList
from .state import DELETED, NEW, NEW_STATE, PERSISTENT, SESSION_KEY, STATE_KEY, ObjectState

if TYPE_CHECKING:
    from .compiled import CompiledMapper
    from .mapper import BackRefProp, Mapper, ReferenceProp
    from .session import Session


def _mapper(obj: Any) -> "Mapper":
    return type(obj).__ar_mapper__  # type: ignore[no-any-return]


class UnitOfWork:
    """One flush of one session."""

    def __init__(self, session: "Session") -> None:
        self.session = session
        self.dialect = session.dialect
        self.undo = session.undo
        self.visited: list[Any] = []
        #: the visited objects' states, None for a loaded object without one yet
        self.visited_states: list[Optional[ObjectState]] = []
        self.seen: set[int] = set()
        self.lists: list[RelationList] = []
        self.ones: list[tuple[Any, str]] = []
        self.pivot_removals: dict[tuple, tuple["BackRefProp", Any, Any]] = {}
        self.pivot_pairs: set[tuple] = set()
        #: pivot model -> (local ref, obj, item) links written as plain rows
        self.links: dict[Any, list[tuple["ReferenceProp", Any, Any]]] = {}
        self.deferred: dict[int, list["ReferenceProp"]] = {}

    # -- the walk --------------------------------------------------------------
    def flush(self) -> None:
        s = self.session
        roots = list(s.to_persist.values())
        roots += [o for o in s.dirty.values()
                  if (st := o._ar_state).dirty and st.status == PERSISTENT]
        deletes = list(s.to_delete.values())
        self.walk(roots)
        new, dirty = [], []
        for o, st in zip(self.visited, self.visited_states):
            if st is None:
                continue  # loaded and clean
            if st.status == NEW:
                new.append(o)
            elif st.status == PERSISTENT and st.dirty:
                dirty.append(o)
        save = self.undo.save
        if deletes:
            for o in new:
                save(o)  # referential actions may change new objects too
        else:
            # a flush with no deletes only writes keys and state onto new
            # objects: a light snapshot restores them
            self.undo.save_new(new)
        for o in dirty:
            save(o)
        if new:
            self.insert(new)
        if dirty:
            self.update(dirty)
        if self.links:
            self.insert_links()
        if self.pivot_removals:
            self.remove_pivots()
        if deletes:
            from .referential import delete_objects
            delete_objects(s, deletes)
        for st in self.visited_states:
            # None: clean and this session's; the shared new state: replaced on insert
            if st is not None and st is not NEW_STATE:
                st.dirty = None
                st.session = s
        for lst in self.lists:
            lst.baseline = tuple(lst)
        for obj, name in self.ones:
            st = obj._ar_state
            if st.baseline is None:
                st.baseline = {}
            st.baseline[name] = obj.__dict__.get(name)
        s.to_persist.clear()
        s.to_delete.clear()
        s.dirty.clear()

    def walk(self, roots: list[Any]) -> None:
        """Visit every object reachable from ``roots`` through references and
        loaded back references, syncing foreign keys with the collections."""
        seen = self.seen
        mark = seen.add
        # breadth first, so rows are inserted in the order of the lists holding them
        stack: Any = deque(roots)
        visit = self.visited.append
        visit_state = self.visited_states.append
        session = self.session
        pop = stack.popleft
        push = stack.append
        plans: dict[type, tuple] = {}
        while stack:
            obj = pop()
            oid = id(obj)
            if oid in seen:
                continue
            mark(oid)
            d = obj.__dict__
            st = d.get(STATE_KEY)
            if st is None:  # loaded and clean, no state made yet
                if d[SESSION_KEY] is not session:
                    session.attach(obj)
                    st = d[STATE_KEY]
            else:
                if st.stub_of is not None:
                    continue
                status = st.status
                if status != NEW:
                    if status == DELETED:
                        continue
                    if st.session is not session:
                        session.attach(obj)
            visit(obj)
            visit_state(st)
            cls = type(obj)
            plan = plans.get(cls)
            if plan is None:
                plan = plans[cls] = _walk_plan(cls.__ar_mapper__)
            for name in plan[0]:
                t = d.get(name)
                if t is not None and id(t) not in seen:
                    push(t)
            for name, walk_back, back in plan[1]:
                value = d.get(name, MISSING)
                if value is not MISSING:
                    walk_back(self, obj, back, value, stack)

    def _point(self, item: Any, ref: "ReferenceProp", obj: Any) -> None:
        """Make ``item.<ref>`` be ``obj`` (undoably), keeping loaded lists in sync."""
        old = item.__dict__.get(ref.name)
        if old is obj:
            return
        save = self.undo.save
        save(item)
        if old is not None:
            save(old)
        if obj is not None:
            save(obj)
        setattr(item, ref.name, obj)

    def _orphan(self, obj: Any, back: "BackRefProp", item: Any, stack: list[Any]) -> None:
        ref = back.mapped_by
        assert ref is not None
        if item.__dict__.get(ref.name) is not obj or item._ar_state.status == DELETED:
            return
        if not ref.nullable:
            raise IntegrityError(
                f"{_mapper(item).name}.{ref.name} is not nullable: {item!r} was removed from "
                f"{_mapper(obj).name}.{back.name} but still references it; delete it or point "
                f"it at another {_mapper(obj).name}")
        self._point(item, ref, None)
        stack.append(item)

    def _walk_many(self, obj: Any, back: "BackRefProp", value: Any, stack: Any) -> None:
        ref = back.mapped_by
        assert ref is not None
        name = ref.name
        seen = self.seen
        push = stack.append
        for item in value:
            if item.__dict__.get(name) is not obj:
                self._point(item, ref, obj)
            if id(item) not in seen:
                push(item)
        if isinstance(value, RelationList):
            if value.baseline and value.changed():
                removed = value.removed()
                if removed:
                    self.undo.save(obj)
                    for item in removed:
                        self._orphan(obj, back, item, stack)
            self.lists.append(value)

    def _walk_one(self, obj: Any, back: "BackRefProp", value: Any, stack: list[Any]) -> None:
        ref = back.mapped_by
        assert ref is not None
        if value is not None:
            if value.__dict__.get(ref.name) is not obj:
                self._point(value, ref, obj)
            stack.append(value)
        base = obj._ar_state.baseline
        old = base.get(back.name, MISSING) if base else MISSING
        if old is not MISSING and old is not None and old is not value:
            self.undo.save(obj)
            self._orphan(obj, back, old, stack)
        self.ones.append((obj, back.name))

    def _walk_via(self, obj: Any, back: "BackRefProp", value: Any, stack: Any) -> None:
        local, remote = back.via_local, back.via_remote
        assert local is not None and remote is not None
        stack.extend(value)
        if not isinstance(value, RelationList):
            return
        self.lists.append(value)
        if not value.baseline:
            if not value:
                return
            added: list[Any] = list(value)
            removed: list[Any] = []
        elif not value.changed():
            return
        else:
            added, removed = value.added(), value.removed()
        if obj._ar_state.status != NEW:
            self.undo.save(obj)  # a new object's lists are in its own snapshot
        via = back.via
        pm = via.__ar_mapper__  # type: ignore[union-attr]
        # one pair key per row, whichever side the link was made from
        local_first = pm.references.index(local) < pm.references.index(remote)
        inverse = back.via_inverse
        if value.partial:
            linked = self._linked_already(back, obj, added)
            added = [o for o in added if id(o) not in linked]
        pure = pure_link(pm, self.dialect)
        pairs = self.pivot_pairs
        oid = id(obj)
        for item in added:
            pair = (via, oid, id(item)) if local_first else (via, id(item), oid)
            if pair in pairs:
                continue
            pairs.add(pair)
            if inverse is not None and inverse.name in item.__dict__:
                lst = item.__dict__[inverse.name]
                if not any(o is obj for o in lst):
                    self.undo.save(item)
                    lst.append(obj)
                    lst.baseline = lst.baseline + (obj,)
            if pure:
                # nothing but the two keys: a row, no pivot object
                self.links.setdefault(via, []).append((local, obj, item))
                continue
            try:
                pivot = via(**{local.name: obj, remote.name: item})  # type: ignore[misc]
            except ValidationError as exc:
                raise ValidationError(
                    f"cannot link {obj!r} to {item!r} through {via.__name__} for "  # type: ignore[union-attr]
                    f"{_mapper(obj).name}.{back.name}: {exc}; create {via.__name__} "  # type: ignore[union-attr]
                    "objects directly") from exc
            stack.append(pivot)
        for item in removed:
            if item._ar_state.status == NEW:
                continue
            key = (via, oid, id(item)) if local_first else (via, id(item), oid)
            if key in self.pivot_removals:
                continue
            self.pivot_removals[key] = (back, obj, item)
            if inverse is not None and inverse.name in item.__dict__:
                lst = item.__dict__[inverse.name]
                if any(o is obj for o in lst):
                    self.undo.save(item)
                    lst[:] = [o for o in lst if o is not obj]
                    lst.baseline = tuple(o for o in lst.baseline if o is not obj)

    def _linked_already(self, back: "BackRefProp", obj: Any, added: list[Any]) -> set[int]:
        """Of ``added``, those a pivot row already links to ``obj``: a partially
        loaded collection does not show every row there is."""
        local, remote = back.via_local, back.via_remote
        assert local is not None and remote is not None
        key = obj._ar_state.key
        candidates = [o for o in added if o._ar_state.status == PERSISTENT and o._ar_state.key is not None]
        if key is None or obj._ar_state.status != PERSISTENT or not candidates:
            return set()
        from pypika import Criterion, Parameter
        pm = back.via.__ar_mapper__  # type: ignore[union-attr]
        c = compiled(pm, self.dialect)
        t = c.table
        ph = Parameter(self.dialect.placeholder)
        params: list[Any] = list(compiled(_mapper(obj), self.dialect).key_params(key))
        crit = Criterion.all([t.field(col.name) == ph for col in local.columns])
        target = compiled(remote.target_mapper, self.dialect)
        groups = []
        for o in candidates:
            params.extend(target.key_params(o._ar_state.key))
            groups.append(Criterion.all([t.field(col.name) == ph for col in remote.columns]))
        sql = (self.dialect.query_class.from_(t).select(*[t.field(col.name) for col in remote.columns])
               .where(crit).where(Criterion.any(groups)).get_sql())
        rows = self.session.fetch(sql, params)
        found = {target.row_key(r) for r in rows}
        return {id(o) for o in candidates if o._ar_state.key in found}

    # -- ordering ----------------------------------------------------------------
    def levels(self, new: list[Any]) -> list[int]:
        """The insert level of each new object: one more than the deepest new
        object it references. Breaks cycles at a nullable reference."""
        index = {id(o): i for i, o in enumerate(new)}
        while True:
            try:
                return self._levels(new, index)
            except _Restart:
                continue

    def _deps(self, obj: Any, index: dict[int, int]) -> list[tuple["ReferenceProp", int]]:
        d = obj.__dict__
        out = []
        deferred = self.deferred.get(id(obj), ())
        for ref in _mapper(obj).references:
            t = d.get(ref.name)
            if t is not None and ref not in deferred:
                j = index.get(id(t))
                if j is not None:
                    out.append((ref, j))
        return out

    def _levels(self, new: list[Any], index: dict[int, int]) -> list[int]:
        n = len(new)
        level = [0] * n
        color = [0] * n
        for start in range(n):
            if color[start]:
                continue
            color[start] = 1
            stack = [(start, iter(self._deps(new[start], index)))]
            edges: list[tuple[int, "ReferenceProp", int]] = []
            while stack:
                i, it = stack[-1]
                for ref, j in it:
                    if color[j] == 0:
                        color[j] = 1
                        edges.append((i, ref, j))
                        stack.append((j, iter(self._deps(new[j], index))))
                        break
                    if color[j] == 1:
                        pos = next(p for p, (node, _) in enumerate(stack) if node == j)
                        cycle = edges[pos:] + [(i, ref, j)]
                        self._break(cycle, new, current=(i, ref, j))
                        if not self._is_deferred(new[i], ref):
                            raise _Restart
                else:
                    lv = 0
                    for ref, j in self._deps(new[i], index):
                        if level[j] + 1 > lv:
                            lv = level[j] + 1
                    level[i] = lv
                    color[i] = 2
                    stack.pop()
                    if edges and len(edges) >= len(stack):
                        edges.pop()
        return level

    def _is_deferred(self, obj: Any, ref: "ReferenceProp") -> bool:
        return ref in self.deferred.get(id(obj), ())

    def _break(self, cycle: list[tuple[int, "ReferenceProp", int]], new: list[Any],
               current: tuple[int, "ReferenceProp", int]) -> None:
        candidates = [e for e in cycle if e[1].nullable]
        if not candidates:
            names = " -> ".join(f"{_mapper(new[i]).name}.{ref.name}" for i, ref, _ in cycle)
            raise IntegrityError(
                f"cannot insert a cycle of non-nullable references ({names} -> "
                f"{_mapper(new[cycle[0][0]]).name}): make one of them Optional so it can be "
                "filled in after the insert")
        i, ref, _ = current if current in candidates else candidates[-1]
        self.deferred.setdefault(id(new[i]), []).append(ref)

    # -- writes --------------------------------------------------------------------
    def insert(self, new: list[Any]) -> None:
        by_mapper: dict[Any, list[Any]] = {}
        for obj in new:
            m = _mapper(obj)
            group = by_mapper.get(m)
            if group is None:
                by_mapper[m] = [obj]
            else:
                group.append(obj)
        order = _table_order(list(by_mapper))
        if order is not None:
            # no cycle among these tables: one INSERT group per table, parents first
            for mapper in order:
                self._insert_group(mapper, by_mapper[mapper])
            return
        levels = self.levels(new)
        groups: dict[tuple[int, Any], list[Any]] = {}
        for obj, lv in zip(new, levels):
            groups.setdefault((lv, _mapper(obj)), []).append(obj)
        for (_, mapper), objs in sorted(groups.items(), key=lambda kv: kv[0][0]):
            self._insert_group(mapper, objs)
        if self.deferred:
            self._fill_deferred(new)

    def _row_maker(self, c: CompiledMapper, columns: tuple[str, ...]) -> Callable[[Any], Sequence[Any]]:
        """obj -> its INSERT row; a reference deferred to a later UPDATE (a
        reference cycle) is NULL for now."""
        getter = c.row_getter(columns)
        deferred = self.deferred
        if not deferred:
            return getter
        positions = {cn: k for k, cn in enumerate(columns)}

        def row_of(o: Any) -> Sequence[Any]:
            row = getter(o)
            refs = deferred.get(id(o))
            if refs:
                row = list(row)
                for ref in refs:
                    for col in ref.columns:
                        row[positions[col.name]] = None
            return row

        return row_of

    @staticmethod
    def _set_generated(auto: Any, objs: list[Any], keys: list[Any]) -> None:
        name = auto.name
        for o, k in zip(objs, keys):
            o.__dict__[name] = k

    def _insert_group(self, mapper: "Mapper", objs: list[Any]) -> None:
        s = self.session
        c = compiled(mapper, self.dialect)
        auto = mapper.autoincrement
        generated, given = [], []
        if auto is not None:
            default = auto.default
            name = auto.name
            for o in objs:
                v = o.__dict__.get(name)
                (generated if v is None or v == default else given).append(o)
        else:
            given = objs
        limit = self.dialect.param_limit
        for objs_, with_auto in ((generated, False), (given, True)):
            if not objs_:
                continue
            columns = c.insert_columns(with_auto)
            row_of = self._row_maker(c, columns)
            if not with_auto and self.dialect.single_row_inserts():
                # the server cannot promise consecutive generated keys
                keys = s.insert_each(c.insert_sql(columns, 1), [row_of(o) for o in objs_],
                                     c.pk_names[0])
                self._set_generated(auto, objs_, keys)
                continue
            step = max(1, limit // max(1, len(columns)))
            for i in range(0, len(objs_), step):
                chunk = objs_[i:i + step]
                params: list[Any] = []
                for o in chunk:
                    params.extend(row_of(o))
                sql = c.insert_sql(columns, len(chunk))
                if with_auto:
                    s.execute(sql, params)
                    if auto is not None:
                        fix = self.dialect.explicit_keys_sql(mapper.table, c.pk_names[0])
                        if fix:
                            s.execute(fix)
                else:
                    self._set_generated(auto, chunk, s.insert_generated(sql, params, len(chunk),
                                                                        c.pk_names[0]))
        imap = s.identity.for_mapper(mapper)
        if len(mapper.pk_props) == 1 and mapper.pk_props[0].kind == "scalar":
            name = mapper.pk_props[0].name
            keys = [o.__dict__[name] for o in objs]  # key_of, without a call per object
        else:
            keys = [mapper.key_of(o) for o in objs]  # type: ignore[attr-defined]
        for o, k in zip(objs, keys):
            st = o._ar_state
            if st is NEW_STATE:  # the shared state of new objects: one of its own
                st = ObjectState()
                st.stub_of = st.dirty = st.baseline = None
                o.__dict__[STATE_KEY] = st
            st.status = PERSISTENT
            st.key = k
            st.session = s
            imap[k] = o

    def _fill_deferred(self, new: list[Any]) -> None:
        groups: dict[tuple[Any, Any], list[Any]] = {}
        for obj in new:
            for ref in self.deferred.get(id(obj), ()):
                groups.setdefault((_mapper(obj), ref), []).append(obj)
        for (mapper, ref), objs in groups.items():
            c = compiled(mapper, self.dialect)
            sql = c.set_ref_sql(ref, 1)
            values = c.prop_values[ref.name]
            rows = [values(o) + c.key_params(o._ar_state.key) for o in objs]
            self.session.executemany(sql, rows)

    def update(self, dirty: list[Any]) -> None:
        groups: dict[tuple[Any, tuple[str, ...]], list[Any]] = {}
        rekeyed = []
        dialect = self.dialect
        for obj in dirty:
            c = compiled(_mapper(obj), dialect)
            names = c.changed_fields(obj._ar_state.dirty)
            if not names:
                continue
            if not c.pk_fields.isdisjoint(names):
                rekeyed.append(obj)
            groups.setdefault((c, names), []).append(obj)
        for (c, names), objs in groups.items():
            columns = c.update_columns(names)
            sql = c.update_sql(columns)
            rows = list(map(c.update_params(names), objs))
            if len(rows) == 1:
                self.session.execute(sql, rows[0])
            elif (self.dialect.batch_updates and len(c.pk_names) == 1
                  and c.pk_names[0] not in columns):  # a CASE must match the old key
                self._update_batched(c, columns, rows)
            else:
                self.session.executemany(sql, rows)
        for obj in rekeyed:
            self._rekey(obj)

    def _update_batched(self, c: Any, columns: tuple[str, ...], rows: list[tuple]) -> None:
        """Rows of (column values..., key): one CASE UPDATE per chunk."""
        width = len(columns)
        step = max(1, self.dialect.param_limit // (2 * width + 1))
        for i in range(0, len(rows), step):
            chunk = rows[i:i + step]
            params: list[Any] = []
            for k in range(width):
                for row in chunk:
                    params.append(row[width])
                    params.append(row[k])
            params.extend(row[width] for row in chunk)
            self.session.execute(c.update_case_sql(columns, len(chunk)), params)

    def _rekey(self, obj: Any) -> None:
        """A primary key changed: apply on_update actions and move the identity."""
        from .referential import apply_key_change
        mapper = _mapper(obj)
        st = obj._ar_state
        old, new = st.key, mapper.key_of(obj)  # type: ignore[attr-defined]
        apply_key_change(self.session, mapper, old, new)
        self.session.identity.discard(mapper, old, obj)
        self.session.identity.add(mapper, new, obj)
        st.key = new

    def insert_links(self) -> None:
        """Insert the pivot rows of many-to-many links made through lists,
        after the rows (and keys) of both ends exist."""
        s = self.session
        for via, links in self.links.items():
            pm = via.__ar_mapper__
            c = compiled(pm, self.dialect)
            columns = c.insert_columns(False)
            a, b = pm.references[0], pm.references[1]
            ca, cb = compiled(a.target_mapper, self.dialect), compiled(b.target_mapper, self.dialect)
            ka, kb = ca.key_params, cb.key_params
            if (len(ca.pk_names) == len(cb.pk_names) == 1 and ca.adapters[ca.pk_names[0]] is None
                    and cb.adapters[cb.pk_names[0]] is None):
                # single-column keys stored as they are: the keys are the row
                rows = [(obj._ar_state.key, item._ar_state.key) if local is a
                        else (item._ar_state.key, obj._ar_state.key) for local, obj, item in links]
            else:
                rows = []
                for local, obj, item in links:
                    one, two = (obj, item) if local is a else (item, obj)
                    rows.append(ka(one._ar_state.key) + kb(two._ar_state.key))
            order = [col.name for col in a.columns] + [col.name for col in b.columns]
            if list(columns) != order:
                pos = [order.index(n) for n in columns]
                rows = [tuple(r[i] for i in pos) for r in rows]
            step = max(1, self.dialect.param_limit // len(columns))
            for i in range(0, len(rows), step):
                chunk = rows[i:i + step]
                s.execute(c.insert_sql(columns, len(chunk)), [v for r in chunk for v in r])

    def remove_pivots(self) -> None:
        s = self.session
        by_pivot: dict[Any, list[tuple[Any, Any, Any]]] = {}
        for back, obj, item in self.pivot_removals.values():
            by_pivot.setdefault(back.via, []).append((back, obj, item))
        for via, entries in by_pivot.items():
            pm = via.__ar_mapper__
            c = compiled(pm, self.dialect)
            first = entries[0][0]
            cols = list(first.via_local.columns) + list(first.via_remote.columns)
            from pypika import Parameter, Tuple
            t = c.table
            rows = []
            for back, obj, item in entries:
                a = flat_key(_mapper(obj).key_of(obj))  # type: ignore[attr-defined]
                b = flat_key(_mapper(item).key_of(item))  # type: ignore[attr-defined]
                if back.via_local is first.via_local:
                    rows.append(a + b)
                else:
                    rows.append(b + a)
            width = len(cols)
            step = max(1, self.dialect.param_limit // width)
            ph = Parameter(self.dialect.placeholder)
            for i in range(0, len(rows), step):
                chunk = rows[i:i + step]
                crit = Tuple(*[t.field(col.name) for col in cols]).isin([Tuple(*[ph] * width)] * len(chunk))
                sql = self.dialect.query_class.from_(t).delete().where(crit).get_sql()
                s.execute(sql, [v for r in chunk for v in r])
            wanted = {(id(obj), id(item)) if back.via_local is first.via_local else (id(item), id(obj))
                      for back, obj, item in entries}
            imap = s.identity.for_mapper(pm)
            for key, p in list(imap.items()):
                pd = p.__dict__
                if (id(pd.get(first.via_local.name)), id(pd.get(first.via_remote.name))) in wanted:
                    self.undo.save(p)
                    p._ar_state.status = DELETED
                    del imap[key]


def _walk_plan(mapper: "Mapper") -> tuple[tuple[str, ...], tuple[tuple[str, Any, Any], ...]]:
    """What the walk follows out of one model's objects: its reference names,
    and each back reference with the method that walks it."""
    backs = []
    for back in mapper.backrefs:
        how = (UnitOfWork._walk_via if back.via is not None
               else UnitOfWork._walk_many if back.many else UnitOfWork._walk_one)
        backs.append((back.name, how, back))
    return tuple(r.name for r in mapper.references), tuple(backs)


def pure_link(pivot: "Mapper", dialect: Any) -> bool:
    """Whether a pivot's inserted row is exactly the keys of its two references
    (no other field to fill in), so links can be written without pivot objects."""
    pure = pivot.__dict__.get("pure_link")
    if pure is None:
        refs = pivot.references
        cols = {c.name for r in refs for c in r.columns}
        pure = pivot.pure_link = (len(refs) == 2 and refs[0].target_mapper is not refs[1].target_mapper
                                      and set(compiled(pivot, dialect).insert_columns(False)) == cols)
    return pure  # type: ignore[no-any-return]


def _table_order(mappers: list[Any]) -> Optional[list[Any]]:
    """The mappers ordered so referenced tables come first, or None when the
    references among them have a cycle (a self-reference included): then
    rows must be ordered one by one."""
    present = set(mappers)
    state: dict[Any, int] = {}
    order: list[Any] = []
    for start in mappers:
        if start in state:
            continue
        stack = [(start, iter([r.target_mapper for r in start.references if r.target_mapper in present]))]
        state[start] = 1
        while stack:
            m, it = stack[-1]
            for t in it:
                if t is m or state.get(t) == 1:
                    return None
                if t not in state:
                    state[t] = 1
                    stack.append((t, iter([r.target_mapper for r in t.references
                                           if r.target_mapper in present])))
                    break
            else:
                state[m] = 2
                order.append(m)
                stack.pop()
    return order


class _Restart(Exception):
    """A cycle was broken at an earlier edge: compute the levels again."""
