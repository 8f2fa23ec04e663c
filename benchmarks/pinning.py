"""``--pin``: the benchmark process on one CPU and the local database server
on the others for the whole run, then both as they were.

Why: on a machine whose few CPUs the client and the server share, a round
trip costs what the scheduler makes of it. Measured on the 2-vCPU machine
of docs/benchmarks.md, a one-row SELECT on PostgreSQL took about 50 µs when
the client and the connection's backend ran on the same CPU and about
110 µs when they ran on two, and each connection stays one way or the
other for a while. Raw DB-API and each ORM run on connections of their
own, so unpinned they were measured under different costs: the same code
gave W9 on MariaDB 1.11x, 1.27x and 1.48x raw in three runs. Pinned, every
round trip crosses from one CPU to another, as it does (at a higher
price) between an application host and a database host.

Linux only. The server must run on this machine, and this user must be
allowed to set its CPUs (root, or the server's own user). It is found
through a connection: PostgreSQL's ``pg_backend_pid()``, whose parent is
the postmaster (new backends are its children and inherit its CPUs);
MySQL/MariaDB's ``@@pid_file``, whose threads take new connections (new
threads inherit their creator's CPUs). SQLite has no server: only the
benchmark process is pinned.

Used by :mod:`benchmarks.runner`. Imports :mod:`benchmarks.backend`."""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Iterator

from .backend import Target


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        # the command name, in parentheses, may hold spaces: count from its end
        return int(f.read().rsplit(")", 1)[1].split()[1])


def _name(pid: int) -> str:
    with open(f"/proc/{pid}/comm") as f:
        return f.read().strip()


def _threads(pid: int) -> list[int]:
    try:
        return [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except (FileNotFoundError, ProcessLookupError):
        return []


def _is_child(pid: int, parent: int) -> bool:
    try:
        return _parent(pid) == parent
    except (OSError, IndexError, ValueError):  # gone meanwhile, or not ours to read
        return False


def _not_local(target: Target, why: str) -> SystemExit:
    return SystemExit(f"--pin needs the {target.kind} server on this machine, as a process this "
                      f"user can see: {why}")


def server_tasks(target: Target) -> list[int]:
    """The thread ids of the server ``target`` connects to: every thread of
    its main process and, on PostgreSQL, of each of its children. Raises
    SystemExit where that server is not a process of this machine."""
    conn = target.connect()
    try:
        if target.kind == "postgresql":
            (backend,), = conn.execute("SELECT pg_backend_pid()").fetchall()
            try:
                root = _parent(backend)
                names = (_name(backend), _name(root))
            except (OSError, IndexError, ValueError) as exc:
                raise _not_local(target, f"its backend, pid {backend}, is not here ({exc})")
            # (a server in a container reports a pid of its own namespace)
            if root <= 1 or not all(n.startswith(("postgres", "postmaster")) for n in names):
                raise _not_local(target, f"pid {backend} here is {names[0]!r}, child of "
                                 f"{names[1]!r}, not a PostgreSQL backend")
            pids = [root] + [int(p) for p in os.listdir("/proc")
                             if p.isdigit() and _is_child(int(p), root)]
        else:
            cur = conn.cursor()
            cur.execute("SELECT @@pid_file, @@datadir")
            (pid_file, datadir), = cur.fetchall()
            path = os.path.join(datadir, pid_file)  # (a relative pid_file is in the datadir)
            try:
                with open(path) as f:
                    pid = int(f.read().strip())
                name = _name(pid)
            except (OSError, ValueError) as exc:
                raise _not_local(target, f"cannot read its pid from {path} ({exc})")
            if name not in ("mariadbd", "mysqld"):
                raise _not_local(target, f"pid {pid} of {path} is {name!r}, not mariadbd or mysqld")
            pids = [pid]
    finally:
        conn.close()
    return [tid for pid in pids for tid in _threads(pid)]


def _set(task: int, cpus: set[int]) -> None:
    try:
        os.sched_setaffinity(task, cpus)
    except (ProcessLookupError, FileNotFoundError):
        pass  # it ended meanwhile


def _restore(target: Target, before: dict[int, set[int]]) -> None:
    """The server's threads as they were (those that are left), then, where
    the server can still be reached, the threads and backends begun while
    pinned: they took the pinned CPUs from their creator and get the
    server's first CPUs back."""
    first = next(iter(before.values()))
    for task, cpus in before.items():
        _set(task, cpus)
    try:
        later = server_tasks(target)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - the rest is put back already
        print(f"--pin: the server's threads begun during the run keep their CPUs ({exc})",
              file=sys.stderr)
        return
    for task in later:
        if task not in before:
            _set(task, first)


@contextmanager
def pinned(target: Target) -> Iterator[str]:
    """Within the block, this process on the lowest CPU it may use and the
    server on the others; yields a description for the results' header."""
    if not sys.platform.startswith("linux"):
        raise SystemExit("--pin needs Linux (sched_setaffinity)")
    mine = sorted(os.sched_getaffinity(0))
    if target.kind != "sqlite" and len(mine) < 2:
        raise SystemExit("--pin needs at least two CPUs: one for the benchmark, one for the server")
    client, rest = {mine[0]}, set(mine[1:])
    tasks = [] if target.kind == "sqlite" else server_tasks(target)
    before: dict[int, set[int]] = {}
    try:
        for task in tasks:
            try:
                before[task] = os.sched_getaffinity(task)
                _set(task, rest)  # (one that ends meanwhile is left out, or kept harmlessly)
            except (ProcessLookupError, FileNotFoundError):
                continue  # ended meanwhile (the backend of server_tasks' own connection, say)
            except PermissionError as exc:
                del before[task]  # (not ours to set, nor to set back)
                raise SystemExit(f"--pin cannot set the CPUs of the {target.kind} server "
                                 f"({exc}): run as root or as the server's user, or without "
                                 "--pin") from exc
        os.sched_setaffinity(0, client)
        yield (f"the benchmark on CPU {mine[0]}" + ("" if not tasks else
               f", the {target.kind} server on CPU{'s' if len(rest) > 1 else ''} "
               f"{', '.join(map(str, sorted(rest)))}") + " (--pin)")
    finally:
        os.sched_setaffinity(0, set(mine))
        if before:
            _restore(target, before)
