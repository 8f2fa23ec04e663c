"""The cyclic garbage collector around bulk loads.

A query pauses the collector while it builds objects. A load bigger than a
whole young-generation cycle ends with the one generation-1 collection the
collector would have run by then, so the new objects are scanned once and
promoted, not scanned again at gen 0 and at gen 1. A small load forces
nothing, and a collector the application disabled stays disabled."""
from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from tests.models import Post, User

USERS = 3000


@pytest.fixture
def collected() -> Iterator[list[int]]:
    """The generation of every collection that runs during the test."""
    seen: list[int] = []

    def record(phase: str, info: dict) -> None:
        if phase == "stop":
            seen.append(info["generation"])

    gc.callbacks.append(record)
    yield seen
    gc.callbacks.remove(record)


@pytest.fixture
def many_users(db) -> None:
    with db.session():
        db.persist(*[User(username=f"user{i:04}") for i in range(USERS)])


def _objects_per_cycle() -> int:
    threshold0, threshold1, _ = gc.get_threshold()
    return threshold0 * threshold1


def test_a_large_load_ends_with_one_generation_1_collection(db, many_users, collected):
    # 3,000 users are at least 6,000 tracked objects plus their dicts: more
    # than one young-generation cycle (700 x 10 by default)
    assert USERS * 2 < _objects_per_cycle() < USERS * 3
    with db.session():
        gc.collect()
        collected.clear()
        users = User.query().find()
        assert gc.isenabled()
        assert collected == [1]
        assert gc.get_count()[0] < gc.get_threshold()[0]
    assert [u.username for u in users[:2]] == ["user0000", "user0001"]
    assert len(users) == USERS


def test_a_small_load_forces_no_collection(db, collected):
    with db.session():
        db.persist(User(username="ada"))
        gc.collect()
        collected.clear()
        assert [u.username for u in User.query().find()] == ["ada"]
        assert Post.query().find() == []
    assert collected == []
    assert gc.isenabled()


def test_a_disabled_collector_stays_disabled(db, many_users, collected):
    gc.collect()
    collected.clear()
    gc.disable()
    try:
        assert len(User.query().find()) == USERS
        assert not gc.isenabled()
        assert collected == []
    finally:
        gc.enable()
