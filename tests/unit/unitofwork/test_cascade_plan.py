"""activerel.unitofwork.cascade.cascade_region: the tables a delete of one
table's rows cascades into, parents first, when subqueries can find the rows
(one root table, no cycle of CASCADE references, and no other referential
action on a reference whose owner a region table's subquery reads); None
otherwise.

Each group of models below is served by a Catalog of its own."""
from __future__ import annotations

from typing import Annotated, Optional

from activerel import AutoIncrement, Model, PrimaryKey, Reference
from activerel.mapping.catalog import Catalog
from activerel.mapping.mapper import mapper_of
from activerel.unitofwork.cascade import cascade_region


def catalog(*models: type) -> Catalog:
    return Catalog(list(models), "test")


# --------------------------------------------------------------------------
# A chain: UnitCpA -> UnitCpRoot, UnitCpB -> UnitCpA, and UnitCpC -> UnitCpRoot
# and UnitCpB, all CASCADE. UnitCpNote points at the root with SET NULL.


class UnitCpRoot(Model, table="unit_cp_roots"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0


class UnitCpA(Model, table="unit_cp_a"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    root: Annotated[UnitCpRoot, Reference(on_delete="CASCADE")]


class UnitCpB(Model, table="unit_cp_b"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    a: Annotated[UnitCpA, Reference(on_delete="CASCADE")]


class UnitCpC(Model, table="unit_cp_c"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    root: Annotated[UnitCpRoot, Reference(on_delete="CASCADE")]
    b: Annotated[UnitCpB, Reference(on_delete="CASCADE")]


class UnitCpNote(Model, table="unit_cp_notes"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    root: Annotated[Optional[UnitCpRoot], Reference(on_delete="SET NULL")] = None


ROOT, A, B, C, NOTE = (mapper_of(m) for m in (UnitCpRoot, UnitCpA, UnitCpB, UnitCpC, UnitCpNote))
CHAIN = catalog(UnitCpRoot, UnitCpA, UnitCpB, UnitCpC, UnitCpNote)


def test_region_of_a_cascade_chain_is_parents_first():
    # found breadth first as root, A, C, B; C references B, so B comes before it
    assert cascade_region(CHAIN, {ROOT: [1, 2]}) == [ROOT, A, B, C]


def test_region_starts_at_the_root_table():
    assert cascade_region(CHAIN, {A: [1]}) == [A, B, C]
    assert cascade_region(CHAIN, {B: [1]}) == [B, C]
    assert cascade_region(CHAIN, {C: [1]}) == [C]


def test_region_does_not_depend_on_the_keys():
    assert cascade_region(CHAIN, {ROOT: []}) == [ROOT, A, B, C]


def test_other_actions_from_tables_no_subquery_reads_are_allowed():
    # UnitCpNote's SET NULL is applied with a subquery over the region; the
    # note table itself is not read by any of the region's subqueries
    assert NOTE not in cascade_region(CHAIN, {ROOT: [1]})
    assert cascade_region(CHAIN, {NOTE: [1]}) == [NOTE]


def test_several_root_tables_have_no_region():
    assert cascade_region(CHAIN, {ROOT: [1], A: [2]}) is None
    assert cascade_region(CHAIN, {A: [], NOTE: []}) is None


def test_no_root_table_has_no_region():
    assert cascade_region(CHAIN, {}) is None


# --------------------------------------------------------------------------
# A CASCADE self-reference


class UnitCpFolder(Model, table="unit_cp_folders"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    parent: Annotated[Optional[UnitCpFolder], Reference(on_delete="CASCADE")] = None


class UnitCpFile(Model, table="unit_cp_files"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    folder: Annotated[UnitCpFolder, Reference(on_delete="CASCADE")]


FOLDER, FILE = mapper_of(UnitCpFolder), mapper_of(UnitCpFile)
TREE = catalog(UnitCpFolder, UnitCpFile)


def test_cascade_self_reference_has_no_region():
    assert cascade_region(TREE, {FOLDER: [1]}) is None


def test_a_table_below_a_self_reference_has_a_region():
    assert cascade_region(TREE, {FILE: [1]}) == [FILE]


# --------------------------------------------------------------------------
# A CASCADE cycle of two tables


class UnitCpX(Model, table="unit_cp_x"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    y: Annotated[Optional[UnitCpY], Reference(on_delete="CASCADE")] = None


class UnitCpY(Model, table="unit_cp_y"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    x: Annotated[UnitCpX, Reference(on_delete="CASCADE")]


X, Y = mapper_of(UnitCpX), mapper_of(UnitCpY)
LOOP = catalog(UnitCpX, UnitCpY)


def test_cascade_cycle_has_no_region():
    assert cascade_region(LOOP, {X: [1]}) is None
    assert cascade_region(LOOP, {Y: [1]}) is None


# --------------------------------------------------------------------------
# Other actions on references whose owner a subquery reads


class UnitCpPerson(Model, table="unit_cp_people"):
    """A SET NULL self-reference: deleting people un-mentors other people."""
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    mentor: Annotated[Optional[UnitCpPerson], Reference(on_delete="SET NULL")] = None


class UnitCpPet(Model, table="unit_cp_pets"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    owner: Annotated[UnitCpPerson, Reference(on_delete="CASCADE")]


PERSON, PET = mapper_of(UnitCpPerson), mapper_of(UnitCpPet)
PEOPLE = catalog(UnitCpPerson, UnitCpPet)


def test_set_null_into_the_table_its_own_subquery_reads_has_no_region():
    # UnitCpPerson.mentor is owned by the root table, which the root's
    # subquery reads
    assert cascade_region(PEOPLE, {PERSON: [1]}) is None


def test_a_cascade_child_of_such_a_table_still_has_a_region():
    assert cascade_region(PEOPLE, {PET: [1]}) == [PET]


class UnitCpShop(Model, table="unit_cp_shops"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    featured: Annotated[Optional[UnitCpShelf], Reference(on_delete="SET NULL")] = None


class UnitCpShelf(Model, table="unit_cp_shelves"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    shop: Annotated[UnitCpShop, Reference(on_delete="CASCADE")]


SHOP, SHELF = mapper_of(UnitCpShop), mapper_of(UnitCpShelf)
SHOPS = catalog(UnitCpShop, UnitCpShelf)


def test_set_null_from_a_cascade_parent_has_no_region():
    # the shelves' subquery reads the shops, and UnitCpShop.featured (SET NULL)
    # points at the shelves
    assert cascade_region(SHOPS, {SHOP: [1]}) is None


def test_the_same_reference_is_fine_when_its_owner_is_not_read():
    # deleting shelves alone reads no shop: the SET NULL is one UPDATE
    assert cascade_region(SHOPS, {SHELF: [1]}) == [SHELF]
