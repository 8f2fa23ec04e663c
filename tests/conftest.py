"""Fixtures shared by the whole suite.

``backend`` runs a test once per backend (SQLite, PostgreSQL, MySQL/MariaDB);
tests marked ``sqlite_only`` run on SQLite alone. ``db`` is a database holding
the tables of ``tests.models``, emptied before each test and bound as the
default for active-record calls; ``make_db(models)`` gives a database with
other models' tables, created fresh. ``sql_log`` records every statement sent
on the ``activerel.sql`` logger."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest

from activerel import Database
from tests.backends import BACKENDS, URLS, namespace_url, require
from tests.models import ALL_MODELS


def pytest_configure(config: Any) -> None:
    config.addinivalue_line("markers", "sqlite_only: behaviour that only SQLite has")


def pytest_generate_tests(metafunc: Any) -> None:
    if "backend" in metafunc.fixturenames:
        only = metafunc.definition.get_closest_marker("sqlite_only")
        names = ("sqlite",) if only else BACKENDS
        metafunc.parametrize("backend", names, scope="session")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """How many tests ran on each backend: every behaviour test runs on all
    three; SQLite also runs the tests of SQLite-only behaviour."""
    counts: dict[str, dict[str, int]] = {}
    sqlite_only = 0
    for outcome in ("passed", "failed", "error", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            if outcome in ("passed", "failed") and getattr(report, "when", "call") != "call":
                continue
            params = report.nodeid.rsplit("[", 1)[-1].rstrip("]") if "[" in report.nodeid else ""
            backend = next((b for b in BACKENDS if params == b or params.startswith(b + "-")), None)
            if backend is None:
                continue
            counts.setdefault(backend, {}).setdefault(outcome, 0)
            counts[backend][outcome] += 1
            if "sqlite_only" in getattr(report, "keywords", {}):
                sqlite_only += 1
    if counts:
        terminalreporter.section("tests per backend")
        for backend in BACKENDS:
            c = counts.get(backend, {})
            line = f"{backend}: {sum(c.values())} run (" + ", ".join(
                f"{n} {o}" for o, n in sorted(c.items())) + ")"
            if backend == "sqlite" and sqlite_only:
                line += f", of which {sqlite_only} SQLite-only; {sum(c.values()) - sqlite_only} shared"
            terminalreporter.write_line(line)


@pytest.fixture(autouse=True)
def _reset_factory_sequences() -> None:
    """Every test starts its factory-built names at user0, post0, ..."""
    from tests.factories import ALL_FACTORIES
    for factory in ALL_FACTORIES:
        factory.reset_sequence()


def _reset(database: Database) -> None:
    """Empty every served table and restart generated keys."""
    tables = [m.table for m in database.mappers]
    with database.session() as s:
        for sql in database.dialect.truncate_sql(tables):
            s.execute(sql)


_shared: dict[str, Database] = {}


@pytest.fixture
def db(backend: str):
    """The shared models' database on ``backend``: SQLite fresh in memory per
    test; a server migrated once per run and emptied before each test."""
    require(backend)
    if backend == "sqlite":
        database = Database(URLS["sqlite"], models=ALL_MODELS)
        database.migrate()
        yield database
        database.close()
        return
    database = _shared.get(backend)
    if database is None:
        database = Database(namespace_url(backend), models=ALL_MODELS)
        database.migrate()
        _shared[backend] = database
    _reset(database)
    database.bind()
    yield database


@pytest.fixture
def server_url(backend: str) -> str | None:
    """The URL of ``backend``'s server (skipped where it is unreachable);
    None for SQLite, which has none."""
    require(backend)
    return None if backend == "sqlite" else URLS[backend]


@pytest.fixture
def make_db(backend: str) -> Callable[..., Database]:
    """``make_db(models, echo=False)``: a database on ``backend`` with fresh
    tables for ``models`` (dropped first on a server), bound as the default."""
    require(backend)
    made: list[Database] = []

    def make(models: list[type], echo: bool = False) -> Database:
        # a namespace apart from the shared one, emptied for each test
        url = namespace_url(backend, "_own", fresh=not made) if backend != "sqlite" else URLS["sqlite"]
        database = Database(url, models=models, echo=echo)
        database.migrate()
        made.append(database)
        return database

    yield make
    for database in made:
        database.close()


@dataclass
class SqlLog:
    """Statements captured from the ``activerel.sql`` logger; each log record
    carries ``record.sql`` (the text) and ``record.params``."""
    records: list = field(default_factory=list)

    @property
    def statements(self) -> list[str]:
        return [r.sql for r in self.records]

    def count(self, verb: str | None = None) -> int:
        if verb is None:
            return len(self.records)
        return sum(1 for r in self.records if r.sql.lstrip().upper().startswith(verb.upper()))

    def clear(self) -> None:
        self.records.clear()


class _Capture(logging.Handler):
    def __init__(self, log: SqlLog):
        super().__init__(logging.DEBUG)
        self.log = log

    def emit(self, record: logging.LogRecord) -> None:
        self.log.records.append(record)


@pytest.fixture
def sql_log():
    log = SqlLog()
    logger = logging.getLogger("activerel.sql")
    handler = _Capture(log)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    yield log
    logger.removeHandler(handler)
    logger.setLevel(old_level)
