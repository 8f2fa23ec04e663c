"""MkDocs hooks of the documentation site (``hooks:`` in mkdocs.yml).

The docstrings name other objects with Sphinx roles (``:class:`~a.b.C```,
``:mod:`activerel.x```), which mkdocstrings renders as the role's name
followed by code. This shows them as code alone, with the last component
only where the role says ``~`` and parentheses after a function, as Sphinx
would."""
from __future__ import annotations

import re
from typing import Any

ROLE = re.compile(r":(?:py:)?(class|mod|meth|func|attr|exc|data|obj|const):"
                  r"<code>(~?)([^<]*)</code>")


def _code(m: re.Match[str]) -> str:
    role, short, target = m.groups()
    if short:
        target = target.rsplit(".", 1)[-1]
    if role in ("meth", "func") and not target.endswith(")"):
        target += "()"
    return f"<code>{target}</code>"


def on_page_content(html: str, **kwargs: Any) -> str:
    return ROLE.sub(_code, html)
