"""Declaring models: the constructor, validation, object state, primary keys,
naming, lazy resolution and every ``ModelDefinitionError``.

Models that are *meant* to be broken are declared in a forked child process
(see ``definition_error``) so that they never reach this process's registry
and cannot disturb any other test."""
from __future__ import annotations

import json
import os
import traceback
from datetime import date, datetime, time
from decimal import Decimal
from importlib import resources
from typing import Annotated, Optional
from uuid import UUID

import pytest

import activerel
from activerel import (ActiverelError, AutoIncrement, BackReference, Database,
                       Index, Model, ModelDefinitionError, NotFound, PrimaryKey,
                       Reference, ReferenceNotLoaded, Unique, ValidationError,
                       field)
from tests import factories as f
from tests.support import count as rows
from tests.backends import tables
from tests.models import (Category, Color, Comment, Course, Enrollment,
                          Everything, Group, Post, Priority, Student, User,
                          UserCredentials)


# --------------------------------------------------------------------------
# helpers




def resolve(*models) -> None:
    """First use of ``models``: a database serving them, migrated."""
    database = Database("sqlite://", models=list(models))
    try:
        database.migrate()
    finally:
        database.close()


def definition_error(declare) -> str:
    """Run ``declare`` in a forked child; assert it raised ModelDefinitionError
    (an ActiverelError) and return the message."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.close(r)
            try:
                declare()
                result = {"raised": None}
            except BaseException as exc:  # noqa: BLE001 - reported to the parent
                result = {
                    "raised": type(exc).__name__,
                    "is_mde": isinstance(exc, ModelDefinitionError),
                    "is_are": isinstance(exc, ActiverelError),
                    "message": str(exc),
                    "tb": traceback.format_exc(),
                }
            with os.fdopen(w, "w") as out:
                json.dump(result, out)
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r) as inp:
        data = inp.read()
    os.waitpid(pid, 0)
    result = json.loads(data)
    assert result["raised"] is not None, "no error was raised"
    assert result["is_mde"], f"expected ModelDefinitionError, got:\n{result['tb']}"
    assert result["is_are"]
    return result["message"]


# --------------------------------------------------------------------------
# models local to this module (valid ones only)


class TmOrderLine(Model):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    qty: int = 1


class TmShippingAddressBook(Model):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0


class TmNatural(Model, table="tm_naturals"):
    """A model with a natural (non generated) str primary key."""
    code: Annotated[str, PrimaryKey]
    label: str = ""


# --------------------------------------------------------------------------
# the package


def test_error_hierarchy():
    for exc in (activerel.ModelDefinitionError, activerel.QueryError,
                activerel.NotFound, activerel.FieldNotLoaded,
                activerel.ReferenceNotLoaded, activerel.IntegrityError,
                activerel.ValidationError):
        assert issubclass(exc, ActiverelError), exc
    assert issubclass(activerel.ReferenceNotLoaded, activerel.FieldNotLoaded)
    assert issubclass(ValidationError, TypeError)
    assert issubclass(ActiverelError, Exception)


def test_package_ships_py_typed():
    assert resources.files("activerel").joinpath("py.typed").is_file()


def test_model_is_marked_dataclass_transform():
    marker = (getattr(Model, "__dataclass_transform__", None)
              or getattr(type(Model), "__dataclass_transform__", None))
    assert marker is not None


# --------------------------------------------------------------------------
# the constructor


def test_constructor_sets_fields_and_defaults():
    u = User(username="ada")
    assert u.username == "ada"
    assert u.id == 0
    assert u.created == datetime(2024, 1, 1, 12, 0, 0)
    p = Post(author=u, title="hello")
    assert p.author is u
    assert p.reviewer is None
    assert p.title == "hello"
    assert p.published is False


def test_constructor_back_references_start_empty():
    u = User(username="ada")
    assert u.posts == []
    assert u.reviewed == []
    assert u.comments == []
    assert u.groups == []
    assert u.credentials is None
    c = Category(name="root")
    assert c.children == []
    assert c.parent is None


def test_default_factory_gives_each_instance_its_own_value():
    a, b = Everything(), Everything()
    assert a.data == {} and a.items == []
    assert a.data is not b.data
    assert a.items is not b.items
    a.data["k"] = 1
    assert b.data == {}
    # back-reference lists are per instance too
    u1, u2 = User(username="a"), User(username="b")
    assert u1.posts is not u2.posts


def test_every_field_default_of_everything():
    e = Everything()
    assert (e.id, e.i, e.f, e.b, e.s, e.raw) == (0, 0, 0.0, False, "", b"")
    assert e.dec == Decimal("0")
    assert e.dt == datetime(2000, 1, 1)
    assert e.d == date(2000, 1, 1)
    assert e.t == time(0, 0)
    assert e.uid is None
    assert e.color is Color.RED
    assert e.priority is Priority.LOW
    assert e.maybe is None


def test_positional_arguments_are_rejected():
    with pytest.raises(TypeError):
        User("ada")  # type: ignore[misc]
    with pytest.raises(TypeError):
        Everything(1)  # type: ignore[misc]


def test_wrong_type_in_constructor_is_a_validation_error():
    with pytest.raises(ValidationError) as info:
        User(username=5)  # type: ignore[arg-type]
    assert "User.username" in str(info.value)
    assert isinstance(info.value, TypeError)
    assert isinstance(info.value, ActiverelError)


def test_missing_required_field_is_a_validation_error():
    with pytest.raises(ValidationError) as info:
        Post(title="x")  # type: ignore[call-arg]
    assert "Post.author" in str(info.value)
    with pytest.raises(ValidationError) as info:
        User()  # type: ignore[call-arg]
    assert "User.username" in str(info.value)


def test_unknown_keyword_is_a_validation_error():
    with pytest.raises(ValidationError) as info:
        User(username="ada", nickname="x")  # type: ignore[call-arg]
    assert "User" in str(info.value)
    assert "nickname" in str(info.value)


def test_wrong_type_on_assignment_is_rejected_and_value_kept():
    u = User(username="ada")
    with pytest.raises(ValidationError) as info:
        u.username = 3  # type: ignore[assignment]
    assert "User.username" in str(info.value)
    assert u.username == "ada"


@pytest.mark.parametrize("name, value", [
    ("i", True),                       # bool is not an int here
    ("i", False),
    ("i", 1.5),
    ("i", "1"),
    ("i", None),
    ("f", "1.0"),
    ("b", 1),
    ("b", "true"),
    ("s", 5),
    ("s", b"bytes"),
    ("s", None),
    ("raw", "text"),
    ("dec", "1.5"),
    ("dt", date(2020, 1, 1)),
    ("dt", "2020-01-01T00:00:00"),
    ("d", datetime(2020, 1, 1, 10, 30)),  # a datetime is not a date here
    ("d", "2020-01-01"),
    ("t", datetime(2020, 1, 1, 10, 30)),
    ("uid", "12345678-1234-5678-1234-567812345678"),
    ("color", Priority.LOW),
    ("priority", Color.RED),
    ("data", [1, 2]),
    ("items", {"a": 1}),
])
def test_wrong_types_are_rejected_by_constructor_and_assignment(name, value):
    with pytest.raises(ValidationError) as info:
        Everything(**{name: value})
    assert f"Everything.{name}" in str(info.value)
    e = Everything()
    before = getattr(e, name)
    with pytest.raises(ValidationError) as info:
        setattr(e, name, value)
    assert f"Everything.{name}" in str(info.value)
    assert getattr(e, name) == before


@pytest.mark.parametrize("name, value", [
    ("i", -7),
    ("f", 2.5),
    ("f", 3),                          # int is accepted for float
    ("b", True),
    ("s", "x"),
    ("raw", b"\x00\x01"),
    ("dec", Decimal("1.25")),
    ("dec", 4),                        # int is accepted for Decimal
    ("dt", datetime(2020, 1, 1, 1, 2, 3, 4)),
    ("d", date(2020, 2, 29)),
    ("t", time(23, 59, 59, 999999)),
    ("uid", UUID("12345678-1234-5678-1234-567812345678")),
    ("uid", None),                     # Optional accepts None
    ("color", Color.GREEN),
    ("priority", Priority.HIGH),
    ("data", {"a": [1, None, True, 1.5, "x"]}),
    ("items", [1, "two", {"three": 3}]),
    ("maybe", None),
    ("maybe", "value"),
])
def test_right_types_are_accepted(name, value):
    e = Everything(**{name: value})
    assert getattr(e, name) == value
    e2 = Everything()
    setattr(e2, name, value)
    assert getattr(e2, name) == value


def test_references_accept_only_instances_of_the_target():
    u = User(username="ada")
    g = Group(name="g")
    with pytest.raises(ValidationError) as info:
        Post(author=g, title="x")  # type: ignore[arg-type]
    assert "Post.author" in str(info.value)
    with pytest.raises(ValidationError):
        Post(author=1, title="x")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Post(author=None, title="x")  # type: ignore[arg-type]
    p = Post(author=u, title="x", reviewer=None)
    with pytest.raises(ValidationError) as info:
        p.author = g  # type: ignore[assignment]
    assert "Post.author" in str(info.value)
    assert p.author is u
    with pytest.raises(ValidationError):
        p.reviewer = g  # type: ignore[assignment]
    with pytest.raises(ValidationError):
        p.author = None  # type: ignore[assignment]
    assert p.author is u
    p.reviewer = u
    assert p.reviewer is u
    p.reviewer = None
    assert p.reviewer is None


def test_validation_error_in_constructor_writes_nothing(db, sql_log):
    sql_log.clear()
    with pytest.raises(ValidationError):
        Post(author=User(username="ada"), title=7)  # type: ignore[arg-type]
    assert sql_log.count("INSERT") == 0
    assert rows(db, "users") == 0
    assert rows(db, "posts") == 0


def test_failed_assignment_does_not_dirty_a_persisted_object(db, sql_log):
    u = f.UserFactory(username="ada")
    with pytest.raises(ValidationError):
        u.username = 3  # type: ignore[assignment]
    assert activerel.inspect(u).is_dirty is False
    sql_log.clear()
    u.persist()
    assert sql_log.count("UPDATE") == 0
    assert db.execute('SELECT username FROM "users"', ()) == [("ada",)]


# --------------------------------------------------------------------------
# object state: activerel.inspect


def test_inspect_states_through_the_lifecycle(db):
    u = User(username="ada")
    state = activerel.inspect(u)
    assert state.is_new is True
    assert state.is_deleted is False
    assert state.is_stub is False

    u.persist()
    state = activerel.inspect(u)
    assert (state.is_new, state.is_dirty, state.is_deleted) == (False, False, False)
    assert state.changes == {}

    u.username = "grace"
    state = activerel.inspect(u)
    assert state.is_dirty is True
    assert state.changes == {"username": "ada"}

    u.username = "hopper"                       # the original is kept
    assert activerel.inspect(u).changes == {"username": "ada"}

    u.persist()
    state = activerel.inspect(u)
    assert state.is_dirty is False
    assert state.changes == {}
    assert db.execute('SELECT username FROM "users" WHERE id = ?', (u.id,)) == [("hopper",)]

    u.delete()
    state = activerel.inspect(u)
    assert state.is_deleted is True
    assert rows(db, "users") == 0


def test_inspect_gives_one_state_object_for_the_whole_life_of_an_object(db):
    ada, bob = User(username="ada"), User(username="bob")
    state = activerel.inspect(ada)
    assert activerel.inspect(ada) is state
    assert activerel.inspect(bob) is not state
    ada.persist()
    assert activerel.inspect(ada) is state
    assert (state.is_new, state.key) == (False, ada.id)
    assert activerel.inspect(bob).is_new is True
    bob.persist()
    ada.delete()
    assert state.is_deleted is True
    assert (activerel.inspect(bob).is_new, activerel.inspect(bob).key) == (False, bob.id)


def test_a_failed_flush_leaves_inspected_and_uninspected_new_objects_new(db):
    User(username="taken").persist()
    ada, dup = User(username="ada"), User(username="taken")
    state = activerel.inspect(ada)
    with pytest.raises(activerel.IntegrityError):
        db.persist(ada, dup)
    assert activerel.inspect(ada) is state
    assert [(activerel.inspect(u).is_new, activerel.inspect(u).key, u.id) for u in (ada, dup)] == [
        (True, None, 0), (True, None, 0)]
    db.persist(ada)
    assert (state.is_new, state.key) == (False, ada.id)


def test_a_loaded_object_gets_one_state_when_first_asked_for(db):
    ada = f.UserFactory(username="ada")
    with db.session() as s:
        loaded = User.query().find_one()
        assert loaded is not ada
        state = activerel.inspect(loaded)
        assert (state.is_new, state.is_dirty, state.is_stub, state.key, state.session) == (
            False, False, False, ada.id, s)
        assert activerel.inspect(loaded) is state
        loaded.username = "grace"
        assert activerel.inspect(loaded) is state
        assert state.changes == {"username": "ada"}
    assert state.is_dirty is False
    assert db.execute('SELECT username FROM "users"') == [("grace",)]


def test_rollback_keeps_unsaved_changes_and_leaves_untouched_loaded_objects_clean(db):
    f.UserFactory(username="ada")
    f.UserFactory(username="bob")
    with db.session() as s:
        ada, bob = User.query().order_by("username").find()
        ada.username = "ada2"
        s.rollback()
        assert list(s.dirty.values()) == [ada]
        assert activerel.inspect(ada).changes == {"username": "ada"}
        assert activerel.inspect(bob).is_dirty is False
    assert db.execute('SELECT username FROM "users" ORDER BY username') == [("ada2",), ("bob",)]


def test_an_untouched_object_from_a_finished_session_joins_the_next_flush(db):
    ada = f.UserFactory(username="ada")
    with db.session():
        loaded = User.query().find_one()
    post = Post(author=loaded, title="t")
    with db.session() as s:
        post.persist()
        s.flush()
        assert activerel.inspect(loaded).session is s
        assert s.get(User, ada.id) is loaded
    assert db.execute('SELECT author_id, title FROM "posts"') == [(ada.id, "t")]
    loaded.username = "grace"
    loaded.persist()
    assert db.execute('SELECT username FROM "users"') == [("grace",)]


def test_loaded_objects_are_instances_of_their_model_that_check_and_track_assignments(db):
    ada = f.UserFactory(username="ada")
    f.PostFactory(author=ada, title="t")
    with db.session():
        post = Post.query().join_with("author").find_one()
        user = post.author
        assert (type(post), type(user)) == (Post, User)
        assert (post.title, user.username, user.id) == ("t", "ada", ada.id)
        with pytest.raises(ValidationError, match=r"Post\.title must be str"):
            post.title = 5
        post.title = "t2"
        assert activerel.inspect(post).changes == {"title": "t"}
    assert db.execute('SELECT title FROM "posts"') == [("t2",)]


class Slotted(Model, table="slotted"):
    """A model with a slot of its own: its layout differs from every other
    model's, so rows load through the instance dict instead of a loader."""

    __slots__ = ("note",)
    id: Annotated[int, PrimaryKey]
    name: str


def test_a_model_with_slots_of_its_own_loads_and_keeps_its_slots(make_db):
    from activerel.instance.instrument import loader_class
    make_db([Slotted])
    Slotted(id=1, name="a").persist()
    assert loader_class(Slotted) is None
    loaded = Slotted.query().find_one()
    assert (type(loaded), loaded.id, loaded.name) == (Slotted, 1, "a")
    loaded.note = "kept"
    loaded.name = "b"
    loaded.persist()
    assert (loaded.note, Slotted.query().find_one().name) == ("kept", "b")


def test_inspect_changes_of_a_reference_and_several_fields(db):
    ada, grace = f.UserFactory(username="ada"), f.UserFactory(username="grace")
    p = f.PostFactory(author=ada, title="t")
    p.author = grace
    p.title = "t2"
    p.published = True
    changes = activerel.inspect(p).changes
    assert set(changes) == {"author", "title", "published"}
    assert changes["title"] == "t"
    assert changes["published"] is False
    assert changes["author"] is ada or getattr(changes["author"], "id", changes["author"]) == ada.id


def test_inspect_rejects_non_models():
    with pytest.raises(TypeError):
        activerel.inspect(5)
    with pytest.raises(TypeError):
        activerel.inspect("user")


def test_inspect_of_a_loaded_object_and_a_stub(db):
    ada = f.UserFactory(username="ada")
    p = f.PostFactory(author=ada)
    loaded = Post.get(p.id)
    assert loaded is not p
    assert activerel.inspect(loaded).is_new is False
    assert activerel.inspect(loaded).is_dirty is False
    stub = loaded.author
    assert activerel.inspect(stub).is_stub is True
    assert stub.id == ada.id
    with pytest.raises(ReferenceNotLoaded) as info:
        stub.username
    assert "join_with" in str(info.value)
    full = Post.query().join_with("author").filter(id=p.id).find_one()
    assert activerel.inspect(full.author).is_stub is False
    assert full.author.username == "ada"


# --------------------------------------------------------------------------
# primary keys


def test_autoincrement_default_zero_is_generated_and_written_back(db):
    a = User(username="a")
    b = User(username="b")
    assert a.id == 0
    a.persist()
    b.persist()
    assert isinstance(a.id, int) and a.id > 0
    assert isinstance(b.id, int) and b.id > 0
    assert a.id != b.id
    assert sorted(db.execute('SELECT id, username FROM "users"', ())) == sorted(
        [(a.id, "a"), (b.id, "b")])


def test_autoincrement_none_is_generated_too(db):
    u = User(id=None, username="nobody")  # type: ignore[arg-type]
    u.persist()
    assert isinstance(u.id, int) and u.id > 0
    assert db.execute('SELECT id FROM "users"', ()) == [(u.id,)]


def test_autoincrement_explicit_value_is_kept(db):
    u = User(id=42, username="answer")
    u.persist()
    assert u.id == 42
    assert db.execute('SELECT id, username FROM "users"', ()) == [(42, "answer")]
    assert User.get(42).username == "answer"


def test_explicit_keys_do_not_break_later_generated_keys(db):
    """After rows with explicit AutoIncrement values, generated keys still do
    not collide with them (a PostgreSQL sequence is not advanced by itself)."""
    User(id=1, username="one").persist()
    User(id=2, username="two").persist()
    generated = User(username="generated")
    generated.persist()
    assert generated.id not in (0, 1, 2)
    assert sorted(r[0] for r in db.execute('SELECT id FROM "users"', ())) == sorted(
        [1, 2, generated.id])


def test_generated_keys_flow_into_foreign_keys(db):
    u = f.UserFactory.build(username="ada")
    p = f.PostFactory.build(author=u, title="t")
    p.persist()
    assert u.id > 0 and p.id > 0
    assert db.execute('SELECT author_id FROM "posts" WHERE id = ?', (p.id,)) == [(u.id,)]


def test_natural_str_primary_key(make_db):
    database = make_db([TmNatural])
    TmNatural(code="abc", label="first").persist()
    assert TmNatural.get("abc").label == "first"
    with pytest.raises(NotFound):
        TmNatural.get("zzz")
    assert database.execute('SELECT code, label FROM "tm_naturals"', ()) == [("abc", "first")]


def test_primary_key_that_is_also_the_foreign_key(db):
    u = f.UserFactory(username="ada")
    UserCredentials(user=u, password="secret").persist()
    assert db.execute('SELECT user_id, password FROM "user_credentials"', ()) == [(u.id, "secret")]
    loaded = UserCredentials.get(u.id)
    assert loaded.password == "secret"
    assert loaded.user.id == u.id
    with pytest.raises(NotFound):
        UserCredentials.get(u.id + 1000)


def test_composite_primary_key_get_with_a_tuple(db):
    s = f.StudentFactory(name="sam")
    c1 = f.CourseFactory(code="MATH")
    c2 = f.CourseFactory(code="ART")
    Enrollment(student=s, course=c1, grade="A").persist()
    Enrollment(student=s, course=c2, grade="B").persist()
    assert sorted(db.execute('SELECT student_id, course_id, grade FROM "enrollments"', ())) == [
        (s.id, "ART", "B"), (s.id, "MATH", "A")]
    e = Enrollment.get((s.id, "MATH"))
    assert e.grade == "A"
    assert e.student.id == s.id
    assert e.course.code == "MATH"
    assert Enrollment.get((s.id, "ART")).grade == "B"
    with pytest.raises(NotFound):
        Enrollment.get((s.id, "NOPE"))


def test_composite_primary_key_is_unique(db):
    s = f.StudentFactory()
    c = f.CourseFactory()
    Enrollment(student=s, course=c).persist()
    with pytest.raises(activerel.IntegrityError):
        Enrollment(student=s, course=c, grade="again").persist()
    assert db.execute('SELECT grade FROM "enrollments"', ()) == [(None,)]


# --------------------------------------------------------------------------
# naming


def test_default_table_name_is_snake_case_of_the_class_name(make_db):
    database = make_db([TmOrderLine, TmShippingAddressBook])
    assert {"tm_order_line", "tm_shipping_address_book"} <= tables(database)
    line = TmOrderLine(qty=3)
    line.persist()
    assert database.execute('SELECT id, qty FROM "tm_order_line"', ()) == [(line.id, 3)]


def test_explicit_table_name_is_used(db):
    assert {"users", "posts", "comments", "groups", "user_groups", "user_credentials",
            "categories", "everything", "warehouses", "items", "students", "courses",
            "enrollments", "employees", "departments"} <= tables(db)


# --------------------------------------------------------------------------
# lazy resolution and self references


def test_forward_reference_to_a_model_declared_later(make_db):
    class TmLazyChild(Model, table="tm_lazy_child"):
        id: Annotated[int, PrimaryKey, AutoIncrement] = 0
        parent: Reference[TmLazyParent]

    class TmLazyParent(Model, table="tm_lazy_parent"):
        id: Annotated[int, PrimaryKey, AutoIncrement] = 0
        name: str
        kids: BackReference[list[TmLazyChild]]

    database = make_db([TmLazyChild, TmLazyParent])
    parent = TmLazyParent(name="p")
    child = TmLazyChild(parent=parent)
    child.persist()
    assert parent.id > 0
    assert database.execute('SELECT parent_id FROM "tm_lazy_child"', ()) == [(parent.id,)]
    with pytest.raises(ValidationError):
        TmLazyChild(parent=child)  # type: ignore[arg-type]


def test_forward_reference_resolves_on_first_instance():
    class TmEarly(Model, table="tm_early"):
        id: Annotated[int, PrimaryKey, AutoIncrement] = 0
        late: Annotated[Optional[TmLate], Reference()] = None

    class TmLate(Model, table="tm_late"):
        id: Annotated[int, PrimaryKey, AutoIncrement] = 0

    # constructing is the first use: the reference must be resolvable now
    late = TmLate()
    early = TmEarly(late=late)
    assert early.late is late
    with pytest.raises(ValidationError):
        TmEarly(late=early)  # type: ignore[arg-type]


def test_self_reference(db):
    root = Category(name="root")
    a = Category(name="a", parent=root)
    b = Category(name="b", parent=root)
    a.persist()
    b.persist()
    assert root.id > 0
    assert sorted(db.execute('SELECT name, parent_id FROM "categories"', ()),
                  key=lambda r: r[0]) == [("a", root.id), ("b", root.id), ("root", None)]
    loaded = Category.query().join_with("children").filter(id=root.id).find_one()
    assert [c.name for c in loaded.children] == ["a", "b"]


def test_back_reference_loaded_through_a_join(db):
    ada = f.UserFactory(username="ada")
    f.PostFactory(author=ada, title="one")
    f.PostFactory(author=ada, title="two")
    u = User.query().join_with("posts").filter(id=ada.id).find_one()
    assert [p.title for p in u.posts] == ["one", "two"]
    with pytest.raises(ReferenceNotLoaded) as info:
        u.reviewed  # a separate relation, not loaded
    assert "reviewed" in str(info.value)


# --------------------------------------------------------------------------
# ModelDefinitionError


def test_autoincrement_on_a_str_field_is_a_definition_error():
    def declare():
        class TmBadAuto(Model, table="tm_bad_auto"):
            code: Annotated[str, PrimaryKey, AutoIncrement] = ""
        resolve(TmBadAuto)
    msg = definition_error(declare)
    assert "TmBadAuto" in msg
    assert "code" in msg


def test_back_reference_without_reference_back_is_a_definition_error():
    def declare():
        class TmLonelyA(Model, table="tm_lonely_a"):
            id: Annotated[int, PrimaryKey, AutoIncrement] = 0
            bs: BackReference[list[TmLonelyB]]

        class TmLonelyB(Model, table="tm_lonely_b"):
            id: Annotated[int, PrimaryKey, AutoIncrement] = 0
            name: str = ""
        resolve(TmLonelyA, TmLonelyB)
    msg = definition_error(declare)
    assert "TmLonelyA" in msg
    assert "TmLonelyB" in msg


def test_ambiguous_back_reference_is_a_definition_error():
    def declare():
        class TmPerson(Model, table="tm_person"):
            id: Annotated[int, PrimaryKey, AutoIncrement] = 0
            letters: BackReference[list[TmLetter]]

        class TmLetter(Model, table="tm_letter"):
            id: Annotated[int, PrimaryKey, AutoIncrement] = 0
            sender: Reference[TmPerson]
            receiver: Reference[TmPerson]
        resolve(TmPerson, TmLetter)
    msg = definition_error(declare)
    assert "TmPerson" in msg
    assert "TmLetter" in msg
    assert "mapped_by" in msg


def test_mapped_by_disambiguates(make_db):
    class TmMailbox(Model, table="tm_mailbox"):
        id: Annotated[int, PrimaryKey, AutoIncrement] = 0
        sent: Annotated[list[TmMail], BackReference(mapped_by="sender")]
        received: Annotated[list[TmMail], BackReference(mapped_by="receiver")]

    class TmMail(Model, table="tm_mail"):
        id: Annotated[int, PrimaryKey, AutoIncrement] = 0
        sender: Reference[TmMailbox]
        receiver: Reference[TmMailbox]

    database = make_db([TmMailbox, TmMail])
    a, b = TmMailbox(), TmMailbox()
    TmMail(sender=a, receiver=b).persist()
    loaded = TmMailbox.query().join_with("sent").join_with("received").filter(id=a.id).find_one()
    assert len(loaded.sent) == 1
    assert loaded.received == []


def test_mapped_by_naming_a_missing_field_is_a_definition_error():
    def declare():
        class TmOwnerM(Model, table="tm_owner_m"):
            id: Annotated[int, PrimaryKey, AutoIncrement] = 0
            pets: Annotated[list[TmPetM], BackReference(mapped_by="keeper")]

        class TmPetM(Model, table="tm_pet_m"):
            id: Annotated[int, PrimaryKey, AutoIncrement] = 0
            owner: Reference[TmOwnerM]
        resolve(TmOwnerM, TmPetM)
    msg = definition_error(declare)
    assert "keeper" in msg
    assert "TmPetM" in msg


def test_mapped_by_naming_a_plain_field_is_a_definition_error():
    def declare():
        class TmOwnerP(Model, table="tm_owner_p"):
            id: Annotated[int, PrimaryKey, AutoIncrement] = 0
            pets: Annotated[list[TmPetP], BackReference(mapped_by="name")]

        class TmPetP(Model, table="tm_pet_p"):
            id: Annotated[int, PrimaryKey, AutoIncrement] = 0
            name: str = ""
            owner: Reference[TmOwnerP]
        resolve(TmOwnerP, TmPetP)
    msg = definition_error(declare)
    assert "name" in msg
    assert "TmPetP" in msg


def test_mapped_by_naming_a_reference_to_another_model_is_a_definition_error():
    def declare():
        class TmOwnerQ(Model, table="tm_owner_q"):
            id: Annotated[int, PrimaryKey, AutoIncrement] = 0
            pets: Annotated[list[TmPetQ], BackReference(mapped_by="vet")]

        class TmVetQ(Model, table="tm_vet_q"):
            id: Annotated[int, PrimaryKey, AutoIncrement] = 0

        class TmPetQ(Model, table="tm_pet_q"):
            id: Annotated[int, PrimaryKey, AutoIncrement] = 0
            owner: Reference[TmOwnerQ]
            vet: Reference[TmVetQ]
        resolve(TmOwnerQ, TmPetQ, TmVetQ)
    msg = definition_error(declare)
    assert "vet" in msg
    assert "TmPetQ" in msg


def test_via_a_model_lacking_a_reference_is_a_definition_error():
    def declare():
        class TmActor(Model, table="tm_actor"):
            id: Annotated[int, PrimaryKey, AutoIncrement] = 0
            films: Annotated[list[TmFilm], BackReference(via="TmCasting")]

        class TmFilm(Model, table="tm_film"):
            id: Annotated[int, PrimaryKey, AutoIncrement] = 0

        class TmCasting(Model, table="tm_casting"):
            id: Annotated[int, PrimaryKey, AutoIncrement] = 0
            actor: Reference[TmActor]          # no Reference to TmFilm
        resolve(TmActor, TmFilm, TmCasting)
    msg = definition_error(declare)
    assert "TmCasting" in msg
    assert "TmFilm" in msg


def test_via_a_pivot_named_by_string(make_db):
    class TmTag(Model, table="tm_tag"):
        id: Annotated[int, PrimaryKey, AutoIncrement] = 0
        label: str
        notes: Annotated[list[TmNote], BackReference(via="TmNoteTag")]

    class TmNote(Model, table="tm_note"):
        id: Annotated[int, PrimaryKey, AutoIncrement] = 0

    class TmNoteTag(Model, table="tm_note_tag"):
        id: Annotated[int, PrimaryKey, AutoIncrement] = 0
        note: Reference[TmNote]
        tag: Reference[TmTag]

    database = make_db([TmTag, TmNote, TmNoteTag])
    n = TmNote()
    t = TmTag(label="x")
    t.notes.append(n)
    t.persist()
    assert database.execute('SELECT note_id, tag_id FROM "tm_note_tag"', ()) == [(n.id, t.id)]


def test_unresolvable_forward_reference_is_a_definition_error():
    def declare():
        class TmGhostHolder(Model, table="tm_ghost_holder"):
            id: Annotated[int, PrimaryKey, AutoIncrement] = 0
            ghost: Reference[TmNoSuchModel]  # noqa: F821
        resolve(TmGhostHolder)
    msg = definition_error(declare)
    assert "TmGhostHolder" in msg
    assert "ghost" in msg
    assert "TmNoSuchModel" in msg


def test_unresolvable_forward_reference_fails_on_first_instance_too():
    def declare():
        class TmGhostHolder2(Model, table="tm_ghost_holder2"):
            id: Annotated[int, PrimaryKey, AutoIncrement] = 0
            ghost: Annotated[Optional[TmNoSuchModel2], Reference()] = None  # noqa: F821
        TmGhostHolder2()
    msg = definition_error(declare)
    assert "TmGhostHolder2" in msg
    assert "TmNoSuchModel2" in msg


def test_unsupported_column_type_is_a_definition_error():
    def declare():
        class TmSetHolder(Model, table="tm_set_holder"):
            id: Annotated[int, PrimaryKey, AutoIncrement] = 0
            tags: set = field(default_factory=set)
        resolve(TmSetHolder)
    msg = definition_error(declare)
    assert "TmSetHolder" in msg
    assert "tags" in msg


def test_set_null_on_a_required_reference_is_a_definition_error():
    def declare():
        class TmNullTarget(Model, table="tm_null_target"):
            id: Annotated[int, PrimaryKey, AutoIncrement] = 0

        class TmNullSource(Model, table="tm_null_source"):
            id: Annotated[int, PrimaryKey, AutoIncrement] = 0
            target: Annotated[TmNullTarget, Reference(on_delete="SET NULL")]
        resolve(TmNullTarget, TmNullSource)
    msg = definition_error(declare)
    assert "TmNullSource" in msg
    assert "target" in msg


def test_model_without_primary_key_is_a_definition_error():
    def declare():
        class TmKeyless(Model, table="tm_keyless"):
            name: str = ""
        resolve(TmKeyless)
    msg = definition_error(declare)
    assert "TmKeyless" in msg


def test_default_of_the_wrong_type_is_a_definition_error():
    def declare():
        class TmBadDefault(Model, table="tm_bad_default"):
            id: Annotated[int, PrimaryKey, AutoIncrement] = 0
            count: int = "many"
        TmBadDefault()
    msg = definition_error(declare)
    assert "TmBadDefault.count" in msg


def test_none_default_on_a_required_field_is_a_definition_error():
    def declare():
        class TmNoneDefault(Model, table="tm_none_default"):
            id: Annotated[int, PrimaryKey, AutoIncrement] = 0
            name: str = None
        TmNoneDefault()
    msg = definition_error(declare)
    assert "TmNoneDefault.name" in msg


def test_unknown_on_delete_action_is_a_definition_error():
    def declare():
        class TmBoomTarget(Model, table="tm_boom_target"):
            id: Annotated[int, PrimaryKey, AutoIncrement] = 0

        class TmBoomSource(Model, table="tm_boom_source"):
            id: Annotated[int, PrimaryKey, AutoIncrement] = 0
            target: Annotated[TmBoomTarget, Reference(on_delete="EXPLODE")]
        resolve(TmBoomTarget, TmBoomSource)
    msg = definition_error(declare)
    assert "EXPLODE" in msg


def test_definition_errors_do_not_leak_into_this_process(db):
    """The broken models above were declared in children only: the shared
    schema still works."""
    u = f.UserFactory(username="still-fine")
    assert User.get(u.id).username == "still-fine"


# --------------------------------------------------------------------------
# markers


def test_unique_marker_is_enforced(db):
    f.UserFactory(username="ada")
    with pytest.raises(activerel.IntegrityError) as info:
        f.UserFactory(username="ada")
    assert info.value.__cause__ is not None
    assert rows(db, "users") == 1


def test_reference_shorthand_equals_annotated_form(db):
    """``Reference[T]`` (UserGroup.user via Annotated) and the shorthand give the same column."""
    u = f.UserFactory()
    g = f.GroupFactory()
    u.groups.append(g)
    u.persist()
    assert db.execute('SELECT user_id, group_id FROM "user_groups"', ()) == [(u.id, g.id)]


def test_comment_references_post_and_user(db):
    c = f.CommentFactory(text="hi")
    assert db.execute('SELECT post_id, author_id, text FROM "comments"', ()) == [
        (c.post.id, c.author.id, "hi")]
    assert isinstance(c, Comment)
    assert Course.get(f.CourseFactory(code="X1").code).code == "X1"
    assert Student.get(f.StudentFactory(name="s").id).name == "s"


def test_index_marker_is_importable():
    assert Index is not None and Unique is not None
