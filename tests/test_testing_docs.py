"""docs/testing.md's example project runs: its files (the page's
```python title="NAME" blocks, as they are) are written into a scratch
project that pytest runs in a subprocess, with the plugin found through its
entry point, on every backend: once with the page's first ``conftest.py``
and the URL given by ``--activerel-url``, once with the ``conftest.py`` that
overrides ``activerel_database`` and the URL in ``$ACTIVEREL_TEST_URL``."""
from __future__ import annotations

import re
from pathlib import Path

from tests.backends import namespace_url, require

pytest_plugins = ["pytester"]

PAGE = Path(__file__).resolve().parent.parent / "docs" / "testing.md"

TITLED = re.compile(r'^```python title="([^"]+)"[ \t]*\n(.*?)^```[ \t]*$', re.M | re.S)

#: the tests of the page's test_app.py, all of which pass
APP_TESTS = 4


def titled_blocks() -> list[tuple[str, str]]:
    """(file name, source) of every titled python block of the page, in order."""
    return [(m.group(1), m.group(2)) for m in TITLED.finditer(PAGE.read_text(encoding="utf-8"))]


def test_the_page_has_the_project_and_the_override():
    names = [name for name, _ in titled_blocks()]
    assert names == ["app.py", "conftest.py", "test_app.py", "conftest.py"]
    override = titled_blocks()[3][1]
    assert "def activerel_database" in override


def _write(pytester, conftest: str) -> None:
    files = dict(titled_blocks()[:3])
    pytester.makepyfile(app=files["app.py"], test_app=files["test_app.py"])
    pytester.makeconftest(conftest)


def _url(backend: str) -> str:
    if backend == "sqlite":
        return "sqlite://"
    return namespace_url(backend, "_plugin_docs", fresh=True)


def test_the_example_project_passes_with_the_plugins_database(pytester, backend, monkeypatch):
    require(backend)
    monkeypatch.delenv("ACTIVEREL_TEST_URL", raising=False)
    _write(pytester, titled_blocks()[1][1])
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q",
                                           f"--activerel-url={_url(backend)}")
    result.assert_outcomes(passed=APP_TESTS)


def test_the_example_project_passes_with_its_own_database(pytester, backend, monkeypatch):
    require(backend)
    monkeypatch.setenv("ACTIVEREL_TEST_URL", _url(backend))
    _write(pytester, titled_blocks()[3][1])
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=APP_TESTS)
