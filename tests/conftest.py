"""Fixtures shared by the whole suite.

``db`` is a fresh database holding the tables of ``tests.models``, bound as
the default for active-record calls. ``sql_log`` records every statement sent
on the ``activerel.sql`` logger."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import pytest

from activerel import Database
from tests.models import ALL_MODELS


@pytest.fixture
def db():
    database = Database("sqlite://", models=ALL_MODELS)
    database.migrate()
    yield database
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
