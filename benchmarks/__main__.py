"""``python -m benchmarks``: activerel against SQLAlchemy, peewee, Pony and raw
DB-API. See docs/benchmarks.md."""
from __future__ import annotations

import argparse
import sys

from . import data as D
from .runner import IMPLEMENTATIONS, Options, command_line, log, render, run, write_docs
from .scale import SCALED, SIZES, render_scale


def _list(value: str, known: tuple[str, ...], what: str, upper: bool = False) -> tuple[str, ...]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    items = [v.upper() if upper else v.lower() for v in items]
    unknown = [v for v in items if v not in known]
    if unknown or not items:
        raise argparse.ArgumentTypeError(
            f"unknown {what} {', '.join(unknown) or '(none given)'}; choose from {','.join(known)}")
    return tuple(v for v in known if v in items)      # table order, no duplicates


def parse(argv: list[str]) -> Options:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Time the workloads W1-W10 and W12-W16 through activerel, SQLAlchemy, peewee, "
                    "Pony and raw DB-API on the same database, check every result, and print "
                    "the table.")
    p.add_argument("--n", type=int, default=2000, help="number of users (default 2000)")
    p.add_argument("--repeat", type=int, default=5, help="runs per workload and ORM; the median "
                   "is reported (default 5)")
    p.add_argument("--url", default=None,
                   help="sqlite:///path.db, postgresql://user@host:5432/db or "
                        "mysql://user@host:3306/db (default: a SQLite file in a temp directory)")
    p.add_argument("--namespace", default="activerel_bench",
                   help="the PostgreSQL schema / MySQL database the run creates, uses and drops "
                        "(default activerel_bench)")
    p.add_argument("--only", default=",".join(D.WORKLOADS),
                   type=lambda v: _list(v, tuple(D.WORKLOADS), "workload", upper=True),
                   help="workloads to run, e.g. W1,W5,W12 (default: all)")
    p.add_argument("--orms", default=",".join(IMPLEMENTATIONS),
                   type=lambda v: _list(v, IMPLEMENTATIONS, "implementation"),
                   help=f"implementations, from {','.join(IMPLEMENTATIONS)} (default: all; raw is "
                        "always needed, as the reference)")
    p.add_argument("--memory", action="store_true",
                   help="also measure W2's peak memory (tracemalloc) at --memory-n users")
    p.add_argument("--memory-n", type=int, default=20000, help="N for --memory (default 20000)")
    p.add_argument("--check", action="store_true",
                   help="only verify: every workload through every installed ORM at N=200, once "
                        "(--n/--repeat override)")
    p.add_argument("--profile", action="store_true",
                   help="run each selected workload once per ORM under cProfile and print the top "
                        "functions by own time (see --profile-sort) instead of timing")
    p.add_argument("--profile-top", type=int, default=15, help="rows of --profile output (15)")
    p.add_argument("--profile-sort", choices=("tottime", "cumulative"), default="tottime",
                   help="order of the --profile output: own time (default) or cumulative time")
    p.add_argument("--profile-out", metavar="DIR", default=None,
                   help="with --profile, also write each profile to DIR/<workload>-<orm>.prof "
                        "(for pstats or snakeviz)")
    p.add_argument("--scale", action="store_true",
                   help="instead of the table, run W1 and W2 (or --only W1/W2) at each of "
                        "--scale-sizes and print the time per 1,000 rows as a ratio to raw "
                        "at each size; with --memory, also the peak memory (slow at 20000)")
    p.add_argument("--scale-sizes", default=",".join(map(str, SIZES)),
                   help="the N of --scale (default 200,2000,20000)")
    p.add_argument("--no-returning", action="store_true",
                   help="MySQL/MariaDB only: run as on a server without INSERT ... RETURNING "
                        "whose generated keys may interleave (MySQL 8's default)")
    p.add_argument("--pin", action="store_true",
                   help="Linux: run the benchmark on one CPU and the local database server on "
                        "the others, so that every connection's round trip costs the same "
                        "(see benchmarks/pinning.py; needs the right to set the server's CPUs)")
    p.add_argument("--write-docs", action="store_true",
                   help="write the results into docs/benchmarks.md between the markers of "
                        "this backend")
    a = p.parse_args(argv)
    explicit = {arg.split("=", 1)[0] for arg in argv if arg.startswith("--")}
    n, repeat = a.n, a.repeat
    if a.check:
        n = a.n if "--n" in explicit else 200
        repeat = a.repeat if "--repeat" in explicit else 1
    if n < 2 or repeat < 1:
        p.error("--n must be at least 2 and --repeat at least 1")
    if a.write_docs and (a.check or a.profile):
        p.error("--write-docs goes with a timed run, not --check or --profile")
    sizes: tuple[int, ...] = SIZES
    if a.scale:
        if a.check or a.profile:
            p.error("--scale is a timed run of its own, not with --check or --profile")
        try:
            sizes = tuple(int(v.replace("_", "")) for v in a.scale_sizes.split(",") if v.strip())
        except ValueError:
            p.error("--scale-sizes takes numbers, e.g. 200,2000,20000")
        if not sizes or min(sizes) < 2:
            p.error("--scale-sizes must be at least 2 each")
        if "--only" not in explicit:
            a.only = tuple(SCALED)
        elif any(w not in SCALED for w in a.only):
            p.error(f"--scale runs {' and '.join(SCALED)} only")
        if "--repeat" not in explicit:
            repeat = 3
    if a.no_returning and not (a.url or "").lower().startswith(("mysql", "mariadb")):
        p.error("--no-returning goes with a mysql:// URL")
    named = a.orms
    if "raw" not in a.orms:
        a.orms = ("raw",) + a.orms
    return Options(n=n, repeat=repeat, url=a.url, only=a.only, orms=a.orms, memory=a.memory,
                   memory_n=a.memory_n, check=a.check, profile=a.profile,
                   profile_top=a.profile_top, write_docs=a.write_docs, namespace=a.namespace,
                   no_returning=a.no_returning, profile_sort=a.profile_sort,
                   profile_out=a.profile_out, scale=a.scale, scale_sizes=sizes,
                   command=command_line(argv), named=named, pin=a.pin)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    opts = parse(argv)
    try:
        res = run(opts)
    except D.CheckFailed as exc:
        log(f"\nCHECK FAILED: {exc}")
        return 1
    if opts.profile:
        return 0
    if opts.check:
        count = len(res.times)
        print(f"check: {count} passed, 0 failed ({len(opts.only)} workloads x "
              f"{len(res.impls)} implementations, N = {opts.n:,}, {res.target.kind})"
              + (f"; skipped: {', '.join(res.skipped)}" if res.skipped else ""))
        return 0
    if opts.scale:
        block, label = render_scale(res), "scale-" + res.target.label
    else:
        block, label = render(res), res.target.label
    print(block)
    if opts.write_docs:
        write_docs(block, label)
        log(f"docs/benchmarks.md updated ({label})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
