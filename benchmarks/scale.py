"""``python -m benchmarks --scale``: how the cost of a workload grows with the
size of the data. W1 (persist the whole graph) and W2 (load all users with
their posts) run at each of ``--scale-sizes`` (200, 2,000 and 20,000 users by
default) through every selected implementation, each run checked as in a
timed run; the table gives, per size, the median time per 1,000 rows as a
ratio to raw DB-API's at the same size, and the growth of each
implementation's time per row from the smallest size to the largest (1.00x:
linear). ``--memory`` adds the peak memory of each call (``tracemalloc``, in
a run of its own after the timed ones)."""
from __future__ import annotations

import statistics
import time
import tracemalloc
from types import ModuleType
from typing import TYPE_CHECKING, Optional

from . import data as D
from .backend import Admin

if TYPE_CHECKING:
    from .runner import Options, Results

#: the workloads --scale can run, and the rows each one writes or reads
SCALED = {
    "W1": lambda d: len(d.users) + len(d.tags) + len(d.posts) + len(d.comments)
    + len(d.post_tags),
    "W2": lambda d: len(d.users) + len(d.posts),
}
SIZES = (200, 2000, 20000)


def run_scale(opts: "Options", admin: Admin, impls: list[ModuleType], res: "Results") -> None:
    """Time each of ``opts.only`` (W1, W2) at each of ``opts.scale_sizes``,
    ``opts.repeat`` rounds, the order of the implementations rotated from
    round to round; store the times in ``res.scale`` and, with ``--memory``,
    the peaks in ``res.scale_memory``."""
    from .runner import MUTATING, Checker, _settle, log, prepare
    k = len(impls)
    for size_index, n in enumerate(opts.scale_sizes):
        t0 = time.perf_counter()
        d = D.generate(n)
        checker = Checker(d)
        log(f"N = {n:,}: {d.counts()} generated in {time.perf_counter() - t0:.2f} s")
        for w in opts.only:
            rows = SCALED[w](d)
            res.scale_rows[(w, n)] = rows
            if size_index == 0:
                # one checked, untimed run first, so that one-time work (generated
                # code, first-use checks of the tables) is not counted at any size
                for m in impls:
                    prepare(w, admin, d)
                    checker.verify(w, m.NAME, getattr(m, w.lower())(d), admin)
            if w not in MUTATING:
                prepare(w, admin, d)
            for r in range(opts.repeat):
                for m in impls[r % k:] + impls[:r % k]:
                    if w in MUTATING:
                        prepare(w, admin, d)
                    fn = getattr(m, w.lower())
                    _settle()
                    t1 = time.perf_counter()
                    result = fn(d)
                    elapsed = time.perf_counter() - t1
                    checker.verify(w, m.NAME, result, admin)
                    del result
                    res.scale.setdefault((w, n, m.NAME), []).append(elapsed)
            raw = statistics.median(res.scale[(w, n, "raw")])
            log(f"  {w} at N = {n:,} ({rows:,} rows): " + ", ".join(
                f"{m.NAME} {_per_k(statistics.median(res.scale[(w, n, m.NAME)]), rows)} "
                f"({statistics.median(res.scale[(w, n, m.NAME)]) / raw:.2f}x)" for m in impls))
            if opts.memory:
                for m in impls:
                    if w in MUTATING:
                        prepare(w, admin, d)
                    fn = getattr(m, w.lower())
                    _settle()
                    tracemalloc.start()
                    try:
                        result = fn(d)
                        _, peak = tracemalloc.get_traced_memory()
                    finally:
                        tracemalloc.stop()
                    checker.verify(w, m.NAME, result, admin)
                    del result
                    res.scale_memory[(w, n, m.NAME)] = peak
                log(f"  {w} peak memory at N = {n:,}: " + ", ".join(
                    f"{m.NAME} {_mib(res.scale_memory[(w, n, m.NAME)])}" for m in impls))


def _per_k(seconds: float, rows: int) -> str:
    """Milliseconds per 1,000 rows."""
    ms = seconds * 1000 * 1000 / rows
    return f"{ms:.3f} ms" if ms < 1 else f"{ms:.2f} ms"


def _mib(peak: int) -> str:
    mib = peak / 2**20
    return f"{mib:.2f} MiB" if mib < 10 else f"{mib:.1f} MiB"


def _ratio(x: float) -> str:
    return f"{x:.2f}x" if x < 9.995 else f"{x:.1f}x"


def render_scale(res: "Results") -> str:
    """The scale block: for each workload, one row per size and the growth."""
    opts, info = res.options, res.info
    names = [m.NAME for m in res.impls]
    labels = [m.LABEL for m in res.impls]
    sizes = opts.scale_sizes
    lines = [
        f"Measured {info['date']} on {res.target.kind} ({info['database']}).",
        "",
        f"- Machine: {info['machine']}" + (f"; {info['cpus']}" if info.get("cpus") else ""),
        f"- Python: {info['python']}",
        f"- Packages: {info['packages']}",
        f"- Command: `{info['command']}`",
        f"- Each cell: the time per 1,000 rows (the median over {opts.repeat} "
        f"run{'s' if opts.repeat > 1 else ''}) as a ratio to raw DB-API's at the same "
        "size, then the time itself. Growth: the time per row at the largest size "
        "divided by that at the smallest (1.00x: linear).",
    ]
    for w in opts.only:
        lines += ["", f"{w} {D.WORKLOADS[w]}:", "",
                  "| N (rows) | " + " | ".join(labels) + " |",
                  "| --- | " + " | ".join("---:" for _ in labels) + " |"]
        per_row: dict[tuple[int, str], float] = {}
        for n in sizes:
            rows = res.scale_rows.get((w, n))
            if rows is None:
                continue
            raw = statistics.median(res.scale[(w, n, "raw")])
            cells = []
            for name in names:
                t = statistics.median(res.scale[(w, n, name)])
                per_row[(n, name)] = t / rows
                cells.append(f"{_ratio(t / raw)} ({_per_k(t, rows)})")
            lines.append(f"| {n:,} ({rows:,}) | " + " | ".join(cells) + " |")
        growth = []
        for name in names:
            first: Optional[float] = per_row.get((sizes[0], name))
            last: Optional[float] = per_row.get((sizes[-1], name))
            growth.append(_ratio(last / first) if first and last else "n/a")
        lines.append(f"| growth, {sizes[0]:,} to {sizes[-1]:,} | " + " | ".join(growth) + " |")
        if res.scale_memory:
            lines += ["", f"{w}, peak memory of the call (tracemalloc):", "",
                      "| N (rows) | " + " | ".join(labels) + " |",
                      "| --- | " + " | ".join("---:" for _ in labels) + " |"]
            for n in sizes:
                if (w, n, "raw") not in res.scale_memory:
                    continue
                raw_peak = res.scale_memory[(w, n, "raw")]
                cells = [f"{_ratio(res.scale_memory[(w, n, name)] / raw_peak)} "
                         f"({_mib(res.scale_memory[(w, n, name)])})" for name in names]
                lines.append(f"| {n:,} ({res.scale_rows[(w, n)]:,}) | " + " | ".join(cells)
                             + " |")
    if res.skipped:
        lines += ["", "Not measured: " + "; ".join(f"{k}: {v}" for k, v in res.skipped.items())]
    return "\n".join(lines) + "\n"
