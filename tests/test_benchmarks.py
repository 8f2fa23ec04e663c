"""The benchmark workloads (``benchmarks/``) give the right results.

``python -m benchmarks --check`` runs every workload (W1-W10, W12-W16) once,
through activerel and raw DB-API, at a small N, with the checks a timed run
makes: each result against the expected data, each changed database against
the expected snapshot. It runs in a process of its own (its models are
separate from the suite's). No time is asserted: speed is measured by the
benchmark itself."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from benchmarks.backend import Target
from benchmarks.pinning import pinned, server_tasks
from tests.backends import NAMESPACE, URLS, require

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _check(url: str | None, *extra: str) -> str:
    cmd = [sys.executable, "-m", "benchmarks", "--check", "--n", "30", "--orms", "activerel",
           "--namespace", f"{NAMESPACE}_bench", *extra]
    if url:
        cmd += ["--url", url]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_every_workload_gives_the_expected_result(backend, server_url):
    out = _check(server_url)
    assert out.strip() == ("check: 30 passed, 0 failed (15 workloads x 2 implementations, "
                           f"N = 30, {backend})")


def test_mysql_without_returning_persists_the_expected_graph():
    require("mysql")
    out = _check(URLS["mysql"], "--no-returning", "--only", "W1")
    assert out.strip() == "check: 2 passed, 0 failed (1 workloads x 2 implementations, N = 30, mysql)"


def test_scale_reports_each_size_and_the_growth():
    # a tiny --scale run on a temporary SQLite file: one row per size, the growth row
    cmd = [sys.executable, "-m", "benchmarks", "--scale", "--scale-sizes", "10,20", "--repeat",
           "1", "--orms", "activerel", "--only", "W2"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line for line in done.stdout.splitlines()
            if line.startswith("| ") and not line.startswith("| ---")]
    assert [r.split(" | ")[0] for r in rows] == [
        "| N (rows)", "| 10 (60)", "| 20 (120)", "| growth, 10 to 20"]
    assert all(r.count("x (") == 2 for r in rows[1:3])     # raw 1.00x and activerel, each timed


def _affinities(tasks: list[int]) -> dict[int, set[int]]:
    """The CPUs of each of ``tasks`` still running (backends come and go)."""
    out = {}
    for t in tasks:
        try:
            out[t] = os.sched_getaffinity(t)
        except (ProcessLookupError, FileNotFoundError):
            pass
    return out


def test_pin_runs_the_benchmark_and_the_server_on_other_cpus_then_as_before(backend, server_url):
    """``--pin``: the benchmark process on its lowest CPU, every thread of the
    local server (and every backend begun meanwhile) on the others; after
    the run, both as they were (a thread begun meanwhile: as the server's
    first)."""
    mine = os.sched_getaffinity(0)
    if len(mine) < 2:
        pytest.skip("--pin needs two CPUs; this process may use one")
    first, rest = min(mine), mine - {min(mine)}
    target = Target.parse(server_url, f"{NAMESPACE}_pin")
    target.create_namespace()
    try:
        tasks = server_tasks(target) if backend != "sqlite" else []
        before = _affinities(tasks)
        server_first = before[tasks[0]] if tasks else mine
        try:
            with pinned(target) as note:
                assert os.sched_getaffinity(0) == {first}
                if backend != "sqlite":
                    # a new connection's backend or thread among them
                    during = _affinities(server_tasks(target))
                    assert during and set(map(frozenset, during.values())) == {frozenset(rest)}
        except SystemExit as exc:
            if "cannot set the CPUs" in str(exc):
                pytest.skip(str(exc))  # not root, nor the server's user
            raise
        assert os.sched_getaffinity(0) == mine
        after = _affinities(server_tasks(target)) if backend != "sqlite" else {}
        assert all(cpus == before.get(t, server_first) for t, cpus in after.items())
    finally:
        target.drop_namespace()
    server = "" if backend == "sqlite" else (
        f", the {backend} server on CPU{'s' if len(rest) > 1 else ''} "
        f"{', '.join(map(str, sorted(rest)))}")
    assert note == f"the benchmark on CPU {first}{server} (--pin)"
