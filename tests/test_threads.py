"""Several threads using models for the first time at once, as a web
server's first requests do: each model is parsed and its code generated
once, and every thread sees the finished mapping."""
from __future__ import annotations

import sys
import threading
from typing import Annotated, Any, Optional

from activerel import AutoIncrement, BackReference, Model, PrimaryKey, Reference, inspect
from activerel.mapping.mapper import mapper_of

THREADS = 8
ROUNDS = 50


def _declare(n: int) -> tuple[type, type, type]:
    """Three fresh models (never resolved yet) that name each other."""
    ns: dict[str, Any] = {}

    class Owner(Model, table=f"thr_owners_{n}"):
        id: Annotated[int, PrimaryKey, AutoIncrement] = 0
        name: str
        pets: BackReference[list["Pet"]]

    class Pet(Model, table=f"thr_pets_{n}"):
        id: Annotated[int, PrimaryKey, AutoIncrement] = 0
        owner: Annotated[Owner, Reference(on_delete="CASCADE")]
        sitter: Annotated[Optional["Sitter"], Reference(on_delete="SET NULL")] = None
        name: str = ""

    class Sitter(Model, table=f"thr_sitters_{n}"):
        id: Annotated[int, PrimaryKey, AutoIncrement] = 0
        name: str

    ns.update(Owner=Owner, Pet=Pet, Sitter=Sitter)
    return Owner, Pet, Sitter


def _use_at_once(models: tuple[type, type, type]) -> list[BaseException]:
    Owner, Pet, Sitter = models
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []
    results: list[tuple] = []

    def work(i: int) -> None:
        try:
            start.wait()
            cls = (Owner, Pet, Sitter)[i % 3]
            mapper_of(cls)
            owner = Owner(name=f"o{i}")
            pet = Pet(owner=owner, name=f"p{i}", sitter=Sitter(name=f"s{i}"))
            results.append((owner.pets == [pet], inspect(pet).is_new,
                            sorted(mapper_of(Pet).props), len(mapper_of(Pet).references)))
        except BaseException as exc:  # noqa: B036 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [(True, True, ["id", "name", "owner", "sitter"], 2)] * (THREADS - len(errors))
    return errors


def test_models_resolved_from_many_threads_at_once():
    # switch threads as often as the interpreter can, so that resolutions
    # that are not serialised would interleave
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for n in range(ROUNDS):
            errors = _use_at_once(_declare(n))
            assert errors == [], f"round {n}: {errors!r}"
    finally:
        sys.setswitchinterval(interval)
