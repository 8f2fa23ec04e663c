"""Database URLs: ``scheme://user:password@host:port/database?option=value``.

Used by the database facade, the engine and the dialects; imports only
:mod:`activerel.errors`."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional
from urllib.parse import parse_qsl, unquote, urlsplit

from .errors import ConfigurationError


@dataclass(frozen=True)
class URL:
    """The parts of a database URL, decoded."""

    raw: str
    scheme: str
    user: Optional[str] = None
    password: Optional[str] = None
    host: Optional[str] = None
    port: Optional[int] = None
    database: Optional[str] = None
    options: dict[str, str] = field(default_factory=dict)

    @property
    def safe(self) -> str:
        """The URL with its password masked, for messages and logs."""
        if self.password is None:
            return self.raw
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", self.raw, count=1)

    @classmethod
    def parse(cls, raw: str) -> "URL":
        if not isinstance(raw, str) or "://" not in raw:
            raise ConfigurationError(
                f"not a database URL: {raw!r}; expected e.g. sqlite:///app.db, "
                "postgresql://user:pw@host:5432/db or mysql://user:pw@host:3306/db")
        scheme, _, rest = raw.partition("://")
        scheme = scheme.lower().split("+", 1)[0]
        if scheme == "sqlite":
            # sqlite:// (memory), sqlite:///relative.db, sqlite:////absolute.db
            location, _, query = rest.partition("?")
            host = None
            if location and not location.startswith("/"):
                host, _, location = location.partition("/")
                location = "/" + location
            return cls(raw, scheme, host=host, database=unquote(location[1:]),
                       options=dict(parse_qsl(query)))
        parts = urlsplit(raw)
        try:
            port = parts.port
        except ValueError:
            raise ConfigurationError(f"bad port in database URL {raw!r}") from None
        database = unquote(parts.path.lstrip("/")) or None
        return cls(raw, scheme, user=unquote(parts.username) if parts.username else None,
                   password=unquote(parts.password) if parts.password is not None else None,
                   host=parts.hostname, port=port, database=database,
                   options=dict(parse_qsl(parts.query)))
