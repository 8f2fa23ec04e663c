"""Sessions: one unit of work, one transaction, one identity map.

``with db.session():`` opens one; active-record calls outside any session
run in a session of their own (:func:`use_session`), of the default
database, which :meth:`Database.bind` registers here. A session takes a
connection from its database's pool at its first statement, holds it until
it ends, and begins each transaction lazily.

Called by the query, the model and the database facade. Imports
:mod:`activerel.unitofwork`, :mod:`activerel.loading`, :mod:`activerel.engine`,
:mod:`activerel.instance` and :mod:`activerel.mapping`."""
from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Callable, Optional, Protocol, Sequence, TypeVar

from ._util.gcpause import gc_paused
from .dialects.base import Dialect
from .connection import Connection
from .engine import Engine
from .errors import ActiverelError, NotFound
from .instance.collections import RelationList
from .instance.identity import IdentityMap
from .instance.state import DELETED, NEW, PERSISTENT, changed_in_place, state_if_made
from .instance.undo import UndoLog
from .loading.raw import raw_objects
from .loading.strategies import hydrate, load_key
from .mapping.catalog import Catalog
from .mapping.mapper import Mapper, normalize_key
from .mapping.properties import ReferenceProp
from .unitofwork.flush import flush as flush_session
from .unitofwork.upsert import Upsert

T = TypeVar("T")


class SessionFactory(Protocol):
    """What a session belongs to (a :class:`~activerel.database.Database`):
    its engine and served models, and new sessions of its own."""

    dialect: Dialect
    engine: Engine
    catalog: Catalog

    def session(self) -> "Session": ...


_current: ContextVar[Optional["Session"]] = ContextVar("activerel_session", default=None)
_default_factory: Optional[Callable[[], SessionFactory]] = None


def current_session() -> Optional["Session"]:
    """The innermost active session of this context, if any."""
    s = _current.get()
    return s if s is not None and s.active else None


def set_default_factory(default: Optional[Callable[[], SessionFactory]]) -> None:
    """Register how active-record calls outside a session find their database
    (:meth:`Database.bind` and :meth:`Database.close` call this)."""
    global _default_factory
    _default_factory = default


class use_session:
    """``with use_session(db) as s``: the current session (of ``db``, when
    given), else a new one that commits when the block ends. A class, not a
    generator-based context manager: every active-record call outside an
    explicit query session enters one, and ``contextlib``'s generator
    machinery cost more than the lookup."""

    __slots__ = ("db", "own")

    def __init__(self, db: Optional[SessionFactory] = None) -> None:
        self.db = db
        self.own: Optional[Session] = None

    def __enter__(self) -> "Session":
        s = current_session()
        db = self.db
        if s is not None and (db is None or s.db is db):
            return s
        if db is None:
            if _default_factory is None:
                raise ActiverelError(
                    "no database: create one with Database(url) (or call db.bind())")
            db = _default_factory()
        own = self.own = db.session()
        return own.__enter__()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        own, self.own = self.own, None
        if own is not None:
            own.__exit__(exc_type, exc, tb)


class Session:
    """A unit of work: queued persists and deletes, changed loaded objects,
    and the identity map, flushed in dependency order in one transaction."""

    def __init__(self, db: SessionFactory, write: bool = False) -> None:
        self.db = db
        self.dialect = db.dialect
        self.catalog = db.catalog
        self.connection = Connection(db.engine, write)
        self.identity = IdentityMap()
        self.active = False
        self.dirty: dict[int, Any] = {}
        self.to_persist: dict[int, Any] = {}
        self.to_delete: dict[int, Any] = {}
        self.undo = UndoLog()
        #: the open savepoints, innermost last
        self._savepoints: list[Savepoint] = []
        self._flushing = False
        self._token: Any = None

    # -- lifecycle -----------------------------------------------------------
    def __enter__(self) -> "Session":
        self.active = True
        self._token = _current.set(self)
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if exc_type is None:
                self.commit()
            else:
                self.rollback()
        finally:
            self.active = False
            try:
                _current.reset(self._token)
            except ValueError:
                # ended in another context than it began in (a generator
                # iterated from a thread pool): that context keeps its own
                _current.set(None)
            finally:
                self.connection.release()

    def commit(self) -> None:
        """Flush and commit the transaction; the session stays usable. If the
        COMMIT fails, the transaction is rolled back and every object the
        flush touched restored, as for a failed flush. The flush's last
        writes go with the COMMIT where the backend pipelines them."""
        self._flush(committing=True)
        if self.connection.in_transaction:
            try:
                self.connection.commit()
            except BaseException:
                self._restore()
                raise
        self.undo.clear()

    def rollback(self) -> None:
        """Roll the transaction back and restore every object it touched."""
        while self._savepoints:  # their objects go back first, innermost first
            self._savepoints.pop().discard()
        try:
            if self.connection.in_transaction:
                self.connection.rollback()
        finally:
            self._restore()

    def _restore(self) -> None:
        """Put every object the transaction touched back as it was before."""
        self.undo.restore(self.identity, self)
        self.to_persist.clear()
        self.to_delete.clear()
        self.dirty = {id(o): o for o in self.identity.objects()
                      if (st := state_if_made(o)) is not None and st.dirty}

    # -- statements (the session's connection) -------------------------------
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Send one statement with bound parameters; returns the cursor."""
        return self.connection.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any:
        return self.connection.executemany(sql, rows)

    def queue(self, sql: str, params: Any, many: bool = False) -> None:
        """A write whose result nobody reads: sent with the next statement
        where the backend can (``Connection.queue``), else now."""
        self.connection.queue(sql, params, many)

    def drain(self) -> None:
        """Send the writes held for the next round trip now."""
        self.connection.drain()

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a SELECT and return its rows as tuples."""
        return self.connection.fetch(sql, params)

    def fetch_batch(self, statements: Sequence[tuple[str, Sequence[Any]]]
                    ) -> list[list[tuple[Any, ...]]]:
        """Run SELECTs, in one round trip where the backend can; each one's rows."""
        return self.connection.fetch_batch(statements)

    def insert_generated(self, sql: str, params: Sequence[Any], count: int, pk_column: str) -> list[Any]:
        return self.connection.insert_keys(sql, params, lambda cur: self.dialect.insert_generated(
            cur, sql, params, count, pk_column))

    def insert_each(self, sql: str, rows: Sequence[Sequence[Any]], pk_column: str) -> list[Any]:
        """The single-row INSERT ``sql`` for every row; the generated keys."""
        return self.connection.insert_keys(sql, rows, lambda cur: self.dialect.insert_each(
            cur, sql, rows, pk_column))

    def enforces(self, ref: ReferenceProp) -> bool:
        """Whether the database itself applies ``ref``'s on_delete."""
        return self.db.engine.enforces(self.fetch, [m.table for m in self.catalog.mappers], ref)

    # -- the unit of work ----------------------------------------------------
    def persist(self, *objs: Any) -> None:
        """Queue objects (and what they reach) to be inserted or updated."""
        served: set[type] = set()
        to_persist = self.to_persist
        for obj in objs:
            cls = type(obj)
            if cls not in served:
                _state(obj)  # a clear error for what is not a model instance
                self.catalog.serving(cls)
                served.add(cls)
            if obj._ar_state.status == DELETED:
                raise ActiverelError(f"{obj!r} was deleted; it cannot be persisted again")
            to_persist[id(obj)] = obj

    def delete(self, *objs: Any) -> None:
        """Queue objects to be deleted with their referential actions."""
        for obj in objs:
            st = _state(obj)
            if st.status == NEW:
                raise ActiverelError(f"{obj!r} is new: it has no row to delete")
            if st.status == DELETED:
                continue
            self.to_delete[id(obj)] = obj

    def upsert(self, objs: Any, on: Any = None, update: Any = None) -> list[Any]:
        """Insert new objects, or update the rows they match on ``on`` (field
        names of the primary key, the default, or of a unique constraint),
        setting ``update`` (default: every column but the keys), at once;
        the session's persistent objects, in order. Pending changes are
        flushed first; a failure rolls back as a failed flush does. See
        :mod:`activerel.unitofwork.upsert` and docs/upsert.md."""
        self.flush()
        upsert = Upsert(self, objs, on, update)  # checked before any SQL
        try:
            with gc_paused():
                return upsert.write(hydrate)
        except BaseException:
            self._undo_failed_write()
            raise

    def flush(self) -> None:
        """Send every pending change now, in dependency order. On failure the
        transaction (or, inside ``savepoint()``, the innermost savepoint) is
        rolled back and every object it touched restored."""
        self._flush(committing=False)

    def _flush(self, committing: bool) -> None:
        """:meth:`flush`; writes queued for a round trip of their own are
        sent before it returns (so that their errors are the flush's), unless
        the COMMIT that follows (``committing``) takes them."""
        if self._flushing:
            return  # a query run by an event handler: the flush under way sends the rest
        if self.catalog.has_json:
            self._find_json_changes()
        if not (self.to_persist or self.to_delete or self.dirty):
            return
        try:
            self._flushing = True
            with gc_paused():
                flush_session(self)
            if not committing:
                self.connection.drain()
        except BaseException:
            self._undo_failed_write()
            raise
        finally:
            self._flushing = False

    def _undo_failed_write(self) -> None:
        """Roll back the innermost savepoint (else the transaction) and
        restore every object it touched."""
        if self._savepoints and not self.connection.broken:
            self._savepoints[-1].roll_back()
        else:
            self.rollback()

    def _find_json_changes(self) -> None:
        """JSON values changed in place notify no one: compare the loaded and
        queued objects of models with JSON fields with what they held."""
        for mapper, objs in self.identity.maps.items():
            if mapper.json_fields:
                for obj in list(objs.values()):
                    changed_in_place(obj)
        for obj in list(self.to_persist.values()):
            if obj.__class__.__ar_mapper__.json_fields:
                changed_in_place(obj)

    def savepoint(self) -> "Savepoint":
        """``with session.savepoint():`` a block whose writes can be undone
        alone: pending changes are flushed first; if the block raises (or
        its flush fails), the database goes back to where the block began
        and the objects the block changed are restored, while the session
        goes on. Savepoints nest."""
        return Savepoint(self)

    # -- loading -------------------------------------------------------------
    def get(self, cls: type[T], pk: Any) -> T:
        """The object of ``cls`` with primary key ``pk``: from the identity map
        when loaded, else by its one-key SELECT."""
        mapper = self.catalog.serving(cls)
        key = normalize_key(mapper, pk)
        obj: Optional[T] = self.identity.get(mapper, key)
        if obj is not None and id(obj) in self.to_delete:
            raise NotFound(f"{mapper.name} with primary key {pk!r} is deleted in this session")
        if obj is not None and ((st := state_if_made(obj)) is None or st.stub_of is None):
            return obj
        self.flush()
        found: Optional[T] = load_key(self, mapper, key)
        if found is None:
            raise NotFound(f"{mapper.name} with primary key {pk!r} does not exist")
        return found

    def raw(self, cls: type[T], sql: str, params: Sequence[Any] = ()) -> list[T]:
        """The ``cls`` objects of a raw SELECT (``?`` placeholders) whose
        result columns are columns of ``cls`` (those left out: not loaded),
        through the identity map; pending changes are flushed first, as for
        a query. See :mod:`activerel.loading.raw`."""
        mapper = self.catalog.serving(cls)
        self.flush()
        return raw_objects(self, mapper, self.execute(self.dialect.raw_sql(sql), tuple(params)))

    def reload(self, obj: Any) -> None:
        """Read ``obj``'s row again; unsaved changes are kept."""
        st = _state(obj)
        mapper: Mapper = type(obj).__ar_mapper__
        if st.status != PERSISTENT or st.key is None:
            raise ActiverelError(f"{obj!r} has no row to reload ({'new' if st.status == NEW else 'deleted'})")
        self.flush()
        current = self.identity.get(mapper, st.key)
        if current is None:
            self.identity.add(mapper, st.key, obj)
            st.session = self
        elif current is not obj:
            raise ActiverelError(f"{obj!r}: another object holds this row in the session")
        if load_key(self, mapper, st.key) is None:
            raise NotFound(f"{mapper.name} with primary key {st.key!r} no longer exists")

    def attach(self, obj: Any) -> None:
        """Make a persistent object from another (finished) session this session's."""
        st = obj._ar_state
        if st.session is self:
            return
        mapper = type(obj).__ar_mapper__
        if st.key is not None and st.status == PERSISTENT:
            current = self.identity.get(mapper, st.key)
            if current is not None and current is not obj:
                raise ActiverelError(
                    f"{obj!r} is a different object for a row this session already loaded; "
                    "use the session's object")
            self.identity.add(mapper, st.key, obj)
        st.session = self


class Savepoint:
    """One ``with session.savepoint():`` block (see :meth:`Session.savepoint`)."""

    _made = 0

    def __init__(self, session: Session) -> None:
        self.session = session
        Savepoint._made += 1
        self.name = f"ar_sp{Savepoint._made}"
        self.outer = session.undo
        self.open = False

    def __enter__(self) -> "Savepoint":
        s = self.session
        s.flush()
        s.connection.execute(s.dialect.savepoint_sql(self.name))
        # the block's own undo log: what it touches, as it was when it began
        s.undo = UndoLog()
        s._savepoints.append(self)
        self.open = True
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if not self.open:
            return  # its flush failed and rolled it back already
        s = self.session
        if exc_type is not None:
            if s.connection.broken:
                s.rollback()  # the whole transaction died with the connection
            else:
                self.roll_back()
            return
        s.flush()  # on failure, flush rolls this savepoint back and raises
        s.connection.execute(s.dialect.release_savepoint_sql(self.name))
        self._close()
        self.outer.absorb(s.undo)
        s.undo = self.outer

    def roll_back(self) -> None:
        """Undo the block's writes and put the objects it touched back as
        they were when it began: its flushed writes from the undo log, its
        unflushed changes from each object's recorded originals (the block
        began with everything flushed, so every change is the block's)."""
        s = self.session
        s.connection.discard_queued()  # a failed flush's writes, never to be sent
        s.connection.execute(s.dialect.rollback_to_savepoint_sql(self.name))
        s.connection.execute(s.dialect.release_savepoint_sql(self.name))
        self.discard()
        for obj in list(s.dirty.values()):
            st = obj._ar_state
            d = obj.__dict__
            for name, original in st.dirty.items():
                current = d.get(name)
                if isinstance(current, RelationList):
                    current.replace_all(original)  # a list's original is its baseline
                else:
                    d[name] = original
            st.dirty = None
        s.dirty.clear()

    def discard(self) -> None:
        """Restore the block's objects as they were before its flushes and
        leave it (the database side is rolled back by the caller)."""
        s = self.session
        try:
            s.undo.restore(s.identity, s)
        finally:
            s.undo = self.outer
            self._close()
            s.to_persist.clear()
            s.to_delete.clear()
            s.dirty = {id(o): o for o in s.identity.objects()
                       if (st := state_if_made(o)) is not None and st.dirty}

    def _close(self) -> None:
        if self.open:
            self.open = False
            if self in self.session._savepoints:
                self.session._savepoints.remove(self)


def _state(obj: Any) -> Any:
    try:
        return obj._ar_state
    except AttributeError:
        raise TypeError(f"{obj!r} is not an activerel model instance") from None
