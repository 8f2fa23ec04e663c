"""persist(): inserts and updates, walking the object graph, cycles, batching,
failed flushes and the session (unit of work) contract.

SPEC sections 2 and 3. Every test checks what is really stored with raw SQL
through ``db.execute`` and, where the SPEC promises a statement shape, what was
sent (``sql_log``)."""
from __future__ import annotations

import re
import sqlite3
from datetime import datetime
from typing import Annotated

import pytest

from activerel import (ActiverelError, AutoIncrement, Database, IntegrityError, Model,
                       PrimaryKey, Reference, ValidationError, inspect)
from tests import factories as f
from tests.support import count, touches
from tests.models import (ALL_MODELS, Category, Comment, Course, Department, Employee,
                          Enrollment, Group, Post, Student, User, UserCredentials)


# --------------------------------------------------------------------------
# Test-local models: a cycle of NON-nullable references, on its own database.
# --------------------------------------------------------------------------

class CycleA(Model, table="persist_cycle_a"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str
    b: Reference[CycleB]


class CycleB(Model, table="persist_cycle_b"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str
    a: Reference[CycleA]


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------







def statements(sql_log, verb: str, table: str | None = None) -> list[str]:
    out = [s for s in sql_log.statements if s.lstrip().upper().startswith(verb.upper())]
    if table is not None:
        out = [s for s in out if touches(s.split("(")[0] if verb.upper() == "INSERT" else s, table)]
    return out


def insert_target(sql: str) -> str:
    m = re.match(r'\s*INSERT\s+INTO\s+[`"]?(\w+)[`"]?', sql, re.I)
    assert m, sql
    return m.group(1)


def value_rows(sql: str) -> int:
    """How many rows a multi-row ``INSERT ... VALUES (...), (...)`` carries."""
    tail = re.split(r"\bVALUES\b", sql, maxsplit=1, flags=re.I)[1]
    tail = re.split(r"\b(RETURNING|ON\s+CONFLICT)\b", tail, flags=re.I)[0]
    return tail.count("(")


def set_clause(sql: str) -> str:
    return re.split(r"\bWHERE\b", re.split(r"\bSET\b", sql, maxsplit=1, flags=re.I)[1],
                    maxsplit=1, flags=re.I)[0]


def writes(sql_log) -> list[str]:
    return [s for s in sql_log.statements
            if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]


# --------------------------------------------------------------------------
# inserting single objects
# --------------------------------------------------------------------------

def test_persist_new_object_inserts_row_and_writes_back_generated_key(db):
    u = User(username="ada", created=datetime(2024, 5, 1, 9, 30))
    assert inspect(u).is_new
    assert u.id == 0
    u.persist()
    assert u.id == 1
    state = inspect(u)
    assert not state.is_new and not state.is_dirty and not state.is_deleted
    assert db.execute('SELECT id, username FROM "users"', ()) == [(1, "ada")]
    assert User.get(1).created == datetime(2024, 5, 1, 9, 30)


def test_autoincrement_none_is_generated_too(db):
    u = User(id=None, username="ada")
    u.persist()
    assert u.id == 1
    assert db.execute('SELECT id FROM "users"', ()) == [(1,)]


def test_autoincrement_explicit_value_is_kept(db):
    u = User(id=42, username="ada")
    u.persist()
    assert u.id == 42
    nxt = f.UserFactory()
    assert nxt.id not in (0, 42)
    assert sorted(db.execute('SELECT id, username FROM "users"', ())) == sorted([
        (42, "ada"), (nxt.id, "user0")])


def test_generated_keys_are_consecutive_and_match_rows(db):
    users = [User(username=f"u{i}") for i in range(5)]
    db.persist(*users)
    assert [u.id for u in users] == [1, 2, 3, 4, 5]
    assert db.execute('SELECT id, username FROM "users" ORDER BY id', ()) == [
        (u.id, u.username) for u in users]


def test_natural_primary_key_insert(db):
    c = Course(code="C001", title="Algebra")
    c.persist()
    assert db.execute('SELECT code, title FROM "courses"', ()) == [("C001", "Algebra")]
    assert not inspect(c).is_new


def test_db_persist_several_unrelated_objects(db, sql_log):
    u = f.UserFactory.build(username="ada")
    g = f.GroupFactory.build(name="admins")
    w = f.WarehouseFactory.build(name="north")
    sql_log.clear()
    db.persist(u, g, w)
    assert sql_log.count("INSERT") == 3
    assert sql_log.count("BEGIN") == 1 and sql_log.count("COMMIT") == 1
    assert (u.id, g.id, w.id) == (1, 1, 1)
    assert count(db, "users") == 1 and count(db, "groups") == 1 and count(db, "warehouses") == 1


def test_persist_outside_session_runs_in_one_transaction(db, sql_log):
    u = User(username="ada")
    Post(author=u, title="a")
    sql_log.clear()
    u.persist()
    verbs = [s.split()[0].upper() for s in sql_log.statements]
    assert verbs[0] == "BEGIN" and verbs[-1] == "COMMIT"
    assert verbs.count("BEGIN") == 1 and verbs.count("COMMIT") == 1


def test_persist_outside_a_session_commits(tmp_path):
    path = tmp_path / "app.db"
    database = Database(f"sqlite:///{path}", models=ALL_MODELS)
    try:
        database.migrate()
        f.UserFactory(username="ada")
        raw = sqlite3.connect(path)
        try:
            assert raw.execute("SELECT username FROM users").fetchall() == [("ada",)]
        finally:
            raw.close()
    finally:
        database.close()


# --------------------------------------------------------------------------
# the graph: references, back references, pivots
# --------------------------------------------------------------------------

def test_persist_child_inserts_new_parent_first(db, sql_log):
    p = f.PostFactory.build(title="hello", author=f.UserFactory.build(username="ada"))
    sql_log.clear()
    p.persist()
    inserts = statements(sql_log, "INSERT")
    assert [insert_target(s) for s in inserts] == ["users", "posts"]
    assert p.author.id == 1 and p.id == 1
    assert db.execute('SELECT id, author_id, reviewer_id, title, published FROM "posts"', ()) == [
        (1, 1, None, "hello", 0)]


def test_constructing_child_appends_to_loaded_back_reference(db):
    u = User(username="ada")
    assert u.posts == []
    p1 = Post(author=u, title="one")
    p2 = Post(author=u, title="two")
    assert u.posts == [p1, p2]
    assert u.reviewed == []


def test_persist_parent_follows_loaded_back_reference_list(db, sql_log):
    u = User(username="ada")
    p1 = Post(author=u, title="one")
    p2 = Post(author=u, title="two")
    sql_log.clear()
    u.persist()
    assert u.id == 1
    assert (p1.id, p2.id) == (1, 2)
    assert db.execute('SELECT id, author_id, title FROM "posts" ORDER BY id', ()) == [
        (1, 1, "one"), (2, 1, "two")]
    assert [insert_target(s) for s in statements(sql_log, "INSERT")] == ["users", "posts"]
    assert not inspect(p1).is_new and not inspect(p2).is_new


def test_persist_walks_three_levels_and_both_references_of_comment(db, sql_log):
    ada = User(username="ada")
    bob = User(username="bob")
    post = Post(author=ada, title="t", reviewer=bob)
    c1 = Comment(post=post, author=bob, text="first")
    c2 = Comment(post=post, author=ada, text="second")
    assert post.comments == [c1, c2]
    assert bob.comments == [c1] and bob.reviewed == [post]
    sql_log.clear()
    c1.persist()   # reaches post -> ada -> ada.comments -> c2 ...
    assert [insert_target(s) for s in statements(sql_log, "INSERT")] == [
        "users", "posts", "comments"]
    assert sorted(db.execute('SELECT id, username FROM "users"', ())) == sorted([
        (ada.id, "ada"), (bob.id, "bob")])
    assert {ada.id, bob.id} == {1, 2}
    assert db.execute('SELECT author_id, reviewer_id FROM "posts"', ()) == [(ada.id, bob.id)]
    assert sorted(db.execute('SELECT post_id, author_id, text FROM "comments"', ())) == sorted([
        (post.id, bob.id, "first"), (post.id, ada.id, "second")])


def test_inserts_are_batched_one_statement_per_table_per_level(db, sql_log):
    users = [User(username=f"u{i}") for i in range(3)]
    posts = [Post(author=u, title=f"{u.username}-{k}") for u in users for k in range(2)]
    sql_log.clear()
    db.persist(*users)
    inserts = statements(sql_log, "INSERT")
    assert [insert_target(s) for s in inserts] == ["users", "posts"]
    assert [value_rows(s) for s in inserts] == [3, 6]
    assert sorted(db.execute('SELECT id, author_id, title FROM "posts"', ())) == sorted(
        (p.id, p.author.id, p.title) for p in posts)


def test_self_reference_tree_inserts_one_statement_per_level(db, sql_log):
    root = Category(name="root")
    kids = [Category(name=f"k{i}", parent=root) for i in range(3)]
    grandkids = [Category(name=f"g{i}", parent=kids[i % 3]) for i in range(6)]
    leaf = Category(name="leaf", parent=grandkids[0])
    assert root.children == kids
    sql_log.clear()
    root.persist()
    inserts = statements(sql_log, "INSERT")
    assert [value_rows(s) for s in inserts] == [1, 3, 6, 1]
    assert count(db, "categories") == 11
    rows = dict((r[0], r[1:]) for r in db.execute(
        'SELECT id, name, parent_id FROM "categories"', ()))
    assert rows[root.id] == ("root", None)
    for k in kids:
        assert rows[k.id] == (k.name, root.id)
    for g in grandkids:
        assert rows[g.id] == (g.name, g.parent.id)
    assert rows[leaf.id] == ("leaf", grandkids[0].id)


def test_one_to_one_back_reference_is_persisted(db):
    u = User(username="ada")
    u.credentials = UserCredentials(user=u, password="s3cret")
    u.persist()
    assert db.execute('SELECT user_id, password FROM "user_credentials"', ()) == [(u.id, "s3cret")]


def test_many_to_many_append_creates_pivot_row_and_remove_deletes_it(db, sql_log):
    u = User(username="ada")
    g1 = Group(name="admins")
    g2 = Group(name="staff")
    u.groups.append(g1)
    u.groups.append(g2)
    u.persist()
    assert (g1.id, g2.id) == (1, 2)
    assert sorted(db.execute('SELECT user_id, group_id FROM "user_groups"', ())) == [
        (u.id, g1.id), (u.id, g2.id)]

    u.groups.remove(g1)
    sql_log.clear()
    u.persist()
    assert db.execute('SELECT user_id, group_id FROM "user_groups"', ()) == [(u.id, g2.id)]
    assert count(db, "groups") == 2          # only the link goes, not the group
    assert statements(sql_log, "DELETE", "user_groups") and sql_log.count("INSERT") == 0


def test_many_to_many_append_loaded_group_to_new_user(db):
    f.GroupFactory(name="admins")
    g = Group.get(1)
    u = User(username="ada")
    u.groups.append(g)
    u.persist()
    assert db.execute('SELECT user_id, group_id FROM "user_groups"', ()) == [(u.id, 1)]
    assert count(db, "groups") == 1


def test_many_to_many_via_composite_pivot(db):
    s = Student(name="sam")
    c1 = Course(code="C001", title="Algebra")
    c2 = Course(code="C002", title="Biology")
    s.courses.append(c1)
    s.courses.append(c2)
    s.persist()
    assert sorted(db.execute('SELECT student_id, course_id, grade FROM "enrollments"', ())) == [
        (s.id, "C001", None), (s.id, "C002", None)]
    assert Enrollment.get((s.id, "C001")).grade is None

    s.courses.remove(c1)
    s.persist()
    assert db.execute('SELECT student_id, course_id FROM "enrollments"', ()) == [(s.id, "C002")]
    assert count(db, "courses") == 2


def test_pivot_model_can_be_persisted_directly(db):
    s = f.StudentFactory(name="sam")
    c = f.CourseFactory(code="C001")
    e = Enrollment(student=s, course=c, grade="A")
    e.persist()
    assert db.execute('SELECT student_id, course_id, grade FROM "enrollments"', ()) == [
        (s.id, "C001", "A")]
    e.grade = "B"
    e.persist()
    assert db.execute('SELECT grade FROM "enrollments"', ()) == [("B",)]


def test_persisting_stub_reference_writes_nothing_for_it(db, sql_log):
    f.PostFactory(title="old", author=f.UserFactory(username="ada"))
    post = Post.query().find_one()
    assert inspect(post.author).is_stub
    post.title = "new"
    sql_log.clear()
    post.persist()
    assert writes(sql_log) and all(not touches(s, "users") for s in writes(sql_log))
    assert sql_log.count("UPDATE") == 1
    new = Post(author=post.author, title="another")
    sql_log.clear()
    new.persist()
    assert [insert_target(s) for s in statements(sql_log, "INSERT")] == ["posts"]
    assert sql_log.count("UPDATE") == 0
    assert db.execute('SELECT title, author_id FROM "posts" ORDER BY id', ()) == [
        ("new", 1), ("another", 1)]
    assert db.execute('SELECT username FROM "users"', ()) == [("ada",)]


# --------------------------------------------------------------------------
# updates and dirtiness
# --------------------------------------------------------------------------

def test_persisting_clean_loaded_object_sends_nothing(db, sql_log):
    f.UserFactory(username="ada")
    u = User.get(1)
    sql_log.clear()
    u.persist()
    db.persist(u)
    assert sql_log.statements == []


def test_persisting_twice_sends_nothing_the_second_time(db, sql_log):
    u = User(username="ada")
    Post(author=u, title="x")
    u.persist()
    sql_log.clear()
    u.persist()
    assert sql_log.statements == []


def test_update_sends_only_changed_columns(db, sql_log):
    f.PostFactory(title="old", author=f.UserFactory(username="ada"))
    p = Post.get(1)
    p.title = "new"
    assert inspect(p).is_dirty
    assert inspect(p).changes == {"title": "old"}
    sql_log.clear()
    p.persist()
    updates = statements(sql_log, "UPDATE")
    assert len(updates) == 1 and sql_log.count("INSERT") == 0
    clause = set_clause(updates[0])
    assert "title" in clause
    for other in ("author_id", "reviewer_id", "published"):
        assert other not in clause
    rec = [r for r in sql_log.records if r.sql.lstrip().upper().startswith("UPDATE")][0]
    assert list(rec.params) == ["new", 1]
    assert not inspect(p).is_dirty and inspect(p).changes == {}
    assert db.execute('SELECT title, published FROM "posts"', ()) == [("new", 0)]


def test_update_two_columns(db, sql_log):
    f.PostFactory(title="old", author=f.UserFactory(username="ada"))
    p = Post.get(1)
    p.title = "new"
    p.published = True
    assert inspect(p).changes == {"title": "old", "published": False}
    sql_log.clear()
    p.persist()
    clause = set_clause(statements(sql_log, "UPDATE")[0])
    assert "title" in clause and "published" in clause and "author_id" not in clause
    assert db.execute('SELECT title, published FROM "posts"', ()) == [("new", 1)]


def test_many_rows_changed_alike_are_one_update_statement(db, sql_log):
    """Rows with the same changed columns go as one statement: executemany
    where the driver pipelines it, one CASE UPDATE on MySQL (whose driver
    would send a round trip per row). Each row gets its own values."""
    ada = f.UserFactory(username="ada")
    f.PostFactory.create_batch(4, author=ada)
    with db.session():
        posts = Post.query().order_by("id").find()
        for p in posts[:3]:
            p.title = f"t{p.id}"
            p.published = True
        sql_log.clear()
    assert sql_log.count("UPDATE") == 1
    rows = db.execute('SELECT id, title, published FROM "posts" ORDER BY id', ())
    assert rows[:3] == [(1, "t1", 1), (2, "t2", 1), (3, "t3", 1)]
    assert rows[3][1] == posts[3].title  # untouched
    assert not any(inspect(p).is_dirty for p in posts)


def test_update_reference_writes_foreign_key(db):
    ada, bob = f.UserFactory(username="ada"), f.UserFactory(username="bob")
    f.PostFactory(author=ada, title="t")
    p = Post.get(1)
    p.reviewer = bob
    assert inspect(p).is_dirty
    p.persist()
    assert db.execute('SELECT author_id, reviewer_id FROM "posts"', ()) == [(ada.id, bob.id)]
    p.reviewer = None
    p.persist()
    assert db.execute('SELECT reviewer_id FROM "posts"', ()) == [(None,)]


def test_setting_field_back_to_original_leaves_object_clean(db, sql_log):
    f.UserFactory(username="ada")
    u = User.get(1)
    u.username = "bob"
    assert inspect(u).is_dirty and inspect(u).changes == {"username": "ada"}
    u.username = "carol"
    assert inspect(u).changes == {"username": "ada"}      # the ORIGINAL value
    u.username = "ada"
    assert not inspect(u).is_dirty and inspect(u).changes == {}
    sql_log.clear()
    u.persist()
    assert sql_log.statements == []


def test_assigning_same_value_is_not_a_change(db):
    f.UserFactory(username="ada")
    u = User.get(1)
    u.username = "ada"
    assert not inspect(u).is_dirty


def test_dirty_parent_and_new_child_in_one_persist(db, sql_log):
    f.UserFactory(username="ada")
    u = User.get(1)
    u.username = "ada2"
    p = Post(author=u, title="t")
    sql_log.clear()
    db.persist(u, p)
    assert sql_log.count("UPDATE") == 1 and sql_log.count("INSERT") == 1
    assert db.execute('SELECT username FROM "users"', ()) == [("ada2",)]
    assert db.execute('SELECT author_id, title FROM "posts"', ()) == [(1, "t")]


# --------------------------------------------------------------------------
# removing children from loaded one-to-many lists
# --------------------------------------------------------------------------

def test_removing_child_from_nullable_list_sets_reference_null(db):
    ada, bob = User(username="ada"), User(username="bob")
    p = Post(author=ada, title="t", reviewer=bob)
    assert bob.reviewed == [p]
    db.persist(ada, bob)
    bob.reviewed.remove(p)
    bob.persist()
    assert db.execute('SELECT author_id, reviewer_id FROM "posts"', ()) == [(ada.id, None)]
    assert p.reviewer is None
    assert not inspect(p).is_dirty


def test_removing_child_category_orphans_it(db):
    root = Category(name="root")
    child = Category(name="child", parent=root)
    root.persist()
    root.children.remove(child)
    root.persist()
    assert db.execute('SELECT name, parent_id FROM "categories" ORDER BY id', ()) == [
        ("root", None), ("child", None)]
    assert count(db, "categories") == 2


def test_removing_child_from_non_nullable_list_raises_and_writes_nothing(db, sql_log):
    u = User(username="ada")
    p = Post(author=u, title="t")
    u.persist()
    u.username = "renamed"
    u.posts.remove(p)
    sql_log.clear()
    with pytest.raises(IntegrityError) as exc:
        u.persist()
    msg = str(exc.value)
    assert "Post" in msg and "author" in msg
    assert sql_log.count("DELETE") == 0
    assert db.execute('SELECT username FROM "users"', ()) == [("ada",)]
    assert db.execute('SELECT author_id, title FROM "posts"', ()) == [(u.id, "t")]
    # the original name, and the list as it was: both changes are still to be made
    assert inspect(u).is_dirty and inspect(u).changes == {"username": "ada", "posts": (p,)}


def test_removing_employee_from_department_staff_raises(db):
    d = Department(name="R&D")
    e = Employee(name="eve", department=d)
    d.persist()
    d.staff.remove(e)
    with pytest.raises(IntegrityError) as exc:
        d.persist()
    assert "Employee" in str(exc.value) and "department" in str(exc.value)
    assert db.execute('SELECT name, department_id FROM "employees"', ()) == [("eve", d.id)]


def test_moving_child_to_another_parent(db):
    ada, bob = User(username="ada"), User(username="bob")
    p = Post(author=ada, title="t")
    db.persist(ada, bob)
    ada.posts.remove(p)
    p.author = bob
    db.persist(ada, bob, p)
    assert db.execute('SELECT author_id FROM "posts"', ()) == [(bob.id,)]


# --------------------------------------------------------------------------
# cycles
# --------------------------------------------------------------------------

def test_nullable_cycle_is_resolved_by_insert_then_update(db, sql_log):
    d = Department(name="R&D")
    boss = Employee(name="boss", department=d)
    Employee(name="worker", department=d)
    d.manager = boss
    sql_log.clear()
    d.persist()
    assert sql_log.count("INSERT") == 2 and sql_log.count("UPDATE") == 1
    assert [insert_target(s) for s in statements(sql_log, "INSERT")] == [
        "departments", "employees"]
    assert db.execute('SELECT id, name, manager_id FROM "departments"', ()) == [
        (d.id, "R&D", boss.id)]
    assert sorted(db.execute('SELECT name, department_id FROM "employees"', ())) == [
        ("boss", d.id), ("worker", d.id)]
    assert not inspect(d).is_dirty and not inspect(boss).is_new


def test_self_reference_to_itself(db, sql_log):
    c = Category(name="x")
    c.parent = c
    sql_log.clear()
    c.persist()
    assert c.id == 1
    assert db.execute('SELECT id, name, parent_id FROM "categories"', ()) == [(1, "x", 1)]
    assert sql_log.count("INSERT") == 1 and sql_log.count("UPDATE") == 1


@pytest.fixture
def cycle_db(tmp_path):
    """A database of CycleA/CycleB seeded (with foreign keys off) with one
    consistent pair, so that new objects have something to be built from."""
    path = tmp_path / "cycle.db"
    url = f"sqlite:///{path}"
    seed = Database(url, models=[CycleA, CycleB])
    seed.migrate()
    seed.close()
    raw = sqlite3.connect(path)
    raw.execute("INSERT INTO persist_cycle_a (id, name, b_id) VALUES (1, 'seed a', 1)")
    raw.execute("INSERT INTO persist_cycle_b (id, name, a_id) VALUES (1, 'seed b', 1)")
    raw.commit()
    raw.close()
    database = Database(url, models=[CycleA, CycleB])
    yield database
    database.close()


def test_non_nullable_cycle_is_a_clear_error(cycle_db):
    seed_a = cycle_db.get(CycleA, 1)
    a = CycleA(name="a", b=seed_a.b)
    b = CycleB(name="b", a=a)
    a.b = b
    with pytest.raises(IntegrityError) as exc:
        cycle_db.persist(a)
    msg = str(exc.value)
    assert "cycle" in msg.lower()
    assert "CycleA" in msg and "CycleB" in msg
    assert cycle_db.execute('SELECT COUNT(*) FROM "persist_cycle_a"', ()) == [(1,)]
    assert cycle_db.execute('SELECT COUNT(*) FROM "persist_cycle_b"', ()) == [(1,)]
    assert inspect(a).is_new and inspect(b).is_new
    assert a.id == 0 and b.id == 0


# --------------------------------------------------------------------------
# failed flushes roll back and restore the Python objects
# --------------------------------------------------------------------------

def test_unique_violation_in_graph_rolls_back_everything(db, sql_log):
    f.UserFactory(username="ada")
    dup = User(username="ada")
    g = Group(name="g")
    dup.groups.append(g)
    p = Post(author=dup, title="t")
    sql_log.clear()
    with pytest.raises(IntegrityError) as exc:
        dup.persist()
    cause = exc.value.__cause__          # the driver's own error, chained
    assert cause is not None
    assert "IntegrityError" in [k.__name__ for k in type(cause).__mro__]
    assert sql_log.count("ROLLBACK") == 1 and sql_log.count("COMMIT") == 0
    assert count(db, "users") == 1
    assert count(db, "posts") == 0 and count(db, "groups") == 0 and count(db, "user_groups") == 0
    for obj in (dup, g, p):
        assert inspect(obj).is_new
        assert obj.id == 0

    dup.username = "bob"
    dup.persist()
    assert db.execute('SELECT username FROM "users" ORDER BY id', ()) == [("ada",), ("bob",)]
    assert db.execute('SELECT author_id, title FROM "posts"', ()) == [(dup.id, "t")]
    assert db.execute('SELECT user_id, group_id FROM "user_groups"', ()) == [(dup.id, g.id)]


def test_failed_flush_keeps_dirty_objects_dirty(db):
    f.UserFactory(username="ada")
    f.UserFactory(username="bob")
    bob = User.get(2)
    bob.username = "robert"
    dup = User(username="ada")
    with pytest.raises(IntegrityError):
        db.persist(bob, dup)
    assert db.execute('SELECT username FROM "users" ORDER BY id', ()) == [("ada",), ("bob",)]
    assert inspect(bob).is_dirty and inspect(bob).changes == {"username": "bob"}
    assert bob.username == "robert"
    assert inspect(dup).is_new and dup.id == 0

    dup.username = "carol"
    db.persist(bob, dup)
    assert db.execute('SELECT username FROM "users" ORDER BY id', ()) == [
        ("ada",), ("robert",), ("carol",)]
    assert not inspect(bob).is_dirty


def test_duplicate_usernames_within_one_persist(db):
    a, b = User(username="same"), User(username="same")
    with pytest.raises(IntegrityError):
        db.persist(a, b)
    assert count(db, "users") == 0
    assert inspect(a).is_new and inspect(b).is_new and a.id == 0 and b.id == 0


def test_duplicate_natural_primary_key(db):
    f.CourseFactory(code="C001")
    with pytest.raises(IntegrityError):
        Course(code="C001", title="again").persist()
    assert db.execute('SELECT code, title FROM "courses"', ()) == [("C001", "course 0")]
    with pytest.raises(IntegrityError):
        db.persist(Course(code="C009"), Course(code="C009"))
    assert count(db, "courses") == 1


def test_duplicate_explicit_autoincrement_key(db):
    f.UserFactory(username="ada")
    clash = User(id=1, username="bob")
    with pytest.raises(IntegrityError):
        clash.persist()
    assert db.execute('SELECT id, username FROM "users"', ()) == [(1, "ada")]
    assert inspect(clash).is_new and clash.id == 1


def test_wrong_type_is_a_validation_error_and_writes_nothing(db):
    with pytest.raises(ValidationError):
        u = User(username=123)
        u.persist()
    assert count(db, "users") == 0
    f.UserFactory(username="ada")
    u = User.get(1)
    with pytest.raises(ValidationError):
        u.username = ["not", "a", "string"]
        u.persist()
    assert db.execute('SELECT username FROM "users"', ()) == [("ada",)]


def test_wrong_object_for_reference_is_a_validation_error(db):
    g = Group(name="g")
    with pytest.raises(ValidationError):
        p = Post(author=g, title="t")
        p.persist()
    assert count(db, "posts") == 0 and count(db, "groups") == 0


def test_db_persist_rejects_non_model(db):
    with pytest.raises((TypeError, ActiverelError)):
        db.persist("not a model")
    assert count(db, "users") == 0


# --------------------------------------------------------------------------
# sessions
# --------------------------------------------------------------------------

def test_session_queues_until_exit(db, sql_log):
    sql_log.clear()
    with db.session():
        u = User(username="ada")
        Post(author=u, title="t")
        u.persist()
        assert sql_log.count("INSERT") == 0
        assert u.id == 0 and inspect(u).is_new
    assert sql_log.count("INSERT") == 2
    assert u.id == 1
    assert db.execute('SELECT author_id, title FROM "posts"', ()) == [(1, "t")]


def test_session_flush_early(db, sql_log):
    with db.session() as s:
        u = User(username="ada")
        u.persist()
        sql_log.clear()
        s.flush()
        assert sql_log.count("INSERT") == 1
        assert u.id == 1 and not inspect(u).is_new
        assert db.execute('SELECT username FROM "users"', ()) == [("ada",)]
        u.username = "ada2"
        sql_log.clear()
    assert sql_log.count("UPDATE") == 1
    assert db.execute('SELECT username FROM "users"', ()) == [("ada2",)]


def test_session_is_one_transaction(db, sql_log):
    sql_log.clear()
    with db.session() as s:
        a = User(username="a")
        a.persist()
        s.flush()
        b = User(username="b")
        b.persist()
        s.flush()
    assert sql_log.count("BEGIN") == 1 and sql_log.count("COMMIT") == 1


def test_session_commits_only_at_exit(tmp_path):
    path = tmp_path / "app.db"
    database = Database(f"sqlite:///{path}", models=ALL_MODELS)

    def committed_usernames():
        raw = sqlite3.connect(path, timeout=0.1)
        try:
            return raw.execute("SELECT username FROM users").fetchall()
        finally:
            raw.close()

    try:
        database.migrate()
        with database.session() as s:
            User(username="ada").persist()
            s.flush()
            assert database.execute('SELECT username FROM "users"', ()) == [("ada",)]
            assert committed_usernames() == []
        assert committed_usernames() == [("ada",)]
    finally:
        database.close()


def test_query_in_session_sees_pending_changes(db):
    f.UserFactory(username="bob")
    with db.session():
        u = User(username="ada")
        u.persist()
        found = User.query().filter(username="ada").find_one()
        assert found is u
        assert u.id == 2
        assert User.query().count() == 2
        bob = User.get(1)
        bob.username = "robert"
        assert User.query().filter(username="robert").count() == 1


def test_loaded_objects_changed_in_session_are_flushed_without_persist(db):
    f.UserFactory(username="ada")
    f.PostFactory(author=User.get(1), title="t")
    with db.session():
        u = User.get(1)
        u.username = "changed"
        p = Post.query().find_one()
        p.published = True
    assert db.execute('SELECT username FROM "users"', ()) == [("changed",)]
    assert db.execute('SELECT published FROM "posts"', ()) == [(1,)]
    assert not inspect(u).is_dirty


def test_exception_in_session_rolls_back_and_propagates(db, sql_log):
    f.UserFactory(username="bob")
    with pytest.raises(RuntimeError, match="boom"):
        with db.session():
            u = User(username="ada")
            u.persist()
            bob = User.get(1)
            bob.username = "robert"
            raise RuntimeError("boom")
    assert db.execute('SELECT username FROM "users"', ()) == [("bob",)]
    assert inspect(u).is_new and u.id == 0
    assert inspect(bob).is_dirty and inspect(bob).changes == {"username": "bob"}


def test_exception_after_flush_rolls_back_and_restores_objects(db, sql_log):
    f.UserFactory(username="bob")
    f.UserFactory(username="victim")
    with pytest.raises(RuntimeError, match="boom"):
        with db.session() as s:
            u = User(username="ada")
            p = Post(author=u, title="t")
            u.persist()
            bob = User.get(1)
            bob.username = "robert"
            victim = User.get(2)
            victim.delete()
            s.flush()
            assert u.id != 0 and not inspect(u).is_new
            assert inspect(victim).is_deleted
            raise RuntimeError("boom")
    assert sql_log.count("ROLLBACK") >= 1
    assert db.execute('SELECT username FROM "users" ORDER BY id', ()) == [("bob",), ("victim",)]
    assert count(db, "posts") == 0
    assert inspect(u).is_new and u.id == 0 and p.id == 0 and inspect(p).is_new
    assert inspect(bob).is_dirty and inspect(bob).changes == {"username": "bob"}
    assert not inspect(victim).is_deleted

    # persisting again after the cause is gone works
    db.persist(u, bob)
    assert db.execute('SELECT username FROM "users" ORDER BY id', ()) == [
        ("robert",), ("victim",), ("ada",)]
    assert db.execute('SELECT author_id, title FROM "posts"', ()) == [(u.id, "t")]


def test_integrity_error_at_session_exit(db):
    f.UserFactory(username="ada")
    f.UserFactory(username="victim")
    with pytest.raises(IntegrityError):
        with db.session():
            victim = User.get(2)
            victim.delete()
            User(username="ok").persist()
            dup = User(username="ada")
            dup.persist()
    assert db.execute('SELECT username FROM "users" ORDER BY id', ()) == [("ada",), ("victim",)]
    assert not inspect(victim).is_deleted
    assert inspect(dup).is_new and dup.id == 0


def test_each_call_outside_session_is_its_own_transaction(db):
    f.UserFactory(username="ada")
    with pytest.raises(IntegrityError):
        User(username="ada").persist()
    assert db.execute('SELECT username FROM "users"', ()) == [("ada",)]


def test_nested_sessions_are_independent(db):
    with db.session():
        outer = User(username="outer")
        outer.persist()
        with db.session():
            inner = User(username="inner")
            inner.persist()
        assert inner.id != 0
        assert outer.id == 0 and inspect(outer).is_new
    assert sorted(db.execute('SELECT username FROM "users"', ())) == [("inner",), ("outer",)]


def test_nested_session_failure_does_not_abort_outer(db):
    with db.session():
        outer = User(username="outer")
        outer.persist()
        with pytest.raises(RuntimeError):
            with db.session():
                inner = User(username="inner")
                inner.persist()
                raise RuntimeError("inner fails")
        assert inspect(inner).is_new
    assert db.execute('SELECT username FROM "users"', ()) == [("outer",)]


def test_nested_sessions_have_their_own_identity_maps(db):
    f.UserFactory(username="ada")
    with db.session():
        a = User.get(1)
        with db.session():
            b = User.get(1)
            assert b is not a
        assert User.get(1) is a


# --------------------------------------------------------------------------
# more graph edge cases
# --------------------------------------------------------------------------

def test_many_to_many_linked_from_both_sides_makes_one_pivot_row(db):
    u = User(username="ada")
    g = Group(name="g")
    u.groups.append(g)
    g.users.append(u)
    db.persist(u, g)
    assert db.execute('SELECT user_id, group_id FROM "user_groups"', ()) == [(u.id, g.id)]


def test_many_to_many_remove_then_readd_is_no_change(db, sql_log):
    u = User(username="ada")
    g = Group(name="g")
    u.groups.append(g)
    u.persist()
    u.groups.remove(g)
    u.groups.append(g)
    sql_log.clear()
    u.persist()
    assert writes(sql_log) == []
    assert db.execute('SELECT user_id, group_id FROM "user_groups"', ()) == [(u.id, g.id)]


def test_failed_flush_keeps_pending_pivot_removal(db):
    f.UserFactory(username="taken")
    u = User(username="ada")
    g = Group(name="g")
    u.groups.append(g)
    u.persist()
    u.groups.remove(g)
    dup = User(username="taken")
    with pytest.raises(IntegrityError):
        db.persist(u, dup)
    assert db.execute('SELECT user_id, group_id FROM "user_groups"', ()) == [(u.id, g.id)]
    dup.username = "free"
    db.persist(u, dup)
    assert count(db, "user_groups") == 0
    assert count(db, "users") == 3


def test_failed_flush_restores_nullable_cycle(db):
    f.UserFactory(username="taken")
    d = Department(name="R&D")
    boss = Employee(name="boss", department=d)
    d.manager = boss
    dup = User(username="taken")
    with pytest.raises(IntegrityError):
        db.persist(d, dup)
    assert count(db, "departments") == 0 and count(db, "employees") == 0
    assert d.id == 0 and boss.id == 0 and inspect(d).is_new and inspect(boss).is_new
    assert d.manager is boss and boss.department is d
    dup.username = "free"
    db.persist(d, dup)
    assert db.execute('SELECT id, manager_id FROM "departments"', ()) == [(d.id, boss.id)]
    assert db.execute('SELECT department_id FROM "employees"', ()) == [(d.id,)]


def test_one_to_one_back_reference_set_to_none_nullable(db):
    d = Department(name="R&D")
    boss = Employee(name="boss", department=d)
    d.manager = boss
    d.persist()
    assert boss.managed is d
    boss.managed = None
    boss.persist()
    assert db.execute('SELECT manager_id FROM "departments"', ()) == [(None,)]
    assert d.manager is None


def test_one_to_one_back_reference_set_to_none_non_nullable_raises(db):
    u = User(username="ada")
    u.credentials = UserCredentials(user=u, password="pw")
    u.persist()
    u.credentials = None
    with pytest.raises(IntegrityError) as exc:
        u.persist()
    assert "UserCredentials" in str(exc.value) and "user" in str(exc.value)
    assert db.execute('SELECT user_id, password FROM "user_credentials"', ()) == [(u.id, "pw")]


def test_detached_dirty_object_persisted_inside_session(db):
    f.UserFactory(username="ada")
    u = User.get(1)                 # its own session, now closed
    u.username = "ada2"
    with db.session():
        u.persist()
        assert db.execute('SELECT username FROM "users"', ()) == [("ada",)]
    assert db.execute('SELECT username FROM "users"', ()) == [("ada2",)]


def test_session_flush_failure_inside_block_then_exit(db):
    f.UserFactory(username="taken")
    with pytest.raises(IntegrityError):
        with db.session() as s:
            dup = User(username="taken")
            dup.persist()
            s.flush()
    assert count(db, "users") == 1
    assert inspect(dup).is_new and dup.id == 0


def test_dirty_reference_to_new_object_inserts_it_first(db, sql_log):
    f.PostFactory(author=f.UserFactory(username="ada"), title="t")
    p = Post.get(1)
    p.reviewer = User(username="newbie")
    sql_log.clear()
    p.persist()
    verbs = [(s.split()[0].upper(), s) for s in writes(sql_log)]
    assert [v for v, _ in verbs] == ["INSERT", "UPDATE"]
    assert p.reviewer.id == 2
    assert db.execute('SELECT author_id, reviewer_id FROM "posts"', ()) == [(1, 2)]


def test_dirty_loaded_dependent_of_cascaded_delete(db):
    f.PostFactory(author=f.UserFactory(username="ada"), title="t")
    with db.session():
        p = Post.get(1)
        p.title = "edited"
        User.get(1).delete()
    assert count(db, "posts") == 0 and count(db, "users") == 0
    assert inspect(p).is_deleted


def test_nested_session_writes_after_outer_flushed(db):
    """The outer session holds an open write transaction after its flush;
    the inner, independent session must still be able to write and commit."""
    if not db.dialect.features.concurrent_writers:
        # SQLite has one writer at a time: the inner session is told why it cannot write
        with pytest.raises(ActiverelError, match="one transaction write at a time"):
            with db.session() as s:
                User(username="outer").persist()
                s.flush()
                with db.session():
                    User(username="inner").persist()
        assert db.execute('SELECT username FROM "users"', ()) == []
        return
    with db.session() as s:
        outer = User(username="outer")
        outer.persist()
        s.flush()
        with db.session():
            inner = User(username="inner")
            inner.persist()
        assert inner.id != 0 and not inspect(inner).is_new
    assert sorted(db.execute('SELECT username FROM "users"', ())) == [("inner",), ("outer",)]


def test_nested_session_reads_after_outer_flushed(db):
    f.UserFactory(username="committed")
    if not db.dialect.features.concurrent_writers:
        # an in-memory SQLite database locks a table its writer has touched
        with pytest.raises(ActiverelError, match="one transaction write at a time"):
            with db.session() as s:
                User(username="pending").persist()
                s.flush()
                with db.session():
                    User.query().find()
        assert db.execute('SELECT username FROM "users"', ()) == [("committed",)]
        return
    with db.session() as s:
        User(username="pending").persist()
        s.flush()
        with db.session():
            assert [u.username for u in User.query().find()] == ["committed"]


def test_foreign_key_violation_is_an_integrity_error(db):
    ada, gone = f.UserFactory(username="ada"), f.UserFactory(username="gone")
    f.PostFactory(author=ada, title="t")
    p = Post.get(1)
    db.execute('DELETE FROM "users" WHERE id = ?', (gone.id,))
    p.author = gone                       # a row that no longer exists
    p.title = "changed"
    with pytest.raises(IntegrityError) as exc:
        p.persist()
    assert exc.value.__cause__ is not None
    assert db.execute('SELECT author_id, title FROM "posts"', ()) == [(ada.id, "t")]
    assert inspect(p).is_dirty and inspect(p).changes["title"] == "t"
