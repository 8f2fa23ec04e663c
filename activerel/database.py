"""``Database``: a URL's backend, the models it serves, its connections, and
the schema operations. Creating one makes it the default for active-record
calls (``db.bind()`` does so again)."""
from __future__ import annotations

import threading
from typing import Any, Iterable, Optional, Sequence, TypeVar

from .dialects import dialect_for
from .errors import ActiverelError, ConfigurationError
from .mapper import Mapper, ReferenceProp, mapper_of
from .registry import registry
from .schema import SchemaBuilder, table_order
from .session import Session, use_session
from .url import URL

T = TypeVar("T")

_default: Optional["Database"] = None


def default_database() -> "Database":
    """The database active-record calls use outside an explicit session."""
    if _default is None:
        raise ActiverelError("no database: create one with Database(url) (or call db.bind())")
    return _default


class Database:
    """A database and the models it serves.

    ``Database("sqlite:///app.db")``, ``Database("sqlite://")`` (in memory),
    ``"postgresql://user:pw@host:5432/db"``, ``"mysql://user:pw@host:3306/db"``."""

    def __init__(self, url: str, models: Optional[Iterable[type]] = None, echo: bool = False) -> None:
        self.url = URL.parse(url)
        self.dialect = dialect_for(self.url)
        self.echo = echo
        self._models = list(models) if models is not None else None
        from .model import Model
        for m in self._models or ():
            if not (isinstance(m, type) and issubclass(m, Model) and m is not Model):
                raise ActiverelError(f"Database(models=...) takes Model subclasses, not {m!r}")
        self._mappers: Optional[list[Mapper]] = None
        self._incoming: dict[Mapper, list[ReferenceProp]] = {}
        self._delete_rank: dict[Mapper, int] = {}
        self._idle: list[Any] = []
        self._foreign_keys: Optional[set[tuple[str, tuple[str, ...], str, str]]] = None
        self._lock = threading.Lock()
        self.closed = False
        self.bind()

    def __repr__(self) -> str:
        return f"Database({self.url.safe!r})"

    def bind(self) -> "Database":
        """Make this the default database for active-record calls."""
        global _default
        _default = self
        return self

    def close(self) -> None:
        """Close every idle connection and stop being the default."""
        global _default
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            self.dialect.close(conn)
        dispose = getattr(self.dialect, "dispose", None)
        if dispose is not None:
            dispose()
        self.closed = True
        if _default is self:
            _default = None

    # -- connections ---------------------------------------------------------
    def _acquire(self) -> Any:
        if self.closed:
            raise ActiverelError(f"{self!r} is closed")
        with self._lock:
            if self._idle:
                return self._idle.pop()
        try:
            return self.dialect.connect()
        except Exception as exc:
            raise ConfigurationError(f"cannot connect to {self.url.safe}: {exc}") from exc

    def _release(self, conn: Any) -> None:
        if self.closed:
            self.dialect.close(conn)
            return
        with self._lock:
            self._idle.append(conn)

    # -- models --------------------------------------------------------------
    @property
    def mappers(self) -> list[Mapper]:
        """The resolved mappers of every served model, parents first."""
        if self._mappers is None:
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
                        todo.append(mapper_of(b.via))
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
            self._mappers = ordered
        return self._mappers

    def serving(self, cls: Any) -> Mapper:
        """The mapper of ``cls``, which this database must serve."""
        mapper = mapper_of(cls)
        if mapper not in self._served():
            raise ActiverelError(
                f"{mapper.name} is not served by {self!r}: add it to Database(models=[...])")
        return mapper

    def _served(self) -> set[Mapper]:
        served = self.__dict__.get("_served_set")
        if served is None:
            served = self._served_set = set(self.mappers)
        return served

    def enforces(self, session: Session, ref: ReferenceProp) -> bool:
        """Whether the database itself applies ``ref``'s on_delete (a foreign
        key with that action exists in its catalog). Read once per Database
        and again after migrate() or drop_all()."""
        fks = self._foreign_keys
        if fks is None:
            fks = self._foreign_keys = self.dialect.foreign_keys(
                session.fetch, [m.table for m in self.mappers])
        cols = tuple(c.name for c in ref.columns)
        action = ref.on_delete
        alike = {"RESTRICT", "NO ACTION"} if action in ("RESTRICT", "NO ACTION") else {action}
        return any((ref.owner.table, cols, ref.target_mapper.table, a) in fks for a in alike)

    def incoming(self, mapper: Mapper) -> list[ReferenceProp]:
        """References, among the served models, that point at ``mapper``."""
        if self._mappers is None:
            self.mappers  # noqa: B018 - resolves and indexes the models
        refs = self._incoming.get(mapper)
        if refs is None:
            refs = [r for m in self.mappers for r in m.references if r.target_mapper is mapper]
            self._incoming[mapper] = refs
        return refs

    def delete_order(self, mappers: Iterable[Mapper]) -> list[Mapper]:
        """``mappers`` ordered children first, for deletes."""
        rank = self._delete_rank
        return sorted(mappers, key=lambda m: rank.get(m, -1))

    # -- schema --------------------------------------------------------------
    def schema_sql(self) -> list[str]:
        """The DDL that ``migrate()`` would run on an empty database."""
        return SchemaBuilder(self.mappers, self.dialect).statements()

    def migrate(self) -> None:
        """Create every served table (with its indexes and foreign keys) that
        does not exist yet."""
        builder = SchemaBuilder(self.mappers, self.dialect)
        self._foreign_keys = None
        with self.session() as s:
            existing = self.dialect.table_names(s.fetch)
            missing = {m.table for m in self.mappers if m.table not in existing}
            for sql in builder.statements(only=missing):
                s.execute(sql)

    def drop_all(self) -> None:
        """Drop every served table, children first."""
        self._foreign_keys = None
        with self.session() as s:
            for sql in SchemaBuilder(self.mappers, self.dialect).drop_statements():
                s.execute(sql)

    # -- sessions and shortcuts ------------------------------------------------
    def session(self) -> Session:
        """A new unit of work: ``with db.session() as s: ...``."""
        self.mappers  # noqa: B018 - resolve before the first statement
        return Session(self)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """Run raw SQL (with ``?`` placeholders on every backend, values bound
        as parameters) in the current transaction; the
        rows as tuples (empty for statements that return none). Pending changes
        of the session are not flushed first: call ``session.flush()`` for that."""
        with use_session(self) as s:
            cur = s.execute(self.dialect.raw_sql(sql), tuple(params))
            return list(cur.fetchall()) if cur.description else []

    def persist(self, *objs: Any) -> None:
        with use_session(self) as s:
            s.persist(*objs)

    def delete(self, *objs: Any) -> None:
        with use_session(self) as s:
            s.delete(*objs)

    def get(self, cls: type[T], pk: Any) -> T:
        with use_session(self) as s:
            return s.get(cls, pk)

    def query(self, cls: type[T]) -> Any:
        from .query import Query
        return Query(cls, db=self)
