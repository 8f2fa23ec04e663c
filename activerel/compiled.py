"""Per model and dialect, compiled once and cached on the mapper: value
adapters and converters, the generated row hydrator and insert-row getter,
and the rendered SQL of every statement shape the unit of work sends (PyPika
copies a query on every chained call, so nothing is rebuilt per row or per
flush)."""
from __future__ import annotations

from operator import itemgetter
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

from pypika import Case, Parameter, Table, Tuple

from .model import loader_class
from .state import PERSISTENT, SESSION_KEY, STATE_KEY, ObjectState, new_state, set_state, state_source

if TYPE_CHECKING:
    from .dialects.base import Dialect
    from .mapper import Mapper, Prop
    from .session import Session


def compiled(mapper: "Mapper", dialect: "Dialect") -> "CompiledMapper":
    c = mapper.compiled.get(dialect.name)
    if c is None:
        c = mapper.compiled[dialect.name] = CompiledMapper(mapper, dialect)
    return c  # type: ignore[no-any-return]


def _run(src: str, name: str, ns: dict[str, Any], label: str) -> Any:
    exec(compile(src, label, "exec"), ns)  # noqa: S102 - generated from the mapping
    return ns[name]


class CompiledMapper:
    """Generated code and cached SQL for one model on one dialect."""

    def __init__(self, mapper: "Mapper", dialect: "Dialect") -> None:
        self.mapper = mapper
        self.dialect = dialect
        self.table = Table(mapper.table)
        self.ph = dialect.placeholder
        self.adapters = {c.name: dialect.adapter(c.ctype) for c in mapper.columns}
        self.converters = {c.name: dialect.converter(c.ctype) for c in mapper.columns}
        self.col_index = {c.name: i for i, c in enumerate(mapper.columns)}
        self._hydrators: dict[tuple[str, ...], Callable[..., list[Any]]] = {}
        self._refreshers: dict[tuple[str, ...], Callable[..., None]] = {}
        self._row_getters: dict[tuple[str, ...], Callable[[Any], tuple]] = {}
        self.sql_cache: dict[Any, str] = {}
        self._all_columns: Optional[tuple[str, ...]] = None
        self.pk_names = [c.name for c in mapper.pk_columns]
        self.prop_values = {p.name: self._make_prop_values(p) for p in list(mapper.scalars) + list(mapper.references)}
        #: field -> its place in an UPDATE's SET list (scalars, then references)
        self.field_order = {name: i for i, name in enumerate(self.prop_values)}
        self.pk_fields = frozenset(p.name for p in mapper.pk_props)
        self._update_params: dict[tuple[str, ...], Callable[[Any], tuple]] = {}
        self.key_params = self._make_key_params()
        self.row_key = self._make_row_key()

    # -- values ------------------------------------------------------------
    def _make_prop_values(self, prop: "Prop") -> Callable[[Any], tuple]:
        """obj -> the database values of the prop's columns."""
        if prop.kind == "scalar":
            name, adapt = prop.name, self.adapters[prop.column.name]
            if adapt is None:
                return lambda obj: (obj.__dict__[name],)

            def scalar(obj: Any) -> tuple:
                v = obj.__dict__[name]
                return (None if v is None else adapt(v),)
            return scalar
        width = len(prop.columns)
        adapters = [self.adapters[c.name] for c in prop.columns]
        name = prop.name

        def ref(obj: Any) -> tuple:
            t = obj.__dict__.get(name)
            if t is None:
                return (None,) * width
            k = type(t).__ar_mapper__.key_of(t)
            parts = (k,) if width == 1 else k
            return tuple(v if a is None or v is None else a(v) for a, v in zip(adapters, parts))
        return ref

    def _make_key_params(self) -> Callable[[Any], tuple]:
        """identity key -> database values of the primary-key columns."""
        adapters = [self.adapters[n] for n in self.pk_names]
        if len(adapters) == 1:
            a = adapters[0]
            if a is None:
                return lambda key: (key,)
            return lambda key: (a(key),)
        return lambda key: tuple(v if a is None else a(v) for a, v in zip(adapters, key))

    def row_keys(self, rows: Sequence[Sequence[Any]]) -> list[Any]:
        """The identity keys of rows that start with the primary-key columns."""
        if len(self.pk_names) == 1 and self.converters[self.pk_names[0]] is None:
            return list(map(itemgetter(0), rows))
        return list(map(self.row_key, rows))

    def _make_row_key(self) -> Callable[[Sequence[Any]], Any]:
        """A row that starts with the primary-key columns -> identity key."""
        convs = [self.converters[n] for n in self.pk_names]
        if len(convs) == 1:
            c = convs[0]
            if c is None:
                return lambda row: row[0]
            return lambda row: c(row[0])
        n = len(convs)
        return lambda row: tuple(v if c is None else c(v) for c, v in zip(convs, row[:n]))

    # -- hydration ---------------------------------------------------------
    def select_columns(self, fields: Optional[Sequence[str]] = None) -> tuple[str, ...]:
        """The column names a SELECT loads: the key first, then the fields'
        columns (every field when ``fields`` is None)."""
        mapper = self.mapper
        if fields is None and self._all_columns is not None:
            return self._all_columns
        cols = list(self.pk_names)
        if fields is None:
            props = list(mapper.scalars) + list(mapper.references)
        else:
            props = [mapper.props[f] for f in fields]
        for p in props:
            for c in p.columns:  # type: ignore[attr-defined]
                if c.name not in cols:
                    cols.append(c.name)
        if fields is None:
            self._all_columns = tuple(cols)
        return tuple(cols)

    def hydrator(self, columns: tuple[str, ...]) -> Callable[..., list[Any]]:
        """``hydrate(rows, session, unique=False)``: the objects of ``rows``
        through the identity map; ``unique``: no key repeats among the rows."""
        h = self._hydrators.get(columns)
        if h is None:
            h = self._hydrators[columns] = self._make_hydrator(columns)
        return h

    def _field_plan(self, columns: tuple[str, ...]) -> list[tuple["Prop", list[int]]]:
        pos = {n: i for i, n in enumerate(columns)}
        plan = []
        for p in list(self.mapper.scalars) + list(self.mapper.references):
            idx = [pos[c.name] for c in p.columns if c.name in pos]  # type: ignore[attr-defined]
            if len(idx) == len(p.columns) and idx:  # type: ignore[attr-defined]
                plan.append((p, idx))
        return plan

    def _assign_lines(self, columns: tuple[str, ...], ns: dict[str, Any], indent: str,
                      skip_dirty: bool, key_index: Optional[int] = None,
                      to_loader: bool = False, cells: bool = False) -> list[str]:
        """Lines storing a row's values into ``_d``, or with ``to_loader`` as
        attributes of the loader instance ``_obj``; ``key_index``: the column
        already read into ``_key``; ``cells``: the row is unpacked into
        ``_c0``, ``_c1``, ... (cheaper than indexing it once per column)."""
        lines = []

        def put(name: str) -> str:
            return f"_obj.{name} = " if to_loader else f"_d[{name!r}] = "

        def cell(i: int) -> str:
            return f"_c{i}" if cells else f"row[{i}]"

        def var(i: int) -> str:
            """A name holding column ``i``: its cell, else ``_v`` read from the row."""
            if cells:
                return f"_c{i}"
            lines.append(f"{indent}{guard}_v = row[{i}]")
            return "_v"

        for p, idx in self._field_plan(columns):
            guard = ""
            if skip_dirty:
                lines.append(f"{indent}if {p.name!r} not in _dirty:")
                guard = "    "
            if p.kind == "scalar":
                conv = self.converters[p.column.name]  # type: ignore[attr-defined]
                if conv is None:
                    src = "_key" if key_index == idx[0] else cell(idx[0])
                    lines.append(f"{indent}{guard}{put(p.name)}{src}")
                elif conv is bool:
                    # inline: a ternary costs a fraction of a call per row
                    v = var(idx[0])
                    lines.append(f"{indent}{guard}{put(p.name)}None if {v} is None else (True if {v} else False)")
                else:
                    ns[f"_c_{p.name}"] = conv
                    v = var(idx[0])
                    lines.append(f"{indent}{guard}{put(p.name)}None if {v} is None else _c_{p.name}({v})")
            else:
                target = p.target_mapper  # type: ignore[attr-defined]
                tc = compiled(target, self.dialect)
                ns[f"_k_{p.name}"] = tc.row_key
                ns[f"_s_{p.name}"] = tc.stub_maker((self.mapper.name, p.name))
                ns[f"_tm_{p.name}"] = target
                sub = "(" + ", ".join(cell(i) for i in idx) + ("," if len(idx) == 1 else "") + ")"
                plain = len(idx) == 1 and tc.converters[tc.pk_names[0]] is None
                v = var(idx[0])
                lines.append(f"{indent}{guard}if {v} is None:")
                lines.append(f"{indent}{guard}    {put(p.name)}None")
                lines.append(f"{indent}{guard}else:")
                lines.append(f"{indent}{guard}    _kk = " + (v if plain else f"_k_{p.name}({sub})"))
                lines.append(f"{indent}{guard}    _o = _m_{p.name}.get(_kk)")
                simple = len(target.pk_props) == 1 and target.pk_props[0].kind == "scalar"
                if simple:
                    # the stub inline: its key field, state and identity-map entry
                    ns[f"_tc_{p.name}"] = target.cls
                    ns[f"_origin_{p.name}"] = (self.mapper.name, p.name)
                    pad = f"{indent}{guard}        "
                    state = state_source(pad, "_st", "1", "_kk", "session", f"_origin_{p.name}")
                    stub_loader = loader_class(target.cls)
                    if stub_loader is not None:
                        # through the target's loader class, as rows are (loader_class)
                        ns[f"_tl_{p.name}"] = stub_loader
                        made = [f"{pad}_o = _tl_{p.name}()",
                                f"{pad}_o.{target.pk_props[0].name} = _kk",
                                *state,
                                f"{pad}_o.{STATE_KEY} = _st",
                                f"{pad}_o.__class__ = _tc_{p.name}"]
                    else:
                        made = [f"{pad}_o = _new(_tc_{p.name})",
                                f"{pad}_od = _o.__dict__",
                                f"{pad}_od[{target.pk_props[0].name!r}] = _kk",
                                *state,
                                f"{pad}_od[{STATE_KEY!r}] = _st"]
                    lines += [f"{indent}{guard}    if _o is None:",
                              *made,
                              f"{pad}_m_{p.name}[_kk] = _o",
                              f"{indent}{guard}    {put(p.name)}_o"]
                else:
                    lines.append(f"{indent}{guard}    {put(p.name)}_o if _o is not None else _s_{p.name}(_kk, session)")
        return lines

    def _make_hydrator(self, columns: tuple[str, ...]) -> Callable[[list[tuple], "Session"], list[Any]]:
        mapper = self.mapper
        ns: dict[str, Any] = {"_cls": mapper.cls, "_new": object.__new__, "_State": ObjectState,
                              "_mapper": mapper, "_rowkey": self.row_key}
        refs = [p for p, _ in self._field_plan(columns) if p.kind == "reference"]
        plain_key = len(self.pk_names) == 1 and self.converters[self.pk_names[0]] is None
        key_src = "row[0]" if plain_key else "_rowkey(row)"
        width = len(columns)
        loader = loader_class(mapper.cls)
        if loader is not None:
            ns["_loader"] = loader

        def create(cells: bool) -> list[str]:
            key = 0 if plain_key else None
            if loader is not None:
                # plain stores into a loader instance, then its class becomes
                # the model's (model.loader_class says why)
                # (calling the class skips object.__new__'s argument checks;
                # Record has no __init__ to run)
                lines = ["_obj = _loader()"]
                lines += self._assign_lines(columns, ns, "", False, key, True, cells)
                lines += [f"_obj.{SESSION_KEY} = session", "_obj.__class__ = _cls"]
            else:
                lines = ["_obj = _new(_cls)", "_d = _obj.__dict__"]
                lines += self._assign_lines(columns, ns, "", False, key, False, cells)
                lines += [f"_d[{SESSION_KEY!r}] = session"]
            # no state: only the session, the state is made if something asks (state.py)
            return lines + ["_map[_key] = _obj"]

        lines = ["def hydrate(rows, session, unique=False):",
                 "    _map = session.identity.for_mapper(_mapper)"]
        lines += [f"    _m_{p.name} = session.identity.for_mapper(_tm_{p.name})" for p in refs]
        if all(p.target_mapper is not mapper for p in refs):  # type: ignore[attr-defined]
            # rows with distinct keys, none of them in the session yet: no lookups
            # (rows of exactly the hydrated columns: unpacked, not indexed)
            unpack = ", ".join(f"_c{i}" for i in range(width)) + ("," if width == 1 else "")
            lines += [f"    if unique and not _map and (not rows or len(rows[0]) == {width}):"]
            if plain_key:
                lines += [f"        for {unpack} in rows:",
                          "            _key = _c0"]
            else:
                lines += ["        for row in rows:",
                          f"            {unpack} = row",
                          f"            _key = {key_src}"]
            # the map was empty and the keys are distinct: its values are the
            # objects in row order, no list to append to row by row
            lines += ["            " + line for line in create(True)]
            lines += ["        return list(_map.values())"]
        # the general path: lookups, a list to append to, refreshes
        lines += ["    _get = _map.get",
                  "    _out = []",
                  "    _append = _out.append",
                  "    _maps = {" + ", ".join(f"{p.name!r}: _m_{p.name}" for p in refs) + "}",
                  "    _fresh = set()",
                  "    for row in rows:",
                  f"        _key = {key_src}",
                  "        _obj = _get(_key)",
                  "        if _obj is None:"]
        lines += ["            " + line for line in create(False)]
        lines += ["        elif id(_obj) not in _fresh:",
                  "            # refreshed once per result, however many rows repeat it",
                  "            _fresh.add(id(_obj))",
                  "            _refresh(_obj, row, session, _maps)",
                  "        _append(_obj)",
                  "    return _out"]
        for p in refs:
            ns[f"_tm_{p.name}"] = p.target_mapper  # type: ignore[attr-defined]
        ns["_refresh"] = self._make_refresher(columns)
        return _run("\n".join(lines) + "\n", "hydrate", ns, f"<activerel hydrate {mapper.name}>")  # type: ignore[no-any-return]

    def _make_refresher(self, columns: tuple[str, ...]) -> Callable[..., None]:
        """Refresh an object already in the identity map from a row: a stub gets
        filled in, a clean object refreshed, a dirty one keeps its changes."""
        ns: dict[str, Any] = {"_new": object.__new__, "_State": ObjectState}
        refs = [p for p, _ in self._field_plan(columns) if p.kind == "reference"]
        lines = ["def refresh(_obj, row, session, _maps):"]
        lines += [f"    _m_{p.name} = _maps[{p.name!r}]" for p in refs]
        lines += ["    _d = _obj.__dict__",
                  f"    _st = _d.get({STATE_KEY!r})",
                  "    if _st is None:  # loaded and clean, its state never asked for"]
        lines += self._assign_lines(columns, ns, "        ", False)
        lines += ["        return",
                  "    if _st.status != 1:",
                  "        return",
                  "    _st.stub_of = None",
                  "    _dirty = _st.dirty",
                  "    if _dirty is None:"]
        lines += self._assign_lines(columns, ns, "        ", False) or ["        pass"]
        lines += ["    else:"]
        lines += self._assign_lines(columns, ns, "        ", True) or ["        pass"]
        return _run("\n".join(lines) + "\n", "refresh", ns, f"<activerel refresh {self.mapper.name}>")  # type: ignore[no-any-return]

    def stub_maker(self, origin: tuple[str, str]) -> Callable[[Any, "Session"], Any]:
        """key, session -> a stub of this model with only its key set, registered
        in the session's identity map; ``origin`` names the reference it came through."""
        mapper = self.mapper
        cls = mapper.cls
        parts = []
        offset = 0
        for p in mapper.pk_props:
            width = len(p.columns)
            parts.append((p, offset, width))
            offset += width
        single = offset == 1

        def stub(key: Any, session: "Session") -> Any:
            obj = object.__new__(cls)
            d = obj.__dict__
            values = (key,) if single else key
            for p, off, width in parts:
                v = values[off] if width == 1 else tuple(values[off:off + width])
                if p.kind == "scalar":
                    d[p.name] = v
                else:
                    tm = p.target_mapper  # type: ignore[attr-defined]
                    t = session.identity.get(tm, v)
                    d[p.name] = t if t is not None else compiled(tm, self.dialect).stub_maker(origin)(v, session)
            set_state(obj, new_state(PERSISTENT, key, session, origin))
            session.identity.add(mapper, key, obj)
            return obj

        return stub

    # -- inserts -----------------------------------------------------------
    def insert_columns(self, with_autoincrement: bool) -> tuple[str, ...]:
        auto = self.mapper.autoincrement
        return tuple(c.name for c in self.mapper.columns
                     if with_autoincrement or auto is None or c.prop is not auto)

    def row_getter(self, columns: tuple[str, ...]) -> Callable[[Any], tuple]:
        g = self._row_getters.get(columns)
        if g is None:
            g = self._row_getters[columns] = self._make_row_getter(columns)
        return g

    def _make_row_getter(self, columns: tuple[str, ...]) -> Callable[[Any], tuple]:
        ns: dict[str, Any] = {}
        pre, items = [], []
        want = set(columns)
        for p in list(self.mapper.scalars) + list(self.mapper.references):
            cols = [c for c in p.columns if c.name in want]  # type: ignore[attr-defined]
            if not cols:
                continue
            if p.kind == "scalar":
                a = self.adapters[p.column.name]  # type: ignore[attr-defined]
                if a is None:
                    items.append((p.column.name, f"_d[{p.name!r}]"))  # type: ignore[attr-defined]
                else:
                    ns[f"_a_{p.name}"] = a
                    if p.nullable:  # type: ignore[attr-defined]
                        items.append((p.column.name, f"(None if _d[{p.name!r}] is None else _a_{p.name}(_d[{p.name!r}]))"))  # type: ignore[attr-defined]
                    else:
                        items.append((p.column.name, f"_a_{p.name}(_d[{p.name!r}])"))
            else:
                target = p.target_mapper  # type: ignore[attr-defined]
                tpk = target.pk_props
                if (len(tpk) == 1 and tpk[0].kind == "scalar"
                        and compiled(target, self.dialect).adapters[tpk[0].column.name] is None):
                    # the common case, inlined: the target's own key field
                    col = p.columns[0]  # type: ignore[attr-defined]
                    items.append((col.name, f"(None if (_t := _d.get({p.name!r})) is None "
                                            f"else _t.__dict__[{tpk[0].name!r}])"))
                    continue
                ns[f"_pv_{p.name}"] = self.prop_values[p.name]
                pre.append(f"    _r_{p.name} = _pv_{p.name}(_obj)")
                for i, c in enumerate(p.columns):  # type: ignore[attr-defined]
                    items.append((c.name, f"_r_{p.name}[{i}]"))
        order = {n: i for i, n in enumerate(columns)}
        items.sort(key=lambda it: order[it[0]])
        src = ("def row(_obj):\n    _d = _obj.__dict__\n" + "\n".join(pre) + ("\n" if pre else "")
               + "    return (" + ", ".join(e for _, e in items) + ("," if len(items) == 1 else "") + ")\n")
        return _run(src, "row", ns, f"<activerel row {self.mapper.name}>")  # type: ignore[no-any-return]

    def insert_sql(self, columns: tuple[str, ...], nrows: int) -> str:
        key = ("insert", columns, nrows)
        sql = self.sql_cache.get(key)
        if sql is None:
            one = self.sql_cache.get(("insert1", columns))
            if one is None and not columns:
                # nothing but a generated key: the dialect knows how to ask for defaults
                one = self.sql_cache[("insert1", columns)] = self.dialect.insert_defaults_sql(
                    self.table, self.pk_names[0])
            if one is None:
                q = self.dialect.query_class.into(self.table).columns(*columns).insert(
                    *[Parameter(self.ph)] * len(columns))
                one = self.sql_cache[("insert1", columns)] = q.get_sql()
            head, _, group = one.rpartition(" VALUES ")
            sql = head + " VALUES " + ",".join([group] * nrows)
            if nrows <= 2 or nrows % 50 == 0 or len(self.sql_cache) < 64:
                self.sql_cache[key] = sql
        return sql

    # -- keyed statements ----------------------------------------------------
    def _cached(self, key: Any, build: Callable[[], str], always: bool = False) -> str:
        """The SQL cached under ``key``, built once; shapes that vary with a
        row count are kept only while the cache is small."""
        sql = self.sql_cache.get(key)
        if sql is None:
            sql = build()
            if always or len(self.sql_cache) < 256:
                self.sql_cache[key] = sql
        return sql

    def _in(self, names: Sequence[str], count: int) -> Any:
        """``names IN (count placeholder groups)``, or ``=`` for one."""
        t = self.table
        ph = Parameter(self.ph)
        if len(names) == 1:
            f = t.field(names[0])
            return f == ph if count == 1 else f.isin([ph] * count)
        fields = Tuple(*[t.field(n) for n in names])
        group = Tuple(*[ph] * len(names))
        return fields == group if count == 1 else fields.isin([group] * count)

    def key_criterion(self, count: int) -> Any:
        """WHERE <key> IN (count placeholders), or = for one key."""
        return self._in(self.pk_names, count)

    def select_by_key_sql(self, columns: tuple[str, ...], count: int) -> str:
        t = self.table
        return self._cached(("select_key", columns, count), lambda: (
            self.dialect.query_class.from_(t).select(*[t.field(c) for c in columns])
            .where(self.key_criterion(count)).get_sql()), always=count == 1)

    def changed_fields(self, changed: dict[str, Any]) -> tuple[str, ...]:
        """The fields an UPDATE writes for an object's recorded changes
        (``state.dirty``), in the mapping's order, so objects with the same
        changes share one statement."""
        order = self.field_order
        if len(changed) == 1:
            for name in changed:
                return (name,) if name in order else ()
        names = [n for n in changed if n in order]
        names.sort(key=order.__getitem__)
        return tuple(names)

    def update_columns(self, names: tuple[str, ...]) -> tuple[str, ...]:
        props = self.mapper.props
        return tuple(col.name for n in names for col in props[n].columns)  # type: ignore[attr-defined]

    def update_params(self, names: tuple[str, ...]) -> Callable[[Any], tuple]:
        """obj -> the parameters of ``update_sql(update_columns(names))``: the
        fields' column values, then the object's key as stored."""
        make = self._update_params.get(names)
        if make is None:
            getters = [self.prop_values[n] for n in names]
            key_params = self.key_params
            if len(getters) == 1:
                get = getters[0]

                def make(obj: Any) -> tuple:
                    return get(obj) + key_params(obj._ar_state.key)
            else:
                def make(obj: Any) -> tuple:
                    row: tuple = ()
                    for get in getters:
                        row += get(obj)
                    return row + key_params(obj._ar_state.key)
            self._update_params[names] = make
        return make

    def update_sql(self, columns: tuple[str, ...]) -> str:
        def build() -> str:
            q = self.dialect.query_class.update(self.table)
            for c in columns:
                q = q.set(self.table.field(c), Parameter(self.ph))
            return q.where(self.key_criterion(1)).get_sql()
        return self._cached(("update", columns), build, always=True)

    def update_case_sql(self, columns: tuple[str, ...], count: int) -> str:
        """One UPDATE of ``count`` rows of a single-column key: each column set
        by ``CASE WHEN key = ? THEN ? ...``, then ``WHERE key IN (...)``.
        Parameters: (key, value) pairs per column, then the keys."""
        def build() -> str:
            t = self.table
            ph = Parameter(self.ph)
            key = t.field(self.pk_names[0])
            q = self.dialect.query_class.update(t)
            for c in columns:
                q = q.set(t.field(c), Case().when(key == ph, ph))
            one = q.where(key.isin([ph] * count)).get_sql()
            # every column's CASE renders alike: repeat its one WHEN arm
            start = one.index("CASE ")
            case = one[start:one.index(" END", start) + len(" END")]
            arm = case[len("CASE "):-len("END")]
            return one.replace(case, "CASE " + arm * count + "END")
        return self._cached(("update_case", columns, count), build)

    def delete_sql(self, count: int) -> str:
        return self._cached(("delete", count), lambda: (
            self.dialect.query_class.from_(self.table).delete()
            .where(self.key_criterion(count)).get_sql()))

    def fk_select_sql(self, ref: Any, count: int) -> str:
        """SELECT <key> FROM <this table> WHERE <ref's FK> IN (count keys)."""
        t = self.table
        return self._cached(("fk_select", ref.name, count), lambda: (
            self.dialect.query_class.from_(t).select(*[t.field(n) for n in self.pk_names])
            .where(self._in([c.name for c in ref.columns], count)).get_sql()))

    def set_ref_sql(self, ref: Any, count: int) -> str:
        """UPDATE <this table> SET <ref's FK> = values WHERE <key> IN (count keys)."""
        def build() -> str:
            q = self.dialect.query_class.update(self.table)
            for c in ref.columns:
                q = q.set(self.table.field(c.name), Parameter(self.ph))
            return q.where(self.key_criterion(count)).get_sql()
        return self._cached(("set_ref", ref.name, count), build)


def flat_key(key: Any) -> tuple:
    return key if isinstance(key, tuple) else (key,)


__all__ = ["CompiledMapper", "compiled", "flat_key"]
