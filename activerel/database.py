"""``Database``: a URL's backend, the models it serves, its connections, and
the schema operations. Creating one makes it the default for active-record
calls (``db.bind()`` does so again).

The top layer with :mod:`activerel.model`: an :class:`~activerel.engine.Engine`
(dialect and connections) plus a :class:`~activerel.mapping.catalog.Catalog`
(the served models) plus DDL (:mod:`activerel.sql.ddl` of the declared
schema). Imports :mod:`activerel.query`, :mod:`activerel.session` and
everything below."""
from __future__ import annotations

import functools
import inspect
from dataclasses import replace
from typing import Any, Callable, Iterable, Optional, Sequence, TypeVar, overload

from .dialects import dialect_for
from .engine import Engine
from .errors import ActiverelError, SchemaError
from .mapping.catalog import Catalog
from .mapping.mapper import Mapper
from .mapping.registry import is_model_class
from .query import Query
from .schema.declared import declared_schema
from .schema.diff import diff, is_additive
from .schema.drift import check_table
from .schema.operations import (AddForeignKey, DropCheck, DropColumn, DropForeignKey, DropIndex,
                               Operation)
from .schema.tables import Schema
from .schema_apply import apply_operations
from .session import Session, set_default_factory, use_session
from .sql.ddl import create_schema_sql, drop_schema_sql
from .unitofwork.deleteplan import DeletePlan, plan_delete
from .url import URL

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

_default: Optional["Database"] = None


def _harmless(live: Schema, op: Operation) -> bool:
    """Whether a column the models no longer declare can stay: an INSERT
    that leaves it out still works (it is nullable or has a default)."""
    assert isinstance(op, DropColumn)
    col = live.table(op.table).column(op.name)
    return col.nullable or col.default is not None or col.autoincrement


def default_database() -> "Database":
    """The database active-record calls use outside an explicit session."""
    if _default is None:
        raise ActiverelError("no database: create one with Database(url) (or call db.bind())")
    return _default


class Database:
    """A database and the models it serves.

    ``Database("sqlite:///app.db")``, ``Database("sqlite://")`` (in memory),
    ``"postgresql://user:pw@host:5432/db"``, ``"mysql://user:pw@host:3306/db"``.

    At most ``pool_size`` connections are open at once; a session waits up
    to ``pool_timeout`` seconds for one (then ``PoolExhausted``); an idle
    connection older than ``pool_recycle`` seconds is replaced."""

    def __init__(self, url: str, models: Optional[Iterable[type]] = None, echo: bool = False, *,
                 pool_size: int = 10, pool_timeout: float = 30.0,
                 pool_recycle: Optional[float] = 3600.0) -> None:
        self.url = URL.parse(url)
        self.dialect = dialect_for(self.url)
        listed = list(models) if models is not None else None
        for m in listed or ():
            if not is_model_class(m):
                raise ActiverelError(f"Database(models=...) takes Model subclasses, not {m!r}")
        self.engine = Engine(self.url, self.dialect, echo, pool_size=pool_size,
                             pool_timeout=pool_timeout, pool_recycle=pool_recycle)
        self.catalog = Catalog(listed, repr(self))
        #: the mappers whose tables were checked against the database
        self._checked: set[Mapper] = set()
        self.dialect.on_bind = self._first_use
        self.bind()

    def __repr__(self) -> str:
        return f"Database({self.url.safe!r})"

    @property
    def echo(self) -> bool:
        """Whether every statement is printed as it is sent."""
        return self.engine.echo

    @echo.setter
    def echo(self, value: bool) -> None:
        self.engine.echo = value

    @property
    def closed(self) -> bool:
        return self.engine.closed

    def __enter__(self) -> "Database":
        """``with Database(url) as db:`` closes the database when the block ends."""
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.close()

    def bind(self) -> "Database":
        """Make this the default database for active-record calls."""
        global _default
        _default = self
        set_default_factory(default_database)
        return self

    def close(self) -> None:
        """Close every idle connection and stop being the default."""
        global _default
        self.engine.close()
        if _default is self:
            _default = None

    # -- models --------------------------------------------------------------
    @property
    def mappers(self) -> list[Mapper]:
        """The resolved mappers of every served model, parents first."""
        return self.catalog.mappers

    def serving(self, cls: Any) -> Mapper:
        """The mapper of ``cls``, which this database must serve."""
        return self.catalog.serving(cls)

    # -- schema --------------------------------------------------------------
    def schema_sql(self) -> list[str]:
        """The DDL that ``migrate()`` would run on an empty database."""
        return create_schema_sql(self.declared_schema(), self.dialect)

    def live_schema(self, tables: Optional[Iterable[str]] = None) -> Schema:
        """The database's schema as it is (the named tables, or every table),
        read from its catalog."""
        with self.session() as s:
            return Schema(self.dialect.introspect(s.fetch, list(tables) if tables else None))

    def declared_schema(self) -> Schema:
        """The schema the served models declare, as this backend stores it
        (a referential action it cannot apply is stored as the nearest one)."""
        declared = declared_schema(self.mappers)
        stored = self.dialect.stored_actions
        for table in declared.tables.values():
            table.foreign_keys = [replace(fk, on_delete=a[0], on_update=a[1]) for fk in
                                  table.foreign_keys
                                  for a in [stored(fk.on_delete, fk.on_update)]]
        return declared

    def schema_diff(self) -> list[Any]:
        """The operations that would bring the served tables in line with the
        models (tables the models do not declare are left alone)."""
        declared = self.declared_schema()
        live = self.live_schema(declared.tables)
        return diff(live, declared, same_type=self.dialect.same_type, compare_check_sql=False,
                    droppable=(), live=True)

    def migrate(self) -> None:
        """Bring the database up to the models where nothing can be lost:
        create missing tables (with their indexes and foreign keys), add
        missing columns that are nullable or have a default (the rows there
        get it), and missing indexes, unique constraints and checks. Anything
        else (a
        changed type, a new NOT NULL column without default, a dropped or
        renamed column) raises SchemaError and leaves the database as it
        was: write a migration with ``python -m activerel makemigrations``.
        Indexes, foreign keys and checks the models do not declare are left
        in place, and so are columns they no longer declare when rows can be
        inserted without them (nullable or defaulted); a foreign key missing
        from an existing table is not added (``schema_diff()`` lists it)."""
        self.engine.forget_foreign_keys()
        declared = self.declared_schema()
        live = self.live_schema(declared.tables)
        ops = diff(live, declared, same_type=self.dialect.same_type, compare_check_sql=False,
                   droppable=(), live=True)
        # extras the models do not declare stay (a column too, where an
        # INSERT without it works), and so does a table made without some
        # foreign key (it may be left out on purpose)
        ops = [op for op in ops if not isinstance(op, (DropIndex, DropForeignKey, DropCheck))
               and not (isinstance(op, AddForeignKey) and op.table in live)
               and not (isinstance(op, DropColumn) and _harmless(live, op))]
        refused = [op for op in ops if not is_additive(op)]
        if refused:
            lines = "\n".join(f"  - {op.describe()}" + (f" ({op.note})" if getattr(op, "note", "")
                                                        else "") for op in refused)
            raise SchemaError(
                f"migrate() only adds what loses nothing; {self.url.safe} needs changes it "
                f"will not make by itself:\n{lines}\nwrite them as a migration: "
                "`python -m activerel makemigrations`, then `python -m activerel migrate`")
        try:
            if ops:
                apply_operations(self, ops, live)
        except BaseException:
            self.schema_changed()  # (MySQL keeps what ran before the failure)
            raise
        self.schema_changed(checked=True)

    def schema_changed(self, checked: bool = False) -> None:
        """Forget what was derived from the tables as they were: statements
        and the first-use checks, which run again at each model's next use
        (``checked``: the tables are known to match the models)."""
        self.dialect.bindings.clear()
        self.dialect.statement_cache.clear()
        self._checked = set(self.mappers) if checked else set()

    def _first_use(self, mapper: Mapper) -> None:
        """Check ``mapper``'s table against the database, once per Database
        (one catalog query): raises SchemaError naming the model and field
        when the table cannot hold what the model declares."""
        if mapper in self._checked:
            return
        with use_session(self) as s:
            live = self.dialect.introspect_columns(s.fetch, mapper.table)
        check_table(mapper, live, self.dialect.can_hold, self.url.safe)
        self._checked.add(mapper)

    def drop_all(self) -> None:
        """Drop every served table, children first."""
        self.engine.forget_foreign_keys()
        with self.session() as s:
            for sql in drop_schema_sql(self.declared_schema(), self.dialect):
                s.execute(sql)

    # -- sessions and shortcuts ------------------------------------------------
    def session(self, write: bool = False) -> Session:
        """A new unit of work: ``with db.session() as s: ...``. ``write=True``:
        its transactions will write, so they take their locks up front where
        the backend locks the whole database (SQLite: ``BEGIN IMMEDIATE``,
        waiting up to the busy timeout instead of failing when a read turns
        into a write)."""
        self.catalog.mappers  # noqa: B018 - resolve before the first statement
        return Session(self, write)

    @overload
    def per_request(self, fn: F, *, write: bool = False) -> F: ...
    @overload
    def per_request(self, fn: None = None, *, write: bool = False) -> Callable[[F], F]: ...

    def per_request(self, fn: Optional[F] = None, *, write: bool = False) -> Any:
        """Run every call of ``fn`` in a session of its own (committed when
        it returns, rolled back when it raises): one unit of work per web
        request, for a Flask view or a Starlette/FastAPI endpoint (a plain
        ``def``; frameworks run those in a thread pool). ``@db.per_request``
        or ``@db.per_request(write=True)`` for an endpoint that writes, whose
        sessions then take their locks up front (see :meth:`session`): on
        SQLite, a request that reads and then writes waits its turn instead of
        failing with "database is locked". See docs/web.md."""
        def decorate(fn: F) -> F:
            if inspect.iscoroutinefunction(fn):
                raise TypeError(
                    f"per_request takes a plain function, not the coroutine function "
                    f"{fn.__name__}: activerel's calls block, so write the endpoint as a def "
                    "(frameworks run it in a thread pool)")

            @functools.wraps(fn)
            def in_session(*args: Any, **kwargs: Any) -> Any:
                with self.session(write=write):
                    return fn(*args, **kwargs)

            return in_session  # type: ignore[return-value]

        return decorate if fn is None else decorate(fn)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run raw SQL (with ``?`` placeholders on every backend, values bound
        as parameters) in the current transaction; the
        rows as tuples (empty for statements that return none). Pending changes
        of the session are not flushed first: call ``session.flush()`` for that."""
        with use_session(self) as s:
            cur = s.execute(self.dialect.raw_sql(sql), tuple(params))
            return list(cur.fetchall()) if cur.description else []

    def listen(self, event: str, model: Optional[type] = None) -> Callable[[F], F]:
        """Register ``fn(obj)`` to run at ``event`` (before_insert,
        after_insert, before_update, after_update, before_delete,
        after_delete) for objects of ``model`` (of every model when None),
        inside the flush's transaction: ``@db.listen("before_update", Post)``.
        A model may also define the event as a method (``def
        before_insert(self)``), which runs first. An exception in a handler
        fails the flush like any other failure."""
        def register(fn: F) -> F:
            self.catalog.listen(event, fn, model)
            return fn
        return register

    def plan_delete(self, *objs: Any) -> DeletePlan:
        """What ``delete(*objs)`` would do, without writing: per model the rows
        deleted, the references set to NULL or their default, and the
        references that would refuse it (``plan.allowed``). Pending changes
        of the current session are flushed first, as a query does."""
        with use_session(self) as s:
            s.flush()
            for obj in objs:
                s.catalog.serving(type(obj))
                if obj._ar_state.key is None:
                    raise ActiverelError(f"{obj!r} is new: it has no row to delete")
            return plan_delete(s, objs)

    def persist(self, *objs: Any) -> None:
        with use_session(self) as s:
            s.persist(*objs)

    def delete(self, *objs: Any) -> None:
        with use_session(self) as s:
            s.delete(*objs)

    def get(self, cls: type[T], pk: Any) -> T:
        with use_session(self) as s:
            return s.get(cls, pk)

    def upsert(self, objs: Any, on: Any = None, update: Any = None) -> list[Any]:
        """Insert new objects, or update the rows they match on ``on`` (the
        primary key by default, or the fields of a unique constraint):
        ``db.upsert(users, on=("email",), update=("name",))``. Returns the
        persistent objects in order (the session's own where it had loaded
        the row). See docs/upsert.md."""
        with use_session(self) as s:
            return s.upsert(objs, on, update)

    def raw(self, cls: type[T], sql: str, params: Sequence[Any] = ()) -> list[T]:
        """The ``cls`` objects of a raw SELECT (``?`` placeholders) whose
        result columns are ``cls``'s columns, through the identity map."""
        with use_session(self) as s:
            return s.raw(cls, sql, params)

    def query(self, cls: type[T]) -> "Query[T]":
        """A query over ``cls`` that runs on this database."""
        return Query(cls, db=self)
