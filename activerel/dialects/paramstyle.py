"""Turning ``?`` placeholders into the ``%s`` style of psycopg and mysqlclient.

Called by the PostgreSQL and MySQL dialects for raw SQL (``db.execute``).
Imports nothing of activerel."""
from __future__ import annotations

import re

#: quoted strings and identifiers, comments (line and block), ``?`` and ``%``
_TOKENS = re.compile(r"""('(?:[^']|'')*'|"(?:[^"]|"")*"|`[^`]*`|--[^\n]*|/\*.*?\*/|\?|%)""",
                     re.DOTALL)


def qmark_to_format(sql: str) -> str:
    """``?`` outside quotes and comments becomes ``%s``; every literal ``%``
    is doubled, inside quotes and comments too (the driver formats the whole
    text)."""
    def swap(m: re.Match[str]) -> str:
        tok = m.group(0)
        if tok == "?":
            return "%s"
        return tok.replace("%", "%%")
    return _TOKENS.sub(swap, sql)
