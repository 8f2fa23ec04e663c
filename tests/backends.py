"""Which backends the suite runs on and how to reach them.

Every behaviour test runs on SQLite, PostgreSQL and MySQL/MariaDB through the
``backend`` parameter. Server URLs come from ACTIVEREL_TEST_POSTGRESQL_URL and
ACTIVEREL_TEST_MYSQL_URL (default: the local servers). An unreachable server
skips its tests with a reason saying how to start it, except under CI=true,
where it is a failure."""
from __future__ import annotations

import atexit
import os
from functools import lru_cache
from typing import Optional

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


@lru_cache(maxsize=None)
def unreachable(backend: str) -> Optional[str]:
    """Why ``backend`` cannot be used here, or None when it can."""
    if backend == "sqlite":
        return None
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


@lru_cache(maxsize=None)
def isolated_url(backend: str) -> str:
    """The URL of this run's own schema (PostgreSQL) or database (MySQL),
    created on first use and dropped when the run ends."""
    if backend == "sqlite":
        return URLS["sqlite"]
    from activerel import Database
    base = URLS[backend]
    admin = Database(base, models=[])
    if backend == "postgresql":
        admin.execute(f'DROP SCHEMA IF EXISTS "{NAMESPACE}" CASCADE')
        admin.execute(f'CREATE SCHEMA "{NAMESPACE}"')
        sep = "&" if "?" in base else "?"
        url = f"{base}{sep}options=-csearch_path%3D{NAMESPACE}"
        drop = f'DROP SCHEMA IF EXISTS "{NAMESPACE}" CASCADE'
    else:
        admin.execute(f'DROP DATABASE IF EXISTS "{NAMESPACE}"')
        admin.execute(f'CREATE DATABASE "{NAMESPACE}" CHARACTER SET utf8mb4 COLLATE utf8mb4_bin')
        head, _, query = base.partition("?")
        url = head.rsplit("/", 1)[0] + "/" + NAMESPACE + (f"?{query}" if query else "")
        drop = f'DROP DATABASE IF EXISTS "{NAMESPACE}"'
    admin.close()

    def cleanup() -> None:
        db = Database(base, models=[])
        try:
            db.execute(drop)
        finally:
            db.close()

    atexit.register(cleanup)
    return url
