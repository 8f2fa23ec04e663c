"""Turning ``?`` placeholders into the ``%s`` style of psycopg and mysqlclient."""
from __future__ import annotations

import re

_TOKENS = re.compile(r"""('(?:[^']|'')*'|"(?:[^"]|"")*"|`[^`]*`|--[^\n]*|\?|%)""")


def qmark_to_format(sql: str) -> str:
    """``?`` outside quotes and comments becomes ``%s``; a literal ``%`` is doubled."""
    def swap(m: re.Match[str]) -> str:
        tok = m.group(0)
        if tok == "?":
            return "%s"
        if tok == "%":
            return "%%"
        return tok.replace("%", "%%") if tok[0] in "'\"`" else tok
    return _TOKENS.sub(swap, sql)
