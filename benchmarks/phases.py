"""``python -m benchmarks.phases [--url URL] [--requests K]``: where a short
session's Python work goes, counted rather than timed.

Each W9 request (a user by key, its posts with their tags, a new title, a
new comment, commit) and each of W10's four small queries runs under
``sys.settrace`` with ``f_trace_opcodes``; the Python bytecodes executed are
counted per phase of the request (and per function within it). The count is
the same on every run, unlike a time on this machine, so a change to the
short-session path can be judged by it; the driver's C code is not counted
(callgrind counts it: see docs/benchmarks.md). Raw DB-API's whole W9 request
is counted the same way, as the reference.

The dataset is the benchmark's at N = 200 (``benchmarks.data``); 20 requests
(and 20 query rounds) warm up first, then ``--requests`` of each are counted
(default 50)."""
from __future__ import annotations

import argparse
import copy
import sys
from collections import Counter
from typing import Any, Callable, Optional

from . import data as D
from . import impl_activerel as A
from . import impl_raw as R
from .backend import Admin, Target


class OpcodeCounter:
    """Counts executed opcodes by phase and by function while installed."""

    def __init__(self) -> None:
        self.phase: Optional[str] = None
        self.by_phase: Counter[str] = Counter()
        self.by_function: Counter[tuple[str, str]] = Counter()

    def _trace(self, frame: Any, event: str, arg: Any) -> Callable[..., Any]:
        frame.f_trace_opcodes = True
        if event == "opcode" and self.phase is not None:
            self.by_phase[self.phase] += 1
            code = frame.f_code
            self.by_function[(self.phase, f"{code.co_filename.rsplit('/', 1)[-1]}:{code.co_name}")] += 1
        return self._trace

    def __enter__(self) -> "OpcodeCounter":
        sys.settrace(self._trace)
        return self

    def __exit__(self, *exc: Any) -> None:
        sys.settrace(None)
        self.phase = None

    def report(self, title: str, n: int, top: int = 6) -> None:
        total = sum(self.by_phase.values())
        print(f"{title}: {total / n:,.0f} opcodes per round")
        for phase, count in self.by_phase.items():
            funcs = sorted(((v, f) for (p, f), v in self.by_function.items() if p == phase),
                           reverse=True)[:top]
            print(f"  {phase:<12} {count / n:>7,.0f}   " +
                  ", ".join(f"{f} {v / n:,.0f}" for v, f in funcs))


def w9_phases(d: D.Dataset, requests: list[Any]) -> OpcodeCounter:
    db, User, Post, Comment = A.db, A.User, A.Post, A.Comment
    assert db is not None
    c = OpcodeCounter()
    with c:
        for uid, index, text in requests:
            c.phase = "enter"
            s = db.session(write=True)
            s.__enter__()
            c.phase = "get"
            user = User.get(uid)
            c.phase = "build"
            q = Post.query().filter(Post.author == user).order_by("id").join_with("tags")
            c.phase = "find"
            posts = q.find()
            c.phase = None
            post = posts[index]
            title = d.request_title(post.title, [t.name for t in post.tags])
            c.phase = "set title"
            post.title = title
            c.phase = "new comment"
            Comment(post=post, author=user, text=text).persist()
            c.phase = "exit"
            s.__exit__(None, None, None)
    return c


def w10_phases(rounds: list[Any]) -> OpcodeCounter:
    db, User, Post, Comment = A.db, A.User, A.Post, A.Comment
    assert db is not None
    c = OpcodeCounter()
    with db.session(), c:
        for name, author, counted, asked, who in rounds:
            c.phase = "find_one"
            User.query().filter(User.name == name).find_one()
            c.phase = "find"
            (Post.query().filter(Post.author == author, Post.published == True)  # noqa: E712
             .order_by("-id").limit(D.NEWEST).find())
            c.phase = "count"
            Comment.query().filter(Comment.post == counted).count()
            c.phase = "exists"
            Comment.query().filter(Comment.post == asked, Comment.author == who).exists()
            c.phase = None
    return c


def raw_w9(d: D.Dataset, requests: list[Any]) -> OpcodeCounter:
    c = OpcodeCounter()
    part = copy.copy(d)
    part.requests = requests  # type: ignore[misc]  # a cached property, set in the copy
    with c:
        c.phase = "request"
        R.w9(part)
    return c


def main(argv: Optional[list[str]] = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.phases", description=__doc__)
    ap.add_argument("--url", default=None, help="as for python -m benchmarks (default: a "
                    "SQLite file in a temporary directory)")
    ap.add_argument("--requests", type=int, default=50)
    opts = ap.parse_args(argv)
    target = Target.parse(opts.url)
    target.create_namespace()
    admin = Admin(target)
    try:
        admin.recreate()
        A.setup(target)
        R.setup(target)
        d = D.generate(200)
        admin.reset(d)
        k = opts.requests
        requests, rounds = d.requests[20:20 + k], d.queries[20:20 + k]
        warm = copy.copy(d)
        warm.requests, warm.queries = d.requests[:20], d.queries[:20]  # type: ignore[misc]
        A.w9(warm)
        A.w10(warm)
        R.w9(warm)
        raw_w9(d, requests).report(f"W9 through raw DB-API ({target.kind})", len(requests))
        w9_phases(d, requests).report(f"W9 through activerel ({target.kind})", len(requests))
        w10_phases(rounds).report(f"W10 through activerel ({target.kind}), one round = "
                                  "four queries", len(rounds))
    finally:
        A.teardown()
        R.teardown()
        admin.close()
        target.drop_namespace()


if __name__ == "__main__":
    main()
