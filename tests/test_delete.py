"""delete(): referential actions enforced by the unit of work (SPEC section 3).

CASCADE, SET NULL, SET DEFAULT, RESTRICT and NO ACTION; the loaded Python
objects reflecting what happened; set-based statements (one DELETE per table,
not per row); and failures that write nothing."""
from __future__ import annotations

import re
import sqlite3
from typing import Annotated

import pytest

from activerel import (ActiverelError, AutoIncrement, Database, IntegrityError, Model,
                       PrimaryKey, Reference, inspect)
from tests import factories as f
from tests.support import count
from tests.models import (ALL_MODELS, Category, Comment, Course, Department, Employee,
                          Enrollment, Group, Item, Post, Student, User, UserCredentials,
                          Warehouse)


# test-local models: a RESTRICT two levels below a CASCADE
class Owner(Model, table="delete_owners"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str


class Box(Model, table="delete_boxes"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    owner: Annotated[Owner, Reference(on_delete="CASCADE")]


class Thing(Model, table="delete_things"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    box: Annotated[Box, Reference(on_delete="RESTRICT")]








def delete_target(sql: str) -> str:
    m = re.match(r'\s*DELETE\s+FROM\s+[`"]?(\w+)[`"]?', sql, re.I)
    assert m, sql
    return m.group(1)


def deletes_per_table(sql_log) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in sql_log.statements:
        if s.lstrip().upper().startswith("DELETE"):
            t = delete_target(s)
            out[t] = out.get(t, 0) + 1
    return out


@pytest.fixture
def blog(db):
    """ada: 2 posts (reviewed by bob), each with 2 comments by bob; bob: 1 post
    with 1 comment by ada; ada is in group g; ada has credentials."""
    ada = f.UserFactory.build(username="ada")
    bob = f.UserFactory.build(username="bob")
    ada.credentials = UserCredentials(user=ada, password="pw")
    g = Group(name="g")
    ada.groups.append(g)
    ada_posts = [Post(author=ada, reviewer=bob, title=f"ada-{i}") for i in range(2)]
    for p in ada_posts:
        Comment(post=p, author=bob, text=f"bob on {p.title}")
        Comment(post=p, author=bob, text=f"bob again on {p.title}")
    bob_post = Post(author=bob, title="bob-0")
    Comment(post=bob_post, author=ada, text="ada on bob-0")
    db.persist(ada, bob)
    assert count(db, "posts") == 3 and count(db, "comments") == 5
    return dict(ada=ada, bob=bob, g=g, ada_posts=ada_posts, bob_post=bob_post)


# --------------------------------------------------------------------------
# plain deletes
# --------------------------------------------------------------------------

def test_delete_single_row(db, sql_log):
    u = f.UserFactory(username="ada")
    keep = f.UserFactory(username="bob")
    sql_log.clear()
    u.delete()
    assert inspect(u).is_deleted
    assert db.execute('SELECT username FROM "users"', ()) == [("bob",)]
    assert deletes_per_table(sql_log).get("users") == 1
    assert not inspect(keep).is_deleted


def test_db_delete_several(db):
    users = [f.UserFactory() for _ in range(4)]
    db.delete(users[0], users[2])
    assert db.execute('SELECT username FROM "users" ORDER BY id', ()) == [("user1",), ("user3",)]
    assert inspect(users[0]).is_deleted and inspect(users[2]).is_deleted
    assert not inspect(users[1]).is_deleted


def test_delete_loaded_object(db):
    f.UserFactory(username="ada")
    u = User.get(1)
    u.delete()
    assert count(db, "users") == 0
    assert inspect(u).is_deleted


def test_delete_natural_key_row(db):
    s = f.StudentFactory()
    c1, c2 = f.CourseFactory(code="C001"), f.CourseFactory(code="C002")
    s.courses.append(c1)
    s.courses.append(c2)
    s.persist()
    Course.get("C001").delete()
    assert db.execute('SELECT code FROM "courses"', ()) == [("C002",)]
    assert db.execute('SELECT student_id, course_id FROM "enrollments"', ()) == [(s.id, "C002")]
    assert count(db, "students") == 1


def test_delete_composite_key_row(db):
    s = f.StudentFactory()
    c = f.CourseFactory(code="C001")
    Enrollment(student=s, course=c, grade="A").persist()
    Enrollment.get((s.id, "C001")).delete()
    assert count(db, "enrollments") == 0
    assert count(db, "students") == 1 and count(db, "courses") == 1


def test_delete_through_stub(db):
    f.PostFactory(author=f.UserFactory(username="ada"))
    post = Post.query().find_one()
    assert inspect(post.author).is_stub
    post.author.delete()
    assert count(db, "users") == 0 and count(db, "posts") == 0


def test_db_delete_rejects_non_model(db):
    f.UserFactory()
    with pytest.raises((TypeError, ActiverelError)):
        db.delete("nope")
    assert count(db, "users") == 1


# --------------------------------------------------------------------------
# CASCADE
# --------------------------------------------------------------------------

def test_cascade_user_posts_comments_groups_credentials(blog, db):
    blog["ada"].delete()
    assert db.execute('SELECT username FROM "users"', ()) == [("bob",)]
    assert db.execute('SELECT title FROM "posts"', ()) == [("bob-0",)]
    assert count(db, "comments") == 0        # 4 on ada's posts + ada's own comment
    assert count(db, "user_groups") == 0
    assert count(db, "groups") == 1          # the group itself stays
    assert count(db, "user_credentials") == 0


def test_cascade_marks_loaded_dependents_deleted(blog, db):
    with db.session():
        ada = User.get(blog["ada"].id)
        posts = Post.query().order_by("id").find()
        comments = Comment.query().order_by("id").find()
        ada.delete()
    ada_post_ids = {p.id for p in blog["ada_posts"]}
    for p in posts:
        assert inspect(p).is_deleted == (p.id in ada_post_ids)
    for c in comments:
        # every comment is on one of ada's posts or written by ada
        assert inspect(c).is_deleted
    assert inspect(ada).is_deleted
    assert count(db, "posts") == 1


def test_recursive_cascade_deletes_whole_tree(db, sql_log):
    root = Category(name="root")
    level = [root]
    for depth in range(3):
        level = [Category(name=f"d{depth}-{i}-{j}", parent=p)
                 for i, p in enumerate(level) for j in range(2)]
    other = Category(name="other")
    Category(name="other-child", parent=other)
    db.persist(root, other)
    assert count(db, "categories") == 1 + 2 + 4 + 8 + 2
    sql_log.clear()
    with db.session():
        loaded = Category.query().find()
        Category.get(root.id).delete()
    assert sorted(db.execute('SELECT name FROM "categories"', ())) == [
        ("other",), ("other-child",)]
    dead = [c for c in loaded if inspect(c).is_deleted]
    assert len(dead) == 15
    assert {c.name for c in loaded if not inspect(c).is_deleted} == {"other", "other-child"}
    assert 1 <= deletes_per_table(sql_log)["categories"] <= 4


def test_cascade_from_group_and_student_and_course(db):
    u = f.UserFactory.build()
    g = Group(name="g")
    u.groups.append(g)
    s = Student(name="sam")
    c = Course(code="C001")
    s.courses.append(c)
    db.persist(u, s)
    g.delete()
    assert count(db, "user_groups") == 0 and count(db, "users") == 1
    s.delete()
    assert count(db, "enrollments") == 0 and count(db, "courses") == 1


def test_delete_department_cascades_employees_despite_manager_cycle(db):
    d = Department(name="R&D")
    boss = Employee(name="boss", department=d)
    Employee(name="worker", department=d)
    d.manager = boss
    d.persist()
    d.delete()
    assert count(db, "departments") == 0 and count(db, "employees") == 0
    assert inspect(d).is_deleted and inspect(boss).is_deleted


def test_cascade_is_set_based(db, sql_log):
    ada, bob = User(username="ada"), User(username="bob")
    for i in range(300):
        p = Post(author=ada, title=f"p{i}")
        Comment(post=p, author=bob, text="x")
        Comment(post=p, author=bob, text="y")
    keep = Post(author=bob, title="keep")
    db.persist(ada, bob)
    assert count(db, "posts") == 301 and count(db, "comments") == 600
    sql_log.clear()
    ada.delete()
    per_table = deletes_per_table(sql_log)
    # one DELETE per table reached, never one per row
    assert per_table["users"] == 1 and per_table["posts"] == 1 and per_table["comments"] == 1
    assert set(per_table) <= {"users", "posts", "comments", "user_groups", "user_credentials"}
    assert all(n == 1 for n in per_table.values())
    assert 3 <= sql_log.count("DELETE") <= 5
    assert sql_log.count("SELECT") <= 10
    assert db.execute('SELECT id, title FROM "posts"', ()) == [(keep.id, "keep")]
    assert count(db, "comments") == 0
    assert db.execute('SELECT username FROM "users"', ()) == [("bob",)]


# --------------------------------------------------------------------------
# SET NULL / SET DEFAULT
# --------------------------------------------------------------------------

def test_set_null_post_reviewer(blog, db):
    bob = blog["bob"]
    with db.session():
        ada_posts = Post.query().filter(author=blog["ada"]).order_by("id").find()
        assert [p.reviewer.id for p in ada_posts] == [bob.id, bob.id]
        User.get(bob.id).delete()
    assert db.execute('SELECT title, reviewer_id FROM "posts" ORDER BY id', ()) == [
        ("ada-0", None), ("ada-1", None)]
    # bob's comments cascaded, ada's comment on bob's post cascaded with the post
    assert count(db, "comments") == 0
    for p in ada_posts:
        assert p.reviewer is None
        assert not inspect(p).is_dirty
        assert not inspect(p).is_deleted


def test_set_null_keeps_unrelated_unsaved_changes(blog, db):
    with db.session() as s:
        p = Post.get(blog["ada_posts"][0].id)
        p.title = "edited"
        User.get(blog["bob"].id).delete()
        assert p.reviewer is not None           # queued until the flush
        s.flush()
        assert p.reviewer is None
        assert p.title == "edited"
        assert not inspect(p).is_dirty          # its own change was flushed too
    assert db.execute('SELECT title, reviewer_id FROM "posts" WHERE id = ?',
                      (p.id,)) == [("edited", None)]


def test_set_null_department_manager(db):
    d = Department(name="R&D")
    boss = Employee(name="boss", department=d)
    worker = Employee(name="worker", department=d)
    d.manager = boss
    d.persist()
    with db.session():
        dept = Department.get(d.id)
        Employee.get(boss.id).delete()
    assert db.execute('SELECT name, manager_id FROM "departments"', ()) == [("R&D", None)]
    assert db.execute('SELECT name FROM "employees"', ()) == [("worker",)]
    assert dept.manager is None and not inspect(dept).is_dirty
    assert worker.id != 0


def test_set_default_item_archive(db):
    main, arch = f.WarehouseFactory(name="main"), f.WarehouseFactory(name="archive")
    f.ItemFactory(name="i1", warehouse=main, archive=arch)
    f.ItemFactory(name="i2", warehouse=main, archive=arch)
    with db.session():
        items = Item.query().order_by("id").find()
        Warehouse.get(arch.id).delete()
    assert db.execute('SELECT name, warehouse_id, archive_id FROM "items" ORDER BY id', ()) == [
        ("i1", main.id, None), ("i2", main.id, None)]
    for it in items:
        assert it.archive is None and not inspect(it).is_dirty
    assert db.execute('SELECT name FROM "warehouses"', ()) == [("main",)]


# --------------------------------------------------------------------------
# RESTRICT / NO ACTION: an error before anything is written
# --------------------------------------------------------------------------

def test_restrict_raises_before_writing(db, sql_log):
    main = f.WarehouseFactory(name="main")
    f.ItemFactory(name="i1", warehouse=main, archive=main)     # SET DEFAULT would UPDATE
    sql_log.clear()
    with pytest.raises(IntegrityError) as exc:
        main.delete()
    msg = str(exc.value)
    assert "Warehouse" in msg and "Item" in msg and "warehouse" in msg
    assert sql_log.count("DELETE") == 0 and sql_log.count("UPDATE") == 0
    assert not inspect(main).is_deleted
    assert count(db, "warehouses") == 1
    assert db.execute('SELECT warehouse_id, archive_id FROM "items"', ()) == [(main.id, main.id)]


def test_no_action_raises_before_writing(db, sql_log):
    main, spill = f.WarehouseFactory(name="main"), f.WarehouseFactory(name="spill")
    f.ItemFactory(name="i1", warehouse=main, overflow=spill)
    sql_log.clear()
    with pytest.raises(IntegrityError) as exc:
        spill.delete()
    msg = str(exc.value)
    assert "Warehouse" in msg and "Item" in msg and "overflow" in msg
    assert sql_log.count("DELETE") == 0 and sql_log.count("UPDATE") == 0
    assert count(db, "warehouses") == 2
    assert not inspect(spill).is_deleted


def test_restrict_aborts_the_whole_db_delete(db, sql_log):
    free = f.WarehouseFactory(name="free")
    main = f.WarehouseFactory(name="main")
    f.ItemFactory(warehouse=main)
    u = f.UserFactory()
    sql_log.clear()
    with pytest.raises(IntegrityError):
        db.delete(u, free, main)
    assert sql_log.count("DELETE") == 0
    assert count(db, "warehouses") == 2 and count(db, "users") == 1 and count(db, "items") == 1
    for obj in (u, free, main):
        assert not inspect(obj).is_deleted


def test_restrict_is_satisfied_when_dependents_go_in_same_delete(db):
    main = f.WarehouseFactory(name="main")
    item = f.ItemFactory(warehouse=main)
    db.delete(main, item)
    assert count(db, "warehouses") == 0 and count(db, "items") == 0


def test_restrict_in_session_rolls_back_other_work(db):
    main = f.WarehouseFactory(name="main")
    f.ItemFactory(warehouse=main)
    with pytest.raises(IntegrityError):
        with db.session():
            newbie = User(username="newbie")
            newbie.persist()
            Warehouse.get(main.id).delete()
    assert count(db, "users") == 0 and count(db, "warehouses") == 1
    assert inspect(newbie).is_new and newbie.id == 0


def test_restrict_with_no_dependents_deletes(db):
    w = f.WarehouseFactory()
    w.delete()
    assert count(db, "warehouses") == 0


# --------------------------------------------------------------------------
# sessions
# --------------------------------------------------------------------------

def test_delete_in_session_is_queued_until_exit(db, sql_log):
    u = f.UserFactory(username="ada")
    sql_log.clear()
    with db.session():
        User.get(u.id).delete()
        assert sql_log.count("DELETE") == 0
        assert count(db, "users") == 1
    assert count(db, "users") == 0


def test_query_in_session_does_not_see_deleted_rows(db):
    f.UserFactory(username="ada")
    f.UserFactory(username="bob")
    with db.session():
        User.get(1).delete()
        assert [u.username for u in User.query().find()] == ["bob"]
        assert User.query().count() == 1


def test_exception_in_session_keeps_deleted_objects_alive(db):
    u = f.UserFactory(username="ada")
    f.PostFactory(author=u)
    with pytest.raises(RuntimeError):
        with db.session() as s:
            loaded = User.get(u.id)
            post = Post.query().find_one()
            loaded.delete()
            s.flush()
            raise RuntimeError("boom")
    assert count(db, "users") == 1 and count(db, "posts") == 1
    assert not inspect(loaded).is_deleted and not inspect(post).is_deleted


# --------------------------------------------------------------------------
# RESTRICT below a CASCADE; a database without foreign keys
# --------------------------------------------------------------------------

@pytest.fixture
def owners_db(make_db):
    return make_db([Owner, Box, Thing])


def test_restrict_below_cascade_writes_nothing(owners_db, sql_log):
    o = Owner(name="o")
    b1, b2 = Box(owner=o), Box(owner=o)
    t = Thing(box=b2)             # no back references declared: persist it by name
    owners_db.persist(o, b1, t)
    assert owners_db.execute('SELECT COUNT(*) FROM "delete_things"', ()) == [(1,)]
    sql_log.clear()
    with pytest.raises(IntegrityError) as exc:
        o.delete()
    msg = str(exc.value)
    assert "Thing" in msg and "Box" in msg and "box" in msg
    assert sql_log.count("DELETE") == 0 and sql_log.count("UPDATE") == 0
    assert owners_db.execute('SELECT COUNT(*) FROM "delete_boxes"', ()) == [(2,)]
    assert owners_db.execute('SELECT COUNT(*) FROM "delete_owners"', ()) == [(1,)]
    assert not inspect(o).is_deleted


@pytest.fixture
def no_fk_db(tmp_path):
    """The shared tables created WITHOUT foreign-key constraints: the unit of
    work alone must apply the referential actions."""
    path = tmp_path / "nofk.db"
    probe = Database("sqlite://", models=ALL_MODELS)
    ddl = probe.schema_sql()
    probe.close()
    if isinstance(ddl, str):
        ddl = [x for x in ddl.split(";") if x.strip()]
    raw = sqlite3.connect(path)
    for stmt in ddl:
        stmt = re.sub(r',\s*(CONSTRAINT [`"]\w+[`"] )?FOREIGN KEY \([^)]*\) REFERENCES [`"]?\w+[`"]? '
                      r'\([^)]*\)'
                      r'( ON (DELETE|UPDATE) (CASCADE|RESTRICT|NO ACTION|SET NULL|SET DEFAULT))*',
                      "", stmt)
        assert "REFERENCES" not in stmt.upper(), stmt
        raw.execute(stmt)
    raw.commit()
    raw.close()
    database = Database(f"sqlite:///{path}", models=ALL_MODELS)
    yield database
    database.close()


def test_actions_are_enforced_without_foreign_keys(no_fk_db):
    db = no_fk_db
    ada, bob = User(username="ada"), User(username="bob")
    p = Post(author=ada, reviewer=bob, title="ada-post")
    Comment(post=p, author=bob, text="c")
    bp = Post(author=bob, reviewer=ada, title="bob-post")
    Comment(post=bp, author=bob, text="kept")
    db.persist(ada, bob)
    ada.delete()
    assert db.execute('SELECT username FROM "users"', ()) == [("bob",)]
    assert db.execute('SELECT title, reviewer_id FROM "posts"', ()) == [("bob-post", None)]
    assert db.execute('SELECT text FROM "comments"', ()) == [("kept",)]

    main = Warehouse(name="main")
    arch = Warehouse(name="arch")
    Item(name="i", warehouse=main, archive=arch).persist()
    arch.delete()
    assert db.execute('SELECT archive_id FROM "items"', ()) == [(None,)]
    with pytest.raises(IntegrityError):
        main.delete()
    assert db.execute('SELECT name FROM "warehouses"', ()) == [("main",)]


def test_delete_self_referencing_row(db):
    c = Category(name="x")
    c.parent = c
    c.persist()
    c.delete()
    assert count(db, "categories") == 0
    assert inspect(c).is_deleted


def test_deleting_a_new_object_is_an_error(db, sql_log):
    u = User(username="ghost")
    sql_log.clear()
    with pytest.raises(ActiverelError) as exc:
        u.delete()
    assert "new" in str(exc.value)
    assert writes_of(sql_log) == []
    assert count(db, "users") == 0
    assert inspect(u).is_new and not inspect(u).is_deleted


def writes_of(sql_log):
    return [s for s in sql_log.statements
            if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]


def test_deleted_child_leaves_loaded_back_reference_lists(db, sql_log):
    u = User(username="ada")
    p1, p2 = Post(author=u, title="one"), Post(author=u, title="two")
    g = Group(name="g")
    u.groups.append(g)
    u.persist()
    p1.delete()
    g.delete()
    assert u.posts == [p2]
    assert u.groups == []
    sql_log.clear()
    u.persist()
    assert [s for s in sql_log.statements
            if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))] == []
    assert db.execute('SELECT title FROM "posts"', ()) == [("two",)]
    assert count(db, "groups") == 0 and count(db, "user_groups") == 0


def test_cascade_removes_from_loaded_lists(db):
    root = Category(name="root")
    mid = Category(name="mid", parent=root)
    Category(name="leaf", parent=mid)
    root.persist()
    mid.delete()
    assert root.children == []
    root.persist()
    assert db.execute('SELECT name FROM "categories"', ()) == [("root",)]


# --------------------------------------------------------------------------
# pending changes in the same session are taken into account
# --------------------------------------------------------------------------

def test_restrict_satisfied_by_pending_reparent(db):
    main, other = f.WarehouseFactory(name="main"), f.WarehouseFactory(name="other")
    item = f.ItemFactory(name="i", warehouse=main)
    with db.session():
        it = Item.get(item.id)
        it.warehouse = Warehouse.get(other.id)
        Warehouse.get(main.id).delete()
    assert db.execute('SELECT name FROM "warehouses"', ()) == [("other",)]
    assert db.execute('SELECT name, warehouse_id FROM "items"', ()) == [("i", other.id)]


def test_cascade_spares_child_reparented_in_same_session(db):
    ada, bob = f.UserFactory(username="ada"), f.UserFactory(username="bob")
    f.PostFactory(author=ada, title="moved")
    f.PostFactory(author=ada, title="gone")
    with db.session():
        moved = Post.query().filter(title="moved").find_one()
        moved.author = User.get(bob.id)
        User.get(ada.id).delete()
    assert db.execute('SELECT title, author_id FROM "posts"', ()) == [("moved", bob.id)]
    assert not inspect(moved).is_deleted


def test_set_null_spares_reference_changed_in_same_session(db):
    ada, bob, eve = (f.UserFactory(username=n) for n in ("ada", "bob", "eve"))
    f.PostFactory(author=ada, reviewer=bob, title="t")
    with db.session():
        p = Post.query().find_one()
        p.reviewer = User.get(eve.id)
        User.get(bob.id).delete()
    assert db.execute('SELECT reviewer_id FROM "posts"', ()) == [(eve.id,)]
    assert p.reviewer.id == eve.id
