"""The one topological sort of the package, with cycle finding.

Called by :mod:`activerel.mapping.catalog` (schema and delete order), by
:mod:`activerel.unitofwork.ordering` (insert order of tables, then of rows
where tables form a cycle) and by :mod:`activerel.unitofwork.cascade`
(whether CASCADE references form a cycle). Imports nothing of activerel.

A graph is given as its nodes (in the order ties are broken) and a function
``edges(node)`` returning the nodes it depends on: those must come first."""
from __future__ import annotations

from typing import Callable, Hashable, Iterable, Optional, Sequence, TypeVar

N = TypeVar("N", bound=Hashable)

_VISITING, _DONE = 1, 2


def _search(nodes: Sequence[N], edges: Callable[[N], Iterable[N]],
            stop_at_cycle: bool) -> tuple[list[N], Optional[list[N]]]:
    """Depth first from each node in turn: the post-order (dependencies
    first) and, with ``stop_at_cycle``, the first cycle met, where the search
    ends; without it the edge closing a cycle is skipped."""
    present = set(nodes)
    state: dict[N, int] = {}
    order: list[N] = []
    for start in nodes:
        if start in state:
            continue
        state[start] = _VISITING
        path = [start]
        stack = [iter([t for t in edges(start) if t in present])]
        while stack:
            for t in stack[-1]:
                seen = state.get(t)
                if seen == _VISITING:
                    if stop_at_cycle:
                        return order, path[path.index(t):]
                    continue  # a cycle: the back edge is dropped
                if seen is None:
                    state[t] = _VISITING
                    path.append(t)
                    stack.append(iter([u for u in edges(t) if u in present]))
                    break
            else:
                node = path.pop()
                state[node] = _DONE
                order.append(node)
                stack.pop()
    return order, None


def find_cycle(nodes: Sequence[N], edges: Callable[[N], Iterable[N]]) -> Optional[list[N]]:
    """A cycle among ``nodes`` as the list of its nodes in edge order (a
    self-edge gives ``[node]``), or None when the graph is acyclic. Edges to
    nodes outside ``nodes`` are ignored."""
    return _search(nodes, edges, True)[1]


def sort(nodes: Sequence[N], edges: Callable[[N], Iterable[N]], *,
         strict: bool = True) -> Optional[list[N]]:
    """``nodes`` ordered so that each comes after the nodes its ``edges``
    name (depth first, ties in the given order). On a cycle: None when
    ``strict``; otherwise the edge that closes the cycle is dropped and the
    rest of the order kept. Edges to nodes outside ``nodes`` are ignored; a
    self-edge is a cycle."""
    order, cycle = _search(nodes, edges, strict)
    return None if cycle is not None else order


def components(nodes: Sequence[N], edges: Callable[[N], Iterable[N]]) -> list[list[N]]:
    """The strongly connected components of the graph (Tarjan's algorithm),
    dependencies first: every component comes after the components its
    nodes' edges lead to. A node in no cycle is a component of its own;
    within a component, nodes keep their order in ``nodes``. For a graph
    without cycles this is :func:`sort`'s order, one node per component."""
    present = set(nodes)
    position = {n: i for i, n in enumerate(nodes)}
    index: dict[N, int] = {}
    low: dict[N, int] = {}
    on_stack: set[N] = set()
    stack: list[N] = []
    out: list[list[N]] = []
    for root in nodes:
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter([t for t in edges(root) if t in present]))]
        while work:
            node, it = work[-1]
            for t in it:
                if t not in index:
                    index[t] = low[t] = len(index)
                    stack.append(t)
                    on_stack.add(t)
                    work.append((t, iter([u for u in edges(t) if u in present])))
                    break
                if t in on_stack and index[t] < low[node]:
                    low[node] = index[t]
            else:
                work.pop()
                if work and low[node] < low[work[-1][0]]:
                    low[work[-1][0]] = low[node]
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    component.sort(key=position.__getitem__)
                    out.append(component)
    return out
