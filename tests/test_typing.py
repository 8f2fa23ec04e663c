"""The typing suite (tests/typing, docs/typing.md), checked by mypy (the
strict mode of setup.cfg, and mypy's defaults) and by pyright (basic and
strict), and run.

- ``blog.py``, ``queries.py`` and ``spec_forms.py`` are correct code from
  the docs: no checker may report anything in them, and their
  ``assert_type(...)`` lines pin what each form types as. They also run,
  against SQLite in memory, with the model registry of their own.
- ``wrong.py`` is wrong code: each wrong line ends with
  ``# E: mypy[code,...] pyright[rule,...]`` (``strict[rule,...]``: errors
  pyright's strict mode may add there). A marked line must be reported by
  each checker, in each mode, with one of its errors, and with no other;
  an unmarked line must not be reported at all.
- The package itself: mypy (strict, setup.cfg) and pyright (pyproject.toml)
  report nothing in ``activerel/``.

A checker that is not installed (``pip install -e ".[lint]"``) skips its
tests, except under CI=true, where that fails."""
from __future__ import annotations

import importlib.util
import json
import os
import re
import runpy
import subprocess
import sys
import tokenize
from collections import defaultdict
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from activerel.mapping.registry import registry

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "tests" / "typing"
CORRECT = ["blog.py", "queries.py", "spec_forms.py"]
WRONG = "wrong.py"
FILES = CORRECT + [WRONG]
RUNS = ["queries.py", "spec_forms.py"]

MARK = re.compile(r"^#\s*E:(.*)$")
MARK_PART = re.compile(r"(mypy|pyright|strict)\[([^\]]*)\]")
MYPY_LINE = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+): error: (?P<msg>.*?)(?:  \[(?P<code>[\w-]+)\])?$")


class Diagnostic(NamedTuple):
    file: str      # relative to the project root, with /
    line: int      # 1-based
    code: str      # mypy's error code, pyright's rule
    message: str


def _require(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        why = f"{module} is not installed (pip install -e \".[lint]\")"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI runs the type checks: {why}")
        pytest.skip(why)


def _relative(path: str) -> str:
    p = Path(path)
    if not p.is_absolute():
        p = ROOT / p
    try:
        return p.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return p.as_posix()


# -- running the checkers ------------------------------------------------------------------
def _mypy(args: list[str]) -> list[Diagnostic]:
    proc = subprocess.run([sys.executable, "-m", "mypy", "--no-error-summary",
                           "--show-error-codes", "--no-pretty", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    if proc.returncode not in (0, 1) or proc.stderr.strip():
        raise AssertionError(f"mypy did not run (exit {proc.returncode}):\n{proc.stderr}"
                             f"{proc.stdout}")
    out = []
    for line in proc.stdout.splitlines():
        m = MYPY_LINE.match(line)
        if m:
            out.append(Diagnostic(_relative(m["file"]), int(m["line"]), m["code"] or "misc",
                                  m["msg"]))
        elif ": error:" in line:
            raise AssertionError(f"unparsed mypy output: {line}")
    return out


def _pyright(files: list[str], config: dict[str, Any], config_dir: Path) -> list[Diagnostic]:
    """pyright with ``config`` written in ``config_dir`` (the project's own
    config when ``config_dir`` is the root and ``config`` empty)."""
    if config:
        (config_dir / "pyrightconfig.json").write_text(json.dumps(config))
    env = dict(os.environ, PYRIGHT_PYTHON_IGNORE_WARNINGS="1")
    proc = subprocess.run([sys.executable, "-m", "pyright", "--outputjson", "--pythonpath",
                           sys.executable, "-p", str(config_dir), *files],
                          cwd=ROOT, capture_output=True, text=True, env=env, timeout=900)
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError(f"pyright did not run (exit {proc.returncode}):\n{proc.stderr}"
                             f"{proc.stdout}") from None
    if report["summary"]["filesAnalyzed"] == 0:
        raise AssertionError(f"pyright analysed no file: {report}")
    return [Diagnostic(_relative(d["file"]), d["range"]["start"]["line"] + 1,
                       d.get("rule", d["severity"]), d["message"].splitlines()[0])
            for d in report["generalDiagnostics"] if d["severity"] in ("error", "warning")]


@pytest.fixture(scope="module")
def mypy_strict() -> list[Diagnostic]:
    """mypy with setup.cfg (strict) over the suite, and the package it imports."""
    _require("mypy")
    return _mypy(["--config-file", str(ROOT / "setup.cfg"),
                  str(ROOT / "activerel"), *[str(SUITE / f) for f in FILES]])


@pytest.fixture(scope="module")
def mypy_default(tmp_path_factory: pytest.TempPathFactory) -> list[Diagnostic]:
    """mypy with its defaults (not strict) over the suite."""
    _require("mypy")
    config = tmp_path_factory.mktemp("mypy") / "mypy.ini"
    config.write_text(f"[mypy]\npython_version = 3.10\nmypy_path = {ROOT}\n")
    return _mypy(["--config-file", str(config), "--cache-dir",
                  str(ROOT / ".mypy_cache" / "typing-defaults"),
                  *[str(SUITE / f) for f in FILES]])


@pytest.fixture(scope="module", params=["basic", "strict"])
def pyright_mode(request: pytest.FixtureRequest,
                 tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[Diagnostic]]:
    """pyright over the suite in basic and in strict mode."""
    _require("pyright")
    mode = request.param
    config = {"typeCheckingMode": mode, "pythonVersion": "3.10", "extraPaths": [str(ROOT)]}
    return mode, _pyright([str(SUITE / f) for f in FILES], config,
                          tmp_path_factory.mktemp(f"pyright-{mode}"))


# -- what the suite expects -------------------------------------------------------------------
def expected_errors(path: Path) -> dict[int, dict[str, set[str]]]:
    """line -> {"mypy": codes, "pyright": rules, "strict": rules} of the
    ``# E:`` marks of a file."""
    marks: dict[int, dict[str, set[str]]] = {}
    with path.open("rb") as f:
        comments = [(t.start[0], t.string) for t in tokenize.tokenize(f.readline)
                    if t.type == tokenize.COMMENT]
    for number, text in comments:
        m = MARK.match(text)
        if m is None:
            continue
        parts: dict[str, set[str]] = defaultdict(set)
        for tool, codes in MARK_PART.findall(m.group(1)):
            parts[tool] |= {c.strip() for c in codes.split(",") if c.strip()}
        assert parts["mypy"] and parts["pyright"], \
            f"{path.name}:{number}: a mark names mypy[...] and pyright[...] errors"
        marks[number] = dict(parts)
    return marks


def mismatches(diags: list[Diagnostic], tool: str, strict: bool = False) -> list[str]:
    """What differs between the checker's errors on the suite and its marks."""
    problems = []
    for name in FILES:
        rel = f"tests/typing/{name}"
        marks = expected_errors(SUITE / name) if name == WRONG else {}
        by_line: dict[int, list[Diagnostic]] = defaultdict(list)
        for d in diags:
            if d.file == rel:
                by_line[d.line].append(d)
        for line, found in sorted(by_line.items()):
            if line not in marks:
                problems += [f"{rel}:{line}: unexpected [{d.code}] {d.message}" for d in found]
        for line, mark in sorted(marks.items()):
            want = mark[tool]
            allowed = want | (mark.get("strict", set()) if strict else set())
            codes = {d.code for d in by_line.get(line, [])}
            if not codes & want:
                problems.append(f"{rel}:{line}: expected [{', '.join(sorted(want))}], "
                                f"got {sorted(codes) or 'nothing'}")
            problems += [f"{rel}:{line}: unexpected [{d.code}] {d.message}"
                         for d in by_line.get(line, []) if d.code not in allowed]
    return problems


# -- the tests -------------------------------------------------------------------------------
def test_the_wrong_file_marks_every_kind_of_mistake() -> None:
    marks = expected_errors(SUITE / WRONG)
    assert len(marks) >= 30
    codes = {c for m in marks.values() for c in m["mypy"]}
    assert {"call-arg", "arg-type", "assignment", "attr-defined", "union-attr"} <= codes


def _none(problems: list[str]) -> None:
    assert not problems, "\n" + "\n".join(problems)


def test_mypy_strict(mypy_strict: list[Diagnostic]) -> None:
    _none(mismatches(mypy_strict, "mypy"))


def test_mypy_defaults(mypy_default: list[Diagnostic]) -> None:
    _none(mismatches(mypy_default, "mypy"))


def test_pyright(pyright_mode: tuple[str, list[Diagnostic]]) -> None:
    mode, diags = pyright_mode
    _none(mismatches(diags, "pyright", strict=mode == "strict"))


def test_the_package_is_clean_under_mypy_strict(mypy_strict: list[Diagnostic]) -> None:
    _none([f"{d.file}:{d.line}: [{d.code}] {d.message}" for d in mypy_strict
           if d.file.startswith("activerel/")])


def test_the_package_is_clean_under_pyright() -> None:
    _require("pyright")
    diags = _pyright([], {}, ROOT)   # [tool.pyright] of pyproject.toml: the package
    _none([f"{d.file}:{d.line}: [{d.code}] {d.message}" for d in diags])


@pytest.mark.parametrize("name", RUNS)
def test_the_correct_files_run(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The typed declarations and queries work at run time too, in a model
    registry of their own (other tests' databases do not see these models)."""
    monkeypatch.setattr(registry, "_classes", [])
    for module in ("tests.typing.blog", "tests.typing.spec_forms"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    runpy.run_path(str(SUITE / name), run_name=f"typing_suite_{name[:-3]}")
    for module in ("tests.typing.blog", "tests.typing.spec_forms"):
        sys.modules.pop(module, None)
