"""The statement cache's one mechanism: SQL stored by a *shape* key in the
dialect instance's ``statement_cache`` and reused with parameters collected
by walking the conditions (:meth:`Condition.values`), without building a
PyPika tree. A statement is stored only when the walked parameters equal
those of its first rendering, so SQL that depends on its values (lists,
paths, relation filters, a key set sent as one parameter) is never reused
wrongly. At most :data:`LIMIT` statements per dialect instance (cleared whole
when full); no lock: a dict's get and set are atomic, and two threads
rendering one shape store the same text.

Used by the query's terminals (:mod:`activerel.querying.shapes`), the
relation loaders (:mod:`activerel.loading.strategies`), ``patch_many``'s
UPDATE (:mod:`activerel.unitofwork.bulk`) and ``delete_many``'s statements
(:mod:`activerel.unitofwork.deletesql`). Imports nothing of activerel."""
from __future__ import annotations

from typing import Any, Callable, Iterable, Optional, Sequence

#: the most statements one dialect instance keeps
LIMIT = 2048


def condition_shapes(conditions: Iterable[Any]) -> Optional[tuple[Any, ...]]:
    """The conditions' shapes, or None when one has none."""
    shapes = tuple(cond.shape() for cond in conditions)
    return None if None in shapes else shapes


def condition_values(conditions: Iterable[Any], dialect: Any, out: list[Any]) -> list[Any]:
    """``out`` with the conditions' parameters appended, in statement order."""
    for cond in conditions:
        cond.values(dialect, out)
    return out


def cached(dialect: Any, key: Optional[tuple[Any, ...]], walk: Callable[[], list[Any]],
           render: Callable[[], tuple[str, Sequence[Any]]]) -> tuple[str, list[Any]]:
    """The SQL and parameters of one statement: from the cache by ``key``
    with ``walk()``'s parameters, or ``render()`` (then cached when the
    walked parameters equal the rendered ones). ``key`` None: render."""
    if key is None:
        sql, params = render()
        return sql, list(params)
    try:
        hit = dialect.statement_cache.get(key)
    except TypeError:  # a part of the key that cannot be hashed
        sql, params = render()
        return sql, list(params)
    if hit is not None:
        return hit, walk()
    sql, params = render()
    rendered = list(params)
    if walk() == rendered:
        cache = dialect.statement_cache
        if len(cache) >= LIMIT:
            cache.clear()
        cache[key] = sql
    return sql, rendered
