"""What the three catalog readers (``sqlite_schema``, ``postgresql_schema``,
``mysql_schema``) share: the number patterns of default literals, the
keyword defaults (NULL, TRUE/FALSE, the current timestamp, any other
expression as :class:`Sql`), and the name order of their results.

Used by those modules only. Imports :mod:`activerel.schema.tables` and
:mod:`activerel.mapping.markers`."""
from __future__ import annotations

import re
from typing import Any

from ..mapping.markers import Sql
from ..schema.tables import TableDef

INT = re.compile(r"[+-]?\d+")
FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")
#: how the backends spell the current timestamp in a column default
_NOW = re.compile(r"current_timestamp(\s*\(\s*\d*\s*\))?|now\(\s*\d*\s*\)")


def number(text: str) -> Any:
    """A numeric default literal as an int, or else a float."""
    return int(text) if INT.fullmatch(text) else float(text)


def keyword_default(text: str) -> Any:
    """A default that is not a quoted string or a number: None for NULL, a
    bool, ``Sql("CURRENT_TIMESTAMP")``, or the expression as :class:`Sql`."""
    lower = text.lower()
    if lower == "null":
        return None
    if lower in ("true", "false"):
        return lower == "true"
    if _NOW.fullmatch(lower):
        return Sql("CURRENT_TIMESTAMP")
    return Sql(text)


def in_name_order(out: dict[str, TableDef]) -> dict[str, TableDef]:
    """``out`` by table name, each table's indexes, foreign keys and checks
    by name (catalogs sort names by their own collations)."""
    for t in out.values():
        t.indexes.sort(key=lambda i: i.name)
        t.foreign_keys.sort(key=lambda fk: fk.name)
        t.checks.sort(key=lambda c: c.name)
    return dict(sorted(out.items()))
