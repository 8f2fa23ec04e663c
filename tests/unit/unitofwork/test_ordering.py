"""activerel.unitofwork.ordering: the insert order of tables, and of rows
where the tables' references form a cycle.

``insert_levels`` reads only ``plan.deferred`` of its plan, so a stand-in
with that one attribute is enough; the objects are plain model instances,
never persisted."""
from __future__ import annotations

import re
from typing import Annotated, Any, Optional

import pytest

from activerel import AutoIncrement, IntegrityError, Model, PrimaryKey, Reference
from activerel.mapping.mapper import mapper_of
from activerel.unitofwork.ordering import insert_levels, table_groups


class UnitOrdCountry(Model, table="unit_ord_countries"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str = ""


class UnitOrdCity(Model, table="unit_ord_cities"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    country: Reference[UnitOrdCountry]


class UnitOrdStreet(Model, table="unit_ord_streets"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    city: Reference[UnitOrdCity]


class UnitOrdNode(Model, table="unit_ord_nodes"):
    """A nullable self-reference."""
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str = ""
    parent: Annotated[Optional[UnitOrdNode], Reference(on_delete="CASCADE")] = None


class UnitOrdDept(Model, table="unit_ord_depts"):
    """With UnitOrdEmp, a two-table cycle broken at the nullable manager."""
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str = ""
    manager: Annotated[Optional[UnitOrdEmp], Reference(on_delete="SET NULL")] = None


class UnitOrdEmp(Model, table="unit_ord_emps"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str = ""
    dept: Annotated[UnitOrdDept, Reference(on_delete="CASCADE")]


class UnitOrdReqA(Model, table="unit_ord_req_a"):
    """With UnitOrdReqB, a cycle of required references: no row order exists."""
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    b: Reference[UnitOrdReqB]


class UnitOrdReqB(Model, table="unit_ord_req_b"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    a: Reference[UnitOrdReqA]


COUNTRY, CITY, STREET = (mapper_of(m) for m in (UnitOrdCountry, UnitOrdCity, UnitOrdStreet))
NODE, DEPT, EMP = (mapper_of(m) for m in (UnitOrdNode, UnitOrdDept, UnitOrdEmp))


class FakePlan:
    """What insert_levels needs of a FlushPlan."""

    def __init__(self, deferred: Optional[dict[int, list[Any]]] = None) -> None:
        self.deferred: dict[int, list[Any]] = deferred if deferred is not None else {}


def deferred_names(plan: FakePlan, objs: list[Any]) -> dict[int, list[str]]:
    """plan.deferred by the objects' positions in ``objs``, references by name."""
    pos = {id(o): i for i, o in enumerate(objs)}
    return {pos[k]: [r.name for r in refs] for k, refs in plan.deferred.items()}


# --------------------------------------------------------------------------
# table_groups


def groups(mappers):
    """table_groups as (names, cyclic) pairs."""
    return [([m.name for m in group], cyclic) for group, cyclic in table_groups(mappers)]


def test_table_groups_put_referenced_tables_first():
    expected = [(["UnitOrdCountry"], False), (["UnitOrdCity"], False), (["UnitOrdStreet"], False)]
    assert groups([STREET, CITY, COUNTRY]) == expected
    assert groups([COUNTRY, STREET, CITY]) == expected
    assert groups([CITY, STREET, COUNTRY]) == expected


def test_table_groups_keep_unrelated_tables_in_order():
    assert groups([STREET, COUNTRY]) == [(["UnitOrdStreet"], False), (["UnitOrdCountry"], False)]
    assert groups([COUNTRY, STREET]) == [(["UnitOrdCountry"], False), (["UnitOrdStreet"], False)]


def test_table_groups_ignore_tables_not_listed():
    assert groups([STREET]) == [(["UnitOrdStreet"], False)]
    assert groups([]) == []


def test_a_self_reference_is_a_cyclic_group_of_its_own():
    assert groups([NODE]) == [(["UnitOrdNode"], True)]
    # the tables around it stay one group each
    assert groups([COUNTRY, NODE, CITY]) == [(["UnitOrdCountry"], False), (["UnitOrdNode"], True),
                                             (["UnitOrdCity"], False)]


def test_a_two_table_cycle_is_one_cyclic_group():
    assert groups([DEPT, EMP]) == [(["UnitOrdDept", "UnitOrdEmp"], True)]
    assert groups([EMP, DEPT]) == [(["UnitOrdEmp", "UnitOrdDept"], True)]
    assert groups([DEPT]) == [(["UnitOrdDept"], False)]  # the cycle needs both tables


# --------------------------------------------------------------------------
# insert_levels


def test_levels_follow_a_chain_of_new_rows():
    root = UnitOrdNode(name="root")
    child = UnitOrdNode(name="child", parent=root)
    grandchild = UnitOrdNode(name="grandchild", parent=child)
    plan = FakePlan()
    assert insert_levels(plan, [grandchild, child, root]) == [2, 1, 0]
    assert plan.deferred == {}


def test_levels_are_one_more_than_the_deepest_reference():
    country = UnitOrdCountry()
    city = UnitOrdCity(country=country)
    other = UnitOrdCountry()
    street = UnitOrdStreet(city=city)
    plan = FakePlan()
    assert insert_levels(plan, [street, other, city, country]) == [2, 0, 1, 0]
    assert plan.deferred == {}


def test_references_to_rows_that_are_not_new_are_ignored():
    saved = UnitOrdNode(name="saved")  # stands for a row inserted earlier
    child = UnitOrdNode(name="child", parent=saved)
    plan = FakePlan()
    assert insert_levels(plan, [child]) == [0]
    assert plan.deferred == {}


def test_no_new_objects_no_levels():
    assert insert_levels(FakePlan(), []) == []


def test_two_table_cycle_is_broken_at_the_nullable_reference():
    dept = UnitOrdDept(name="d")
    boss = UnitOrdEmp(name="boss", dept=dept)
    dept.manager = boss
    for new, levels in (([dept, boss], [0, 1]), ([boss, dept], [1, 0])):
        plan = FakePlan()
        assert insert_levels(plan, new) == levels
        # the department is inserted first, its manager NULL, set by an UPDATE later
        assert plan.deferred == {id(dept): [DEPT.props["manager"]]}


def test_cycle_of_nullable_references_defers_the_last_one_found():
    a, b, c = UnitOrdNode(name="a"), UnitOrdNode(name="b"), UnitOrdNode(name="c")
    a.parent, b.parent, c.parent = b, c, a
    new = [a, b, c]
    plan = FakePlan()
    # the cycle is found from a: a -> b -> c -> a; its last hop, c.parent, is deferred
    assert insert_levels(plan, new) == [2, 1, 0]
    assert deferred_names(plan, new) == {2: ["parent"]}


def test_self_cycle_of_one_row_defers_its_reference():
    lonely = UnitOrdNode(name="lonely")
    lonely.parent = lonely
    plan = FakePlan()
    assert insert_levels(plan, [lonely]) == [0]
    assert plan.deferred == {id(lonely): [NODE.props["parent"]]}


def test_each_of_several_cycles_is_broken_once():
    a, b = UnitOrdNode(name="a"), UnitOrdNode(name="b")
    a.parent, b.parent = b, a
    c, d = UnitOrdNode(name="c"), UnitOrdNode(name="d")
    c.parent, d.parent = d, c
    e = UnitOrdNode(name="e", parent=c)
    new = [a, b, c, d, e]
    plan = FakePlan()
    assert insert_levels(plan, new) == [1, 0, 1, 0, 2]
    assert deferred_names(plan, new) == {1: ["parent"], 3: ["parent"]}


def test_references_already_deferred_are_not_followed():
    dept = UnitOrdDept(name="d")
    boss = UnitOrdEmp(name="boss", dept=dept)
    dept.manager = boss
    manager = DEPT.props["manager"]
    plan = FakePlan({id(dept): [manager]})
    assert insert_levels(plan, [boss, dept]) == [1, 0]
    assert plan.deferred == {id(dept): [manager]}  # nothing more deferred


def test_cycle_of_required_references_is_an_integrity_error():
    # a required reference needs a target to construct: a bare stand-in, not new
    stand_in = UnitOrdReqB.__new__(UnitOrdReqB)
    a = UnitOrdReqA(b=stand_in)
    b = UnitOrdReqB(a=a)
    a.b = b
    plan = FakePlan()
    expected = ("cannot insert a cycle of non-nullable references "
                "(UnitOrdReqA.b -> UnitOrdReqB.a -> UnitOrdReqA): make one of them Optional "
                "so it can be filled in after the insert")
    with pytest.raises(IntegrityError, match=f"^{re.escape(expected)}$"):
        insert_levels(plan, [a, b])
    assert plan.deferred == {}
    with pytest.raises(IntegrityError, match=re.escape(
            "(UnitOrdReqB.a -> UnitOrdReqA.b -> UnitOrdReqB)")):
        insert_levels(FakePlan(), [b, a])
