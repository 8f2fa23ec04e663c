"""Loading relations (SPEC section 4): ``join_with`` and dotted paths,
``inner_join_with``, ``use_join_with`` shaping (filter, order, per-parent
limit/skip, select, nested joins, ``end()``), ``select`` of relations, every
relation shape, identity across a result and a session, stubs and
ReferenceNotLoaded (never an implicit query), unknown paths, and the loading
strategy: k joined paths cost at most k + 1 SELECTs however many rows.

The shared blog data (``blog``) is, by primary key:

    users       1 ada, 2 bob, 3 cyd, 4 dan
    posts       1 a1 (ada, published, reviewer bob)   2 a2 (ada, draft)
                3 b1 (bob, published)                 4 a3 (ada, published)
                5 b2 (bob, draft, reviewer ada)
    comments    1 "nice" on a1 by bob    2 "meh" on a1 by cyd
                3 "great" on b1 by ada   4 "ok" on a3 by bob
                5 "thanks" on a1 by ada
    groups      1 admins, 2 editors, 3 readers
    user_groups ada-editors, ada-admins, bob-editors, cyd-readers
    credentials ada "pw-ada", bob "pw-bob"

Models only these tests need (messages between users, a pivot with a role
column, phone numbers keyed by their number, a composite-key parent) are
declared below with their own tables and their own database (``xdb``)."""
from __future__ import annotations

import logging
from datetime import datetime
import sqlite3
from types import SimpleNamespace
from typing import Annotated, Optional

import pytest

from activerel import (AutoIncrement, BackReference, Database, FieldNotLoaded, Model,
                       PrimaryKey, QueryError, Reference, ReferenceNotLoaded, inspect)
from activerel.query import JoinQuery, Query
from tests.models import (Category, Comment, Course, Department, Employee, Enrollment, Group,
                          Post, Student, User, UserCredentials, UserGroup)


# --------------------------------------------------------------------------
# models of this module only
# --------------------------------------------------------------------------

class MsgUser(Model, table="rel_msg_users"):
    """Two relations to the same model: sent and received messages."""
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str
    sent: Annotated[list[Message], BackReference(mapped_by="sender")]
    received: Annotated[list[Message], BackReference(mapped_by="receiver")]


class Message(Model, table="rel_messages"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    sender: Annotated[MsgUser, Reference(on_delete="CASCADE")]
    receiver: Annotated[MsgUser, Reference(on_delete="CASCADE")]
    body: str


class Member(Model, table="rel_members"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str
    teams: Annotated[list[Team], BackReference(via="Membership")]
    memberships: BackReference[list[Membership]]


class Team(Model, table="rel_teams"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str
    members: Annotated[list[Member], BackReference(via="Membership")]
    memberships: BackReference[list[Membership]]


class Membership(Model, table="rel_memberships"):
    """A pivot with an extra column."""
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    member: Annotated[Member, Reference(on_delete="CASCADE")]
    team: Annotated[Team, Reference(on_delete="CASCADE")]
    role: str = "member"


class PhoneNumber(Model, table="rel_phone_numbers"):
    """Keyed by the number itself (a string primary key)."""
    number: Annotated[str, PrimaryKey]
    label: str = ""
    sim: BackReference[Optional[SimDetails]]


class SimDetails(Model, table="rel_sim_details"):
    """One-to-one whose primary key is the foreign key to PhoneNumber."""
    phone: Annotated[PhoneNumber, PrimaryKey, Reference(on_delete="CASCADE")]
    iccid: str
    carrier: str


class Shelf(Model, table="rel_shelves"):
    """A composite primary key on the parent side of a one-to-many."""
    room: Annotated[str, PrimaryKey]
    number: Annotated[int, PrimaryKey]
    books: BackReference[list[Book]]


class Book(Model, table="rel_books"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    shelf: Reference[Shelf]
    title: str


class Blob(Model, table="rel_blobs"):
    """A bytes primary key (SQLite only: MySQL cannot index a BLOB key)."""
    key: Annotated[bytes, PrimaryKey]
    parts: BackReference[list[BlobPart]]


class BlobPart(Model, table="rel_blob_parts"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    blob: Reference[Blob]
    n: int = 0


EXTRA_MODELS = [MsgUser, Message, Member, Team, Membership, PhoneNumber, SimDetails,
                Shelf, Book]


@pytest.fixture
def xdb(make_db):
    """A database of this module's own models (the default while it lives)."""
    return make_db(EXTRA_MODELS)


# --------------------------------------------------------------------------
# helpers and the blog data
# --------------------------------------------------------------------------

def selects(sql_log) -> int:
    """SELECTs sent (a relation read in its query's round trip begins WITH)."""
    return sql_log.count("SELECT") + sql_log.count("WITH")


def names(objs) -> list[str]:
    return [o.username for o in objs]


def titles(posts) -> list[str]:
    return [p.title for p in posts]


@pytest.fixture
def blog(db):
    ada, bob, cyd, dan = (User(username=n) for n in ("ada", "bob", "cyd", "dan"))
    db.persist(ada, bob, cyd, dan)
    admins, editors, readers = (Group(name=n) for n in ("admins", "editors", "readers"))
    db.persist(admins, editors, readers)
    a1 = Post(author=ada, title="a1", published=True, reviewer=bob)
    a2 = Post(author=ada, title="a2")
    b1 = Post(author=bob, title="b1", published=True)
    a3 = Post(author=ada, title="a3", published=True)
    b2 = Post(author=bob, title="b2", reviewer=ada)
    db.persist(a1, a2, b1, a3, b2)
    comments = [Comment(post=a1, author=bob, text="nice"), Comment(post=a1, author=cyd, text="meh"),
                Comment(post=b1, author=ada, text="great"), Comment(post=a3, author=bob, text="ok"),
                Comment(post=a1, author=ada, text="thanks")]
    db.persist(*comments)
    db.persist(UserGroup(user=ada, group=editors), UserGroup(user=ada, group=admins),
               UserGroup(user=bob, group=editors), UserGroup(user=cyd, group=readers))
    db.persist(UserCredentials(user=ada, password="pw-ada"),
               UserCredentials(user=bob, password="pw-bob"))
    assert [u.id for u in (ada, bob, cyd, dan)] == [1, 2, 3, 4]
    assert [g.id for g in (admins, editors, readers)] == [1, 2, 3]
    assert [p.id for p in (a1, a2, b1, a3, b2)] == [1, 2, 3, 4, 5]
    assert [c.id for c in comments] == [1, 2, 3, 4, 5]
    return SimpleNamespace(ada=ada, bob=bob, cyd=cyd, dan=dan)


def snapshot(users) -> list:
    """users -> [(username, [(title, [(text, comment author)])])]"""
    return [(u.username, [(p.title, [(c.text, c.author.username) for c in p.comments])
                          for p in u.posts])
            for u in users]


# --------------------------------------------------------------------------
# the required scenario: users, posts, comments and their authors, nested
# --------------------------------------------------------------------------

def test_users_with_posts_comments_and_comment_authors(blog, sql_log):
    sql_log.clear()
    users = User.query().join_with("posts.comments.author").order_by("id").find()
    # users, posts, comments: the comment authors are all among the users the
    # root SELECT just read, so "author" needs no SELECT of its own
    assert selects(sql_log) == 3
    sql_log.clear()
    assert snapshot(users) == [
        ("ada", [("a1", [("nice", "bob"), ("meh", "cyd"), ("thanks", "ada")]),
                 ("a2", []),
                 ("a3", [("ok", "bob")])]),
        ("bob", [("b1", [("great", "ada")]), ("b2", [])]),
        ("cyd", []),
        ("dan", []),
    ]
    # one row, one object: comment authors are the users of the root list
    ada, bob, cyd, _ = users
    a1 = ada.posts[0]
    assert a1.comments[0].author is bob
    assert a1.comments[1].author is cyd
    assert a1.comments[2].author is ada
    assert bob.posts[0].comments[0].author is ada
    # the back reference side is filled in too: each post's author is its parent
    assert all(p.author is u for u in users for p in u.posts)
    assert all(c.post is p for u in users for p in u.posts for c in p.comments)
    assert sql_log.count() == 0  # reading loaded relations sends nothing


def test_to_one_join_selects_only_rows_the_query_has_not_read(blog, db, sql_log):
    sql_log.clear()
    bob = User.query().filter(User.username == "bob").join_with("posts.comments.author").find_one()
    # b1's only comment is ada's: the author SELECT asks for her row alone
    # (bob with his posts: one statement where a paged lookup's relations go in it)
    features = db.dialect.features
    assert selects(sql_log) == (3 if features.union_reads and not features.batch_reads else 4)
    last = [r for r in sql_log.records if r.sql.lstrip().upper().startswith("SELECT")][-1]
    assert "users" in last.sql
    flat = [v for p in last.params for v in (p if isinstance(p, (list, tuple)) else [p])]
    assert flat == [1]
    assert [(c.text, c.author.username) for c in bob.posts[0].comments] == [("great", "ada")]
    assert bob.posts[0].comments[0].author.created == datetime(2024, 1, 1, 12, 0)


def test_same_user_reached_as_post_author_and_comment_author_is_one_object(blog):
    posts = Post.query().join_with("author").join_with("comments.author").order_by("id").find()
    a1 = posts[0]
    assert titles(posts) == ["a1", "a2", "b1", "a3", "b2"]
    assert a1.author.username == "ada"
    assert [c.author.username for c in a1.comments] == ["bob", "cyd", "ada"]
    assert a1.comments[2].author is a1.author
    assert posts[2].comments[0].author is a1.author        # ada commented on b1
    assert posts[2].author is a1.comments[0].author         # bob wrote b1, commented a1


# --------------------------------------------------------------------------
# every relation shape
# --------------------------------------------------------------------------

def test_many_to_one(blog):
    posts = Post.query().join_with("author").order_by("id").find()
    assert [p.author.username for p in posts] == ["ada", "ada", "bob", "ada", "bob"]
    assert not any(inspect(p.author).is_stub for p in posts)
    assert posts[0].author is posts[1].author is posts[3].author
    assert posts[2].author is posts[4].author


def test_to_one_join_on_null_reference_gives_none(blog):
    posts = Post.query().join_with("reviewer").order_by("id").find()
    assert [p.reviewer.username if p.reviewer else None for p in posts] == \
        ["bob", None, None, None, "ada"]
    assert not inspect(posts[0].reviewer).is_stub


def test_one_to_many_in_primary_key_order(blog):
    users = User.query().join_with("posts").order_by("id").find()
    assert [(u.username, titles(u.posts)) for u in users] == [
        ("ada", ["a1", "a2", "a3"]), ("bob", ["b1", "b2"]), ("cyd", []), ("dan", [])]
    assert [[p.id for p in u.posts] for u in users] == [[1, 2, 4], [3, 5], [], []]
    assert all(isinstance(u.posts, list) for u in users)


def test_one_to_many_in_requested_order(blog):
    users = (User.query().use_join_with("posts").order_by("-title").end()
             .order_by("id").find())
    assert [titles(u.posts) for u in users] == [["a3", "a2", "a1"], ["b2", "b1"], [], []]
    users = (User.query().use_join_with("posts").order_by("published", "-id").end()
             .order_by("id").find())
    assert [titles(u.posts) for u in users] == [["a2", "a3", "a1"], ["b2", "b1"], [], []]


def test_several_back_references_to_the_same_model(blog):
    users = User.query().join_with("posts").join_with("reviewed").order_by("id").find()
    assert [(u.username, titles(u.posts), titles(u.reviewed)) for u in users] == [
        ("ada", ["a1", "a2", "a3"], ["b2"]), ("bob", ["b1", "b2"], ["a1"]),
        ("cyd", [], []), ("dan", [], [])]
    ada, bob = users[0], users[1]
    assert ada.reviewed[0] is bob.posts[1]
    assert bob.reviewed[0] is ada.posts[0]


def test_one_to_one_from_the_referenced_side(blog):
    users = User.query().join_with("credentials").order_by("id").find()
    creds = [u.credentials.password if u.credentials else None for u in users]
    assert creds == ["pw-ada", "pw-bob", None, None]
    assert users[0].credentials.user is users[0]


def test_one_to_one_from_the_owning_side_whose_key_is_the_reference(blog):
    creds = UserCredentials.query().join_with("user").order_by("user").find()
    assert [(c.user.username, c.password) for c in creds] == [("ada", "pw-ada"), ("bob", "pw-bob")]
    assert not inspect(creds[0].user).is_stub
    with_back = UserCredentials.query().join_with("user.credentials").order_by("user").find()
    assert all(c.user.credentials is c for c in with_back)


def test_many_to_many_through_a_pivot_both_directions(blog, sql_log):
    sql_log.clear()
    users = User.query().join_with("groups").order_by("id").find()
    assert selects(sql_log) == 2
    # target primary-key order, not the order the pivot rows were written in
    assert [(u.username, [g.name for g in u.groups]) for u in users] == [
        ("ada", ["admins", "editors"]), ("bob", ["editors"]), ("cyd", ["readers"]), ("dan", [])]
    assert users[0].groups[1] is users[1].groups[0]  # editors: one object for two users

    groups = Group.query().join_with("users").order_by("id").find()
    assert [(g.name, names(g.users)) for g in groups] == [
        ("admins", ["ada"]), ("editors", ["ada", "bob"]), ("readers", ["cyd"])]
    assert groups[1].users[0] is groups[0].users[0]


def test_many_to_many_loaded_back_through_the_other_side(blog):
    users = User.query().join_with("groups.users").order_by("id").find()
    ada, bob = users[0], users[1]
    editors = ada.groups[1]
    assert names(editors.users) == ["ada", "bob"]
    assert editors.users[0] is ada and editors.users[1] is bob


def test_many_to_many_with_a_composite_key_pivot_and_its_extra_column(db, sql_log):
    ann, ben, cat = Student(name="ann"), Student(name="ben"), Student(name="cat")
    cs = Course(code="CS101", title="Programming")
    db_ = Course(code="DB201", title="Databases")
    ma = Course(code="MA100", title="Calculus")
    db.persist(ann, ben, cat, cs, db_, ma)
    db.persist(Enrollment(student=ann, course=ma, grade="B"),
               Enrollment(student=ann, course=cs, grade="A"),
               Enrollment(student=ben, course=cs),
               Enrollment(student=ben, course=db_, grade="C"))

    sql_log.clear()
    students = Student.query().join_with("courses").order_by("id").find()
    assert selects(sql_log) == 2
    assert [(s.name, [c.code for c in s.courses]) for s in students] == [
        ("ann", ["CS101", "MA100"]), ("ben", ["CS101", "DB201"]), ("cat", [])]
    assert students[0].courses[0] is students[1].courses[0]

    courses = Course.query().join_with("students").order_by("code").find()
    assert [(c.code, [s.name for s in c.students]) for c in courses] == [
        ("CS101", ["ann", "ben"]), ("DB201", ["ben"]), ("MA100", ["ann"])]

    # the pivot's own columns: query the pivot model and join its references
    rows = (Enrollment.query().join_with("student").join_with("course")
            .order_by("student", "course").find())
    assert [(e.student.name, e.course.title, e.grade) for e in rows] == [
        ("ann", "Programming", "A"), ("ann", "Calculus", "B"),
        ("ben", "Programming", None), ("ben", "Databases", "C")]
    # same session? no: separate calls, but inside one result one row is one object
    assert rows[0].student is rows[1].student


def test_many_to_many_per_parent_limit(blog):
    users = (User.query().use_join_with("groups").order_by("-id").limit(1).end()
             .order_by("id").find())
    assert [[g.name for g in u.groups] for u in users] == \
        [["editors"], ["editors"], ["readers"], []]
    assert users[0].groups[0] is users[1].groups[0]


@pytest.fixture
def tree(db):
    """root A > (A1 > (A1a > A1a-x, A1b), A2);  root B > B1 > B1a."""
    a = Category(name="root A")
    b = Category(name="root B")
    db.persist(a, b)
    a1, a2 = Category(name="A1", parent=a), Category(name="A2", parent=a)
    b1 = Category(name="B1", parent=b)
    db.persist(a1, a2, b1)
    a1a, a1b, b1a = (Category(name="A1a", parent=a1), Category(name="A1b", parent=a1),
                     Category(name="B1a", parent=b1))
    db.persist(a1a, a1b, b1a)
    deep = Category(name="A1a-x", parent=a1a)
    deep.persist()
    assert [c.id for c in (a, b, a1, a2, b1, a1a, a1b, b1a, deep)] == list(range(1, 10))


def test_category_tree_three_levels_deep_from_the_roots(tree, sql_log):
    sql_log.clear()
    roots = (Category.query().filter(Category.parent.is_(None))
             .join_with("children.children").order_by("id").find())
    assert selects(sql_log) == 3
    sql_log.clear()
    a, b = roots
    assert [(c.name, [(k.name, [g.name for g in k.children]) for k in c.children])
            for c in roots] == [
        ("root A", [("A1", ["A1a", "A1b"]), ("A2", [])]),
        ("root B", [("B1", ["B1a"])]),
    ]
    assert a.parent is None and b.parent is None
    a1 = a.children[0]
    assert a1.parent is a and a1.children[0].parent is a1
    assert sql_log.count() == 0
    # the fourth level was not asked for: no query, an error naming the join
    with pytest.raises(ReferenceNotLoaded) as exc:
        a1.children[0].children
    assert "Category" in str(exc.value) and "children" in str(exc.value)
    assert sql_log.count() == 0


def test_self_reference_upwards(tree):
    leaf = Category.query().filter(name="A1a-x").join_with("parent.parent.parent.parent").find_one()
    chain = []
    node = leaf
    while node is not None:
        chain.append(node.name)
        node = node.parent
    assert chain == ["A1a-x", "A1a", "A1", "root A"]


def test_self_reference_per_parent_limit(tree):
    roots = (Category.query().filter(Category.parent.is_(None))
             .use_join_with("children").order_by("-name").limit(1).join_with("children").end()
             .order_by("id").find())
    assert [(r.name, [(c.name, [g.name for g in c.children]) for c in r.children])
            for r in roots] == [("root A", [("A2", [])]), ("root B", [("B1", ["B1a"])])]


def test_nullable_reference_cycle_both_ways(db):
    dept = Department(name="R&D")
    ann = Employee(name="ann", department=dept)
    bob = Employee(name="bob", department=dept)
    dept.manager = bob
    db.persist(dept, ann, bob)
    d = Department.query().join_with("manager").join_with("staff").find_one()
    assert d.manager.name == "bob"
    assert [e.name for e in d.staff] == ["ann", "bob"]
    assert d.manager is d.staff[1]
    emps = Employee.query().join_with("managed").join_with("department").order_by("id").find()
    assert [(e.name, e.managed.name if e.managed else None) for e in emps] == \
        [("ann", None), ("bob", "R&D")]
    assert emps[1].managed is emps[0].department


# --------------------------------------------------------------------------
# required scenario: messages with sender and receiver
# --------------------------------------------------------------------------

@pytest.fixture
def messages(xdb):
    ada, bob, cyd = MsgUser(name="ada"), MsgUser(name="bob"), MsgUser(name="cyd")
    xdb.persist(ada, bob, cyd)
    msgs = []
    for n in range(1, 19):
        if n % 3 == 0:
            msgs.append(Message(sender=bob, receiver=ada, body=f"m{n}"))
        else:
            msgs.append(Message(sender=ada, receiver=bob if n % 2 else cyd, body=f"m{n}"))
    xdb.persist(*msgs)
    assert [m.id for m in msgs] == list(range(1, 19))
    return xdb


def test_each_users_ten_newest_sent_messages_with_receivers(messages, sql_log):
    sql_log.clear()
    users = (MsgUser.query().use_join_with("sent").order_by("-id").limit(10)
             .join_with("receiver").end().order_by("id").find())
    # users, then their messages: every receiver is one of the users just read
    assert selects(sql_log) == 2
    sql_log.clear()
    got = [(u.name, [(m.body, m.receiver.name) for m in u.sent]) for u in users]
    assert got == [
        ("ada", [("m17", "bob"), ("m16", "cyd"), ("m14", "cyd"), ("m13", "bob"), ("m11", "bob"),
                 ("m10", "cyd"), ("m8", "cyd"), ("m7", "bob"), ("m5", "bob"), ("m4", "cyd")]),
        ("bob", [("m18", "ada"), ("m15", "ada"), ("m12", "ada"), ("m9", "ada"), ("m6", "ada"),
                 ("m3", "ada")]),
        ("cyd", []),
    ]
    ada, bob, cyd = users
    assert ada.sent[0].receiver is bob and ada.sent[1].receiver is cyd
    assert bob.sent[0].receiver is ada
    assert all(m.sender is u for u in users for m in u.sent)
    assert sql_log.count() == 0
    with pytest.raises(ReferenceNotLoaded):
        ada.received  # not joined


def test_sent_and_received_both_loaded(messages):
    users = MsgUser.query().join_with("sent").join_with("received").order_by("id").find()
    assert [(u.name, len(u.sent), len(u.received)) for u in users] == \
        [("ada", 12, 6), ("bob", 6, 6), ("cyd", 0, 6)]
    ada, bob, _ = users
    assert [m.body for m in bob.received][:3] == ["m1", "m5", "m7"]
    assert bob.received[0] is ada.sent[0]
    msgs = Message.query().join_with("sender").join_with("receiver").order_by("id").limit(3).find()
    assert [(m.body, m.sender.name, m.receiver.name) for m in msgs] == \
        [("m1", "ada", "bob"), ("m2", "ada", "cyd"), ("m3", "bob", "ada")]
    assert msgs[0].sender is msgs[2].receiver


# --------------------------------------------------------------------------
# required scenario: a pivot with a role column, both directions
# --------------------------------------------------------------------------

@pytest.fixture
def teams(xdb):
    ann, ben, cal = Member(name="ann"), Member(name="ben"), Member(name="cal")
    red, blue = Team(name="red"), Team(name="blue")
    xdb.persist(ann, ben, cal, red, blue)
    xdb.persist(Membership(member=ann, team=blue, role="lead"),
                Membership(member=ann, team=red, role="dev"),
                Membership(member=ben, team=red, role="lead"),
                Membership(member=cal, team=red))
    return xdb


def test_users_in_groups_through_a_pivot_with_a_role(teams, sql_log):
    members = Member.query().join_with("teams").order_by("id").find()
    assert [(m.name, [t.name for t in m.teams]) for m in members] == [
        ("ann", ["red", "blue"]), ("ben", ["red"]), ("cal", ["red"])]
    assert members[0].teams[0] is members[1].teams[0] is members[2].teams[0]

    team_list = Team.query().join_with("members").order_by("id").find()
    assert [(t.name, [m.name for m in t.members]) for t in team_list] == [
        ("red", ["ann", "ben", "cal"]), ("blue", ["ann"])]

    # the role lives on the pivot: reach it through the pivot model, both ways
    sql_log.clear()
    members = Member.query().join_with("memberships.team").order_by("id").find()
    assert selects(sql_log) == 3
    assert [(m.name, [(ms.team.name, ms.role) for ms in m.memberships]) for m in members] == [
        ("ann", [("blue", "lead"), ("red", "dev")]),
        ("ben", [("red", "lead")]),
        ("cal", [("red", "member")]),
    ]
    team_list = (Team.query().use_join_with("memberships").order_by("role").join_with("member")
                 .end().order_by("name").find())
    assert [(t.name, [(ms.member.name, ms.role) for ms in t.memberships]) for t in team_list] == [
        ("blue", [("ann", "lead")]),
        ("red", [("ann", "dev"), ("ben", "lead"), ("cal", "member")]),
    ]
    leads = (Membership.query().filter(role="lead").join_with("member").join_with("team")
             .order_by("id").find())
    assert [(ms.member.name, ms.team.name) for ms in leads] == [("ann", "blue"), ("ben", "red")]
    # relation filters reach the pivot's column as well
    assert [m.name for m in Member.query().filter(
        Member.memberships.some(Membership.role == "lead")).order_by("id").find()] == ["ann", "ben"]
    assert [t.name for t in Team.query().filter(
        Team.members.some(Member.name == "cal")).find()] == ["red"]


# --------------------------------------------------------------------------
# required scenario: a phone number and its SIM details, keyed by the number
# --------------------------------------------------------------------------

@pytest.fixture
def phones(xdb):
    home = PhoneNumber(number="+44 20 7946 0000", label="home")
    work = PhoneNumber(number="+44 20 7946 0001", label="work")
    spare = PhoneNumber(number="+1 555 0100", label="spare")
    xdb.persist(home, work, spare)
    xdb.persist(SimDetails(phone=home, iccid="8944-0001", carrier="Vodafone"),
                SimDetails(phone=work, iccid="8944-0002", carrier="O2"))
    return xdb


def test_phone_number_and_its_sim_details_keyed_by_the_number(phones, sql_log):
    sql_log.clear()
    numbers = PhoneNumber.query().join_with("sim").order_by("number").find()
    assert selects(sql_log) == 2
    assert [(p.number, p.sim.iccid if p.sim else None) for p in numbers] == [
        ("+1 555 0100", None), ("+44 20 7946 0000", "8944-0001"), ("+44 20 7946 0001", "8944-0002")]
    assert numbers[1].sim.phone is numbers[1]
    assert inspect(numbers[1].sim).key == "+44 20 7946 0000"

    sims = SimDetails.query().join_with("phone").order_by("phone").find()
    assert [(s.phone.number, s.phone.label, s.carrier) for s in sims] == [
        ("+44 20 7946 0000", "home", "Vodafone"), ("+44 20 7946 0001", "work", "O2")]
    assert SimDetails.get("+44 20 7946 0001").carrier == "O2"
    assert [s.carrier for s in SimDetails.query().filter(phone="+44 20 7946 0000").find()] == \
        ["Vodafone"]
    # unloaded: the stub knows the number and nothing else
    sim = SimDetails.query().filter(carrier="O2").find_one()
    assert inspect(sim.phone).is_stub and sim.phone.number == "+44 20 7946 0001"
    with pytest.raises(ReferenceNotLoaded):
        sim.phone.label


def test_string_keys_beyond_the_inline_list(xdb, sql_log):
    """Over 64 parents the key set travels as one JSON parameter: string keys too."""
    phones = [PhoneNumber(number=f"+1 555 {i:04d}", label=f"l{i}") for i in range(150)]
    xdb.persist(*phones)
    xdb.persist(*[SimDetails(phone=p, iccid=f"icc{i}", carrier="X" if i % 2 else "Y")
                  for i, p in enumerate(phones) if i % 3 == 0])
    sql_log.clear()
    got = PhoneNumber.query().join_with("sim").order_by("number").find()
    assert selects(sql_log) == 2
    assert len(got) == 150
    assert [p.number for p in got if p.sim is not None] == \
        [f"+1 555 {i:04d}" for i in range(0, 150, 3)]
    assert all(p.sim.iccid == f"icc{int(p.number[-4:])}" for p in got if p.sim)


# --------------------------------------------------------------------------
# required scenario: published-only, newest-first, two per user
# --------------------------------------------------------------------------

def test_published_only_newest_first_two_per_user(db, sql_log):
    ada, bob, cyd, dan = (User(username=n) for n in ("ada", "bob", "cyd", "dan"))
    db.persist(ada, bob, cyd, dan)
    spec = [(ada, "p1", True), (ada, "p2", True), (bob, "p3", True), (ada, "p4", False),
            (ada, "p5", True), (bob, "p6", False), (cyd, "p7", False), (ada, "p8", True),
            (bob, "p9", True)]
    posts = [Post(author=a, title=t, published=pub) for a, t, pub in spec]
    db.persist(*posts)
    assert [p.id for p in posts] == list(range(1, 10))

    sql_log.clear()
    q = (User.query().use_join_with("posts").filter(Post.published == True)  # noqa: E712
         .order_by("-id").limit(2).end().order_by("id"))
    users = q.find()
    assert selects(sql_log) == 2
    assert [(u.username, titles(u.posts)) for u in users] == [
        ("ada", ["p8", "p5"]), ("bob", ["p9", "p3"]), ("cyd", []), ("dan", [])]
    # the root limit counts users, whatever the join loads
    assert [(u.username, titles(u.posts)) for u in q.limit(2).find()] == [
        ("ada", ["p8", "p5"]), ("bob", ["p9", "p3"])]
    assert q.count() == 4
    # per parent skip: the next page of each user's posts
    page2 = (User.query().use_join_with("posts").filter(published=True).order_by("-id")
             .skip(2).limit(2).end().order_by("id").find())
    assert [titles(u.posts) for u in page2] == [["p2", "p1"], [], [], []]
    only_skip = (User.query().use_join_with("posts").order_by("id").skip(1).end()
                 .order_by("id").find())
    assert [titles(u.posts) for u in only_skip] == [["p2", "p4", "p5", "p8"], ["p6", "p9"], [], []]


# --------------------------------------------------------------------------
# paths, reuse, inner joins, use_join_with
# --------------------------------------------------------------------------

def test_dotted_path_reuses_a_join_already_configured(blog, sql_log):
    sql_log.clear()
    users = (User.query().use_join_with("posts").filter(published=True).end()
             .join_with("posts.comments").order_by("id").find())
    assert selects(sql_log) == 3
    assert [(u.username, [(p.title, [c.text for c in p.comments]) for p in u.posts])
            for u in users] == [
        ("ada", [("a1", ["nice", "meh", "thanks"]), ("a3", ["ok"])]),
        ("bob", [("b1", ["great"])]), ("cyd", []), ("dan", [])]


def test_joining_the_same_path_twice_loads_it_once(blog, sql_log):
    sql_log.clear()
    users = User.query().join_with("posts").join_with("posts").join_with("posts.comments") \
        .join_with("posts").order_by("id").find()
    assert selects(sql_log) == 3
    assert titles(users[0].posts) == ["a1", "a2", "a3"]


def test_use_join_with_filters_combine(blog):
    users = (User.query().use_join_with("posts").filter(published=True)
             .filter(Post.title != "a1").end().order_by("id").find())
    assert [titles(u.posts) for u in users] == [["a3"], ["b1"], [], []]
    users = (User.query().use_join_with("posts").filter(reviewer=None).end().order_by("id").find())
    assert [titles(u.posts) for u in users] == [["a2", "a3"], ["b1"], [], []]


def test_use_join_with_filter_by_relation(blog):
    users = (User.query().use_join_with("posts").filter(Post.comments.some()).end()
             .order_by("id").find())
    assert [titles(u.posts) for u in users] == [["a1", "a3"], ["b1"], [], []]


def test_end_returns_the_query_it_was_opened_from(blog):
    q = User.query()
    j = q.use_join_with("posts")
    assert isinstance(j, JoinQuery)
    assert isinstance(j.end(), Query)
    inner = j.use_join_with("comments")
    assert isinstance(inner.end(), JoinQuery)
    assert isinstance(inner.end().end(), Query)
    # the original query is unchanged (immutable builders)
    assert q.count() == 4
    with pytest.raises(ReferenceNotLoaded):
        q.find()[0].posts


def test_nested_use_join_with(blog):
    users = (User.query()
             .use_join_with("posts").order_by("-id")
             .use_join_with("comments").order_by("-id").limit(1).end()
             .end()
             .order_by("id").find())
    assert [(u.username, [(p.title, [c.text for c in p.comments]) for p in u.posts])
            for u in users] == [
        ("ada", [("a3", ["ok"]), ("a2", []), ("a1", ["thanks"])]),
        ("bob", [("b2", []), ("b1", ["great"])]), ("cyd", []), ("dan", [])]


def test_use_join_with_dotted_path_shapes_the_last_relation(blog):
    users = (User.query().use_join_with("posts.comments").order_by("-id").limit(1).end()
             .order_by("id").find())
    # the posts are loaded whole, the comments shaped
    assert [(p.title, [c.text for c in p.comments]) for p in users[0].posts] == [
        ("a1", ["thanks"]), ("a2", []), ("a3", ["ok"])]


def test_inner_join_with_keeps_only_parents_with_a_match(blog, sql_log):
    sql_log.clear()
    users = User.query().inner_join_with("posts").order_by("id").find()
    assert selects(sql_log) == 2
    assert [(u.username, titles(u.posts)) for u in users] == [
        ("ada", ["a1", "a2", "a3"]), ("bob", ["b1", "b2"])]
    assert User.query().inner_join_with("posts").count() == 2
    assert User.query().join_with("posts").count() == 4
    assert User.query().inner_join_with("posts").exists()
    assert User.query().inner_join_with("posts").ids() == [1, 2]


def test_use_inner_join_with_counts_the_joins_filter(blog):
    q = User.query().use_inner_join_with("posts").filter(published=False).end().order_by("id")
    assert [(u.username, titles(u.posts)) for u in q.find()] == [("ada", ["a2"]), ("bob", ["b2"])]
    q = User.query().use_inner_join_with("posts").filter(title="a2").end()
    assert [(u.username, titles(u.posts)) for u in q.find()] == [("ada", ["a2"])]
    assert q.count() == 1
    q = User.query().use_inner_join_with("posts").filter(title="nothing").end()
    assert q.find() == [] and q.count() == 0 and not q.exists()


def test_inner_join_of_a_nested_path(blog):
    users = User.query().inner_join_with("posts.comments").order_by("id").find()
    assert [(u.username, titles(u.posts)) for u in users] == [
        ("ada", ["a1", "a3"]), ("bob", ["b1"])]
    # inner below a left join: every user, only posts with comments
    users = User.query().join_with("posts").use_join_with("posts").inner_join_with("comments") \
        .end().order_by("id").find()
    assert [(u.username, titles(u.posts)) for u in users] == [
        ("ada", ["a1", "a3"]), ("bob", ["b1"]), ("cyd", []), ("dan", [])]


def test_inner_join_of_a_reference(blog):
    posts = Post.query().inner_join_with("reviewer").order_by("id").find()
    assert [(p.title, p.reviewer.username) for p in posts] == [("a1", "bob"), ("b2", "ada")]
    posts = (Post.query().use_inner_join_with("author").filter(username="bob").end()
             .order_by("id").find())
    assert [(p.title, p.author.username) for p in posts] == [("b1", "bob"), ("b2", "bob")]


def test_inner_join_with_root_limit_counts_root_rows(blog):
    q = User.query().inner_join_with("posts.comments").order_by("id")
    assert names(q.limit(1).find()) == ["ada"]
    assert names(q.skip(1).find()) == ["bob"]
    assert q.limit(5).count() == 2


def test_root_limit_skip_and_find_one_count_root_rows(blog):
    q = User.query().join_with("posts.comments").order_by("id")
    page = q.limit(2).skip(1).find()
    assert [(u.username, titles(u.posts)) for u in page] == [("bob", ["b1", "b2"]), ("cyd", [])]
    first = q.find_one()
    assert first.username == "ada" and titles(first.posts) == ["a1", "a2", "a3"]
    assert [c.text for c in first.posts[0].comments] == ["nice", "meh", "thanks"]
    assert q.count() == 4
    assert q.limit(3).count() == 3
    assert q.skip(3).count() == 1
    none = User.query().filter(username="zed").join_with("posts").find_one_or_none()
    assert none is None


def test_no_parents_no_join_statements(blog, db, sql_log):
    sql_log.clear()
    assert User.query().filter(username="zed").join_with("posts.comments").join_with("groups") \
        .find() == []
    # the posts' and groups' rows are read in the users' own statement where
    # the backend reads two relations so (else, where reads are batched, their
    # SELECTs went in the users' round trip), before it was known that no
    # user matches; the comments' (keyed by the posts) never go
    # (two relations: more than PostgreSQL's UNION read takes)
    features = db.dialect.features
    one = features.union_reads and (features.union_relations or 2) >= 2
    assert selects(sql_log) == (3 if features.batch_reads and not one else 1)
    assert "comments" not in " ".join(sql_log.statements)
    sql_log.clear()
    assert User.query().join_with("posts").limit(0).find() == []
    assert selects(sql_log) <= 1


def test_per_parent_limit_zero(blog):
    users = User.query().use_join_with("posts").limit(0).end().order_by("id").find()
    assert [u.posts for u in users] == [[], [], [], []]


def test_db_query_and_session_query_join(blog, db):
    users = db.query(User).join_with("posts").order_by("id").find()
    assert titles(users[1].posts) == ["b1", "b2"]
    with db.session() as s:
        users = Query(User, session=s).join_with("posts").order_by("id").find()
        assert titles(users[0].posts) == ["a1", "a2", "a3"]


def _select_params(sql_log) -> list[list]:
    """The bound parameters of each SELECT, flattened."""
    return [[v for p in r.params for v in (p if isinstance(p, (list, tuple)) else [p])]
            for r in sql_log.records if r.sql.lstrip().upper().startswith(("SELECT", "WITH"))]


def test_loading_every_row_selects_children_without_sending_keys_back(blog, sql_log):
    sql_log.clear()
    users = User.query().join_with("posts.comments").join_with("groups").order_by("id").find()
    # every user was read, so every post with an author is one of theirs, and
    # (the author being required) every comment with a post is one of those:
    # the child SELECTs need no key set
    assert _select_params(sql_log) == [[], [], [], []]
    assert [(u.username, [(p.title, [c.text for c in p.comments]) for p in u.posts],
             sorted(g.name for g in u.groups)) for u in users] == [
        ("ada", [("a1", ["nice", "meh", "thanks"]), ("a2", []), ("a3", ["ok"])],
         ["admins", "editors"]),
        ("bob", [("b1", ["great"]), ("b2", [])], ["editors"]),
        ("cyd", [], ["readers"]),
        ("dan", [], []),
    ]


def test_children_of_a_nullable_reference_or_a_filtered_root_are_selected_by_key(blog, db,
                                                                                 sql_log):
    sql_log.clear()
    users = User.query().join_with("reviewed.comments").order_by("id").find()
    # reviewed posts are those with a reviewer; their comments go by their keys
    assert _select_params(sql_log) == [[], [], [1, 5]]
    assert [(u.username, [(p.title, [c.text for c in p.comments]) for p in u.reviewed])
            for u in users] == [("ada", [("b2", [])]), ("bob", [("a1", ["nice", "meh", "thanks"])]),
                                ("cyd", []), ("dan", [])]
    sql_log.clear()
    users = User.query().filter(User.username != "ada").join_with("posts").order_by("id").find()
    # (not an index lookup: the posts' SELECT waits for the users' keys)
    assert _select_params(sql_log)[1] == [2, 3, 4]
    assert [(u.username, titles(u.posts)) for u in users] == [("bob", ["b1", "b2"]), ("cyd", []),
                                                              ("dan", [])]


def test_children_of_parents_added_after_the_parent_select_are_left_out(blog, db, monkeypatch):
    # On PostgreSQL and MySQL each statement sees the latest commit, so a
    # parent can appear between the parent SELECT and the child SELECT; the
    # same transaction inserting it in between shows that on every backend.
    from activerel.session import Session
    fetch = Session.fetch
    calls = []

    def fetch_then_insert(self, sql, params=()):
        rows = fetch(self, sql, params)
        if not calls:
            calls.append(sql)
            db.execute("INSERT INTO users (username, created) VALUES (?, ?)",
                       ["eve", datetime(2024, 1, 1)])
            (eve,) = db.execute("SELECT id FROM users WHERE username = ?", ["eve"])[0]
            db.execute("INSERT INTO posts (author_id, title, published) VALUES (?, ?, ?)",
                       [eve, "e1", False])
        return rows

    def one_after_another(self, statements):  # batched reads: the insert between them
        return [fetch_then_insert(self, sql, params) for sql, params in statements]

    with db.session() as s:
        monkeypatch.setattr(Session, "fetch", fetch_then_insert)
        monkeypatch.setattr(Session, "fetch_batch", one_after_another)
        users = User.query().join_with("posts").order_by("id").find()
        monkeypatch.setattr(Session, "fetch", fetch)
        assert [(u.username, titles(u.posts)) for u in users] == [
            ("ada", ["a1", "a2", "a3"]), ("bob", ["b1", "b2"]), ("cyd", []), ("dan", [])]
        # eve's post was read by the child SELECT but is not part of the result
        assert sorted(p.title for p in s.identity.objects() if isinstance(p, Post)) == [
            "a1", "a2", "a3", "b1", "b2"]


# --------------------------------------------------------------------------
# select of fields and relations
# --------------------------------------------------------------------------

def test_select_fields_and_a_relation(blog, sql_log):
    sql_log.clear()
    users = User.query().select("username", "posts").order_by("id").find()
    assert selects(sql_log) == 2
    assert [(u.username, titles(u.posts)) for u in users] == [
        ("ada", ["a1", "a2", "a3"]), ("bob", ["b1", "b2"]), ("cyd", []), ("dan", [])]
    with pytest.raises(FieldNotLoaded):
        users[0].created
    assert users[0].posts[0].published is True  # the related objects are whole


def test_select_a_dotted_relation_path(blog):
    users = User.query().select("username", "posts.comments").order_by("id").find()
    assert [c.text for c in users[0].posts[0].comments] == ["nice", "meh", "thanks"]


def test_partial_root_still_loads_its_joined_reference(blog):
    posts = Post.query().select("title").join_with("author").order_by("id").find()
    assert [(p.title, p.author.username) for p in posts] == [
        ("a1", "ada"), ("a2", "ada"), ("b1", "bob"), ("a3", "ada"), ("b2", "bob")]
    with pytest.raises(FieldNotLoaded):
        posts[0].published


def test_select_inside_use_join_with(blog):
    users = User.query().use_join_with("posts").select("title").end().order_by("id").find()
    assert [titles(u.posts) for u in users] == [["a1", "a2", "a3"], ["b1", "b2"], [], []]
    with pytest.raises(FieldNotLoaded) as exc:
        users[0].posts[0].published
    assert "Post" in str(exc.value) and "published" in str(exc.value)
    posts = Post.query().use_join_with("author").select("username").end().order_by("id").find()
    assert posts[0].author.username == "ada"
    with pytest.raises(FieldNotLoaded):
        posts[0].author.created


def test_select_of_a_relation_inside_use_join_with(blog):
    posts = (Post.query().filter(title="a1").use_join_with("comments").select("text", "author")
             .end().find())
    # "author" is the reference's key column: a stub
    assert [c.text for c in posts[0].comments] == ["nice", "meh", "thanks"]
    assert [c.author.id for c in posts[0].comments] == [2, 3, 1]
    assert all(inspect(c.author).is_stub for c in posts[0].comments)
    users = (User.query().filter(username="ada").use_join_with("posts").select("title", "comments")
             .end().find())
    assert [[c.text for c in p.comments] for p in users[0].posts] == \
        [["nice", "meh", "thanks"], [], ["ok"]]


def test_select_of_a_dotted_relation_inside_use_join_with(blog):
    """select("text", "author.credentials") inside a join loads that path, as
    Query.select does on the root (compare the last assertion)."""
    posts = (Post.query().filter(title="a1").use_join_with("comments")
             .select("text", "author.credentials").end().find())
    comments = posts[0].comments
    assert [c.text for c in comments] == ["nice", "meh", "thanks"]
    assert [c.author.username for c in comments] == ["bob", "cyd", "ada"]
    assert [c.author.credentials.password if c.author.credentials else None
            for c in comments] == ["pw-bob", None, "pw-ada"]


def test_select_of_a_dotted_relation_on_the_root(blog):
    comments = (Comment.query().filter(Comment.post == 1).select("text", "author.credentials")
                .order_by("id").find())
    assert [c.author.credentials.password if c.author.credentials else None
            for c in comments] == ["pw-bob", None, "pw-ada"]


# --------------------------------------------------------------------------
# identity
# --------------------------------------------------------------------------

def test_identity_across_a_session(blog, db, sql_log):
    with db.session():
        users = User.query().join_with("posts").order_by("id").find()
        posts = Post.query().join_with("author").join_with("reviewer").order_by("id").find()
        assert posts[0] is users[0].posts[0]
        assert posts[0].author is users[0]
        assert posts[0].reviewer is users[1]
        groups = Group.query().join_with("users").order_by("id").find()
        assert groups[1].users[0] is users[0] and groups[1].users[1] is users[1]
        sql_log.clear()
        assert User.get(1) is users[0]          # from the identity map
        assert sql_log.count() == 0
        again = User.query().order_by("id").find()
        assert again == users and all(a is b for a, b in zip(again, users))
        assert titles(again[0].posts) == ["a1", "a2", "a3"]  # the loaded list stays
    # outside a session each call has its own
    assert User.query().find_one() is not User.query().find_one()


def test_a_join_sees_pending_changes_and_returns_the_changed_object(blog, db):
    with db.session():
        ada = User.query().filter(username="ada").find_one()
        ada.username = "ADA"
        posts = Post.query().join_with("author").filter(title="a1").find()
        assert posts[0].author is ada
        assert ada.username == "ADA"
        found = User.query().filter(username="ADA").join_with("posts").find()
        assert found == [ada] and titles(ada.posts) == ["a1", "a2", "a3"]
    assert db.execute("SELECT username FROM users WHERE id = 1") == [("ADA",)]


def test_a_later_join_keeps_unsaved_changes_to_a_loaded_collection(blog, db):
    with db.session():
        bob = User.query().filter(username="bob").join_with("reviewed").find_one()
        assert titles(bob.reviewed) == ["a1"]
        bob.reviewed.clear()                       # not persisted yet
        again = User.query().filter(username="bob").join_with("reviewed").find_one()
        assert again is bob
        assert bob.reviewed == []                  # the unsaved change wins
        bob.persist()
    assert db.execute("SELECT reviewer_id FROM posts WHERE id = 1") == [(None,)]


def test_join_fills_in_a_stub_already_in_the_session(blog, db):
    with db.session():
        post = Post.query().filter(title="b1").find_one()
        author = post.author
        assert inspect(author).is_stub
        users = User.query().join_with("posts").filter(username="bob").find()
        assert users[0] is author
        assert not inspect(author).is_stub
        assert author.username == "bob"
        assert post in author.posts


# --------------------------------------------------------------------------
# stubs and ReferenceNotLoaded: no query is ever implicit
# --------------------------------------------------------------------------

def test_unloaded_reference_is_a_stub(blog, sql_log):
    posts = Post.query().order_by("id").find()
    sql_log.clear()
    author = posts[0].author
    assert inspect(author).is_stub
    assert author.id == 1
    with pytest.raises(ReferenceNotLoaded) as exc:
        author.username
    msg = str(exc.value)
    assert "User" in msg and "username" in msg and 'join_with("author")' in msg
    assert posts[0].reviewer.id == 2 and inspect(posts[0].reviewer).is_stub
    with pytest.raises(ReferenceNotLoaded) as exc:
        posts[0].reviewer.created
    assert 'join_with("reviewer")' in str(exc.value)
    assert posts[1].reviewer is None
    assert sql_log.count() == 0


def test_stub_composite_and_key_references(db):
    s = Student(name="ann")
    c = Course(code="CS101")
    db.persist(Enrollment(student=s, course=c, grade="A"))
    e = Enrollment.query().find_one()
    assert inspect(e.student).is_stub and e.student.id == s.id
    assert inspect(e.course).is_stub and e.course.code == "CS101"
    with pytest.raises(ReferenceNotLoaded):
        e.course.title


def test_unloaded_back_references_raise(blog, sql_log):
    user = User.query().filter(username="ada").find_one()
    sql_log.clear()
    for name in ("posts", "reviewed", "comments", "groups", "credentials"):
        with pytest.raises(ReferenceNotLoaded) as exc:
            getattr(user, name)
        msg = str(exc.value)
        assert "User" in msg and name in msg and f'join_with("{name}")' in msg
    assert sql_log.count() == 0


def test_only_the_joined_relations_are_loaded(blog, sql_log):
    users = User.query().join_with("posts").order_by("id").find()
    sql_log.clear()
    assert titles(users[0].posts) == ["a1", "a2", "a3"]
    with pytest.raises(ReferenceNotLoaded):
        users[0].groups
    with pytest.raises(ReferenceNotLoaded) as exc:
        users[0].posts[0].comments
    assert "Post" in str(exc.value) and "comments" in str(exc.value)
    # the reviewer of a post is a stub unless it happens to be a loaded user
    assert users[0].posts[0].reviewer is users[1]
    assert sql_log.count() == 0


def test_persisting_objects_with_stub_references_writes_nothing_for_the_stubs(blog, db, sql_log):
    post = Post.query().filter(title="a1").find_one()
    assert inspect(post.author).is_stub and inspect(post.reviewer).is_stub
    sql_log.clear()
    post.title = "a1 (edited)"
    post.persist()
    writes = [s for s in sql_log.statements if s.split()[0] in ("INSERT", "UPDATE", "DELETE")]
    assert len(writes) == 1
    assert writes[0].replace("`", '"').startswith('UPDATE "posts" SET "title"=')
    assert "users" not in writes[0]
    sql_log.clear()
    db.persist(post.author, post.reviewer)
    assert [s for s in sql_log.statements if s not in ("BEGIN", "COMMIT")] == []
    assert db.execute('SELECT username FROM users ORDER BY id') == [
        ("ada",), ("bob",), ("cyd",), ("dan",)]
    # a new object pointing at a stub: only the new row is written
    comment = Comment(post=post, author=post.reviewer, text="new")
    sql_log.clear()
    comment.persist()
    writes = [s for s in sql_log.statements if s.split()[0] in ("INSERT", "UPDATE", "DELETE")]
    assert len(writes) == 1 and writes[0].replace("`", '"').startswith('INSERT INTO "comments"')
    assert db.execute("SELECT post_id, author_id, text FROM comments WHERE id = 6") == \
        [(1, 2, "new")]


# --------------------------------------------------------------------------
# unknown relations and paths
# --------------------------------------------------------------------------

def test_unknown_relation_names_it_and_the_model(blog):
    with pytest.raises(QueryError) as exc:
        User.query().join_with("postz")
    assert "postz" in str(exc.value) and "User" in str(exc.value)
    for method in ("inner_join_with", "use_join_with", "use_inner_join_with"):
        with pytest.raises(QueryError) as exc:
            getattr(User.query(), method)("postz")
        assert "postz" in str(exc.value) and "User" in str(exc.value)
    with pytest.raises(QueryError) as exc:
        User.query().select("username", "postz")
    assert "postz" in str(exc.value) and "User" in str(exc.value)


def test_bad_middle_segment_names_the_model_at_that_level(blog):
    with pytest.raises(QueryError) as exc:
        User.query().join_with("posts.commentz.author")
    msg = str(exc.value)
    assert "commentz" in msg and "Post" in msg
    with pytest.raises(QueryError) as exc:
        User.query().join_with("posts.comments.authr")
    assert "authr" in str(exc.value) and "Comment" in str(exc.value)
    with pytest.raises(QueryError) as exc:
        User.query().use_join_with("posts").join_with("nope")
    assert "nope" in str(exc.value) and "Post" in str(exc.value)
    with pytest.raises(QueryError) as exc:
        User.query().use_join_with("posts").use_join_with("comments.nope")
    assert "nope" in str(exc.value) and "Comment" in str(exc.value)
    with pytest.raises(QueryError) as exc:
        User.query().select("posts.nope")
    assert "nope" in str(exc.value) and "Post" in str(exc.value)


def test_a_plain_field_is_not_a_relation(blog):
    with pytest.raises(QueryError) as exc:
        User.query().join_with("username")
    assert "username" in str(exc.value) and "User" in str(exc.value)
    with pytest.raises(QueryError) as exc:
        User.query().join_with("posts.title")
    assert "title" in str(exc.value) and "Post" in str(exc.value)


@pytest.mark.parametrize("path", ["", ".", "posts.", ".posts", "posts..comments", None, 3])
def test_malformed_paths(blog, path):
    with pytest.raises(QueryError):
        User.query().join_with(path)


def test_use_join_with_checks_its_own_model(blog):
    j = User.query().use_join_with("posts")
    with pytest.raises(QueryError):
        j.filter(User.username == "ada")       # a User field in a Post join
    with pytest.raises(QueryError):
        j.order_by("username")
    with pytest.raises(QueryError):
        j.select("nope")
    with pytest.raises(QueryError):
        j.limit(-1)


# --------------------------------------------------------------------------
# loading strategy: k joined paths, at most k + 1 SELECTs
# --------------------------------------------------------------------------

@pytest.fixture
def many(db):
    """300 users; each has two posts, each post two comments by other users."""
    users = [User(username=f"u{i:03d}") for i in range(300)]
    db.persist(*users)
    posts = [Post(author=u, title=f"{u.username}-{k}", published=k == 0)
             for u in users for k in range(2)]
    db.persist(*posts)
    comments = [Comment(post=p, author=users[(i + k + 1) % 300], text=f"c{i}-{k}")
                for i, p in enumerate(posts) for k in range(2)]
    db.persist(*comments)
    groups = [Group(name=f"g{i}") for i in range(5)]
    db.persist(*groups)
    db.persist(*[UserGroup(user=u, group=groups[i % 5]) for i, u in enumerate(users)])
    db.persist(*[UserCredentials(user=u, password=u.username) for u in users[::2]])
    return users


def test_three_level_join_over_hundreds_of_parents_is_one_select_per_level(many, sql_log):
    sql_log.clear()
    users = User.query().join_with("posts.comments.author").order_by("id").find()
    # users, posts, comments; the comment authors are users the root SELECT read
    assert selects(sql_log) == 3
    sql_log.clear()
    assert len(users) == 300
    assert sum(len(u.posts) for u in users) == 600
    assert sum(len(p.comments) for u in users for p in u.posts) == 1200
    u7 = users[7]
    assert titles(u7.posts) == ["u007-0", "u007-1"]
    # post index 14 (u007-0) has comments by users 15 and 16
    assert [c.author for c in u7.posts[0].comments] == [users[15], users[16]]
    assert u7.posts[0].comments[0].author is users[15]
    assert sql_log.count() == 0


def test_statement_count_is_k_plus_one_for_every_shape(many, sql_log):
    cases = [
        (User.query().join_with("posts"), 1),
        (User.query().join_with("posts").join_with("groups").join_with("credentials"), 3),
        (User.query().join_with("posts.comments").join_with("comments.post.author"), 5),
        (User.query().use_join_with("posts").order_by("-id").limit(1).join_with("comments")
         .end().join_with("groups.users"), 4),
        (Post.query().join_with("author").join_with("reviewer").join_with("comments.author"), 4),
        (Comment.query().join_with("post.author.groups"), 3),
        (Group.query().join_with("users.posts"), 2),
        (User.query().inner_join_with("credentials").join_with("reviewed"), 2),
    ]
    for q, k in cases:
        sql_log.clear()
        result = q.find()
        assert result
        assert selects(sql_log) <= k + 1, (k, sql_log.statements)
    sql_log.clear()
    groups = Group.query().join_with("users.posts").order_by("id").find()
    assert [len(g.users) for g in groups] == [60] * 5
    assert all(len(u.posts) == 2 for g in groups for u in g.users)
    assert selects(sql_log) == 3
    # nothing read before: each to-one level costs its SELECT, exactly
    sql_log.clear()
    comments = Comment.query().join_with("post.author.groups").order_by("id").find()
    assert selects(sql_log) == 4
    assert len(comments) == 1200
    assert comments[0].post.author.groups[0].name == "g0"


def test_per_parent_limit_over_many_parents(many, sql_log):
    sql_log.clear()
    users = (User.query().use_join_with("posts").order_by("-id").limit(1)
             .use_join_with("comments").order_by("-id").limit(1).join_with("author").end()
             .end().order_by("id").find())
    assert selects(sql_log) == 3  # the comment authors are among the users read first
    assert all(titles(u.posts) == [f"{u.username}-1"] for u in users)
    assert all(len(u.posts[0].comments) == 1 for u in users)
    assert users[0].posts[0].comments[0].text == "c1-1"
    assert users[0].posts[0].comments[0].author is users[3]


@pytest.mark.sqlite_only
def test_hundred_thousand_parents_two_selects(db, sql_log):
    """100,000 users, every third with a post: the key set of the posts SELECT
    is bound as one parameter, far below SQLite's variable limit. Runs in a
    couple of seconds (rows are generated by SQLite itself)."""
    n = 100_000
    db.execute(
        "INSERT INTO users (id, username, created) "
        "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?) "
        "SELECT i, 'u' || i, '2024-01-01 12:00:00' FROM seq", (n,))
    db.execute(
        "INSERT INTO posts (author_id, title, published) "
        "WITH RECURSIVE seq(i) AS (SELECT 3 UNION ALL SELECT i + 3 FROM seq WHERE i + 3 <= ?) "
        "SELECT i, 'p' || i, i % 2 FROM seq", (n,))
    sql_log.clear()
    users = User.query().join_with("posts").find()
    assert selects(sql_log) == 2
    assert len(users) == n
    assert sum(len(u.posts) for u in users) == n // 3
    assert titles(users[2].posts) == ["p3"] and users[0].posts == []
    assert users[2].posts[0].author is users[2]
    for record in sql_log.records:
        params = record.params if isinstance(record.params, (list, tuple)) else ()
        assert len(params) <= 999, record.sql[:80]


def test_composite_key_parents_stay_under_the_variable_limit(monkeypatch):
    """20,000 parents with a two-column key: the key set must not be bound as
    40,000 parameters, over the dialect's own ``param_limit`` (32766, SQLite's
    default SQLITE_MAX_VARIABLE_NUMBER since 3.32). Connections here get that
    stock limit, as most SQLite builds have it (this machine's is higher).
    Statements are captured here without propagating to pytest's log capture:
    a failure would otherwise print 40,000 placeholders."""
    stock = 32766
    original = sqlite3.connect

    def connect(*args, **kwargs):
        conn = original(*args, **kwargs)
        conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, stock)
        return conn

    monkeypatch.setattr(sqlite3, "connect", connect)
    sizes: list[tuple[str, int]] = []

    class Sizes(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            params = getattr(record, "params", ())
            sizes.append((record.sql[:60], len(params) if isinstance(params, (list, tuple)) else 0))

    logger = logging.getLogger("activerel.sql")
    handler = Sizes(logging.DEBUG)
    old_level = logger.level
    monkeypatch.setattr(logger, "propagate", False)
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    database = Database("sqlite://", models=[Shelf, Book])
    try:
        database.migrate()
        assert database.dialect.features.param_limit <= stock
        n = 20_000
        database.execute(
            "INSERT INTO rel_shelves (room, number) "
            "WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < ?) "
            "SELECT 'r' || (i % 50), i FROM seq", (n,))
        database.execute(
            "INSERT INTO rel_books (shelf_room, shelf_number, title) "
            "SELECT room, number, 'b' || number FROM rel_shelves WHERE number % 7 = 0")
        sizes.clear()
        try:
            shelves = Shelf.query().join_with("books").find()
        except Exception as exc:  # keep the report short: the SQL is huge
            pytest.fail(f"{type(exc).__name__}: {str(exc)[:200]}; statements: {sizes}",
                        pytrace=False)
        assert len(shelves) == n
        assert sum(len(s.books) for s in shelves) == len(range(0, n, 7))
        assert all(b.shelf is s for s in shelves for b in s.books)
        assert all(count <= stock for _, count in sizes), sizes
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        database.close()


@pytest.mark.parametrize("parents", [3, 100])
def test_bytes_keys_beyond_the_inline_list(parents):
    """Over 64 parents the key set is sent as one JSON parameter; bytes keys
    must survive that as they do in the inline IN list (3 parents)."""
    database = Database("sqlite://", models=[Blob, BlobPart])
    try:
        database.migrate()
        blobs = [Blob(key=bytes([i, 255])) for i in range(parents)]
        database.persist(*blobs, *[BlobPart(blob=b, n=i) for i, b in enumerate(blobs)])
        got = Blob.query().join_with("parts").find()
        assert sorted((b.key, [p.n for p in b.parts]) for b in got) == \
            [(bytes([i, 255]), [i]) for i in range(parents)]
    finally:
        database.close()


def test_appending_to_a_filtered_collection_does_not_duplicate_pivot_rows(blog, db):
    """A filtered join loads part of ada's groups (admins only). Appending
    editors, which she is already in, and persisting must not write a second
    pivot row for the same pair (raising instead would also keep the data sane)."""
    from activerel import ActiverelError
    try:
        with db.session():
            ada = (User.query().filter(username="ada")
                   .use_join_with("groups").filter(name="admins").end().find_one())
            assert [g.name for g in ada.groups] == ["admins"]
            editors = Group.query().filter(name="editors").find_one()
            ada.groups.append(editors)
            ada.persist()
    except ActiverelError:
        pass
    pairs = db.execute("SELECT user_id, group_id FROM user_groups ORDER BY user_id, group_id")
    assert pairs == [(1, 1), (1, 2), (2, 2), (3, 3)]
