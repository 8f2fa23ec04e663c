"""Sessions: one unit of work, one transaction, one identity map.

``with db.session():`` opens one; active-record calls outside any session
run in a session of their own. A session holds a connection from its
database for as long as it lives and begins the transaction lazily."""
from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional, Sequence, TypeVar

from .compiled import compiled, flat_key
from .context import _current, current_session
from .errors import ActiverelError, NotFound, ValidationError
from .gcpause import gc_paused
from .identity import IdentityMap
from .state import DELETED, NEW, state_if_made
from .undo import UndoLog

if TYPE_CHECKING:
    from .database import Database
    from .query import Query

T = TypeVar("T")

log = logging.getLogger("activerel.sql")


@contextmanager
def use_session(db: Optional["Database"] = None) -> Iterator["Session"]:
    """The current session (of ``db``, when given), else a new one that commits
    when the block ends."""
    s = current_session()
    if s is not None and (db is None or s.db is db):
        yield s
        return
    if db is None:
        from .database import default_database
        db = default_database()
    with db.session() as s:
        yield s


class Session:
    """A unit of work: queued persists and deletes, changed loaded objects,
    and the identity map, flushed in dependency order in one transaction."""

    def __init__(self, db: "Database") -> None:
        self.db = db
        self.dialect = db.dialect
        self.identity = IdentityMap()
        self.active = False
        self.conn: Any = None
        self.cursor: Any = None
        self.in_transaction = False
        self.dirty: dict[int, Any] = {}
        self.to_persist: dict[int, Any] = {}
        self.to_delete: dict[int, Any] = {}
        self.undo = UndoLog()
        self._token: Any = None

    # -- lifecycle -----------------------------------------------------------
    def __enter__(self) -> "Session":
        self.active = True
        self._token = _current.set(self)
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if exc_type is None:
                self.flush()
                self.commit()
            else:
                self.rollback()
        finally:
            self.active = False
            _current.reset(self._token)
            self._release()

    def _release(self) -> None:
        if self.conn is not None:
            if self.in_transaction:
                self._end(False)
            self.db._release(self.conn)
            self.conn = self.cursor = None

    def commit(self) -> None:
        """Flush and commit the transaction; the session stays usable."""
        self.flush()
        if self.in_transaction:
            self._end(True)
        self.undo.clear()

    def rollback(self) -> None:
        """Roll the transaction back and restore every object it touched."""
        if self.in_transaction:
            self._end(False)
        self.undo.restore(self)
        self.to_persist.clear()
        self.to_delete.clear()
        self.dirty = {id(o): o for o in self.identity.objects()
                      if (st := state_if_made(o)) is not None and st.dirty}

    def _end(self, commit: bool) -> None:
        self.in_transaction = False
        try:
            if commit:
                self._log("COMMIT", ())
                self.dialect.commit(self.conn)
            else:
                self._log("ROLLBACK", ())
                self.dialect.rollback(self.conn)
        except Exception as exc:
            err = self.dialect.translate_error(exc)
            if err is not None:
                raise err from exc
            raise

    # -- statements ----------------------------------------------------------
    def _log(self, sql: str, params: Any) -> None:
        if self.db.echo:
            print(f"{sql}  {params!r}" if params else sql)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %r", sql, params, extra={"sql": sql, "params": params})

    def _cursor(self) -> Any:
        if self.conn is None:
            self.conn = self.db._acquire()
            self.cursor = self.conn.cursor()
        if not self.in_transaction:
            sent = self.dialect.begin(self.conn)
            if sent:
                self._log(sent, ())
            self.in_transaction = True
        return self.cursor

    def _send(self, sql: str, params: Any, send: Callable[[Any], Any]) -> Any:
        """Log a statement and run ``send(cursor)``, translating driver errors."""
        cur = self._cursor()
        self._log(sql, params)
        try:
            return send(cur)
        except Exception as exc:
            self._driver_error(exc)
            raise  # _driver_error always raises

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Send one statement with bound parameters; returns the cursor."""
        return self._send(sql, params, lambda cur: (cur.execute(sql, params), cur)[1])

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any:
        return self._send(sql, rows, lambda cur: (cur.executemany(sql, rows), cur)[1])

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """Run a SELECT and return its rows as tuples."""
        return list(self.execute(sql, params).fetchall())

    def insert_generated(self, sql: str, params: Sequence[Any], count: int, pk_column: str) -> list[Any]:
        return self._send(sql, params, lambda cur: self.dialect.insert_generated(
            cur, sql, params, count, pk_column))  # type: ignore[no-any-return]

    def insert_each(self, sql: str, rows: Sequence[Sequence[Any]], pk_column: str) -> list[Any]:
        """The single-row INSERT ``sql`` for every row; the generated keys."""
        return self._send(sql, rows, lambda cur: self.dialect.insert_each(
            cur, sql, rows, pk_column))

    def _driver_error(self, exc: Exception) -> None:
        err = self.dialect.translate_error(exc)
        if err is not None:
            raise err from exc
        if isinstance(exc, (UnicodeError, OverflowError, ValueError)):
            raise ValidationError(f"the {self.dialect.name} driver cannot send a value: {exc}") from exc
        raise exc

    # -- the unit of work ----------------------------------------------------
    def persist(self, *objs: Any) -> None:
        """Queue objects (and what they reach) to be inserted or updated."""
        served: set[type] = set()
        to_persist = self.to_persist
        for obj in objs:
            cls = type(obj)
            if cls not in served:
                _state(obj)  # a clear error for what is not a model instance
                self.db.serving(cls)
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

    def flush(self) -> None:
        """Send every pending change now, in dependency order. On failure the
        transaction is rolled back and every object restored."""
        if not (self.to_persist or self.to_delete or self.dirty):
            return
        from .unitofwork import UnitOfWork
        try:
            with gc_paused():
                UnitOfWork(self).flush()
        except BaseException:
            self.rollback()
            raise

    # -- loading -------------------------------------------------------------
    def get(self, cls: type[T], pk: Any) -> T:
        mapper = self.db.serving(cls)
        key = self.normalize_key(mapper, pk)
        obj = self.identity.get(mapper, key)
        if obj is not None and id(obj) in self.to_delete:
            raise NotFound(f"{mapper.name} with primary key {pk!r} is deleted in this session")
        if obj is not None and ((st := state_if_made(obj)) is None or st.stub_of is None):
            return obj  # type: ignore[no-any-return]
        self.flush()
        found = self.load_key(mapper, key)
        if found is None:
            raise NotFound(f"{mapper.name} with primary key {pk!r} does not exist")
        return found  # type: ignore[no-any-return]

    def normalize_key(self, mapper: Any, pk: Any) -> Any:
        if type(pk) in (int, str):  # the common case
            mapper.check_key(pk)
            return pk
        from .model import Model
        if isinstance(pk, Model):
            return type(pk).__ar_mapper__.key_of(pk)
        width = len(mapper.pk_columns)
        if width == 1:
            if isinstance(pk, tuple) and len(pk) == 1:
                pk = pk[0]
            mapper.check_key(pk)
            return pk
        if not isinstance(pk, tuple) or len(pk) != width:
            from .errors import QueryError
            raise QueryError(f"{mapper.name} has a composite primary key of {width} columns "
                             f"({', '.join(c.name for c in mapper.pk_columns)}): pass a tuple, not {pk!r}")
        parts: list[Any] = []
        for v in pk:
            parts.extend(flat_key(type(v).__ar_mapper__.key_of(v)) if isinstance(v, Model) else (v,))
        key = tuple(parts)
        mapper.check_key(key)
        return key

    def load_key(self, mapper: Any, key: Any) -> Optional[Any]:
        """Load (or refresh) the row with identity key ``key`` by the cached
        one-key SELECT; None if there is no such row."""
        c = compiled(mapper, self.dialect)
        columns = c.select_columns()
        rows = self.fetch(c.select_by_key_sql(columns, 1), c.key_params(key))
        return c.hydrator(columns)(rows, self, True)[0] if rows else None

    def reload(self, obj: Any) -> None:
        st = _state(obj)
        mapper = type(obj).__ar_mapper__
        if st.status != 1 or st.key is None:
            raise ActiverelError(f"{obj!r} has no row to reload ({'new' if st.status == NEW else 'deleted'})")
        self.flush()
        current = self.identity.get(mapper, st.key)
        if current is None:
            self.identity.add(mapper, st.key, obj)
            st.session = self
        elif current is not obj:
            raise ActiverelError(f"{obj!r}: another object holds this row in the session")
        if self.load_key(mapper, st.key) is None:
            raise NotFound(f"{mapper.name} with primary key {st.key!r} no longer exists")

    def query(self, cls: type[T]) -> "Query[T]":
        from .query import Query
        return Query(cls, session=self)

    def attach(self, obj: Any) -> None:
        """Make a persistent object from another (finished) session this session's."""
        st = obj._ar_state
        if st.session is self:
            return
        mapper = type(obj).__ar_mapper__
        if st.key is not None and st.status == 1:
            current = self.identity.get(mapper, st.key)
            if current is not None and current is not obj:
                raise ActiverelError(
                    f"{obj!r} is a different object for a row this session already loaded; "
                    "use the session's object")
            self.identity.add(mapper, st.key, obj)
        st.session = self


def _state(obj: Any) -> Any:
    try:
        return obj._ar_state
    except AttributeError:
        raise TypeError(f"{obj!r} is not an activerel model instance") from None
