"""The models one database serves, as a graph: every served mapper parents
first, the references pointing at each one, and the order deletes take.

Owned by :class:`~activerel.database.Database`; read by the unit of work
(cascades, key changes) and by schema generation. Imports the rest of
:mod:`activerel.mapping`, :mod:`activerel._util.graph` and
:mod:`activerel.errors`."""
from __future__ import annotations

import threading
from typing import Any, Callable, Iterable, Optional

from .._util import graph
from ..errors import ActiverelError
from .mapper import EVENTS, Mapper, mapper_of
from .properties import ReferenceProp
from .registry import registry


def table_order(mappers: list[Mapper]) -> list[Mapper]:
    """Mappers ordered parents first (a referenced table before the tables
    referencing it); within a cycle, declaration order."""
    order = graph.sort(mappers, lambda m: [r.target_mapper for r in m.references],
                       strict=False)
    assert order is not None  # not strict: a cycle's closing edge is dropped
    return order


class Catalog:
    """The served models of one database, resolved on first use."""

    def __init__(self, models: Optional[list[type]], owner: str) -> None:
        #: the models named by Database(models=...), else None: every registered one
        self._models = models
        #: how the owner is named in errors (the Database's repr)
        self._owner = owner
        self._mappers: Optional[list[Mapper]] = None
        self._served: frozenset[Mapper] = frozenset()
        self._incoming: dict[Mapper, list[ReferenceProp]] = {}
        self._delete_rank: dict[Mapper, int] = {}
        self._lock = threading.Lock()
        #: (mapper, or None for every model; event) -> listeners, in order
        self._listeners: dict[tuple[Optional[Mapper], str], list[Callable[[Any], None]]] = {}
        #: (mapper, event) -> every function to call: the model's method first
        self._handlers: dict[tuple[Mapper, str], tuple[Callable[[Any], None], ...]] = {}
        self.has_json = False
        self._hooked = False

    @property
    def mappers(self) -> list[Mapper]:
        """The resolved mappers of every served model, parents first."""
        if self._mappers is None:
            self._resolve()
            assert self._mappers is not None
        return self._mappers

    def _resolve(self) -> None:
        with self._lock:
            if self._mappers is None:
                self._index()

    def _index(self) -> None:
        models = self._models if self._models is not None else registry.models()
        found: list[Mapper] = []
        todo = [mapper_of(m) for m in models]
        while todo:
            m = todo.pop(0)
            if m in found:
                continue
            found.append(m)
            todo.extend(r.target_mapper for r in m.references)
            for b in m.backrefs:
                todo.append(b.target_mapper)
                if b.via is not None:
                    todo.append(b.via_mapper)
        tables: dict[str, Mapper] = {}
        for m in found:
            if m.table in tables and tables[m.table] is not m:
                raise ActiverelError(
                    f"models {tables[m.table].name} and {m.name} both map to the table "
                    f"{m.table!r}; pass models=[...] to Database to choose")
            tables[m.table] = m
        ordered = table_order(found)
        incoming: dict[Mapper, list[ReferenceProp]] = {m: [] for m in ordered}
        for m in ordered:
            for ref in m.references:
                incoming.setdefault(ref.target_mapper, []).append(ref)
        self._incoming = incoming
        self._delete_rank = {m: i for i, m in enumerate(reversed(ordered))}
        self._served = frozenset(ordered)
        #: whether a served model has JSON fields, or an event method: a flush
        #: of models that have neither skips those steps at once
        self.has_json = any(m.json_fields for m in ordered)
        self._hooked = any(m.hooks for m in ordered)
        self._mappers = ordered

    def serving(self, cls: Any) -> Mapper:
        """The mapper of ``cls``, which must be served."""
        mapper = mapper_of(cls)
        if self._mappers is None:
            self._resolve()
        if mapper not in self._served:
            raise ActiverelError(
                f"{mapper.name} is not served by {self._owner}: add it to Database(models=[...])")
        return mapper

    def incoming(self, mapper: Mapper) -> list[ReferenceProp]:
        """References, among the served models, that point at ``mapper``."""
        if self._mappers is None:
            self._resolve()
        refs = self._incoming.get(mapper)
        if refs is None:
            refs = [r for m in self.mappers for r in m.references if r.target_mapper is mapper]
            self._incoming[mapper] = refs
        return refs

    def listen(self, event: str, fn: Callable[[Any], None], model: Optional[type] = None) -> None:
        """Call ``fn(obj)`` at ``event`` for objects of ``model`` (of every
        model when None)."""
        if event not in EVENTS:
            raise ActiverelError(f"{event!r} is not an event; the events are {', '.join(EVENTS)}")
        mapper = None if model is None else mapper_of(model)
        self._listeners.setdefault((mapper, event), []).append(fn)
        self._handlers.clear()

    @property
    def has_handlers(self) -> bool:
        """Whether any event handler exists for the served models."""
        return self._hooked or bool(self._listeners)

    def handlers(self, mapper: Mapper, event: str) -> tuple[Callable[[Any], None], ...]:
        """What runs at ``event`` for ``mapper``'s objects: the model's own
        method, then the listeners for it, then those for every model."""
        found = self._handlers.get((mapper, event))
        if found is None:
            own = mapper.hooks.get(event)
            found = ((own,) if own is not None else ()) + tuple(
                self._listeners.get((mapper, event), ())) + tuple(self._listeners.get((None, event), ()))
            self._handlers[(mapper, event)] = found
        return found

    def delete_order(self, mappers: Iterable[Mapper]) -> list[Mapper]:
        """``mappers`` ordered children first, for deletes."""
        rank = self._delete_rank
        return sorted(mappers, key=lambda m: rank.get(m, -1))
