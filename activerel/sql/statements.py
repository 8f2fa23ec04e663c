"""The rendered SQL of every statement shape the unit of work and the
session send for one model on one dialect instance: INSERT (one or many
rows), SELECT by key, UPDATE (one row, or many through CASE), DELETE by key,
the foreign-key SELECT and UPDATE of cascades, and the upsert (an INSERT
with the dialect's ``upsert_clause``). Each shape is built with
PyPika once and cached (PyPika copies a query on every chained call, so
nothing is rebuilt per row or per flush).

The two string steps PyPika cannot express are named functions here,
:func:`repeat_values` and :func:`repeat_case_arms`, each with its own test.
Called by loading, the unit of work and the session. Imports
:mod:`activerel.sql.values`, :mod:`activerel.mapping` and
:mod:`activerel.dialects`."""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

from pypika import Case, Parameter, Table, Tuple

from ..dialects.base import Dialect
from ..mapping.mapper import Mapper
from ..mapping.properties import ReferenceProp
from .values import binding


def repeat_values(one_row: str, nrows: int) -> str:
    """A one-row ``INSERT ... VALUES (...)`` made an ``nrows``-row one by
    repeating its (last) VALUES group."""
    head, _, group = one_row.rpartition(" VALUES ")
    return head + " VALUES " + ",".join([group] * nrows)


def repeat_case_arms(one_arm: str, count: int) -> str:
    """An UPDATE whose every ``CASE WHEN ... THEN ... END`` has one arm, with
    each CASE given ``count`` copies of its arm (they all render alike)."""
    start = one_arm.index("CASE ")
    case = one_arm[start:one_arm.index(" END", start) + len(" END")]
    arm = case[len("CASE "):-len("END")]
    return one_arm.replace(case, "CASE " + arm * count + "END")


def statements(mapper: Mapper, dialect: Dialect) -> "Statements":
    """The statement cache of ``mapper`` on ``dialect``."""
    b = binding(mapper, dialect)
    s: Optional[Statements] = b.statements
    if s is None:
        s = b.statements = Statements(mapper, dialect, b.values.pk_names)
    return s


class Statements:
    """Cached SQL text of one model's statement shapes on one dialect."""

    def __init__(self, mapper: Mapper, dialect: Dialect, pk_names: list[str]) -> None:
        self.mapper = mapper
        self.dialect = dialect
        self.table = Table(mapper.table)
        self.ph = dialect.placeholder
        self.pk_names = pk_names
        self.sql_cache: dict[Any, str] = {}

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
            sql = repeat_values(one, nrows)
            if nrows <= 2 or nrows % 50 == 0 or len(self.sql_cache) < 64:
                # the shapes a flush sends again and again: one or two rows, and
                # the full chunks; other counts only while the cache is small
                self.sql_cache[key] = sql
        return sql

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
            return repeat_case_arms(q.where(key.isin([ph] * count)).get_sql(), count)
        return self._cached(("update_case", columns, count), build)

    def update_checked_sql(self, columns: tuple[str, ...], check: str) -> str:
        """UPDATE of one row that also sets ``check`` and matches it:
        ``SET columns=?, check=? WHERE key AND check=?`` (optimistic locking)."""
        def build() -> str:
            q = self.dialect.query_class.update(self.table)
            for c in columns + (check,):
                q = q.set(self.table.field(c), Parameter(self.ph))
            q = q.where(self.key_criterion(1)).where(self.table.field(check) == Parameter(self.ph))
            return q.get_sql()
        return self._cached(("update_checked", columns, check), build, always=True)

    def key_and_column_sql(self, column: str, count: int, lock: bool) -> str:
        """SELECT <key>, column WHERE <key> IN (count keys), locking the rows
        (FOR UPDATE) when ``lock``."""
        def build() -> str:
            t = self.table
            q = (self.dialect.query_class.from_(t).select(*[t.field(n) for n in self.pk_names],
                                                          t.field(column))
                 .where(self.key_criterion(count)))
            return (q.for_update() if lock else q).get_sql()
        return self._cached(("key_and", column, count, lock), build)

    def delete_sql(self, count: int) -> str:
        return self._cached(("delete", count), lambda: (
            self.dialect.query_class.from_(self.table).delete()
            .where(self.key_criterion(count)).get_sql()))

    def fk_select_sql(self, ref: ReferenceProp, count: int) -> str:
        """SELECT <key> FROM <this table> WHERE <ref's FK> IN (count keys)."""
        t = self.table
        return self._cached(("fk_select", ref.name, count), lambda: (
            self.dialect.query_class.from_(t).select(*[t.field(n) for n in self.pk_names])
            .where(self._in([c.name for c in ref.columns], count)).get_sql()))

    def set_ref_sql(self, ref: ReferenceProp, count: int) -> str:
        """UPDATE <this table> SET <ref's FK> = values WHERE <key> IN (count keys)."""
        def build() -> str:
            q = self.dialect.query_class.update(self.table)
            for c in ref.columns:
                q = q.set(self.table.field(c.name), Parameter(self.ph))
            return q.where(self.key_criterion(count)).get_sql()
        return self._cached(("set_ref", ref.name, count), build)

    def upsert_sql(self, columns: tuple[str, ...], nrows: int, on: tuple[str, ...],
                   update: tuple[str, ...], increment: tuple[str, ...],
                   returning: tuple[str, ...]) -> str:
        """``insert_sql(columns, nrows)`` that, for a row whose ``on`` columns
        match an existing row, updates that row instead (the dialect's
        ``upsert_clause``): ``update`` set to the inserted values,
        ``increment`` increased by one; RETURNING the ``returning`` columns
        of every row written, inserted or updated (none: no RETURNING)."""
        def build() -> str:
            sql = self.insert_sql(columns, nrows) + self.dialect.upsert_clause(
                self.mapper.table, on, update, increment)
            return self.dialect.with_returning(sql, *returning) if returning else sql
        return self._cached(("upsert", columns, nrows, on, update, increment, returning), build,
                            always=nrows <= 2)

    def select_where_sql(self, columns: tuple[str, ...], names: tuple[str, ...],
                         count: int) -> str:
        """SELECT ``columns`` WHERE (``names``) IN (count groups), or = for one:
        rows by the values of a unique key."""
        t = self.table
        return self._cached(("select_where", columns, names, count), lambda: (
            self.dialect.query_class.from_(t).select(*[t.field(c) for c in columns])
            .where(self._in(names, count)).get_sql()))

    def delete_where_sql(self, names: tuple[str, ...], count: int) -> str:
        """DELETE FROM <this table> WHERE (names) IN (count groups): pivot rows
        by their pair of keys."""
        def build() -> str:
            t = self.table
            group = Tuple(*[Parameter(self.ph)] * len(names))
            crit = Tuple(*[t.field(n) for n in names]).isin([group] * count)
            return self.dialect.query_class.from_(t).delete().where(crit).get_sql()
        return self._cached(("delete_where", names, count), build)
