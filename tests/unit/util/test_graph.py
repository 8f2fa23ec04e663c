"""activerel._util.graph: the topological sort and cycle finding.

Graphs are written as dicts from a node to the nodes it depends on (those
must come first); ``edges`` turns one into the function the module takes."""
from __future__ import annotations

from typing import Callable, Iterable

from activerel._util.graph import find_cycle, sort


def edges(graph: dict[str, list[str]]) -> Callable[[str], Iterable[str]]:
    return lambda node: graph.get(node, [])


# --------------------------------------------------------------------------
# sort


def test_sort_puts_dependencies_first():
    g = {"a": ["b"], "b": ["c"], "c": []}
    assert sort(["a", "b", "c"], edges(g)) == ["c", "b", "a"]


def test_sort_keeps_the_given_order_without_edges():
    assert sort(["x", "y", "z"], edges({})) == ["x", "y", "z"]
    assert sort(["z", "x", "y"], edges({})) == ["z", "x", "y"]


def test_sort_is_depth_first_in_the_given_order():
    # each node is followed at once by what it needs, not grouped by depth
    g = {"a": ["c"], "b": ["d"]}
    assert sort(["a", "b", "c", "d"], edges(g)) == ["c", "a", "d", "b"]


def test_sort_follows_edges_in_their_order():
    g = {"a": ["c", "b"]}
    assert sort(["a", "b", "c"], edges(g)) == ["c", "b", "a"]


def test_sort_diamond_lists_the_shared_dependency_once():
    g = {"a": ["b", "c"], "b": ["d"], "c": ["d"]}
    assert sort(["a", "b", "c", "d"], edges(g)) == ["d", "b", "c", "a"]


def test_sort_ignores_edges_to_nodes_outside():
    g = {"a": ["ghost"], "b": ["a", "ghost"]}
    assert sort(["b", "a"], edges(g)) == ["a", "b"]


def test_sort_of_nothing_is_empty():
    assert sort([], edges({})) == []


def test_sort_takes_any_hashable_nodes():
    g = {3: [1], 1: [2]}
    assert sort([3, 2, 1], lambda n: g.get(n, ())) == [2, 1, 3]


def test_strict_sort_refuses_a_cycle():
    assert sort(["a", "b"], edges({"a": ["b"], "b": ["a"]})) is None


def test_strict_sort_refuses_a_self_edge():
    assert sort(["a"], edges({"a": ["a"]})) is None
    assert sort(["a", "b"], edges({"a": ["b"], "b": ["b"]})) is None


def test_strict_sort_refuses_a_cycle_away_from_the_first_node():
    g = {"a": ["b"], "b": ["c"], "c": ["b"]}
    assert sort(["a", "b", "c"], edges(g)) is None


def test_strict_sort_ignores_a_cycle_through_an_outside_node():
    g = {"a": ["ghost"], "ghost": ["a"]}
    assert sort(["a"], edges(g)) == ["a"]


def test_lenient_sort_drops_the_edge_closing_a_cycle():
    g = {"a": ["b"], "b": ["a"]}
    # from a: b is visited, and b's edge back to a (still being visited) is dropped
    assert sort(["a", "b"], edges(g), strict=False) == ["b", "a"]
    assert sort(["b", "a"], edges(g), strict=False) == ["a", "b"]


def test_lenient_sort_of_a_longer_cycle_depends_on_the_start():
    g = {"a": ["b"], "b": ["c"], "c": ["a"]}
    assert sort(["a", "b", "c"], edges(g), strict=False) == ["c", "b", "a"]
    assert sort(["b", "a", "c"], edges(g), strict=False) == ["a", "c", "b"]


def test_lenient_sort_drops_a_self_edge():
    assert sort(["a"], edges({"a": ["a"]}), strict=False) == ["a"]
    g = {"a": ["a", "b"], "b": []}
    assert sort(["a", "b"], edges(g), strict=False) == ["b", "a"]


def test_lenient_sort_keeps_the_rest_of_the_order():
    g = {"top": ["x"], "x": ["y"], "y": ["x", "base"], "base": []}
    assert sort(["top", "x", "y", "base"], edges(g), strict=False) == ["base", "y", "x", "top"]


def test_lenient_and_strict_sort_agree_without_cycles():
    g = {"a": ["b", "c"], "b": ["d"], "c": ["d"]}
    nodes = ["a", "b", "c", "d"]
    assert sort(nodes, edges(g), strict=False) == sort(nodes, edges(g)) == ["d", "b", "c", "a"]


# --------------------------------------------------------------------------
# find_cycle


def test_find_cycle_of_an_acyclic_graph_is_none():
    g = {"a": ["b", "c"], "b": ["d"], "c": ["d"]}
    assert find_cycle(["a", "b", "c", "d"], edges(g)) is None
    assert find_cycle([], edges({})) is None


def test_find_cycle_lists_the_nodes_in_edge_order():
    g = {"a": ["b"], "b": ["c"], "c": ["a"]}
    assert find_cycle(["a", "b", "c"], edges(g)) == ["a", "b", "c"]
    assert find_cycle(["b", "a", "c"], edges(g)) == ["b", "c", "a"]


def test_find_cycle_of_a_self_edge_is_the_node():
    assert find_cycle(["a"], edges({"a": ["a"]})) == ["a"]
    assert find_cycle(["a", "b"], edges({"a": ["b"], "b": ["b"]})) == ["b"]


def test_find_cycle_leaves_out_the_path_leading_to_it():
    g = {"x": ["a"], "a": ["b"], "b": ["a"]}
    assert find_cycle(["x", "a", "b"], edges(g)) == ["a", "b"]


def test_find_cycle_follows_edges_in_their_order():
    # a's first edge leads to a dead end; the cycle is through its second
    g = {"a": ["b", "c"], "b": [], "c": ["a"]}
    assert find_cycle(["a", "b", "c"], edges(g)) == ["a", "c"]


def test_find_cycle_ignores_edges_to_nodes_outside():
    g = {"a": ["ghost"], "ghost": ["a"]}
    assert find_cycle(["a"], edges(g)) is None
    g = {"a": ["ghost", "b"], "b": ["a"]}
    assert find_cycle(["a", "b"], edges(g)) == ["a", "b"]


def test_find_cycle_finds_a_cycle_not_reachable_from_the_first_node():
    g = {"a": [], "b": ["c"], "c": ["b"]}
    assert find_cycle(["a", "b", "c"], edges(g)) == ["b", "c"]
