"""Fixtures of the unit tests: none of them needs a database. The folders
mirror the package (``util`` for ``activerel._util``, ``dialects``, ``sql``,
``unitofwork``).

The suite's ``tests/conftest.py`` parametrizes only tests that ask for the
``backend`` fixture (directly or through ``db``, ``make_db``, ...), and no
unit test does, so each one runs once. Its one autouse fixture resets the
factory-boy sequences of the shared models; unit tests build no factory
objects, so it is replaced here by a no-op, which keeps them independent of
``tests.factories``."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _reset_factory_sequences() -> None:
    """Overrides the suite-wide fixture of the same name: nothing to reset."""
