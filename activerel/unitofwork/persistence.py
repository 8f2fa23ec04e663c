"""The INSERT, UPDATE and pivot-row statements of a flush, and the
generated getters that read an object's INSERT row. Generated keys are
written back onto the new objects, which then become persistent in the
session's identity map.

Called by :mod:`activerel.unitofwork.flush` (and ``upsert``, for the
row getters and shapes). Imports
:mod:`activerel.unitofwork.ordering` and ``cascade`` (key changes),
:mod:`activerel.sql`, :mod:`activerel.instance`, :mod:`activerel.mapping`
and :mod:`activerel._util`."""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

from .._util.batching import chunks
from .._util.codegen import compile_function
from ..dialects.base import Dialect
from ..errors import StaleObjectError
from ..instance.state import DELETED, NEW_STATE, PERSISTENT, SESSION_KEY, STATE_KEY, new_state
from ..mapping.mapper import Mapper, flat_key
from ..mapping.properties import ScalarProp
from ..sql.statements import Statements, statements
from ..sql.values import binding, codec
from .cascade import apply_key_change
from .ordering import insert_levels, table_groups
from .plan import FlushPlan, mapper_of_obj


def writers(mapper: Mapper, dialect: Dialect) -> "Writers":
    """The generated INSERT row getters of ``mapper`` on ``dialect``."""
    b = binding(mapper, dialect)
    w: Optional[Writers] = b.writers
    if w is None:
        w = b.writers = Writers(mapper, dialect)
    return w


class Writers:
    """obj -> its INSERT row, generated once per column set."""

    def __init__(self, mapper: Mapper, dialect: Dialect) -> None:
        self.mapper = mapper
        self.dialect = dialect
        values = codec(mapper, dialect)
        self.adapters = values.adapters
        self.prop_values = values.prop_values
        self.label = f"{mapper.cls.__module__}.{mapper.cls.__qualname__}"
        self._row_getters: dict[tuple[str, ...], Callable[[Any], tuple[Any, ...]]] = {}

    def row_getter(self, columns: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
        g = self._row_getters.get(columns)
        if g is None:
            g = self._row_getters[columns] = self._make_row_getter(columns)
        return g

    def _make_row_getter(self, columns: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
        ns: dict[str, Any] = {}
        pre, items = [], []
        want = set(columns)
        for p in list(self.mapper.scalars) + list(self.mapper.references):
            cols = [c for c in p.columns if c.name in want]
            if not cols:
                continue
            if isinstance(p, ScalarProp):
                a = self.adapters[p.column.name]
                if a is None:
                    items.append((p.column.name, f"_d[{p.name!r}]"))
                else:
                    ns[f"_a_{p.name}"] = a
                    if p.nullable:
                        items.append((p.column.name, f"(None if _d[{p.name!r}] is None else _a_{p.name}(_d[{p.name!r}]))"))
                    else:
                        items.append((p.column.name, f"_a_{p.name}(_d[{p.name!r}])"))
            else:
                target = p.target_mapper
                tpk = target.pk_props
                if (len(tpk) == 1 and isinstance(tpk[0], ScalarProp)
                        and codec(target, self.dialect).adapters[tpk[0].column.name] is None):
                    # the common case, inlined: the target's own key field
                    col = p.columns[0]
                    items.append((col.name, f"(None if (_t := _d.get({p.name!r})) is None "
                                            f"else _t.__dict__[{tpk[0].name!r}])"))
                    continue
                ns[f"_pv_{p.name}"] = self.prop_values[p.name]
                pre.append(f"    _r_{p.name} = _pv_{p.name}(_obj)")
                for i, c in enumerate(p.columns):
                    items.append((c.name, f"_r_{p.name}[{i}]"))
        order = {n: i for i, n in enumerate(columns)}
        items.sort(key=lambda it: order[it[0]])
        src = ("def row(_obj):\n    _d = _obj.__dict__\n" + "\n".join(pre) + ("\n" if pre else "")
               + "    return (" + ", ".join(e for _, e in items) + ("," if len(items) == 1 else "") + ")\n")
        row: Callable[[Any], tuple[Any, ...]] = compile_function(
            src, ns, name="row", kind="row", owner=self.label,
            variant=f"{self.dialect.name}:{','.join(columns)}")
        return row


#: the tables of a flush, in the order met -> their insert groups (a pure
#: function of the models, and a small flush's largest fixed cost)
_GROUPS: dict[tuple[Mapper, ...], list[tuple[list[Mapper], bool]]] = {}


def insert(plan: FlushPlan, new: list[Any]) -> None:
    """INSERT the new objects, parents first, one multi-row statement per table
    (and level, where rows reference each other in a cycle) and column shape."""
    by_mapper: dict[Any, list[Any]] = {}
    for obj in new:
        m = mapper_of_obj(obj)
        group = by_mapper.get(m)
        if group is None:
            by_mapper[m] = [obj]
        else:
            group.append(obj)
    order = tuple(by_mapper)
    tables = _GROUPS.get(order)
    if tables is None:
        tables = table_groups(list(order))
        if len(_GROUPS) >= 1024:
            _GROUPS.clear()
        _GROUPS[order] = tables
    for mappers, cyclic in tables:
        if not cyclic:
            _insert_group(plan, mappers[0], by_mapper[mappers[0]])
            continue
        # rows of tables that reference each other: in levels, each cycle of
        # rows broken at a nullable reference (filled in after the inserts)
        members = set(mappers)
        objs = [o for o in new if mapper_of_obj(o) in members]
        groups: dict[tuple[int, Any], list[Any]] = {}
        for obj, lv in zip(objs, insert_levels(plan, objs)):
            groups.setdefault((lv, mapper_of_obj(obj)), []).append(obj)
        for (_, mapper), level_objs in sorted(groups.items(), key=lambda kv: kv[0][0]):
            _insert_group(plan, mapper, level_objs)
    if plan.deferred:
        _fill_deferred(plan, new)


def _row_maker(plan: FlushPlan, w: "Writers", columns: tuple[str, ...]) -> Callable[[Any], Sequence[Any]]:
    """obj -> its INSERT row; a reference deferred to a later UPDATE (a
    reference cycle) is NULL for now."""
    getter = w.row_getter(columns)
    deferred = plan.deferred
    if not deferred:
        return getter
    positions = {cn: k for k, cn in enumerate(columns)}

    def row_of(o: Any) -> Sequence[Any]:
        refs = deferred.get(id(o))
        if not refs:
            return getter(o)
        row = list(getter(o))
        for ref in refs:
            for col in ref.columns:
                row[positions[col.name]] = None
        return row

    return row_of


def _set_generated(auto: Any, objs: Sequence[Any], keys: list[Any]) -> None:
    name = auto.name
    for o, k in zip(objs, keys):
        o.__dict__[name] = k


def _insert_group(plan: FlushPlan, mapper: Mapper, objs: list[Any]) -> None:
    s = plan.session
    dialect = plan.dialect
    c = statements(mapper, dialect)
    w = writers(mapper, dialect)
    auto = mapper.autoincrement
    generated: list[Any] = []
    given: list[Any] = []
    if auto is not None:
        default = auto.default
        name = auto.name
        for o in objs:
            v = o.__dict__.get(name)
            (generated if v is None or v == default else given).append(o)
    else:
        given = objs
    limit = plan.dialect.features.param_limit
    for objs_, with_auto, columns in insert_shapes(mapper, generated, given):
        row_of = _row_maker(plan, w, columns)
        if not with_auto and plan.dialect.single_row_inserts():
            # the server cannot promise consecutive generated keys
            keys = s.insert_each(c.insert_sql(columns, 1), [row_of(o) for o in objs_],
                                 c.pk_names[0])
            _set_generated(auto, objs_, keys)
            continue
        for chunk in chunks(objs_, limit, len(columns)):
            params: list[Any] = []
            for o in chunk:
                params.extend(row_of(o))
            sql = c.insert_sql(columns, len(chunk))
            if with_auto:
                s.queue(sql, params)
                if auto is not None:
                    fix = plan.dialect.explicit_keys_sql(mapper.table, c.pk_names[0])
                    if fix:
                        s.execute(fix)
            else:
                keys = s.insert_generated(sql, params, len(chunk), c.pk_names[0])
                _set_generated(auto, chunk, keys)
    if mapper.server_defaults:
        _read_server_defaults(plan, mapper, objs)
    imap = s.identity.for_mapper(mapper)
    # a key of the object's own field: read again from it at any time (a
    # key through a reference changes when the undo log renews its target)
    own_key = len(mapper.pk_props) == 1 and isinstance(mapper.pk_props[0], ScalarProp)
    if own_key:
        name = mapper.pk_props[0].name
        keys = [o.__dict__[name] for o in objs]  # key_of, without a call per object
    else:
        keys = [mapper.key_of(o) for o in objs]
    for o, k in zip(objs, keys):
        d = o.__dict__
        st = d[STATE_KEY]
        if st is NEW_STATE and own_key:
            # persistent and clean: marked as a loaded row is, its state made
            # on first use (a state per row kept 24 MiB at W1's 320,000 rows)
            del d[STATE_KEY]
            d[SESSION_KEY] = s
        elif st is NEW_STATE:
            d[STATE_KEY] = new_state(PERSISTENT, k, s)
        else:
            st.status = PERSISTENT
            st.key = k
            st.session = s
        imap[k] = o


def insert_shapes(mapper: Mapper, generated: list[Any], given: list[Any]
                  ) -> list[tuple[list[Any], bool, tuple[str, ...]]]:
    """The row groups of one INSERT each: (objects, with the generated key,
    columns). A field with a server default left None is not written, so
    that the database fills it in: its rows go apart. (Upserts too.)"""
    out = []
    for objs, with_auto in ((generated, False), (given, True)):
        if not objs:
            continue
        columns = mapper.insert_columns(with_auto)
        if not mapper.server_defaults:
            out.append((objs, with_auto, columns))
            continue
        groups: dict[tuple[str, ...], list[Any]] = {}
        for o in objs:
            d = o.__dict__
            left = tuple(c for n, c in mapper.server_defaults if d.get(n) is None)
            groups.setdefault(left, []).append(o)
        for left, group in groups.items():
            out.append((group, with_auto, tuple(c for c in columns if c not in left)))
    return out


def _read_server_defaults(plan: FlushPlan, mapper: Mapper, objs: list[Any]) -> None:
    """Read back the fields the database filled in with their server
    defaults (one SELECT per chunk of keys), into the new objects."""
    todo = [o for o in objs if any(o.__dict__.get(n) is None for n, _ in mapper.server_defaults)]
    if not todo:
        return
    c = statements(mapper, plan.dialect)
    values = codec(mapper, plan.dialect)
    names = [n for n, _ in mapper.server_defaults]
    columns = tuple(c.pk_names) + tuple(col for _, col in mapper.server_defaults)
    converters = [values.converters[col] for _, col in mapper.server_defaults]
    nkey = len(c.pk_names)
    limit = plan.dialect.features.param_limit
    by_key = {mapper.key_of(o): o for o in todo}
    for chunk in chunks(list(by_key), limit, nkey):
        params = [p for key in chunk for p in values.key_params(key)]
        for row in plan.session.fetch(c.select_by_key_sql(columns, len(chunk)), params):
            o = by_key.get(values.row_key(row))
            if o is None:
                continue
            d = o.__dict__
            for name, conv, value in zip(names, converters, row[nkey:]):
                if d.get(name) is None:
                    d[name] = conv(value) if conv is not None and value is not None else value


def _fill_deferred(plan: FlushPlan, new: list[Any]) -> None:
    groups: dict[tuple[Any, Any], list[Any]] = {}
    for obj in new:
        for ref in plan.deferred.get(id(obj), ()):
            groups.setdefault((mapper_of_obj(obj), ref), []).append(obj)
    for (mapper, ref), objs in groups.items():
        values = codec(mapper, plan.dialect)
        sql = statements(mapper, plan.dialect).set_ref_sql(ref, 1)
        get = values.prop_values[ref.name]
        rows = [get(o) + values.key_params(o._ar_state.key) for o in objs]
        plan.session.queue(sql, rows, many=True)


def update(plan: FlushPlan, dirty: list[Any]) -> None:
    """UPDATE the changed columns of dirty objects, objects with the same
    changes in one statement (or one CASE UPDATE per chunk)."""
    groups: dict[tuple[Any, tuple[str, ...]], list[Any]] = {}
    rekeyed = []
    dialect = plan.dialect
    for obj in dirty:
        mapper = mapper_of_obj(obj)
        c = codec(mapper, dialect)
        names = c.changed_fields(obj._ar_state.dirty)
        if mapper.version is not None:
            names = tuple(n for n in names if n != mapper.version.name)  # ours to set
        if not names:
            continue
        if not c.pk_fields.isdisjoint(names):
            rekeyed.append(obj)
        groups.setdefault((mapper, names), []).append(obj)
    for (mapper, names), objs in groups.items():
        if mapper.version is not None:
            _update_versioned(plan, mapper, names, objs)
            continue
        c = codec(mapper, dialect)
        stmts = statements(mapper, dialect)
        columns = c.update_columns(names)
        sql = stmts.update_sql(columns)
        rows = list(map(c.update_params(names), objs))
        if len(rows) == 1:
            plan.session.queue(sql, rows[0])
        elif (dialect.features.batch_updates and len(c.pk_names) == 1
              and c.pk_names[0] not in columns):  # a CASE must match the old key
            _update_batched(plan, stmts, columns, rows)
        else:
            plan.session.queue(sql, rows, many=True)
    for obj in rekeyed:
        _rekey(plan, obj)


def _update_versioned(plan: FlushPlan, mapper: Mapper, names: tuple[str, ...],
                      objs: list[Any]) -> None:
    """One checked UPDATE per object of a model with a Version field: it
    matches the version the object was loaded with and sets the next one; a
    row that no longer has it was changed or deleted meanwhile."""
    version = mapper.version
    assert version is not None
    c = codec(mapper, plan.dialect)
    columns = c.update_columns(names)
    sql = statements(mapper, plan.dialect).update_checked_sql(columns, version.column.name)
    params_of = c.update_params(names)  # the columns' values, then the key
    width = len(columns)
    vname = version.name
    for obj in objs:
        d = obj.__dict__
        st = obj._ar_state
        loaded = st.dirty.get(vname, d[vname]) if st.dirty else d[vname]
        row = params_of(obj)
        cur = plan.session.execute(sql, row[:width] + (loaded + 1,) + row[width:] + (loaded,))
        if cur.rowcount != 1:
            raise StaleObjectError(
                f"{mapper.name} {st.key!r} was changed or deleted by another transaction since "
                f"it was loaded with {vname}={loaded}; nothing was written: reload it and apply "
                "the change again")
        d[vname] = loaded + 1


def _update_batched(plan: FlushPlan, stmts: Statements, columns: tuple[str, ...],
                    rows: list[tuple[Any, ...]]) -> None:
    """Rows of (column values..., key): one CASE UPDATE per chunk."""
    width = len(columns)
    for chunk in chunks(rows, plan.dialect.features.param_limit, 2 * width + 1):
        params: list[Any] = []
        for k in range(width):
            for row in chunk:
                params.append(row[width])
                params.append(row[k])
        params.extend(row[width] for row in chunk)
        plan.session.queue(stmts.update_case_sql(columns, len(chunk)), params)


def _rekey(plan: FlushPlan, obj: Any) -> None:
    """A primary key changed: apply on_update actions and move the identity."""
    mapper = mapper_of_obj(obj)
    st = obj._ar_state
    old, new = st.key, mapper.key_of(obj)
    apply_key_change(plan.session, mapper, old, new)
    plan.session.identity.discard(mapper, old, obj)
    plan.session.identity.add(mapper, new, obj)
    st.key = new


def insert_links(plan: FlushPlan) -> None:
    """Insert the pivot rows of many-to-many links made through lists,
    after the rows (and keys) of both ends exist."""
    s = plan.session
    for via, links in plan.links.items():
        pm = via.__ar_mapper__
        columns = pm.insert_columns(False)
        a, b = pm.references[0], pm.references[1]
        ca, cb = codec(a.target_mapper, plan.dialect), codec(b.target_mapper, plan.dialect)
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
        stmts = statements(pm, plan.dialect)
        for chunk in chunks(rows, plan.dialect.features.param_limit, len(columns)):
            s.queue(stmts.insert_sql(columns, len(chunk)), [v for r in chunk for v in r])


def remove_pivots(plan: FlushPlan) -> None:
    """DELETE the pivot rows of many-to-many links taken out of lists."""
    s = plan.session
    by_pivot: dict[Any, list[tuple[Any, Any, Any]]] = {}
    for back, obj, item in plan.pivot_removals.values():
        by_pivot.setdefault(back.via, []).append((back, obj, item))
    for via, entries in by_pivot.items():
        pm = via.__ar_mapper__
        first = entries[0][0]
        cols = tuple(c.name for c in first.via_local.columns + first.via_remote.columns)
        rows = []
        for back, obj, item in entries:
            a = flat_key(mapper_of_obj(obj).key_of(obj))
            b = flat_key(mapper_of_obj(item).key_of(item))
            if back.symmetric:  # the link may be stored either way round
                rows += [a + b, b + a]
            elif back.via_local is first.via_local:
                rows.append(a + b)
            else:
                rows.append(b + a)
        stmts = statements(pm, plan.dialect)
        for chunk in chunks(rows, plan.dialect.features.param_limit, len(cols)):
            s.queue(stmts.delete_where_sql(cols, len(chunk)), [v for r in chunk for v in r])
        wanted = {(id(obj), id(item)) if back.via_local is first.via_local else (id(item), id(obj))
                  for back, obj, item in entries}
        wanted |= {(id(item), id(obj)) for back, obj, item in entries if back.symmetric}
        imap = s.identity.for_mapper(pm)
        for key, p in list(imap.items()):
            pd = p.__dict__
            if (id(pd.get(first.via_local.name)), id(pd.get(first.via_remote.name))) in wanted:
                plan.undo.save(p)
                p._ar_state.status = DELETED
                del imap[key]
