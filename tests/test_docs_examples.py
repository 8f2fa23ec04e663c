"""The documentation's Python examples run.

Every ```python block of a page is executed, in order, in one fresh
namespace: a module of its own, registered in ``sys.modules`` under a
unique name, so the string annotations of its models (``from __future__
import annotations``, forward references) resolve against it. Each block is
compiled as written (no compiler flags inherited from this file) at its own
line of the Markdown file, so a failure points at the page's line.

A page runs as a program of its own would: the model registry starts empty
(a page's ``Database(url)`` serves every registered model, and the test
suite's own models would otherwise join in), file databases are created in
a temporary directory, and every ``Database`` a page opens is closed after.

Pages covered: the ``RUNNABLE`` list below.
"""
from __future__ import annotations

import importlib.util
import os
import re
import sys
import types
import uuid
from pathlib import Path

import pytest

from activerel import Database
from activerel.mapping.registry import registry

ROOT = Path(__file__).resolve().parent.parent

BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)

RUNNABLE = ["docs/relations.md", "docs/getting-started.md", "docs/querying.md",
            "docs/concurrency.md", "README.md", "docs/migrations.md", "docs/aggregates.md",
            "docs/upsert.md", "docs/streaming.md", "docs/trees.md", "docs/factories.md",
            "docs/models.md", "docs/unit-of-work.md", "docs/backends.md", "docs/typing.md"]


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(first line number, source) of every ```python block of a Markdown text."""
    out = []
    for m in BLOCK.finditer(text):
        line = text.count("\n", 0, m.start(1)) + 1
        out.append((line, m.group(1)))
    return out


def run_page(relpath: str) -> dict:
    """Execute the page's blocks in order in one namespace; return it."""
    path = ROOT / relpath
    text = path.read_text(encoding="utf-8")
    blocks = python_blocks(text)
    assert blocks, f"{relpath} has no python blocks"
    name = "docs_example_" + re.sub(r"\W", "_", relpath) + "_" + uuid.uuid4().hex[:8]
    module = types.ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module
    ns = module.__dict__
    try:
        for line, source in blocks:
            # pad so that line numbers in tracebacks are the Markdown file's
            code = compile("\n" * (line - 1) + source, str(path), "exec", dont_inherit=True)
            exec(code, ns)  # noqa: S102 - the documentation's own examples
    finally:
        for value in list(ns.values()):
            if isinstance(value, Database) and not value.closed:
                value.close()
        sys.modules.pop(name, None)
    return ns


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """An empty model registry and a scratch working directory."""
    monkeypatch.setattr(registry, "_classes", [])
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_block_extraction():
    text = "intro\n```python\nx = 1\n```\ntext\n```sh\nls\n```\n```python\ny = x + 1\n```\n"
    assert python_blocks(text) == [(3, "x = 1\n"), (10, "y = x + 1\n")]


#: pages whose examples open (without connecting) a server's Database, so
#: need its driver: (driver module, extra) each
NEEDS_DRIVERS = {"docs/backends.md": (("psycopg", "postgresql"), ("MySQLdb", "mysql"))}


@pytest.mark.parametrize("relpath", RUNNABLE)
def test_page_examples_run(isolated, relpath):
    for module, extra in NEEDS_DRIVERS.get(relpath, ()):
        if importlib.util.find_spec(module) is None:
            if os.environ.get("CI") == "true":
                pytest.fail(f"CI must run every page: {module} is not installed")
            pytest.skip(f"{relpath} opens a {extra} database: the driver {module} is not "
                        f"installed: pip install -e '.[test,{extra}]'")
    run_page(relpath)


def test_relations_page_covers_the_topics():
    text = (ROOT / "docs/relations.md").read_text(encoding="utf-8")
    for topic in ("join_with", "inner_join_with", "use_join_with", ".limit(", ".end()",
                  "select(", "ReferenceNotLoaded", "is_stub", ".some(", ".every(", ".none(",
                  ".is_(", "k + 1", "identity"):
        assert topic in text, topic
    assert len(python_blocks(text)) >= 15


def test_relations_page_leaves_the_namespace_it_describes(isolated):
    ns = run_page("docs/relations.md")
    # the page's models were declared in its own module and resolved there
    assert ns["User"].__module__ == ns["Post"].__module__ == ns["__name__"]
    assert ns["counter"].selects == 4
    assert [c.name for c in ns["roots"]] == ["Books", "Music"]


def test_a_failing_block_is_reported_at_its_line(isolated, tmp_path, monkeypatch):
    page = tmp_path / "page.md"
    page.write_text("# t\n\n```python\nx = 1\n```\n\n```python\nassert x == 2\n```\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    with pytest.raises(AssertionError) as exc:
        run_page("page.md")
    assert exc.traceback[-1].lineno + 1 == 8

