"""The generated code that turns rows into objects for one model on one
dialect instance: a hydrator per column set (with its unique-rows fast
path), the refresher that updates an object already in the identity map,
and stub makers for references that were not joined.

Called by :mod:`activerel.loading.strategies` and by the session's loads by
key. Imports :mod:`activerel.sql.values`, :mod:`activerel.instance`,
:mod:`activerel.mapping` and :mod:`activerel._util`: the session is seen
through the :class:`LoadSession` protocol."""
from __future__ import annotations

from typing import Any, Callable, Optional, Protocol, Sequence

from .._util.codegen import compile_function
from ..dialects.base import Dialect
from ..instance.identity import IdentityMap
from ..instance.instrument import loader_class
from ..instance.state import PERSISTENT, SESSION_KEY, STATE_KEY, ObjectState, new_state, set_state, state_source
from ..mapping.mapper import Mapper
from ..mapping.properties import ColumnProp, ReferenceProp, ScalarProp
from ..sql.values import binding, codec


class LoadSession(Protocol):
    """What loading needs of a session: its dialect, its identity map (the
    objects it makes are registered there and name the session as their
    owner), and a way to run a SELECT."""

    dialect: Dialect
    identity: IdentityMap
    active: bool
    dirty: dict[int, Any]

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...


def hydrators(mapper: Mapper, dialect: Dialect) -> "Hydrators":
    """The generated hydration code of ``mapper`` on ``dialect``."""
    b = binding(mapper, dialect)
    h: Optional[Hydrators] = b.hydrators
    if h is None:
        h = b.hydrators = Hydrators(mapper, dialect)
    return h


class Hydrators:
    """Generated hydrators, refreshers and stub makers of one model."""

    def __init__(self, mapper: Mapper, dialect: Dialect) -> None:
        self.mapper = mapper
        self.dialect = dialect
        values = codec(mapper, dialect)
        self.converters = values.converters
        self.pk_names = values.pk_names
        self.row_key = values.row_key
        self.label = f"{mapper.cls.__module__}.{mapper.cls.__qualname__}"
        self._hydrators: dict[tuple[str, ...], Callable[..., list[Any]]] = {}

    def variant(self, columns: tuple[str, ...]) -> str:
        """The dialect and columns of one generated function, for its filename."""
        return f"{self.dialect.name}:{','.join(columns)}"

    def hydrator(self, columns: tuple[str, ...]) -> Callable[..., list[Any]]:
        """``hydrate(rows, session, unique=False)``: the objects of ``rows``
        through the identity map; ``unique``: no key repeats among the rows."""
        h = self._hydrators.get(columns)
        if h is None:
            h = self._hydrators[columns] = self._make_hydrator(columns)
        return h

    def _field_plan(self, columns: tuple[str, ...]) -> list[tuple[ColumnProp, list[int]]]:
        pos = {n: i for i, n in enumerate(columns)}
        plan = []
        for p in list(self.mapper.scalars) + list(self.mapper.references):
            idx = [pos[c.name] for c in p.columns if c.name in pos]
            if len(idx) == len(p.columns) and idx:
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
            if isinstance(p, ScalarProp):
                conv = self.converters[p.column.name]
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
                target = p.target_mapper
                tc = codec(target, self.dialect)
                ns[f"_k_{p.name}"] = tc.row_key
                ns[f"_s_{p.name}"] = hydrators(target, self.dialect).stub_maker((self.mapper.name, p.name))
                ns[f"_tm_{p.name}"] = target
                sub = "(" + ", ".join(cell(i) for i in idx) + ("," if len(idx) == 1 else "") + ")"
                plain = len(idx) == 1 and tc.converters[tc.pk_names[0]] is None
                v = var(idx[0])
                lines.append(f"{indent}{guard}if {v} is None:")
                lines.append(f"{indent}{guard}    {put(p.name)}None")
                lines.append(f"{indent}{guard}else:")
                lines.append(f"{indent}{guard}    _kk = " + (v if plain else f"_k_{p.name}({sub})"))
                lines.append(f"{indent}{guard}    _o = _m_{p.name}.get(_kk)")
                simple = len(target.pk_props) == 1 and isinstance(target.pk_props[0], ScalarProp)
                if simple:
                    # the stub inline: its key field, state and identity-map entry
                    ns[f"_tc_{p.name}"] = target.cls
                    ns[f"_origin_{p.name}"] = (self.mapper.name, p.name)
                    pad = f"{indent}{guard}        "
                    state = state_source(pad, "_st", str(PERSISTENT), "_kk", "session", f"_origin_{p.name}")
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

    def _make_hydrator(self, columns: tuple[str, ...]) -> Callable[[list[tuple[Any, ...]],
                       LoadSession], list[Any]]:
        mapper = self.mapper
        ns: dict[str, Any] = {"_cls": mapper.cls, "_new": object.__new__, "_State": ObjectState,
                              "_mapper": mapper, "_rowkey": self.row_key}
        refs = [p for p, _ in self._field_plan(columns) if isinstance(p, ReferenceProp)]
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
        if all(p.target_mapper is not mapper for p in refs):
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
            ns[f"_tm_{p.name}"] = p.target_mapper
        ns["_refresh"] = self._make_refresher(columns)
        hydrate: Callable[[list[tuple[Any, ...]], LoadSession], list[Any]] = compile_function(
            "\n".join(lines) + "\n", ns, name="hydrate", kind="hydrate", owner=self.label,
            variant=self.variant(columns))
        return hydrate

    def _make_refresher(self, columns: tuple[str, ...]) -> Callable[..., None]:
        """Refresh an object already in the identity map from a row: a stub gets
        filled in, a clean object refreshed, a dirty one keeps its changes."""
        ns: dict[str, Any] = {"_new": object.__new__, "_State": ObjectState}
        refs = [p for p, _ in self._field_plan(columns) if isinstance(p, ReferenceProp)]
        lines = ["def refresh(_obj, row, session, _maps):"]
        lines += [f"    _m_{p.name} = _maps[{p.name!r}]" for p in refs]
        lines += ["    _d = _obj.__dict__",
                  f"    _st = _d.get({STATE_KEY!r})",
                  "    if _st is None:  # loaded and clean, its state never asked for"]
        lines += self._assign_lines(columns, ns, "        ", False)
        lines += ["        return",
                  f"    if _st.status != {PERSISTENT}:",
                  "        return",
                  "    _st.stub_of = None",
                  "    _dirty = _st.dirty",
                  "    if _dirty is None:"]
        lines += self._assign_lines(columns, ns, "        ", False) or ["        pass"]
        lines += ["    else:"]
        lines += self._assign_lines(columns, ns, "        ", True) or ["        pass"]
        refresh: Callable[..., None] = compile_function(
            "\n".join(lines) + "\n", ns, name="refresh", kind="refresh", owner=self.label,
            variant=self.variant(columns))
        return refresh

    def stub_maker(self, origin: tuple[str, str]) -> Callable[[Any, LoadSession], Any]:
        """key, session -> a stub of this model with only its key set, registered
        in the session's identity map; ``origin`` names the reference it came through."""
        mapper = self.mapper
        dialect = self.dialect
        cls = mapper.cls
        parts = []
        offset = 0
        for p in mapper.pk_props:
            width = len(p.columns)
            parts.append((p, offset, width))
            offset += width
        single = offset == 1

        def stub(key: Any, session: LoadSession) -> Any:
            obj: Any = object.__new__(cls)
            d = obj.__dict__
            values = (key,) if single else key
            for p, off, width in parts:
                v = values[off] if width == 1 else tuple(values[off:off + width])
                if isinstance(p, ScalarProp):
                    d[p.name] = v
                else:
                    tm = p.target_mapper
                    t = session.identity.get(tm, v)
                    d[p.name] = t if t is not None else hydrators(tm, dialect).stub_maker(origin)(v, session)
            set_state(obj, new_state(PERSISTENT, key, session, origin))
            session.identity.add(mapper, key, obj)
            return obj

        return stub
