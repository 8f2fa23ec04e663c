"""Raw SQL into models: ``db.raw(User, "SELECT ... WHERE ... = ?", params)``.

The result's columns name columns of the model (by name: the column name,
``author_id`` for a reference ``author``; compared exactly, else ignoring
case, as some servers fold unquoted names). Its rows go through the
identity map as a query's do: a row already loaded is that object,
refreshed (unsaved changes kept). Fields whose columns the result leaves
out are not loaded, as with ``select()``: reading one raises
``FieldNotLoaded``. The primary key must be there; a column the model does
not have is a ``QueryError`` naming it.

Called by the session (``Session.raw``). Imports
:mod:`activerel.loading.strategies`, :mod:`activerel.mapping` and
:mod:`activerel.errors`."""
from __future__ import annotations

from typing import Any, Optional

from ..errors import QueryError
from ..mapping.mapper import Mapper
from .hydrate import LoadSession
from .strategies import hydrate


def raw_objects(session: LoadSession, mapper: Mapper, cursor: Any) -> list[Any]:
    """The objects of the rows a raw SELECT left in ``cursor``."""
    if not cursor.description:
        raise QueryError(f"raw({mapper.name}, ...) runs a SELECT whose columns are "
                         f"{mapper.name}'s; this statement returned no rows at all")
    names = [_column(mapper, d[0]) for d in cursor.description]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise QueryError(f"raw({mapper.name}, ...): the result has the column {name!r} twice")
    pk = [c.name for c in mapper.pk_columns]
    missing = [n for n in pk if n not in names]
    if missing:
        raise QueryError(f"raw({mapper.name}, ...): the result needs the primary key column(s) "
                         f"{', '.join(missing)} of {mapper.name} to know which row is which")
    # the key first, as hydrators read it
    columns = tuple(pk) + tuple(n for n in names if n not in pk)
    rows = cursor.fetchall()
    if list(columns) != names:
        where = [names.index(n) for n in columns]
        rows = [tuple([row[i] for i in where]) for row in rows]
    return hydrate(session, mapper, list(rows), columns, (), unique=False)


def _column(mapper: Mapper, name: str) -> str:
    """The model's column a result column names."""
    known = [c.name for c in mapper.columns]
    if name in known:
        return name
    folded: Optional[list[str]] = [n for n in known if n.lower() == str(name).lower()]
    if folded and len(folded) == 1:
        return folded[0]
    raise QueryError(f"raw({mapper.name}, ...): the result column {name!r} is not a column of "
                     f"{mapper.name} (table {mapper.table}); its columns are {', '.join(known)}")
