"""The backends. ``dialect_for(url)`` picks one by URL scheme; each module
holds everything that differs for its database. Only the drivers (psycopg,
MySQLdb) are imported on first use, by the dialect that needs them.

Used by the engine, SQL rendering and the database facade. Imports
:mod:`activerel.mapping.types`, :mod:`activerel._util`, :mod:`activerel.url`
and :mod:`activerel.errors`."""
from __future__ import annotations

from typing import Callable

from ..errors import ConfigurationError
from ..url import URL
from .base import Dialect
from .mysql import MySQLDialect
from .postgresql import PostgreSQLDialect
from .sqlite import SQLiteDialect

_FACTORIES: dict[str, Callable[[URL], Dialect]] = {
    "sqlite": SQLiteDialect, "postgresql": PostgreSQLDialect, "postgres": PostgreSQLDialect,
    "mysql": MySQLDialect, "mariadb": MySQLDialect,
}


def dialect_for(url: URL) -> Dialect:
    factory = _FACTORIES.get(url.scheme)
    if factory is None:
        raise ConfigurationError(
            f"unsupported database URL scheme {url.scheme!r} in {url.safe!r}; "
            f"supported: {', '.join(sorted(_FACTORIES))}")
    return factory(url)


__all__ = ["Dialect", "dialect_for"]
