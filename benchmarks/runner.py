"""Running the workloads: state set-up, timing, checks, memory, profiles, and
the results table."""
from __future__ import annotations

import cProfile
import datetime as dt
import gc
import importlib
import io
import os
import platform
import pstats
import shlex
import statistics
import subprocess
import sys
import time
import tracemalloc
from contextlib import ExitStack
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Optional

from . import data as D
from .backend import Admin, Target
from .pinning import pinned

#: every implementation, in table order; raw first (the reference)
IMPLEMENTATIONS = ("raw", "activerel", "sqlalchemy", "peewee", "pony")
#: workloads that change the database: each run starts from a fresh state
MUTATING = ("W1", "W6", "W7", "W9", "W14")
DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs",
                    "benchmarks.md")


@dataclass
class Options:
    n: int = 2000
    repeat: int = 5
    url: Optional[str] = None
    only: tuple[str, ...] = tuple(D.WORKLOADS)
    orms: tuple[str, ...] = IMPLEMENTATIONS
    memory: bool = False
    memory_n: int = 20000
    check: bool = False
    profile: bool = False
    profile_top: int = 15
    write_docs: bool = False
    namespace: str = "activerel_bench"
    #: MySQL: behave as on a server without RETURNING and with interleaved keys
    no_returning: bool = False
    command: str = ""
    #: the implementations named in --orms (raw is added to them for the ratios)
    named: tuple[str, ...] = IMPLEMENTATIONS
    #: --profile: the order of the printed functions (pstats' tottime or cumulative)
    profile_sort: str = "tottime"
    #: --profile: a directory to write each profile to, as <workload>-<implementation>.prof
    profile_out: Optional[str] = None
    #: --scale: run the workloads at each of these N instead (benchmarks/scale.py)
    scale: bool = False
    scale_sizes: tuple[int, ...] = (200, 2000, 20000)
    #: --pin: the benchmark on one CPU, the local server on the others (benchmarks/pinning.py)
    pin: bool = False


@dataclass
class Results:
    options: Options
    target: Target
    impls: list[ModuleType]
    skipped: dict[str, str]
    #: (workload, implementation) -> seconds of each run
    times: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    #: implementation -> peak bytes of W2 at --memory-n
    memory: dict[str, int] = field(default_factory=dict)
    info: dict[str, str] = field(default_factory=dict)
    #: --scale: (workload, N, implementation) -> seconds of each run, and peak bytes
    scale: dict[tuple[str, int, str], list[float]] = field(default_factory=dict)
    scale_memory: dict[tuple[str, int, str], int] = field(default_factory=dict)
    #: --scale: (workload, N) -> rows written or read
    scale_rows: dict[tuple[str, int], int] = field(default_factory=dict)

    def median(self, w: str, impl: str) -> Optional[float]:
        t = self.times.get((w, impl))
        return statistics.median(t) if t else None


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load_implementations(names: tuple[str, ...]) -> tuple[list[ModuleType], dict[str, str]]:
    """Import ``benchmarks.impl_<name>``; an ORM that is not installed is skipped
    (raw is always there)."""
    impls, skipped = [], {}
    for name in names:
        try:
            mod = importlib.import_module(f"benchmarks.impl_{name}")
        except ImportError as exc:
            skipped[name] = f"not installed ({exc}); pip install -e '.[bench]'"
            continue
        impls.append(mod)
    return impls, skipped


# -- checks ---------------------------------------------------------------------------

class Checker:
    def __init__(self, d: D.Dataset) -> None:
        self.d = d
        self._expected: dict[str, Any] = {}
        self._snapshots: dict[str, Any] = {}

    def verify(self, w: str, impl: str, result: Any, admin: Admin) -> None:
        d = self.d
        what = f"{w} ({D.WORKLOADS[w]}) through {impl}"
        if w in MUTATING:
            want_count = {"W6": len(d.edited_post_ids), "W7": len(d.deleted_user_ids),
                          "W9": len(d.requests)}.get(w)
            if want_count is not None and result is not None and result != want_count:
                raise D.CheckFailed(f"{what}: reported {result} rows, expected {want_count}")
            if w not in self._snapshots:
                self._snapshots[w] = D.expected_snapshot(w, d)
            D.compare(f"{what}: database after the workload", admin.snapshot(), self._snapshots[w])
            return
        if w not in self._expected:
            self._expected[w] = D.expected(w, d)
        D.compare(f"{what}: result", D.canonical(w, result), self._expected[w])


def prepare(w: str, admin: Admin, d: D.Dataset) -> None:
    """The state ``w`` starts from: empty tables for W1, the full dataset otherwise."""
    admin.reset(None if w == "W1" else d)


def _settle() -> None:
    gc.collect()


# -- the run ---------------------------------------------------------------------------

def run(opts: Options) -> Results:
    impls, skipped = load_implementations(opts.orms)
    if not any(m.NAME == "raw" for m in impls):
        raise SystemExit("raw is the reference of every ratio: keep it in --orms")
    target = Target.parse(opts.url, opts.namespace)
    target.no_returning = opts.no_returning
    res = Results(opts, target, impls, skipped)
    sizes = ", ".join(f"{n:,}" for n in opts.scale_sizes) if opts.scale else f"{opts.n:,}"
    log(f"benchmark on {target.safe_url} (namespace {target.namespace}), N = {sizes}, "
        f"repeat {opts.repeat}, implementations: {', '.join(m.NAME for m in impls)}"
        + (f"; skipped: {', '.join(skipped)}" if skipped else ""))
    target.create_namespace()
    cpus = ExitStack()
    admin = Admin(target)
    started: list[ModuleType] = []
    try:
        pin = cpus.enter_context(pinned(target)) if opts.pin else ""
        if pin:
            log(f"pinned: {pin}")
        admin.recreate()
        for m in impls:
            m.setup(target)
            started.append(m)
        res.info = machine_info(opts, target, impls)
        res.info["cpus"] = pin
        if opts.scale:
            from .scale import run_scale
            run_scale(opts, admin, impls, res)
            return res
        t0 = time.perf_counter()
        d = D.generate(opts.n)
        log(f"dataset: {d.counts()} generated in {time.perf_counter() - t0:.2f} s")
        checker = Checker(d)
        if opts.profile:
            profile(opts, d, admin, impls, checker)
            return res
        for w in opts.only:
            run_workload(w, opts, d, admin, impls, checker, res)
        if opts.memory and not opts.check:
            measure_memory(opts, admin, impls, res)
    finally:
        try:
            for m in reversed(started):
                try:
                    m.teardown()
                except Exception as exc:  # noqa: BLE001 - keep tearing down the others
                    log(f"teardown of {m.NAME} failed: {exc}")
            admin.close()
        finally:
            try:
                cpus.close()  # (it finds the server through the namespace: before it goes)
            finally:
                target.drop_namespace()
    return res


def run_workload(w: str, opts: Options, d: D.Dataset, admin: Admin, impls: list[ModuleType],
                 checker: Checker, res: Results) -> None:
    mutating = w in MUTATING
    if not mutating:
        prepare(w, admin, d)
    k = len(impls)
    for r in range(opts.repeat):
        # rotate the order each round, so no implementation always runs first
        for m in impls[r % k:] + impls[:r % k]:
            if mutating:
                prepare(w, admin, d)
            fn = getattr(m, w.lower())
            _settle()
            t0 = time.perf_counter()
            result = fn(d)
            elapsed = time.perf_counter() - t0
            checker.verify(w, m.NAME, result, admin)
            res.times.setdefault((w, m.NAME), []).append(elapsed)
            if opts.check:
                log(f"  {w} {m.NAME:<10} ok ({elapsed * 1000:.1f} ms)")
    if not opts.check:
        raw = res.median(w, "raw")
        parts = []
        for m in impls:
            med = res.median(w, m.NAME)
            parts.append(f"{m.NAME} {med * 1000:.1f} ms ({med / raw:.2f}x)")
        log(f"{w}: " + ", ".join(parts))


def measure_memory(opts: Options, admin: Admin, impls: list[ModuleType], res: Results) -> None:
    """Peak memory of W2 (all users with their posts) at a larger N, with tracemalloc."""
    d = D.generate(opts.memory_n)
    checker = Checker(d)
    admin.reset(d)
    for m in impls:
        _settle()
        tracemalloc.start()
        try:
            result = m.w2(d)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        checker.verify("W2", m.NAME, result, admin)
        del result
        res.memory[m.NAME] = peak
        log(f"W2 peak memory at N = {opts.memory_n:,}: {m.NAME} {peak / 2**20:.1f} MiB")


def profile(opts: Options, d: D.Dataset, admin: Admin, impls: list[ModuleType],
            checker: Checker) -> None:
    """Each selected workload once per named implementation under cProfile,
    after one warm-up run (so one-time set-up such as generated code is not
    in the profile): the top functions by own time (or ``--profile-sort
    cumulative``), each profile also written to ``--profile-out`` if given."""
    for w in opts.only:
        for m in impls:
            if m.NAME not in opts.named:
                continue
            fn = getattr(m, w.lower())
            prepare(w, admin, d)
            checker.verify(w, m.NAME, fn(d), admin)
            prepare(w, admin, d)
            _settle()
            prof = cProfile.Profile()
            t0 = time.perf_counter()
            result = prof.runcall(fn, d)
            elapsed = time.perf_counter() - t0
            checker.verify(w, m.NAME, result, admin)
            if opts.profile_out:
                os.makedirs(opts.profile_out, exist_ok=True)
                prof.dump_stats(os.path.join(opts.profile_out, f"{w}-{m.NAME}.prof"))
            out = io.StringIO()
            stats = pstats.Stats(prof, stream=out)
            stats.sort_stats(opts.profile_sort).print_stats(opts.profile_top)
            print(f"\n### {w} ({D.WORKLOADS[w]}) through {m.NAME}: {elapsed * 1000:.0f} ms "
                  f"under cProfile, N = {opts.n:,}, {admin.target.kind}\n")
            print(out.getvalue().strip())


# -- reporting ----------------------------------------------------------------------------

def _git(*args: str) -> str:
    root = os.path.dirname(DOCS)
    try:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10,
                              env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"}).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(opts: Options, target: Target, impls: list[ModuleType]) -> dict[str, str]:
    versions: dict[str, str] = {}
    for m in impls:
        versions.update(m.versions(target))
    rev = _git("rev-parse", "--short", "HEAD")
    if rev and _git("status", "--porcelain", "--", "activerel"):
        rev += ", with uncommitted changes"
    if rev and "activerel" in versions:
        versions["activerel"] += f" (git {rev})"
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        memory = f", {mem:.0f} GiB"
    except (ValueError, OSError, AttributeError):
        memory = ""
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{cpu_model()}, {os.cpu_count()} cores{memory}, "
                   f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "database": target.server_version(),
        "packages": ", ".join(f"{k} {v}" for k, v in versions.items()),
        "command": opts.command,
    }


def _ratio(x: float) -> str:
    if x < 9.995:
        return f"{x:.2f}x"
    return f"{x:.1f}x"


def _ms(seconds: float) -> str:
    ms = seconds * 1000
    if ms < 10:
        return f"{ms:.2f} ms"
    if ms < 100:
        return f"{ms:.1f} ms"
    return f"{ms:,.0f} ms"


def render(res: Results) -> str:
    """The results block: what was measured where, and the table."""
    opts, info = res.options, res.info
    names = [m.NAME for m in res.impls]
    labels = [m.LABEL for m in res.impls]
    lines = [
        f"Measured {info['date']} on {res.target.kind} ({info['database']})"
        + (", as a server without RETURNING whose generated keys may interleave (MySQL 8): "
           "activerel and SQLAlchemy are told so; peewee and Pony never use RETURNING on MySQL."
           if res.target.no_returning else "."),
        "",
        f"- Machine: {info['machine']}" + (f"; {info['cpus']}" if info.get("cpus") else ""),
        f"- Python: {info['python']}",
        f"- Packages: {info['packages']}",
        f"- Command: `{info['command']}`",
        f"- Data: N = {opts.n:,} users, {opts.n * D.POSTS_PER_USER:,} posts, "
        f"{opts.n * D.POSTS_PER_USER * D.COMMENTS_PER_POST:,} comments, {D.TAG_COUNT} tags, "
        f"{opts.n * D.POSTS_PER_USER * D.TAGS_PER_POST:,} post_tags rows, "
        f"{max(opts.n, D.TREE_DEPTH):,} categories in a tree of depth {D.TREE_DEPTH}.",
        f"- Each cell: the median over {opts.repeat} run{'s' if opts.repeat > 1 else ''} "
        "as a ratio to raw DB-API's median in the "
        "same run, then the median itself. **Bold**: the fastest ORM of the row.",
        "",
        "| Workload | " + " | ".join(labels) + " |",
        "| --- | " + " | ".join("---:" for _ in labels) + " |",
    ]
    for w in opts.only:
        raw = res.median(w, "raw")
        if raw is None:
            continue
        meds = {n: res.median(w, n) for n in names}
        orm_meds = [v for n, v in meds.items() if n != "raw" and v is not None]
        best = min(orm_meds) if orm_meds else None
        cells = []
        for n in names:
            med = meds[n]
            if med is None:
                cells.append("n/a")
                continue
            cell = f"{_ratio(med / raw)} ({_ms(med)})"
            if n != "raw" and med == best and len(orm_meds) > 1:
                cell = f"**{cell}**"
            cells.append(cell)
        lines.append(f"| {w} {D.WORKLOADS[w]} | " + " | ".join(cells) + " |")
    if res.memory:
        raw = res.memory.get("raw")
        best = min((v for n, v in res.memory.items() if n != "raw"), default=None)
        cells = []
        for n in names:
            v = res.memory.get(n)
            if v is None:
                cells.append("n/a")
                continue
            cell = f"{_ratio(v / raw)} ({v / 2**20:.1f} MiB)"
            if n != "raw" and v == best:
                cell = f"**{cell}**"
            cells.append(cell)
        lines.append(f"| W2 peak memory (tracemalloc), N = {opts.memory_n:,} | " + " | ".join(cells)
                     + " |")
    if res.skipped:
        lines += ["", "Not measured: " + "; ".join(f"{k}: {v}" for k, v in res.skipped.items())]
    return "\n".join(lines) + "\n"


def write_docs(block: str, label: str, path: str = DOCS) -> None:
    """Put ``block`` between the ``results:<label>`` markers of the page."""
    begin, end = f"<!-- results:{label}:begin -->", f"<!-- results:{label}:end -->"
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if begin not in text or end not in text:
        raise SystemExit(f"{path} has no {begin} ... {end} markers to write the results between")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"{head}{begin}\n{block}{end}{tail}")


def command_line(argv: list[str]) -> str:
    return "python -m benchmarks" + ("" if not argv else " " + shlex.join(argv))
