"""The identity map, get(), reload() and unloaded references (SPEC 2 and 3).

Within a session one row is one Python object; reloading refreshes clean
objects and never clobbers unsaved changes; stubs and unloaded back
references raise instead of issuing a query."""
from __future__ import annotations

import pytest

from activerel import (FieldNotLoaded, NotFound, QueryError, ReferenceNotLoaded,
                       ValidationError, inspect)
from tests import factories as f
from tests.models import Comment, Course, Enrollment, Group, Post, User






@pytest.fixture
def ada(db):
    u = f.UserFactory(username="ada")
    f.PostFactory(author=u, title="first")
    f.PostFactory(author=u, title="second")
    return u


# --------------------------------------------------------------------------
# get()
# --------------------------------------------------------------------------

def test_get_returns_the_row(db, ada):
    u = User.get(ada.id)
    assert (u.id, u.username) == (ada.id, "ada")
    assert not inspect(u).is_new and not inspect(u).is_dirty and not inspect(u).is_stub


def test_db_get(db, ada):
    u = db.get(User, ada.id)
    assert u.username == "ada"
    assert db.get(Post, 2).title == "second"


def test_get_missing_raises_not_found(db, ada):
    with pytest.raises(NotFound) as exc:
        User.get(999)
    assert "User" in str(exc.value)
    with pytest.raises(NotFound):
        db.get(User, 999)


def test_get_composite_key(db):
    s = f.StudentFactory(name="sam")
    c = f.CourseFactory(code="C001")
    Enrollment(student=s, course=c, grade="A").persist()
    e = Enrollment.get((s.id, "C001"))
    assert e.grade == "A"
    assert e.student.id == s.id and e.course.code == "C001"
    assert db.get(Enrollment, (s.id, "C001")).grade == "A"
    with pytest.raises(NotFound):
        Enrollment.get((s.id, "C999"))


def test_get_natural_key(db):
    f.CourseFactory(code="C001", title="Algebra")
    assert Course.get("C001").title == "Algebra"
    with pytest.raises(NotFound):
        Course.get("nope")


def test_get_bad_key_shapes(db, ada):
    with pytest.raises((ValidationError, QueryError, TypeError, ValueError)):
        Enrollment.get(5)
    with pytest.raises((ValidationError, QueryError, TypeError, ValueError)):
        Enrollment.get((1, "C001", "extra"))
    with pytest.raises(ValidationError):
        User.get("not an int")


# --------------------------------------------------------------------------
# identity map
# --------------------------------------------------------------------------

def test_get_twice_in_session_is_same_object_without_second_select(db, ada, sql_log):
    with db.session():
        sql_log.clear()
        a = User.get(ada.id)
        assert sql_log.count("SELECT") == 1
        b = User.get(ada.id)
        assert b is a
        assert sql_log.count("SELECT") == 1
        assert db.get(User, ada.id) is a
        assert sql_log.count("SELECT") == 1


def test_query_returns_instance_already_loaded(db, ada):
    with db.session():
        a = User.get(ada.id)
        assert User.query().filter(username="ada").find_one() is a
        assert User.query().find() == [a]
        assert User.query().find()[0] is a


def test_same_row_through_two_queries_is_one_object(db, ada):
    with db.session():
        first = Post.query().order_by("id").find()
        second = Post.query().order_by("-id").find()
        assert first[0] is second[1] and first[1] is second[0]


def test_new_object_after_flush_is_in_identity_map(db, sql_log):
    with db.session() as s:
        u = User(username="ada")
        u.persist()
        s.flush()
        sql_log.clear()
        assert User.get(u.id) is u
        assert sql_log.count("SELECT") == 0
        assert User.query().find_one() is u


def test_outside_session_each_call_has_its_own_identity_map(db, ada):
    a = User.get(ada.id)
    b = User.get(ada.id)
    assert a is not b
    assert a.username == b.username == "ada"


def test_stubs_of_the_same_row_are_one_object(db, ada):
    with db.session():
        p1, p2 = Post.query().order_by("id").find()
        assert p1.author is p2.author
        assert inspect(p1.author).is_stub


def test_reference_to_loaded_row_is_the_loaded_object(db, ada):
    with db.session():
        u = User.get(ada.id)
        p = Post.query().filter(title="first").find_one()
        assert p.author is u
        assert p.author.username == "ada"


def test_loading_a_stubbed_row_fills_the_stub(db, ada):
    with db.session():
        p = Post.query().filter(title="first").find_one()
        stub = p.author
        assert inspect(stub).is_stub
        u = User.get(stub.id)
        assert u is stub
        assert not inspect(u).is_stub
        assert p.author.username == "ada"


# --------------------------------------------------------------------------
# reload and refresh
# --------------------------------------------------------------------------

def test_query_refreshes_clean_object(db, ada):
    with db.session():
        u = User.get(ada.id)
        db.execute('UPDATE "users" SET username = ? WHERE id = ?', ("ada2", ada.id))
        again = User.query().filter(id=ada.id).find_one()
        assert again is u
        assert u.username == "ada2"
        assert not inspect(u).is_dirty


def test_get_in_session_does_not_requery(db, ada, sql_log):
    with db.session():
        u = User.get(ada.id)
        db.execute('UPDATE "users" SET username = ? WHERE id = ?', ("ada2", ada.id))
        sql_log.clear()
        assert User.get(ada.id) is u
        assert sql_log.count("SELECT") == 0
        assert u.username == "ada"      # no query, so nothing to refresh from


def test_reload_refreshes_clean_object(db, ada):
    u = User.get(ada.id)
    db.execute('UPDATE "users" SET username = ? WHERE id = ?', ("ada2", ada.id))
    u.reload()
    assert u.username == "ada2"
    assert not inspect(u).is_dirty


def test_reload_in_session(db, ada, sql_log):
    with db.session():
        u = User.get(ada.id)
        db.execute('UPDATE "users" SET username = ? WHERE id = ?', ("ada2", ada.id))
        sql_log.clear()
        u.reload()
        assert sql_log.count("SELECT") == 1
        assert u.username == "ada2"


def test_query_never_overwrites_unsaved_change(db, ada):
    f.UserFactory(username="bob")
    with db.session():
        u = User.get(ada.id)
        u.username = "mine"
        db.execute('UPDATE "users" SET username = ? WHERE id = ?', ("theirs", ada.id))
        # the query flushes first, then sees "mine"
        found = User.query().filter(id=ada.id).find_one()
        assert found is u
        assert u.username == "mine"
    assert db.execute('SELECT username FROM "users" WHERE id = ?', (ada.id,)) == [("mine",)]


def test_reload_never_overwrites_unsaved_change(db, ada):
    u = User.get(ada.id)
    u.username = "mine"
    db.execute('UPDATE "users" SET username = ? WHERE id = ?', ("theirs", ada.id))
    u.reload()
    assert u.username == "mine"
    assert inspect(u).is_dirty
    u.persist()
    assert db.execute('SELECT username FROM "users" WHERE id = ?', (ada.id,)) == [("mine",)]


def test_reload_missing_row_raises_not_found(db, ada):
    u = User.get(ada.id)
    db.execute('DELETE FROM "posts"', ())
    db.execute('DELETE FROM "users"', ())
    with pytest.raises(NotFound):
        u.reload()


# --------------------------------------------------------------------------
# unloaded references
# --------------------------------------------------------------------------

def test_reference_loaded_without_join_is_a_stub(db, ada, sql_log):
    p = Post.query().filter(title="first").find_one()
    sql_log.clear()
    stub = p.author
    assert stub.id == ada.id
    assert isinstance(stub, User)
    state = inspect(stub)
    assert state.is_stub and not state.is_new and not state.is_dirty
    with pytest.raises(ReferenceNotLoaded) as exc:
        stub.username
    msg = str(exc.value)
    assert 'join_with("author")' in msg
    assert "User" in msg and "username" in msg
    assert isinstance(exc.value, FieldNotLoaded)
    assert sql_log.statements == []


def test_nullable_reference_without_join(db, ada):
    bob = f.UserFactory(username="bob")
    p = Post.get(1)
    assert p.reviewer is None
    p.reviewer = bob
    p.persist()
    again = Post.get(1)
    assert inspect(again.reviewer).is_stub and again.reviewer.id == bob.id


def test_back_reference_not_loaded_raises(db, ada, sql_log):
    u = User.get(ada.id)
    sql_log.clear()
    with pytest.raises(ReferenceNotLoaded) as exc:
        u.posts
    msg = str(exc.value)
    assert 'join_with("posts")' in msg and "User" in msg
    with pytest.raises(ReferenceNotLoaded) as exc:
        u.groups
    assert 'join_with("groups")' in str(exc.value)
    with pytest.raises(ReferenceNotLoaded) as exc:
        u.credentials
    assert 'join_with("credentials")' in str(exc.value)
    with pytest.raises(ReferenceNotLoaded):
        Post.get(1).comments
    assert sql_log.count("SELECT") == 1     # only Post.get


def test_new_objects_have_loaded_empty_back_references(db):
    u = User(username="x")
    assert u.posts == [] and u.groups == [] and u.credentials is None
    g = Group(name="g")
    assert g.users == []


def test_persisted_new_object_keeps_its_back_references(db):
    u = User(username="ada")
    p = Post(author=u, title="t")
    u.persist()
    assert u.posts == [p]
    c = Comment(post=p, author=u)
    assert p.comments == [c] and u.comments == [c]



def test_reload_fills_a_stub(db, ada):
    p = Post.get(1)
    stub = p.author
    stub.reload()
    assert not inspect(stub).is_stub
    assert stub.username == "ada"


def test_reload_completes_a_partial_object(db, ada):
    u = User.query().select("username").find_one()
    u.reload()
    assert u.created == ada.created


def test_get_of_row_deleted_in_session_raises_not_found(db, ada):
    with db.session():
        u = User.get(ada.id)
        u.delete()
        with pytest.raises(NotFound):
            User.get(ada.id)
        assert User.query().filter(id=ada.id).find_one_or_none() is None


def test_reference_to_same_key_is_not_a_change(db, ada):
    p = Post.get(1)
    p.author = User.get(ada.id)       # another instance, same key as the stub
    assert not inspect(p).is_dirty
    p.author = f.UserFactory(username="bob")
    assert inspect(p).is_dirty and set(inspect(p).changes) == {"author"}
