"""Queries without relations (SPEC section 4 minus join_with and relation
filters): filters and expressions, ordering and paging, partial objects, the
terminals, set-based delete_many/patch_many, and errors for unknown names."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID

import pytest

from activerel import (ActiverelError, AutoIncrement, FieldNotLoaded, IntegrityError, Model,
                       NotFound, PrimaryKey, QueryError, ValidationError, inspect)
from tests import factories as f
from tests.support import count
from tests.models import (Color, Comment, Enrollment, Everything, Post, Priority, User,
                          Warehouse)






def names(users) -> list[str]:
    return [u.username for u in users]


@pytest.fixture
def people(db):
    """ada(1) bob(2) cyd(3) dan(4) eve(5); cyd and dan share a created time.
    Posts: ada 'a1' (published, reviewed by bob), 'a2'; bob 'b1' (published);
    eve 'e1'. Comments: bob on a1 twice, ada on b1."""
    created = {"ada": datetime(2024, 1, 1), "bob": datetime(2024, 2, 1),
               "cyd": datetime(2024, 3, 1), "dan": datetime(2024, 3, 1),
               "eve": datetime(2024, 5, 1)}
    users = {n: f.UserFactory(username=n, created=c) for n, c in created.items()}
    a1 = f.PostFactory(author=users["ada"], title="a1", published=True, reviewer=users["bob"])
    f.PostFactory(author=users["ada"], title="a2")
    b1 = f.PostFactory(author=users["bob"], title="b1", published=True)
    f.PostFactory(author=users["eve"], title="e1")
    f.CommentFactory(post=a1, author=users["bob"], text="c1")
    f.CommentFactory(post=a1, author=users["bob"], text="c2")
    f.CommentFactory(post=b1, author=users["ada"], text="c3")
    return users


# --------------------------------------------------------------------------
# filters
# --------------------------------------------------------------------------

def test_filter_by_keyword(people):
    assert names(User.query().filter(username="ada").find()) == ["ada"]
    assert User.query().filter(username="nobody").find() == []


def test_filter_several_keywords_and_chained_filters_are_and(people):
    q = User.query().filter(username="cyd", created=datetime(2024, 3, 1))
    assert names(q.find()) == ["cyd"]
    assert User.query().filter(username="cyd", created=datetime(2024, 1, 1)).find() == []
    q = User.query().filter(created=datetime(2024, 3, 1)).filter(username="dan")
    assert names(q.find()) == ["dan"]


def test_comparison_operators(people):
    since = datetime(2024, 3, 1)
    q = User.query().order_by("id")
    assert names(q.filter(User.created >= since).find()) == ["cyd", "dan", "eve"]
    assert names(q.filter(User.created > since).find()) == ["eve"]
    assert names(q.filter(User.created < since).find()) == ["ada", "bob"]
    assert names(q.filter(User.created <= since).find()) == ["ada", "bob", "cyd", "dan"]
    assert names(q.filter(User.created == since).find()) == ["cyd", "dan"]
    assert names(q.filter(User.username != "ada").find()) == ["bob", "cyd", "dan", "eve"]
    assert names(q.filter(User.id > 3).find()) == ["dan", "eve"]


def test_and_not_like(people):
    q = User.query().order_by("id")
    assert names(q.filter((User.id > 3) & ~User.username.like("e%")).find()) == ["dan"]
    assert names(q.filter(User.username.like("%d%")).find()) == ["ada", "cyd", "dan"]
    assert names(q.filter(~User.username.like("%d%")).find()) == ["bob", "eve"]


def test_or(people):
    q = User.query().order_by("id")
    expr = (User.username == "ada") | (User.username == "eve")
    assert names(q.filter(expr).find()) == ["ada", "eve"]
    expr = ((User.id == 1) | (User.id == 2)) & (User.username != "ada")
    assert names(q.filter(expr).find()) == ["bob"]
    expr = (User.id == 1) | ((User.id == 2) & (User.username != "bob"))
    assert names(q.filter(expr).find()) == ["ada"]


def test_in(people):
    q = User.query().order_by("id")
    assert names(q.filter(User.username.in_(["cyd", "bob", "zed"])).find()) == ["bob", "cyd"]
    assert q.filter(User.username.in_([])).find() == []
    assert names(q.filter(~User.id.in_([1, 2, 3])).find()) == ["dan", "eve"]


def test_between_is_inclusive(people):
    q = User.query().order_by("id")
    expr = User.created.between(datetime(2024, 2, 1), datetime(2024, 3, 1))
    assert names(q.filter(expr).find()) == ["bob", "cyd", "dan"]
    assert names(q.filter(User.id.between(2, 3)).find()) == ["bob", "cyd"]


def test_is_null_on_column_and_reference(db):
    Everything(s="none").persist()
    Everything(s="some", maybe="x").persist()
    assert [e.s for e in Everything.query().filter(Everything.maybe.is_null()).find()] == ["none"]
    assert [e.s for e in Everything.query().filter(~Everything.maybe.is_null()).find()] == ["some"]
    assert [e.s for e in Everything.query().filter(maybe=None).find()] == ["none"]


def test_reference_is_null_and_equal_none(people):
    q = Post.query().order_by("id")
    assert [p.title for p in q.filter(Post.reviewer.is_null()).find()] == ["a2", "b1", "e1"]
    none = None
    assert [p.title for p in q.filter(Post.reviewer == none).find()] == ["a2", "b1", "e1"]
    assert [p.title for p in q.filter(reviewer=None).find()] == ["a2", "b1", "e1"]


def test_reference_compares_by_key(people):
    ada = people["ada"]
    q = Post.query().order_by("id")
    assert [p.title for p in q.filter(Post.author == ada).find()] == ["a1", "a2"]
    assert [p.title for p in q.filter(author=ada).find()] == ["a1", "a2"]
    assert [p.title for p in q.filter(Post.author != ada).find()] == ["b1", "e1"]
    assert [p.title for p in q.filter(reviewer=people["bob"]).find()] == ["a1"]
    # a loaded copy or a stub of the same row compares equal by key
    stub = Comment.query().filter(text="c3").find_one().author
    assert inspect(stub).is_stub
    assert [p.title for p in q.filter(author=stub).find()] == ["a1", "a2"]
    assert [p.title for p in q.filter(Post.author.in_([ada, people["eve"]])).find()] == [
        "a1", "a2", "e1"]


def test_bool_filter(people):
    q = Post.query().order_by("id")
    assert [p.title for p in q.filter(Post.published == True).find()] == ["a1", "b1"]  # noqa: E712
    assert [p.title for p in q.filter(published=False).find()] == ["a2", "e1"]


def test_filters_on_every_value_type(db):
    uid = UUID("12345678-1234-5678-1234-567812345678")
    Everything(s="one", i=1, f=1.5, b=True, dec=Decimal("1.10"), d=date(2024, 1, 2),
               color=Color.GREEN, priority=Priority.HIGH, uid=uid, raw=b"\x00\x01").persist()
    Everything(s="two", i=2).persist()
    q = Everything.query()
    assert [e.s for e in q.filter(color=Color.GREEN).find()] == ["one"]
    assert [e.s for e in q.filter(Everything.priority == Priority.LOW).find()] == ["two"]
    assert [e.s for e in q.filter(uid=uid).find()] == ["one"]
    assert [e.s for e in q.filter(d=date(2024, 1, 2)).find()] == ["one"]
    assert [e.s for e in q.filter(dec=Decimal("1.10")).find()] == ["one"]
    assert [e.s for e in q.filter(Everything.f > 1.0).find()] == ["one"]
    assert [e.s for e in q.filter(b=True).find()] == ["one"]
    assert [e.s for e in q.filter(raw=b"\x00\x01").find()] == ["one"]


def test_values_are_bound_parameters(people, sql_log):
    evil = "ada' OR '1'='1"
    sql_log.clear()
    assert User.query().filter(username=evil).find() == []
    selects = [r for r in sql_log.records if r.sql.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1
    assert evil not in selects[0].sql
    assert evil in list(selects[0].params)
    assert User.query().count() == 5


# --------------------------------------------------------------------------
# ordering and paging
# --------------------------------------------------------------------------

def test_order_by_desc_then_asc(people):
    assert names(User.query().order_by("-created", "username").find()) == [
        "eve", "cyd", "dan", "bob", "ada"]
    assert names(User.query().order_by("-created", "-username").find()) == [
        "eve", "dan", "cyd", "bob", "ada"]
    assert names(User.query().order_by("username").find()) == ["ada", "bob", "cyd", "dan", "eve"]


def test_order_by_reference_column(people):
    titles = [p.title for p in Post.query().order_by("-author", "title").find()]
    assert titles == ["e1", "b1", "a1", "a2"]


def test_limit_and_skip(db):
    for i in range(35):
        f.UserFactory(username=f"u{i:02d}")
    q = User.query().order_by("username")
    assert names(q.limit(10).skip(20).find()) == [f"u{i:02d}" for i in range(20, 30)]
    assert names(q.skip(20).limit(10).find()) == [f"u{i:02d}" for i in range(20, 30)]
    assert names(q.limit(3).find()) == ["u00", "u01", "u02"]
    assert names(q.skip(32).find()) == ["u32", "u33", "u34"]
    assert q.skip(40).find() == []
    assert names(q.limit(10).skip(30).find()) == [f"u{i:02d}" for i in range(30, 35)]
    assert q.limit(0).find() == []


def test_limit_and_skip_bad_values(people):
    for bad in (-1, "10", 1.5):
        with pytest.raises((QueryError, ValidationError, ValueError, TypeError)):
            User.query().limit(bad).find()
        with pytest.raises((QueryError, ValidationError, ValueError, TypeError)):
            User.query().skip(bad).find()


# --------------------------------------------------------------------------
# select(): partial objects
# --------------------------------------------------------------------------

def test_select_loads_named_fields_and_key(people, sql_log):
    sql_log.clear()
    users = User.query().select("username").order_by("id").find()
    assert [(u.id, u.username) for u in users] == [
        (1, "ada"), (2, "bob"), (3, "cyd"), (4, "dan"), (5, "eve")]
    selects = [s for s in sql_log.statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1 and "created" not in selects[0]
    with pytest.raises(FieldNotLoaded) as exc:
        users[0].created
    msg = str(exc.value)
    assert "User" in msg and "created" in msg


def test_select_reference_field_left_out(people):
    p = Post.query().select("title").filter(title="a1").find_one()
    assert p.title == "a1" and p.id == 1
    with pytest.raises(FieldNotLoaded) as exc:
        p.author
    assert "Post" in str(exc.value) and "author" in str(exc.value)
    with pytest.raises(FieldNotLoaded):
        p.published


def test_persist_partial_object_updates_only_what_changed(people, sql_log):
    u = User.query().select("username").filter(username="bob").find_one()
    u.username = "robert"
    sql_log.clear()
    u.persist()
    updates = [r for r in sql_log.records if r.sql.lstrip().upper().startswith("UPDATE")]
    assert len(updates) == 1
    assert "created" not in updates[0].sql
    assert list(updates[0].params) == ["robert", 2]
    again = User.get(2)
    assert (again.username, again.created) == ("robert", datetime(2024, 2, 1))


def test_persist_unchanged_partial_object_sends_nothing(people, sql_log):
    u = User.query().select("username").filter(username="bob").find_one()
    sql_log.clear()
    u.persist()
    assert sql_log.statements == []


def test_select_several_fields(people):
    p = Post.query().select("title", "published").filter(title="b1").find_one()
    assert (p.id, p.title, p.published) == (3, "b1", True)
    with pytest.raises(FieldNotLoaded):
        p.reviewer


# --------------------------------------------------------------------------
# terminals
# --------------------------------------------------------------------------

def test_find_one(people):
    u = User.query().filter(username="cyd").find_one()
    assert (u.id, u.username, u.created) == (3, "cyd", datetime(2024, 3, 1))


def test_find_one_none_raises_not_found(people):
    with pytest.raises(NotFound) as exc:
        User.query().filter(username="zed").find_one()
    assert "User" in str(exc.value)


def test_find_one_or_none(people):
    assert User.query().filter(username="zed").find_one_or_none() is None
    assert User.query().filter(username="eve").find_one_or_none().id == 5


def test_count_and_exists(people, db):
    assert User.query().count() == 5
    assert User.query().filter(User.id > 2).count() == 3
    assert Post.query().filter(author=people["ada"]).count() == 2
    assert User.query().filter(username="ada").exists() is True
    assert User.query().filter(username="zed").exists() is False
    assert Warehouse.query().exists() is False
    assert Warehouse.query().count() == 0


def test_ids(people):
    assert User.query().order_by("id").ids() == [1, 2, 3, 4, 5]
    assert User.query().order_by("-created", "username").ids() == [5, 3, 4, 2, 1]
    assert sorted(User.query().filter(User.id > 3).ids()) == [4, 5]
    assert Warehouse.query().ids() == []


def test_ids_composite_key(db):
    s = f.StudentFactory()
    c1, c2 = f.CourseFactory(code="C001"), f.CourseFactory(code="C002")
    Enrollment(student=s, course=c1).persist()
    Enrollment(student=s, course=c2).persist()
    assert sorted(Enrollment.query().ids()) == [(s.id, "C001"), (s.id, "C002")]


def test_db_query(people, db):
    assert names(db.query(User).filter(username="bob").find()) == ["bob"]
    assert db.query(User).count() == 5
    assert sorted(db.query(Post).filter(Post.author == people["ada"]).ids()) == [1, 2]


def test_query_is_an_immutable_builder(people):
    q = User.query()
    q2 = q.filter(User.id > 3)
    q3 = q2.order_by("-id")
    q4 = q3.limit(1)
    q5 = q.select("username")
    assert q.count() == 5
    assert q2.count() == 2
    assert [u.id for u in q3.find()] == [5, 4]
    assert [u.id for u in q4.find()] == [5]
    assert sorted(u.id for u in q2.find()) == [4, 5]
    assert sorted(u.id for u in q.find()) == [1, 2, 3, 4, 5]
    assert all(not inspect(u).is_stub for u in q.find())
    assert q5 is not q
    u = q.filter(username="ada").find_one()
    assert u.created == datetime(2024, 1, 1)   # q5's select did not leak into q


def test_query_runs_one_select(people, sql_log):
    sql_log.clear()
    Post.query().find()
    assert sql_log.count("SELECT") == 1
    assert sql_log.count("INSERT") + sql_log.count("UPDATE") + sql_log.count("DELETE") == 0


# --------------------------------------------------------------------------
# delete_many
# --------------------------------------------------------------------------

def test_delete_many_returns_count_and_cascades(people, db):
    n = User.query().filter(User.username.in_(["ada", "cyd"])).delete_many()
    assert n == 2
    assert [r[0] for r in db.execute('SELECT username FROM "users" ORDER BY id', ())] == [
        "bob", "dan", "eve"]
    # ada's posts and every comment on them or by her went too
    assert [r[0] for r in db.execute('SELECT title FROM "posts" ORDER BY id', ())] == ["b1", "e1"]
    assert count(db, "comments") == 0


def test_delete_many_set_null(people, db):
    n = User.query().filter(username="bob").delete_many()
    assert n == 1
    assert db.execute('SELECT title, reviewer_id FROM "posts" ORDER BY id', ()) == [
        ("a1", None), ("a2", None), ("e1", None)]


def test_delete_many_nothing_matches(people, db, sql_log):
    sql_log.clear()
    assert User.query().filter(username="zed").delete_many() == 0
    assert count(db, "users") == 5
    assert sql_log.count("UPDATE") == 0


def test_delete_many_marks_loaded_objects_deleted(people, db):
    with db.session():
        users = User.query().order_by("id").find()
        posts = Post.query().order_by("id").find()
        assert User.query().filter(username="ada").delete_many() == 1
        assert [inspect(u).is_deleted for u in users] == [True, False, False, False, False]
        assert [inspect(p).is_deleted for p in posts] == [True, True, False, False]
        assert User.query().count() == 4
    assert count(db, "users") == 4


def test_delete_many_restrict_writes_nothing(db, sql_log):
    main = f.WarehouseFactory(name="main")
    f.WarehouseFactory(name="free")
    f.ItemFactory(warehouse=main, archive=main)
    sql_log.clear()
    with pytest.raises(IntegrityError) as exc:
        Warehouse.query().delete_many()
    assert "Item" in str(exc.value) and "warehouse" in str(exc.value)
    assert sql_log.count("DELETE") == 0 and sql_log.count("UPDATE") == 0
    assert count(db, "warehouses") == 2
    assert db.execute('SELECT archive_id FROM "items"', ()) == [(main.id,)]


def test_delete_many_with_limit_counts_root_rows(people, db):
    n = User.query().order_by("-id").limit(2).delete_many()
    assert n == 2
    assert [r[0] for r in db.execute('SELECT id FROM "users" ORDER BY id', ())] == [1, 2, 3]


# --------------------------------------------------------------------------
# patch_many
# --------------------------------------------------------------------------

def test_patch_many_returns_count_and_writes(people, db):
    n = Post.query().filter(author=people["ada"]).patch_many(published=True, title="x")
    assert n == 2
    assert db.execute('SELECT title, published FROM "posts" ORDER BY id', ()) == [
        ("x", 1), ("x", 1), ("b1", 1), ("e1", 0)]


def test_patch_many_reference_value(people, db):
    n = Post.query().filter(reviewer=None).patch_many(reviewer=people["eve"])
    assert n == 3
    assert db.execute('SELECT reviewer_id FROM "posts" ORDER BY id', ()) == [
        (2,), (5,), (5,), (5,)]


def test_patch_many_updates_loaded_objects_in_session(people, db):
    with db.session():
        posts = Post.query().order_by("id").find()
        n = Post.query().filter(Post.published == False).patch_many(published=True)  # noqa: E712
        assert n == 2
        assert [p.published for p in posts] == [True, True, True, True]
        assert not any(inspect(p).is_dirty for p in posts)
    assert db.execute('SELECT published FROM "posts"', ()) == [(1,)] * 4


def test_patch_many_keeps_unsaved_change_of_dirty_object(people, db):
    with db.session():
        a2 = Post.query().filter(title="a2").find_one()
        a2.title = "mine"
        Post.query().filter(author=people["ada"]).patch_many(published=True)
        assert a2.title == "mine"
        assert a2.published is True
    assert db.execute('SELECT title, published FROM "posts" WHERE id = 2', ()) == [("mine", 1)]


def test_patch_many_does_not_touch_objects_of_other_sessions(people, db):
    p = Post.query().filter(title="a2").find_one()     # its own session, now closed
    p.title = "mine"
    n = Post.query().filter(title="a2").patch_many(title="patched")
    assert n == 1
    assert p.title == "mine" and inspect(p).is_dirty
    p.persist()
    assert db.execute('SELECT title FROM "posts" WHERE id = 2', ()) == [("mine",)]


def test_patch_many_wrong_type_writes_nothing(people, db):
    with pytest.raises(ValidationError):
        Post.query().patch_many(title=123)
    with pytest.raises(ValidationError):
        Post.query().patch_many(author="ada")
    assert [r[0] for r in db.execute('SELECT title FROM "posts" ORDER BY id', ())] == [
        "a1", "a2", "b1", "e1"]


def test_patch_many_unique_violation_writes_nothing(people, db):
    with pytest.raises(IntegrityError):
        User.query().filter(User.id > 3).patch_many(username="same")
    assert [r[0] for r in db.execute('SELECT username FROM "users" ORDER BY id', ())] == [
        "ada", "bob", "cyd", "dan", "eve"]


# --------------------------------------------------------------------------
# unknown names and bad input
# --------------------------------------------------------------------------

def _assert_query_error(exc, name, model):
    msg = str(exc.value)
    assert name in msg and model in msg, msg


def test_unknown_field_in_filter(people):
    with pytest.raises(QueryError) as exc:
        User.query().filter(nope="x").find()
    _assert_query_error(exc, "nope", "User")


def test_unknown_field_in_order_by(people):
    with pytest.raises(QueryError) as exc:
        User.query().order_by("-nope").find()
    _assert_query_error(exc, "nope", "User")
    with pytest.raises(QueryError):
        User.query().order_by("username; DROP TABLE users").find()
    assert User.query().count() == 5


def test_unknown_field_in_select(people):
    with pytest.raises(QueryError) as exc:
        User.query().select("username", "nope").find()
    _assert_query_error(exc, "nope", "User")


def test_unknown_field_in_patch_many_writes_nothing(people, db):
    with pytest.raises(QueryError) as exc:
        Post.query().patch_many(title="x", nope=1)
    _assert_query_error(exc, "nope", "Post")
    assert [r[0] for r in db.execute('SELECT title FROM "posts" ORDER BY id', ())] == [
        "a1", "a2", "b1", "e1"]


def test_patch_many_rejects_back_reference(people, db):
    with pytest.raises(QueryError) as exc:
        User.query().patch_many(posts=[])
    _assert_query_error(exc, "posts", "User")
    assert count(db, "posts") == 4


def test_filter_with_raw_string_is_rejected(people):
    with pytest.raises((QueryError, TypeError)):
        User.query().filter("username = 'ada'").find()


def test_in_list_with_a_value_of_the_wrong_type_names_the_field(people):
    with pytest.raises(ValidationError, match=r"^User\.id cannot be compared with 'x': not a int$"):
        User.query().filter(User.id.in_([1, 2, "x"]))
    with pytest.raises(ValidationError, match=r"^Post\.author: 'ada' is not a primary key of User"):
        Post.query().filter(Post.author.in_([people["bob"], "ada"]))
    post = Post.query().find()[0]
    with pytest.raises(ValidationError, match=r"^Post\.author refers to User, not Post$"):
        Post.query().filter(Post.author.in_([post]))


def test_filter_value_of_wrong_type(people):
    with pytest.raises(ValidationError):
        User.query().filter(id="abc").find()
    with pytest.raises(ValidationError):
        Post.query().filter(author=people["ada"].username).find()


def test_expression_of_another_model_is_rejected(people):
    with pytest.raises(QueryError):
        User.query().filter(Post.title == "a1").find()


def test_count_and_exists_respect_limit_and_skip(people):
    q = User.query().order_by("id")
    assert q.limit(2).count() == 2
    assert q.skip(4).count() == 1
    assert q.skip(5).count() == 0
    assert q.skip(5).exists() is False
    assert q.limit(2).skip(1).ids() == [2, 3]


def test_full_query_completes_partial_object_in_session(people, db):
    with db.session():
        u = User.query().select("username").filter(username="bob").find_one()
        with pytest.raises(FieldNotLoaded):
            u.created
        again = User.query().filter(username="bob").find_one()
        assert again is u
        assert u.created == datetime(2024, 2, 1)


def test_delete_many_composite_cascade(db):
    s1, s2 = f.StudentFactory(), f.StudentFactory()
    c = f.CourseFactory(code="C001")
    Enrollment(student=s1, course=c).persist()
    Enrollment(student=s2, course=c).persist()
    from tests.models import Student
    assert Student.query().filter(id=s1.id).delete_many() == 1
    assert db.execute('SELECT student_id FROM "enrollments"', ()) == [(s2.id,)]


def test_negation_and_grouping(people):
    q = User.query().order_by("id")
    assert names(q.filter(~((User.id == 1) | (User.id == 2))).find()) == ["cyd", "dan", "eve"]
    assert names(q.filter(~((User.id > 1) & (User.id < 5))).find()) == ["ada", "eve"]
    assert names(q.filter(~~(User.id == 3)).find()) == ["cyd"]
    expr = (User.username == "ada") | (User.username == "bob") & (User.id == 1)
    assert names(q.filter(expr).find()) == ["ada"]      # & binds tighter, as in Python
    assert names(q.filter(User.id > 1, User.id < 4).find()) == ["bob", "cyd"]


def test_not_equal_none_is_not_null(people):
    q = Post.query().order_by("id")
    assert [p.title for p in q.filter(Post.reviewer != None).find()] == ["a1"]  # noqa: E711
    assert [p.title for p in q.filter(~Post.reviewer.is_null()).find()] == ["a1"]


def test_filter_without_arguments_matches_everything(people):
    assert User.query().filter().count() == 5


def test_select_reference_loads_stub(people):
    p = Post.query().select("author").filter(title="b1").find_one()
    assert p.author.id == 2 and inspect(p.author).is_stub
    with pytest.raises(FieldNotLoaded):
        p.title


def test_back_reference_in_order_by_or_keyword_filter_is_a_query_error(people):
    with pytest.raises(QueryError) as exc:
        User.query().order_by("posts").find()
    _assert_query_error(exc, "posts", "User")
    with pytest.raises(QueryError) as exc:
        User.query().filter(posts=[]).find()
    _assert_query_error(exc, "posts", "User")


def test_patch_many_with_unsaved_reference_writes_nothing(people, db):
    with pytest.raises(ActiverelError):
        Post.query().patch_many(reviewer=User(username="unsaved"))
    assert db.execute('SELECT reviewer_id FROM "posts" ORDER BY id', ()) == [
        (2,), (None,), (None,), (None,)]
    assert count(db, "users") == 5


class Lonely(Model, table="query_lonely"):
    """A test-local model unrelated to the shared ones."""
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str = ""


def test_query_of_model_the_database_does_not_serve(make_db):
    # (make_db with shared models would drop the shared tables on a server)
    other = make_db([Lonely])
    with pytest.raises(ActiverelError) as exc:
        other.query(User).find()
    assert "User" in str(exc.value)
