"""Set-based UPDATE of every row a query matches (``Query.patch_many``),
with the loaded objects of those rows given the new values (unsaved changes
are kept, so the new value becomes their baseline instead). An UPDATE by
plain conditions comes from the statement cache
(:mod:`activerel.sql.statement_cache`), keyed by the fields set, the shape
of each computed value and the conditions' shapes; its parameters are the
SET clause's, then the conditions'.

Called by :mod:`activerel.query`. Imports :mod:`activerel.sql`,
:mod:`activerel.unitofwork.plan` and :mod:`activerel.mapping`."""
from __future__ import annotations

from typing import Any, Optional, Sequence

from .._util.batching import chunks
from ..mapping.mapper import Mapper
from ..mapping.properties import Prop
from ..sql.compiler import Compiler
from ..sql.expressions import Condition, ValueExpr
from ..sql.statement_cache import cached, condition_shapes, condition_values
from ..sql.statements import statements
from ..sql.values import codec
from .plan import FlushSession


class _Holder:
    """Stands in for an object so the per-field value getters can adapt a value."""

    __slots__ = ("__dict__",)

    def __init__(self, value: Any) -> None:
        self.__dict__ = _AnyKey(value)


class _AnyKey(dict[Any, Any]):
    def __init__(self, value: Any) -> None:
        super().__init__()
        self.value = value

    def __getitem__(self, key: Any) -> Any:
        return self.value

    def get(self, key: Any, default: Any = None) -> Any:
        return self.value


def patch_rows(session: FlushSession, mapper: Mapper, props: Sequence[Prop], values: dict[str, Any],
               where: Sequence[Condition], keys: Optional[list[Any]], by_keys: bool) -> int:
    """UPDATE the fields ``props`` to ``values`` on the rows matching
    ``where`` (``by_keys``: on the rows of ``keys`` instead, chunked); then
    the loaded objects among ``keys`` follow. Returns the row count."""
    dialect = session.dialect
    c = codec(mapper, dialect)
    stmts = statements(mapper, dialect)
    computed = [prop for prop in props if isinstance(values[prop.name], ValueExpr)]
    # the SET clause's parameters, adapted once: walked and rendered alike
    plain = {prop.name: c.prop_values[prop.name](_Holder(values[prop.name]))
             for prop in props if prop not in computed}
    set_params: list[Any] = []
    for prop in props:
        value = values[prop.name]
        if isinstance(value, ValueExpr):
            value.values(set_params)
        else:
            set_params.extend(plain[prop.name])

    def update(comp: Compiler) -> Any:
        """UPDATE ... SET, its parameters collected by ``comp``."""
        table = stmts.table
        q = dialect.query_class.update(table)
        for prop in props:
            value = values[prop.name]
            if isinstance(value, ValueExpr):
                q = q.set(table.field(prop.columns[0].name), value.compile_value(comp))  # type: ignore[attr-defined]
                continue
            for col, v in zip(prop.columns, plain[prop.name]):  # type: ignore[attr-defined]
                q = q.set(table.field(col.name), comp.param(v))
        return q

    if by_keys:
        # a key list: its SQL depends on how many keys each chunk has
        comp = Compiler(mapper, dialect)
        q = update(comp)
        count = 0
        limit = dialect.features.param_limit
        for chunk in chunks(keys or [], limit, len(c.pk_names), len(set_params)):
            params = list(comp.params)
            for k in chunk:
                params.extend(c.key_params(k))
            cur = session.execute(q.where(stmts.key_criterion(len(chunk))).get_sql(), params)
            count += max(cur.rowcount, 0)
    else:
        def render() -> tuple[str, list[Any]]:
            comp = Compiler(mapper, dialect)
            q = update(comp)
            for cond in where:
                q = q.where(cond.compile(comp))
            return q.get_sql(), comp.params

        shapes = condition_shapes(where)
        key = None if shapes is None else (
            "patch", mapper, tuple((prop, values[prop.name].shape() if prop in computed else "=")
                                   for prop in props), shapes)
        sql, params = cached(dialect, key,
                             lambda: condition_values(where, dialect, list(set_params)), render)
        cur = session.execute(sql, params)
        count = max(cur.rowcount, 0)
    if keys:
        imap = session.identity.for_mapper(mapper)
        loaded = [k for k in keys if k in imap]
        new_values = _read_back(session, mapper, computed, loaded) if computed else {}
        for k in loaded:
            obj = imap[k]
            session.undo.save(obj)
            st = obj._ar_state
            d = obj.__dict__
            for prop in props:
                value = new_values[k][prop.name] if prop in computed else values[prop.name]
                if st.dirty and prop.name in st.dirty:
                    st.dirty[prop.name] = value  # the unsaved change wins; this is its baseline
                else:
                    d[prop.name] = value
    return count


def _read_back(session: FlushSession, mapper: Mapper, props: list[Prop],
               keys: list[Any]) -> dict[Any, dict[str, Any]]:
    """Key -> field -> value of the ``props`` the database computed, for the
    loaded rows of ``keys``."""
    c = codec(mapper, session.dialect)
    stmts = statements(mapper, session.dialect)
    names = tuple(p.columns[0].name for p in props)  # type: ignore[attr-defined]
    convert = [c.converters[n] for n in names]
    out: dict[Any, dict[str, Any]] = {}
    for chunk in chunks(keys, session.dialect.features.param_limit, len(c.pk_names)):
        params: list[Any] = []
        for k in chunk:
            params.extend(c.key_params(k))
        width = len(c.pk_names)
        for row in session.fetch(stmts.select_by_key_sql(tuple(c.pk_names) + names, len(chunk)), params):
            out[c.row_key(row)] = {p.name: (v if f is None or v is None else f(v))
                                   for p, f, v in zip(props, convert, row[width:])}
    return out
