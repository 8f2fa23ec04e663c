"""A pytest plugin for applications that use activerel (registered through
the ``pytest11`` entry point, so installing activerel makes it available).

Fixtures:

- ``activerel_database`` (per test run): a :class:`~activerel.database.Database`
  at ``--activerel-url`` or ``$ACTIVEREL_TEST_URL`` (default: SQLite in
  memory) with every registered model's table migrated once.
- ``activerel_db`` (per test): that database, bound as the default, inside
  one transaction that is rolled back when the test ends. Every session the
  test and the code under test open, ``with db.session():`` and
  active-record calls alike, shares its connection and runs as a savepoint
  of it: what they commit is seen by later sessions of the test and undone
  after it.
- ``activerel_statements``: the statements sent while the test runs, with
  ``.statements``, ``.count(verb)`` and ``.clear()``.

Imports the public :mod:`activerel` and pytest."""
from __future__ import annotations

import logging
import os
from typing import Any, Iterator, Optional

import pytest

from .database import Database


def pytest_addoption(parser: Any) -> None:
    parser.addoption("--activerel-url", default=None,
                     help="database URL of the activerel_database fixture "
                          "(default: $ACTIVEREL_TEST_URL, else SQLite in memory)")


@pytest.fixture(scope="session")
def activerel_database(request: Any) -> Iterator[Database]:
    """The test run's database: ``--activerel-url``, else ``$ACTIVEREL_TEST_URL``,
    else SQLite in memory, with every registered model's table migrated once;
    closed when the run ends."""
    url = (request.config.getoption("--activerel-url") or os.environ.get("ACTIVEREL_TEST_URL")
           or "sqlite://")
    database = Database(url)
    database.migrate()
    yield database
    database.close()


@pytest.fixture
def activerel_db(activerel_database: Database) -> Iterator[Database]:
    """The run's database, bound as the default, inside one transaction rolled
    back when the test ends; every session opened meanwhile (by the test or
    the code under test) joins it as a savepoint."""
    activerel_database.engine.pin()
    activerel_database.bind()
    try:
        yield activerel_database
    finally:
        activerel_database.engine.unpin()


class Statements(logging.Handler):
    """The statements logged on ``activerel.sql`` while it is installed."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        sql: Optional[str] = getattr(record, "sql", None)
        if sql is not None:
            self.statements.append(sql)

    def count(self, verb: Optional[str] = None) -> int:
        """How many statements were sent (starting with ``verb``, if given)."""
        if verb is None:
            return len(self.statements)
        return sum(1 for s in self.statements if s.lstrip().upper().startswith(verb.upper()))

    def clear(self) -> None:
        """Forget the statements recorded so far (to count those of one block)."""
        self.statements.clear()


@pytest.fixture
def activerel_statements() -> Iterator[Statements]:
    """The statements sent while the test runs (a :class:`Statements`)."""
    logger = logging.getLogger("activerel.sql")
    handler = Statements()
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
