"""Insert order: every new row after the new rows it references. Tables are
ordered first; only where the tables' references form a cycle (a
self-reference included) are rows ordered one by one, in levels, with each
cycle of rows broken at a nullable reference, which is inserted as NULL and
filled in by an UPDATE afterwards (``plan.deferred``).

Called by :mod:`activerel.unitofwork.persistence`. Imports
:mod:`activerel._util.graph`, :mod:`activerel.unitofwork.plan` and
:mod:`activerel.mapping`."""
from __future__ import annotations

from typing import Any

from .._util import graph
from ..errors import IntegrityError
from ..mapping.mapper import Mapper
from ..mapping.properties import ReferenceProp
from .plan import FlushPlan, mapper_of_obj


def table_groups(mappers: list[Mapper]) -> list[tuple[list[Mapper], bool]]:
    """The mappers in groups, referenced groups first: each table alone, or
    the tables of one reference cycle together; with whether the group's
    rows must be ordered one by one (a cycle, a self-reference included).
    Only those tables' rows are ordered in levels: the others take one
    INSERT per table whatever the cycles elsewhere in the graph."""
    groups = []
    for component in graph.components(mappers, _targets):
        cyclic = len(component) > 1 or any(r.target_mapper is component[0]
                                           for r in component[0].references)
        groups.append((component, cyclic))
    return groups


def _targets(m: Mapper) -> list[Mapper]:
    return [r.target_mapper for r in m.references]


def _deps(plan: FlushPlan, obj: Any, index: dict[int, int]) -> list[tuple[ReferenceProp, int]]:
    """(reference, position in ``new``) of every new object ``obj`` references,
    except through references already deferred."""
    d = obj.__dict__
    out = []
    deferred = plan.deferred.get(id(obj), ())
    for ref in mapper_of_obj(obj).references:
        t = d.get(ref.name)
        if t is not None and ref not in deferred:
            j = index.get(id(t))
            if j is not None:
                out.append((ref, j))
    return out


def insert_levels(plan: FlushPlan, new: list[Any]) -> list[int]:
    """The insert level of each new object: one more than the deepest new
    object it references. Each cycle is broken at a nullable reference (the
    last one along the cycle as found); a cycle of required references
    raises IntegrityError."""
    index = {id(o): i for i, o in enumerate(new)}
    nodes = list(range(len(new)))

    def edges(i: int) -> list[int]:
        return [j for _, j in _deps(plan, new[i], index)]

    while True:
        cycle = graph.find_cycle(nodes, edges)
        if cycle is None:
            break
        _break(plan, new, index, cycle)
    order = graph.sort(nodes, edges)
    assert order is not None  # every cycle was broken above
    level = [0] * len(new)
    for i in order:
        level[i] = max((level[j] + 1 for j in edges(i)), default=0)
    return level


def _break(plan: FlushPlan, new: list[Any], index: dict[int, int], cycle: list[int]) -> None:
    """Defer one nullable reference of the cycle of objects ``cycle``."""
    hops: list[tuple[int, ReferenceProp]] = []
    for pos, i in enumerate(cycle):
        nxt = cycle[(pos + 1) % len(cycle)]
        ref = next(r for r, j in _deps(plan, new[i], index) if j == nxt)
        hops.append((i, ref))
    candidates = [(i, ref) for i, ref in hops if ref.nullable]
    if not candidates:
        names = " -> ".join(f"{mapper_of_obj(new[i]).name}.{ref.name}" for i, ref in hops)
        raise IntegrityError(
            f"cannot insert a cycle of non-nullable references ({names} -> "
            f"{mapper_of_obj(new[cycle[0]]).name}): make one of them Optional so it can be "
            "filled in after the insert")
    i, ref = candidates[-1]
    plan.deferred.setdefault(id(new[i]), []).append(ref)
