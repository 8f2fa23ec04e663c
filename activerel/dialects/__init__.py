"""The backends. ``dialect_for(url)`` picks one by URL scheme; each module
holds everything that differs for its database."""
from __future__ import annotations

from typing import Callable

from ..errors import ConfigurationError
from ..url import URL
from .base import Dialect


def _sqlite(url: URL) -> Dialect:
    from .sqlite import SQLiteDialect
    return SQLiteDialect(url)


def _postgresql(url: URL) -> Dialect:
    from .postgresql import PostgreSQLDialect
    return PostgreSQLDialect(url)


def _mysql(url: URL) -> Dialect:
    from .mysql import MySQLDialect
    return MySQLDialect(url)


_FACTORIES: dict[str, Callable[[URL], Dialect]] = {
    "sqlite": _sqlite, "postgresql": _postgresql, "postgres": _postgresql,
    "mysql": _mysql, "mariadb": _mysql,
}


def dialect_for(url: URL) -> Dialect:
    factory = _FACTORIES.get(url.scheme)
    if factory is None:
        raise ConfigurationError(
            f"unsupported database URL scheme {url.scheme!r} in {url.safe!r}; "
            f"supported: {', '.join(sorted(_FACTORIES))}")
    return factory(url)


__all__ = ["Dialect", "dialect_for"]
