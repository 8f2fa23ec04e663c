"""What one flush writes, gathered before anything is sent: the objects the
walk visited (and their states), the relation lists and one-to-one
baselines to rebase afterwards, many-to-many links to insert and pivot rows
to delete, and references deferred to an UPDATE to break an insert cycle.
Also :class:`FlushSession`, what the unit of work needs of a session.

Made by :mod:`activerel.unitofwork.flush`; filled by the walk
(:mod:`~activerel.unitofwork.dependency`) and read by the writing phases.
Imports :mod:`activerel.instance`, :mod:`activerel.mapping` and
:mod:`activerel.dialects` only."""
from __future__ import annotations

from typing import Any, Optional, Protocol, Sequence

from ..dialects.base import Dialect
from ..instance.collections import RelationList
from ..instance.identity import IdentityMap
from ..instance.state import ObjectState
from ..instance.undo import UndoLog
from ..mapping.catalog import Catalog
from ..mapping.mapper import Mapper
from ..mapping.properties import BackRefProp, ReferenceProp


class FlushSession(Protocol):
    """What the unit of work needs of a session: its pending work, its
    identity map and undo log, the served models, and a connection."""

    dialect: Dialect
    identity: IdentityMap
    undo: UndoLog
    catalog: Catalog
    active: bool
    dirty: dict[int, Any]
    to_persist: dict[int, Any]
    to_delete: dict[int, Any]

    def attach(self, obj: Any) -> None: ...

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any: ...

    def queue(self, sql: str, params: Any, many: bool = False) -> None: ...

    def drain(self) -> None: ...

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def insert_generated(self, sql: str, params: Sequence[Any], count: int,
                         pk_column: str) -> list[Any]: ...

    def insert_each(self, sql: str, rows: Sequence[Sequence[Any]], pk_column: str) -> list[Any]: ...

    def enforces(self, ref: ReferenceProp) -> bool: ...


def mapper_of_obj(obj: Any) -> Mapper:
    """The mapper of a model instance (resolved: it was constructed)."""
    mapper: Mapper = type(obj).__ar_mapper__
    return mapper


class FlushPlan:
    """The state of one flush of one session."""

    def __init__(self, session: FlushSession) -> None:
        self.session = session
        self.dialect = session.dialect
        self.undo = session.undo
        self.visited: list[Any] = []
        #: the visited objects' states, None for a loaded object without one yet
        self.visited_states: list[Optional[ObjectState]] = []
        self.seen: set[int] = set()
        #: loaded relation lists the walk went through, rebased after the flush
        self.lists: list[RelationList] = []
        #: (object, one-to-one back reference) whose baseline is set after the flush
        self.ones: list[tuple[Any, str]] = []
        #: pair key -> (back reference, obj, item): pivot rows to delete
        self.pivot_removals: dict[tuple[Any, ...], tuple[BackRefProp, Any, Any]] = {}
        #: pair keys of the links made so far, where two lists can make one
        self.pivot_pairs: set[tuple[Any, ...]] = set()
        #: id(inverse list) -> (the list, ids of objects to take out of it
        #: when the walk ends)
        self.unlinked: dict[int, tuple[RelationList, set[int]]] = {}
        #: id(list) -> ids of the objects an inverse list holds, built on the
        #: walk's first look at it and kept up to date: membership in O(1)
        self.list_members: dict[int, set[int]] = {}
        #: pivot model -> (local ref, obj, item) links written as plain rows
        self.links: dict[Any, list[tuple[ReferenceProp, Any, Any]]] = {}
        #: id(new object) -> references inserted as NULL and set by a later UPDATE
        self.deferred: dict[int, list[ReferenceProp]] = {}
