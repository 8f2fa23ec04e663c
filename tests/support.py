"""Small helpers the test modules share."""
from __future__ import annotations

import re
from typing import Any


def count(db: Any, table: str) -> int:
    """How many rows ``table`` holds, read with raw SQL."""
    return db.execute(f'SELECT COUNT(*) FROM "{table}"', ())[0][0]


def touches(sql: str, table: str) -> bool:
    """True when the statement names ``table`` (quoted or not)."""
    return re.search(rf'(?<![\w])[`"]?{re.escape(table)}[`"]?(?![\w])', sql) is not None
