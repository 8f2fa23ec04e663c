"""Which backends the suite runs on and how to reach them.

Every behaviour test runs on SQLite, PostgreSQL and MySQL/MariaDB through the
``backend`` parameter. Server URLs come from ACTIVEREL_TEST_POSTGRESQL_URL and
ACTIVEREL_TEST_MYSQL_URL (default: the local servers). An unreachable server
skips its tests with a reason saying how to start it, except under CI=true,
where it is a failure."""
from __future__ import annotations

import atexit
import importlib
import os
from functools import lru_cache
from typing import Any, Optional

BACKENDS = ("sqlite", "postgresql", "mysql")

URLS = {
    "sqlite": "sqlite://",
    "postgresql": os.environ.get("ACTIVEREL_TEST_POSTGRESQL_URL",
                                 "postgresql://postgres@127.0.0.1:5432/test"),
    "mysql": os.environ.get("ACTIVEREL_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test"),
}

HOW_TO_START = {
    "postgresql": ("start PostgreSQL (pg_ctlcluster --skip-systemctl-redirect "
                   "$(ls /etc/postgresql) main start) or set ACTIVEREL_TEST_POSTGRESQL_URL; "
                   "needs pip install -e '.[postgresql]'"),
    "mysql": ("start MariaDB (start-stop-daemon --start --oknodo --background --exec "
              "/usr/sbin/mariadbd) or set ACTIVEREL_TEST_MYSQL_URL; needs "
              "pip install -e '.[mysql]'"),
}


#: each test run works in a namespace of its own, so concurrent runs never collide
NAMESPACE = f"activerel_test_{os.getpid()}"


#: the driver module each server backend needs, and the extra that installs it
DRIVERS = {"postgresql": ("psycopg", "postgresql"), "mysql": ("MySQLdb", "mysql")}


@lru_cache(maxsize=None)
def unreachable(backend: str) -> Optional[str]:
    """Why ``backend`` cannot be used here, or None when it can: its driver
    is missing, or its server cannot be reached."""
    if backend == "sqlite":
        return None
    module, extra = DRIVERS[backend]
    try:
        importlib.import_module(module)
    except ImportError:
        return (f"{backend}: the driver {module} is not installed: "
                f"pip install -e '.[test,{extra}]'")
    from activerel import ActiverelError, Database
    url = URLS[backend]
    try:
        db = Database(url, models=[])
        try:
            db.execute("SELECT 1")
        finally:
            db.close()
    except (ActiverelError, ImportError) as exc:
        return f"{backend} at {url} is unreachable ({exc}); {HOW_TO_START[backend]}"
    return None


def require(backend: str) -> None:
    """Skip the calling test where ``backend`` is unreachable; under CI=true,
    fail it instead."""
    import pytest
    why = unreachable(backend)
    if why is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run every backend: {why}")
        pytest.skip(why)


def _admin(backend: str) -> Any:
    from activerel import Database
    return Database(URLS[backend], models=[])


def _namespace_url(backend: str, name: str) -> str:
    base = URLS[backend]
    if backend == "postgresql":
        sep = "&" if "?" in base else "?"
        return f"{base}{sep}options=-csearch_path%3D{name}"
    head, _, query = base.partition("?")
    return head.rsplit("/", 1)[0] + "/" + name + (f"?{query}" if query else "")


def _recreate(backend: str, name: str) -> None:
    admin = _admin(backend)
    try:
        if backend == "postgresql":
            admin.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
            admin.execute(f'CREATE SCHEMA "{name}"')
        else:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.execute(f'CREATE DATABASE "{name}" CHARACTER SET utf8mb4 COLLATE utf8mb4_bin')
    finally:
        admin.close()


_created: set[tuple[str, str]] = set()


def _drop_all_namespaces() -> None:
    for backend, name in _created:
        admin = _admin(backend)
        try:
            kind = "SCHEMA" if backend == "postgresql" else "DATABASE"
            admin.execute(f'DROP {kind} IF EXISTS "{name}"' + (" CASCADE" if kind == "SCHEMA" else ""))
        finally:
            admin.close()


atexit.register(_drop_all_namespaces)


def namespace_url(backend: str, suffix: str = "", fresh: bool = False) -> str:
    """The URL of one of this run's own schemas (PostgreSQL) or databases
    (MySQL), created on first use (``fresh``: emptied now) and dropped when
    the run ends."""
    if backend == "sqlite":
        return URLS["sqlite"]
    name = NAMESPACE + suffix
    if fresh or (backend, name) not in _created:
        _recreate(backend, name)
        _created.add((backend, name))
    return _namespace_url(backend, name)


def tables(database: Any) -> set[str]:
    """The tables in ``database``'s own schema, on any backend."""
    return database.dialect.table_names(database.execute)


# -- killing a session's server connection (tests/test_faults.py) ------------------

#: the backends with a server whose connections can be killed
SERVERS = ("postgresql", "mysql")


def connection_id_sql(backend: str) -> str:
    """The SELECT that returns the server's id of the connection it runs on."""
    return "SELECT pg_backend_pid()" if backend == "postgresql" else "SELECT CONNECTION_ID()"


def kill_connection(backend: str, killer: Any, conn_id: int, wait: float = 5.0) -> None:
    """Make the server end connection ``conn_id`` as an administrator would
    (PostgreSQL: pg_terminate_backend; MySQL/MariaDB: KILL), sent on the
    DB-API connection ``killer`` (in autocommit mode), and wait until the
    server no longer lists it, so the killed connection's transaction is
    rolled back and its socket closed before this returns."""
    import time
    cur = killer.cursor()
    if backend == "postgresql":
        cur.execute("SELECT pg_terminate_backend(%s)", (conn_id,))
        assert cur.fetchall() == [(True,)], f"PostgreSQL has no backend {conn_id} to terminate"
        listed = "SELECT COUNT(*) FROM pg_stat_activity WHERE pid = %s"
    else:
        cur.execute("KILL %s", (conn_id,))
        listed = "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = %s"
    deadline = time.monotonic() + wait
    while True:
        cur.execute(listed, (conn_id,))
        if cur.fetchall()[0][0] == 0:
            break
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{backend} connection {conn_id} still listed {wait} s after the kill")
        time.sleep(0.005)
    cur.close()
