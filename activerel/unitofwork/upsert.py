"""Upsert: insert new objects, or update the rows they match on a primary
key or unique constraint instead (``db.upsert(objs, on=("email",),
update=("name",))``).

One multi-row statement per chunk of rows (the parameter limit) and column
shape: ``INSERT ... VALUES ... ON CONFLICT (on) DO UPDATE SET c = excluded.c``
(PostgreSQL, SQLite) or ``... ON DUPLICATE KEY UPDATE c = VALUES(c)``
(MySQL/MariaDB), from the dialect's ``upsert_clause``. The rows written,
inserted or updated, are read back whole, in the same statement where the
backend has ``RETURNING`` (PostgreSQL, SQLite 3.35+, MariaDB 10.5+), else by
one SELECT per chunk on the ``on`` columns, and matched to the objects by
their ``on`` values. Each row then goes through the identity map as a query
result does: the object already loaded for that row, if any, is refreshed
and returned (the object given is left as it was, new); otherwise the
object given becomes persistent with the row's key and values (an existing
row's key, where it matched one). Every object touched is in the session's
undo log first, so a failure puts them all back.

Called by the session (``Session.upsert``), which gives it the loading
layer's ``hydrate``. Imports :mod:`activerel.unitofwork.persistence` (row
getters, column shapes) and ``plan``, :mod:`activerel.sql`,
:mod:`activerel.instance`, :mod:`activerel.mapping` and :mod:`activerel._util`."""
from __future__ import annotations

from typing import Any, Callable, Iterable, Optional, Sequence, Union

from .._util.batching import chunks
from ..errors import IntegrityError, QueryError, ValidationError
from ..instance.state import (NEW, PERSISTENT, STATUS_NAMES, identity_key, is_persistent, new_state,
                              set_state, state_if_made)
from ..mapping.mapper import Mapper, flat_key
from ..mapping.properties import ReferenceProp, ScalarProp
from ..mapping.registry import is_model_instance
from ..sql.statements import statements
from ..sql.values import codec
from .persistence import insert_shapes, writers
from .plan import FlushSession

Fields = Union[str, Iterable[str], None]
#: ``hydrate(session, mapper, rows, columns, joins, unique=False)``: rows to
#: the session's objects through its identity map (the loading layer's
#: :func:`~activerel.loading.strategies.hydrate`, given by the session)
Hydrate = Callable[..., list[Any]]


def unique_keys(mapper: Mapper) -> list[tuple[str, ...]]:
    """The column sets whose values identify one row: the primary key, each
    unique column, each ``unique=`` group."""
    keys = [tuple(c.name for c in mapper.pk_columns)]
    keys += [(c.name,) for c in mapper.columns if c.unique and not c.primary_key]
    return keys + [tuple(u) for u in mapper.unique_together]


def _column_props(mapper: Mapper, names: Fields, what: str) -> list[Any]:
    """The column fields ``names`` of ``mapper`` (``what``: the argument)."""
    listed = [names] if isinstance(names, str) else list(names or ())
    props = []
    for name in listed:
        prop = mapper.props.get(name) if isinstance(name, str) else None
        if not isinstance(prop, (ScalarProp, ReferenceProp)):
            fields = ", ".join(p.name for p in list(mapper.scalars) + list(mapper.references))
            raise QueryError(f"upsert({what}=...): {mapper.name} has no column field {name!r}; "
                             f"its column fields are {fields}")
        props.append(prop)
    return props


class Upsert:
    """One upsert of new objects of one model: checked when made, before any
    SQL; :meth:`write` sends it."""

    def __init__(self, session: FlushSession, objs: Any, on: Fields = None,
                 update: Fields = None) -> None:
        self.session = session
        self.objs: list[Any] = [objs] if is_model_instance(objs) else list(objs)
        if not self.objs:
            return
        first = self.objs[0]
        if not is_model_instance(first):
            raise ValidationError(f"upsert() takes model objects, not {first!r}")
        self.mapper = mapper = session.catalog.serving(type(first))
        self.on_props = _column_props(mapper, on, "on") if on is not None else list(mapper.pk_props)
        if not self.on_props:
            raise QueryError(f"upsert(on=...) on {mapper.name} names no field")
        self.on = tuple(c.name for p in self.on_props for c in p.columns)
        if set(self.on) not in [set(k) for k in unique_keys(mapper)]:
            keys = ", ".join("(" + ", ".join(k) + ")" for k in unique_keys(mapper))
            names = ", ".join(f"{mapper.name}.{p.name}" for p in self.on_props)
            raise QueryError(
                f"upsert(on={tuple(p.name for p in self.on_props)!r}): {names} is not the primary "
                f"key or a unique constraint of {mapper.name}, so no conflict can be found on it; "
                f"its unique keys (columns) are {keys}")
        version = mapper.version
        self.increment = () if version is None else (version.column.name,)
        pk = {c.name for c in mapper.pk_columns}
        if update is None:
            self.update: Optional[tuple[str, ...]] = None  # every column written but the keys
            self.skip = pk | set(self.on) | set(self.increment)
        else:
            props = _column_props(mapper, update, "update")
            for p in props:
                if p.primary_key or p is version:
                    what = "the primary key" if p.primary_key else "the Version field"
                    raise QueryError(f"upsert(update=...): {mapper.name}.{p.name} is {what}, "
                                     "which an upsert never sets")
            self.update = tuple(c.name for p in props for c in p.columns)
        self.values: dict[int, tuple[Any, ...]] = {}
        self._seen: set[tuple[Any, ...]] = set()
        self.generated: list[Any] = []
        self.given: list[Any] = []
        for obj in self.objs:
            self._check(obj)

    def _check(self, obj: Any) -> None:
        """Raise for an object this upsert cannot write; note its ``on`` values."""
        mapper = self.mapper
        if type(obj) is not mapper.cls:
            raise ValidationError(f"upsert() takes objects of one model: {obj!r} among "
                                  f"{mapper.name} objects")
        st = state_if_made(obj)
        if st is None or st.status != NEW:
            status = "persistent" if st is None else STATUS_NAMES[st.status]
            raise ValidationError(
                f"upsert() takes new objects; {obj!r} is {status} (it stands for a row already): "
                "change it and persist() it instead")
        d = obj.__dict__
        for ref in mapper.references:
            target = d.get(ref.name)
            if target is not None and not is_persistent(target):
                raise ValidationError(
                    f"upsert(): {mapper.name}.{ref.name} of {obj!r} holds {target!r}, which has "
                    "no row: persist it first (an upsert writes its own rows only)")
        for name in mapper.backref_names:
            if d.get(name):
                raise ValidationError(
                    f"upsert() writes {mapper.name} rows only, not relations: {mapper.name}.{name} "
                    f"of {obj!r} holds objects; persist them after the upsert")
        auto = mapper.autoincrement
        unset = auto is not None and d.get(auto.name) in (None, auto.default)
        values: list[Any] = []
        for p in self.on_props:
            v = d.get(p.name)
            if isinstance(p, ScalarProp):
                values.append(None if p is auto and unset else v)
            else:
                values.extend((None,) * len(p.columns) if v is None else flat_key(identity_key(v)))
        if None in values:
            raise ValidationError(
                f"upsert(on={tuple(p.name for p in self.on_props)!r}): {obj!r} has no value for "
                f"{'its generated key' if auto in self.on_props and unset else 'them'}; a NULL "
                "matches no row (name a unique field with on=...)")
        key = tuple(values)
        if key in self._seen:
            raise ValidationError(
                f"upsert() got two {mapper.name} objects with "
                f"{', '.join(self.on)} = {', '.join(map(repr, key))}: one row, one object")
        self.values[id(obj)] = key
        self._seen.add(key)
        (self.generated if unset else self.given).append(obj)

    def write(self, hydrate: Hydrate) -> list[Any]:
        """Send the upsert; the persistent objects, in the order given (for
        each, the session's object for its row, refreshed by ``hydrate``)."""
        if not self.objs:
            return []
        s, mapper = self.session, self.mapper
        dialect = s.dialect
        stmts, w = statements(mapper, dialect), writers(mapper, dialect)
        everything = codec(mapper, dialect).select_columns()
        returning = everything if dialect.features.returning else ()
        #: objects that carry their own key while matched on other columns
        pk = tuple(col.name for col in mapper.pk_columns)
        self.keyed = set() if set(self.on) == set(pk) else {id(o) for o in self.given}
        for obj in self.objs:
            s.undo.save(obj)  # put back as it was if the upsert fails
        found: dict[int, Any] = {}
        for objs, with_key, columns in insert_shapes(mapper, self.generated, self.given):
            if self.update is None:
                update = tuple(c for c in columns if c not in self.skip)
            else:
                update = tuple(c for c in self.update if c in columns)
            if not update and not self.increment:
                update = self.on[:1]  # a no-op update, so that the row is still returned
            row_of = w.row_getter(columns)
            on_pos = [columns.index(n) for n in self.on]
            for chunk in chunks(objs, dialect.features.param_limit, len(columns)):
                rows_in = [row_of(o) for o in chunk]
                sql = stmts.upsert_sql(columns, len(chunk), self.on, update, self.increment,
                                       returning)
                cur = s.execute(sql, [v for r in rows_in for v in r])
                if returning:
                    rows = list(cur.fetchall())
                else:
                    rows = s.fetch(stmts.select_where_sql(everything, self.on, len(chunk)),
                                   [r[i] for r in rows_in for i in on_pos])
                for obj, loaded in zip(chunk, self._adopt(chunk, rows, everything, hydrate)):
                    found[id(obj)] = loaded
            if with_key and mapper.autoincrement is not None:
                fix = dialect.explicit_keys_sql(mapper.table, mapper.pk_columns[0].name)
                if fix:
                    s.execute(fix)
        return [found[id(o)] for o in self.objs]

    def _adopt(self, chunk: Sequence[Any], rows: list[tuple[Any, ...]], columns: tuple[str, ...],
               hydrate: Hydrate) -> list[Any]:
        """The session's objects for the rows written for ``chunk`` (rows of
        ``columns``, in any order), refreshed from them."""
        s, mapper = self.session, self.mapper
        c = codec(mapper, s.dialect)
        pos = [columns.index(n) for n in self.on]
        convs = [c.converters[n] for n in self.on]
        by_values = {}
        for row in rows:
            by_values[tuple(v if conv is None or v is None else conv(v)
                            for conv, v in zip(convs, (row[i] for i in pos)))] = row
        imap = s.identity.for_mapper(mapper)
        ordered = []
        for obj in chunk:
            found = by_values.get(self.values[id(obj)])
            if found is None:
                raise IntegrityError(
                    f"upsert(): no {mapper.name} row has {', '.join(self.on)} = "
                    f"{', '.join(map(repr, self.values[id(obj)]))} after it was written; on "
                    "MySQL/MariaDB a row that matches another unique key is updated instead: "
                    "upsert on that key")
            key = c.row_key(found)
            if id(obj) in self.keyed and mapper.key_of(obj) != key:
                raise IntegrityError(
                    f"upsert(): the {mapper.name} given with key {mapper.key_of(obj)!r} matched "
                    f"the row with key {key!r} on {', '.join(self.on)} (on MySQL/MariaDB: or on "
                    "another unique key): a row keeps its key; leave the key out or upsert on it")
            current = imap.get(key)
            if current is None:
                set_state(obj, new_state(PERSISTENT, key, s))
                d = obj.__dict__
                for name in mapper.backref_names:  # what the row already has is unknown
                    d.pop(name, None)
                imap[key] = obj
            elif current is not obj:
                s.undo.save(current)
            ordered.append(found)
        return hydrate(s, mapper, ordered, columns, (), unique=False)
