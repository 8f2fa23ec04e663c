"""Recursive relations (issue 17): ``join_with("children*")`` loads every
matched node's whole subtree, ``join_with("parent*")`` its chain of
ancestors, each with ONE statement (a recursive CTE) whatever the depth, on
every backend; ``depth=`` limits the levels; objects go through the identity
map; a loop in the data ends; and it composes with other joins in k + 1."""
from __future__ import annotations

from typing import Annotated, Any, Optional

import pytest

from activerel import (BackReference, Model, PrimaryKey, QueryError, Reference,
                       ReferenceNotLoaded, inspect)
from activerel.dialects import dialect_for
from activerel.url import URL


class TrNode(Model, table="tr_nodes"):
    id: Annotated[int, PrimaryKey]
    name: str
    parent: Annotated[Optional[TrNode], Reference(on_delete="CASCADE")] = None
    children: Annotated[list[TrNode], BackReference(mapped_by="parent")]
    items: BackReference[list[TrItem]]


class TrItem(Model, table="tr_items"):
    id: Annotated[int, PrimaryKey]
    node: Annotated[TrNode, Reference(on_delete="CASCADE")]
    label: str


class TrPerson(Model, table="tr_people"):
    id: Annotated[int, PrimaryKey]
    name: str
    follows: Annotated[list[TrPerson], BackReference(via="TrFollow", mapped_by="follower")]
    followers: Annotated[list[TrPerson], BackReference(via="TrFollow", mapped_by="followee")]
    friends: Annotated[list[TrPerson], BackReference(via="TrFriendship", symmetric=True)]


class TrFollow(Model, table="tr_follows"):
    follower: Annotated[TrPerson, PrimaryKey, Reference(on_delete="CASCADE")]
    followee: Annotated[TrPerson, PrimaryKey, Reference(on_delete="CASCADE")]


class TrFriendship(Model, table="tr_friendships"):
    a: Annotated[TrPerson, PrimaryKey, Reference(on_delete="CASCADE")]
    b: Annotated[TrPerson, PrimaryKey, Reference(on_delete="CASCADE")]


MODELS = [TrNode, TrItem, TrPerson, TrFollow, TrFriendship]
DEPTH = 6


def sent(log: Any) -> list[str]:
    """The statements sent, transaction control aside."""
    return [s for s in log.statements if s.split()[0].upper() not in ("BEGIN", "COMMIT", "ROLLBACK")]


@pytest.fixture
def forest(make_db):
    """Three trees: roots 1 ("A") and 2 ("B") six levels deep, each node at
    level L < 6 with 1 + id % 3 children (but a level's last node, with at
    least one so every level is reached), and root 3 ("C") with one child.
    Two items on every node of level 3. Returns (db, kids: id -> child ids,
    names: id -> name, level: id -> level)."""
    db = make_db(MODELS)
    kids: dict[int, list[int]] = {}
    names = {1: "A", 2: "B", 3: "C"}
    level = {1: 0, 2: 0, 3: 0}
    parent_of: dict[int, Optional[int]] = {1: None, 2: None, 3: None}
    next_id = 4
    frontier = [1, 2]
    for lv in range(1, DEPTH + 1):
        reached = []
        for p in frontier:
            kids[p] = []
            for _ in range(1 + p % 3):
                kids[p].append(next_id)
                names[next_id] = f"{names[p]}.{len(kids[p])}"
                level[next_id] = lv
                parent_of[next_id] = p
                reached.append(next_id)
                next_id += 1
        frontier = reached
    for leaf in frontier:
        kids[leaf] = []
    kids[3] = [next_id]
    names[next_id], level[next_id], parent_of[next_id] = "C.1", 1, 3
    kids[next_id] = []
    with db.session():
        objs: dict[int, TrNode] = {}
        for i in sorted(names):
            p = parent_of[i]
            objs[i] = TrNode(id=i, name=names[i], parent=objs[p] if p else None).persist()
        item_id = 1
        for i in sorted(names):
            if level[i] == 3:
                for label in ("x", "y"):
                    TrItem(id=item_id, node=objs[i], label=f"{names[i]}/{label}").persist()
                    item_id += 1
    return db, kids, names, level


def expected(kids: dict[int, list[int]], names: dict[int, str], i: int) -> tuple:
    return (names[i], [expected(kids, names, k) for k in kids[i]])


def shape(node: TrNode) -> tuple:
    return (node.name, [shape(c) for c in node.children])


def test_a_depth_6_tree_loads_whole_in_two_statements(forest, sql_log):
    db, kids, names, level = forest
    assert max(level.values()) == DEPTH and len(names) > 100
    sql_log.clear()
    roots = (TrNode.query().filter(TrNode.parent.is_(None), TrNode.name != "C")
             .join_with("children*").order_by("id").find())
    statements = sent(sql_log)
    assert len(statements) == 2
    assert "WITH RECURSIVE" in statements[1]
    sql_log.clear()
    assert [shape(r) for r in roots] == [expected(kids, names, 1), expected(kids, names, 2)]
    assert sql_log.count() == 0          # every node's children were loaded: nothing lazy

    # the whole table as roots: still two statements, every node's children loaded
    sql_log.clear()
    everything = TrNode.query().join_with("children*").find()
    assert len(sent(sql_log)) == 2
    by_id = {n.id: n for n in everything}
    assert len(by_id) == len(names)
    assert shape(by_id[1]) == expected(kids, names, 1)
    assert shape(by_id[3]) == expected(kids, names, 3)

    # every row again, through a condition: the CTE starts from a key set of
    # hundreds of parents (one bound parameter where the dialect unpacks a list)
    sql_log.clear()
    everything = TrNode.query().filter(TrNode.id > 0).join_with("children*").find()
    assert len(sent(sql_log)) == 2
    by_id = {n.id: n for n in everything}
    assert all(shape(by_id[i]) == expected(kids, names, i) for i in names)


def test_the_chain_of_ancestors_in_two_statements(forest, sql_log):
    db, kids, names, level = forest
    deepest = sorted(i for i in names if level[i] == DEPTH)
    leaf_a, leaf_b = deepest[0], deepest[-1]
    with db.session():
        sql_log.clear()
        leaves = TrNode.query().filter(TrNode.id.in_([leaf_a, leaf_b])).join_with("parent*").find()
        assert len(sent(sql_log)) == 2
        sql_log.clear()

        def chain(node: Optional[TrNode]) -> list[str]:
            out = []
            while node is not None:
                out.append(node.name)
                node = node.parent
            return out

        assert chain(leaves[0]) == ["A.1.1.1.1.1.1", "A.1.1.1.1.1", "A.1.1.1.1", "A.1.1.1",
                                    "A.1.1", "A.1", "A"]
        assert chain(leaves[1])[-1] == "B" and len(chain(leaves[1])) == DEPTH + 1
        assert sql_log.count() == 0
        # the root's reference is None, and it was loaded: not a stub
        root = leaves[0]
        for _ in range(DEPTH):
            root = root.parent
        assert root.parent is None and not inspect(root).is_stub


def test_depth_limits_the_levels_loaded(forest, sql_log):
    db, kids, names, level = forest
    with db.session():
        sql_log.clear()
        a = TrNode.query().filter(name="A").join_with("children*", depth=2).find_one()
        assert len(sent(sql_log)) == 2
        assert [(c.name, [g.name for g in c.children]) for c in a.children] == [
            (names[c], [names[g] for g in kids[c]]) for c in kids[1]]
        grandchild = a.children[0].children[0]
        with pytest.raises(ReferenceNotLoaded, match="TrNode.children"):
            grandchild.children          # at the limit: not loaded, as for an unjoined relation

        deepest = min(i for i in names if level[i] == DEPTH)
        sql_log.clear()
        leaf = TrNode.query().filter(id=deepest).join_with("parent*", depth=2).find_one()
        assert len(sent(sql_log)) == 2
        assert (leaf.parent.name, leaf.parent.parent.name) == ("A.1.1.1.1.1", "A.1.1.1.1")
        assert inspect(leaf.parent.parent.parent).is_stub
        with pytest.raises(ReferenceNotLoaded):
            leaf.parent.parent.parent.name

    with pytest.raises(QueryError, match="positive int"):
        TrNode.query().join_with("children*", depth=0)
    with pytest.raises(QueryError, match="recursive path"):
        TrNode.query().join_with("children", depth=2)


def test_a_node_reached_twice_is_one_object(forest, sql_log):
    db, kids, names, level = forest
    a1 = kids[1][0]
    with db.session():
        earlier = TrNode.query().filter(id=kids[a1][0]).find_one()
        roots = TrNode.query().filter(TrNode.id.in_([1, a1])).join_with("children*").find()
        top, mid = roots
        assert top.children[0] is mid    # a root reached again below another root
        assert mid.children[0] is earlier
        assert shape(mid) == expected(kids, names, a1)
        # up and down on one query: the same objects
        sql_log.clear()
        leaf_id = min(i for i in names if level[i] == DEPTH)
        leaf = TrNode.query().filter(id=leaf_id).join_with("parent*").join_with("children*").find_one()
        assert len(sent(sql_log)) == 3
        assert leaf.parent.parent.parent.parent.parent.parent is top
        assert leaf.children == []


def test_a_loop_in_the_data_ends(make_db, sql_log):
    db = make_db(MODELS)
    with db.session():
        n1 = TrNode(id=1, name="n1").persist()
        n2 = TrNode(id=2, name="n2", parent=n1).persist()
        n3 = TrNode(id=3, name="n3", parent=n2).persist()
        TrNode(id=4, name="n4", parent=n3).persist()
    with db.session():
        TrNode.get(1).parent = TrNode.get(3)           # 1 -> 3 -> 2 -> 1: a loop
    with db.session():
        sql_log.clear()
        one = TrNode.query().filter(id=1).join_with("children*").find_one()
        assert len(sent(sql_log)) == 2
        two = one.children[0]
        three = two.children[0]
        assert [c.name for c in three.children] == ["n1", "n4"]
        assert three.children[0] is one and three.children[1].children == []
        assert one.parent is three
    with db.session():
        one = TrNode.query().filter(id=1).join_with("parent*").find_one()
        assert (one.parent.name, one.parent.parent.name, one.parent.parent.parent is one) == (
            "n3", "n2", True)
    with db.session():
        one = TrNode.query().filter(id=1).join_with("children*", depth=5).find_one()
        assert one.children[0].children[0].children[0] is one


def test_composes_with_other_joins_in_k_plus_1(forest, sql_log):
    db, kids, names, level = forest
    sql_log.clear()
    a = TrNode.query().filter(name="A").join_with("children*.items").join_with("items").find_one()
    # k + 1 with k = 3 joined relations: A, its subtree, their items, A's own items
    assert len(sent(sql_log)) == 4
    sql_log.clear()

    def items(node: TrNode) -> list[str]:
        return [i.label for i in node.items] + [x for c in node.children for x in items(c)]

    got = items(a)
    assert sql_log.count() == 0
    assert got == [f"{names[i]}/{x}" for i in expected_order(kids, 1) if level[i] == 3
                   for x in ("x", "y")]
    assert len(got) == 2 * sum(1 for i in expected_order(kids, 1) if level[i] == 3) > 0

    # a filter stops the walk (and drops the nodes that fail it), an order sorts siblings
    sql_log.clear()
    a = (TrNode.query().filter(name="A")
         .use_join_with("children*").filter(TrNode.name != "A.1").order_by("-name").end()
         .join_with("items")
         .find_one())
    assert len(sent(sql_log)) == 3
    assert [c.name for c in a.children] == [names[k] for k in reversed(kids[1][1:])]
    assert shape(a.children[0]) == (names[kids[1][-1]],
                                    [shape_desc(kids, names, k) for k in reversed(kids[kids[1][-1]])])

    # a recursive join under a plain one: items, their node, its ancestors
    sql_log.clear()
    items_ = TrItem.query().filter(label="A.1.1.1/x").join_with("node.parent*").find()
    assert len(sent(sql_log)) == 3
    node = items_[0].node
    assert [node.name, node.parent.name, node.parent.parent.name, node.parent.parent.parent.name] == [
        "A.1.1.1", "A.1.1", "A.1", "A"]


def expected_order(kids: dict[int, list[int]], i: int) -> list[int]:
    """Node ids in depth-first order under ``i``."""
    return [i] + [x for k in kids[i] for x in expected_order(kids, k)]


def shape_desc(kids: dict[int, list[int]], names: dict[int, str], i: int) -> tuple:
    return (names[i], [shape_desc(kids, names, k) for k in reversed(kids[i])])


def test_a_filtered_ancestor_chain_stops_at_the_first_mismatch(forest):
    db, kids, names, level = forest
    leaf_id = min(i for i in names if level[i] == DEPTH)
    leaf = (TrNode.query().filter(id=leaf_id)
            .use_join_with("parent*").filter(TrNode.name != "A.1.1").end().find_one())
    assert [leaf.parent.name, leaf.parent.parent.name, leaf.parent.parent.parent.name] == [
        "A.1.1.1.1.1", "A.1.1.1.1", "A.1.1.1"]
    assert leaf.parent.parent.parent.parent is None      # A.1.1 did not match


def test_a_self_referencing_many_to_many(make_db, sql_log):
    db = make_db(MODELS)
    with db.session():
        p = {i: TrPerson(id=i, name=n).persist() for i, n in enumerate(["ada", "bob", "cyd", "dan", "eve"], 1)}
        p[1].follows.append(p[2])
        p[2].follows.append(p[3])
        p[3].follows.extend([p[1], p[4]])      # a loop back to ada, and on to dan
        p[5].follows.append(p[1])              # eve follows ada: not reached from ada
    with db.session():
        sql_log.clear()
        ada = TrPerson.query().filter(name="ada").join_with("follows*").find_one()
        assert len(sent(sql_log)) == 2
        bob = ada.follows[0]
        cyd = bob.follows[0]
        assert [x.name for x in cyd.follows] == ["ada", "dan"]
        assert cyd.follows[0] is ada and cyd.follows[1].follows == []
    with db.session():                         # (the session above holds every list loaded)
        ada = TrPerson.query().filter(name="ada").join_with("follows*", depth=2).find_one()
        with pytest.raises(ReferenceNotLoaded):
            ada.follows[0].follows[0].follows
        dan = TrPerson.query().filter(name="dan").join_with("followers*").find_one()
        assert [x.name for x in dan.followers] == ["cyd"]
        assert [x.name for x in dan.followers[0].followers[0].followers[0].followers] == ["cyd", "eve"]


def test_star_on_a_relation_to_another_model_is_refused(make_db):
    make_db(MODELS)
    with pytest.raises(QueryError, match=r"TrNode\.items leads to TrItem, not back to TrNode"):
        TrNode.query().join_with("items*")
    with pytest.raises(QueryError, match=r"TrItem\.node leads to TrNode"):
        TrItem.query().join_with("node*")
    with pytest.raises(QueryError, match=r"TrPerson\.friends is symmetric"):
        TrPerson.query().join_with("friends*")
    with pytest.raises(QueryError, match="does not apply to the recursive join TrNode.children"):
        TrNode.query().use_join_with("children*").limit(2)
    with pytest.raises(QueryError, match="no relation 'childs'"):
        TrNode.query().join_with("childs*")


def test_the_mysql_dialect_lifts_the_recursion_cap_per_server():
    """MariaDB ends a walk silently after max_recursive_iterations steps and
    MySQL 8 fails after cte_max_recursion_depth: the statement lifts the cap
    (only MariaDB runs in this suite, so MySQL's form is checked as text)."""
    pytest.importorskip("MySQLdb")
    d = dialect_for(URL.parse("mysql://root@localhost/db"))
    cte, select = '"t"("k0") AS (SELECT 1 UNION SELECT 2)', 'SELECT "k0" FROM "t"'
    d.mariadb, d.version = True, (10, 11)
    assert d.with_recursive_sql(cte, select, None) == (
        f"SET STATEMENT max_recursive_iterations = 4294967295 FOR WITH RECURSIVE {cte} {select}")
    assert d.with_recursive_sql(cte, select, 3).startswith("SET STATEMENT max_recursive_iterations = 4 FOR")
    d.mariadb, d.version = False, (8, 0)
    assert d.with_recursive_sql(cte, select, 3) == (
        f'WITH RECURSIVE {cte} SELECT /*+ SET_VAR(cte_max_recursion_depth = 4) */ "k0" FROM "t"')
    d.version = (5, 7)
    with pytest.raises(QueryError, match=r"needs WITH RECURSIVE: MariaDB 10.2\+ or MySQL 8; "
                                         r"this server is MySQL 5.7"):
        d.with_recursive_sql(cte, select, None)
