"""activerel.testing, the pytest plugin, used as an application would: a
project of its own, run by pytest in a subprocess, whose code under test
opens its own sessions."""
from __future__ import annotations

from tests.backends import namespace_url, require

pytest_plugins = ["pytester"]

APP_TESTS = '''
from typing import Annotated

import pytest

from activerel import AutoIncrement, Model, PrimaryKey


class Item(Model, table="items"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str


def add(name):
    """Code under test: a session of its own, committed."""
    return Item(name=name).persist()


def test_code_under_test_commits_and_the_test_sees_it(activerel_db, activerel_statements):
    add("a")
    with activerel_db.session():
        assert [i.name for i in Item.query().find()] == ["a"]
    assert activerel_statements.count("INSERT") == 1


def test_the_previous_test_left_nothing(activerel_db):
    assert Item.query().count() == 0
    add("b")
    assert Item.query().count() == 1


def test_a_failing_session_rolls_back_only_itself(activerel_db):
    add("kept")
    with pytest.raises(ZeroDivisionError):
        with activerel_db.session():
            Item(name="dropped").persist()
            activerel_db.session  # noqa: B018
            1 / 0
    assert [i.name for i in Item.query().order_by("id").find()] == ["kept"]
'''


def test_the_plugin_isolates_each_test_in_a_rolled_back_transaction(pytester, backend):
    require(backend)
    pytester.makepyfile(test_app=APP_TESTS)
    url = "sqlite://" if backend == "sqlite" else namespace_url(backend, "_plugin", fresh=True)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", f"--activerel-url={url}")
    result.assert_outcomes(passed=3)
