"""Relation filters (SPEC section 4): ``some`` / ``every`` / ``none`` on
to-many relations (back references and many-to-many through a pivot),
``is_`` / ``is_not`` on to-one relations (references and one-to-one back
references), nesting, self references, comparing references by key, and the
errors for conditions on the wrong model.

The data (``blog``), by primary key:

    users       1 ada, 2 bob, 3 cyd, 4 dan
    posts       1 a1 (ada, published, reviewer bob)   2 a2 (ada, draft)
                3 b1 (bob, published)                 4 a3 (ada, published)
                5 b2 (bob, draft, reviewer ada)       6 c1 (cyd, published)
    comments    1 "nice" on a1 by bob    2 "meh" on a1 by cyd
                3 "great" on b1 by ada   4 "ok" on a3 by bob
                5 "thanks" on a1 by ada
    groups      1 admins (ada), 2 editors (ada, bob), 3 readers (cyd)
    credentials ada "pw-ada", bob "pw-bob"
"""
from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

import pytest

from activerel import QueryError, ValidationError
from tests.models import (Category, Comment, Course, Enrollment, Group, Post, Student, User,
                          UserCredentials, UserGroup)


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
    c1 = Post(author=cyd, title="c1", published=True)
    db.persist(a1, a2, b1, a3, b2, c1)
    db.persist(Comment(post=a1, author=bob, text="nice"), Comment(post=a1, author=cyd, text="meh"),
               Comment(post=b1, author=ada, text="great"), Comment(post=a3, author=bob, text="ok"),
               Comment(post=a1, author=ada, text="thanks"))
    db.persist(UserGroup(user=ada, group=editors), UserGroup(user=ada, group=admins),
               UserGroup(user=bob, group=editors), UserGroup(user=cyd, group=readers))
    db.persist(UserCredentials(user=ada, password="pw-ada"),
               UserCredentials(user=bob, password="pw-bob"))
    assert [u.id for u in (ada, bob, cyd, dan)] == [1, 2, 3, 4]
    assert [p.id for p in (a1, a2, b1, a3, b2, c1)] == [1, 2, 3, 4, 5, 6]
    return SimpleNamespace(ada=ada, bob=bob, cyd=cyd, dan=dan, admins=admins)


def users(*conditions) -> list[str]:
    return [u.username for u in User.query().filter(*conditions).order_by("id").find()]


def posts(*conditions, **equals) -> list[str]:
    return [p.title for p in Post.query().filter(*conditions, **equals).order_by("id").find()]


def groups(*conditions) -> list[str]:
    return [g.name for g in Group.query().filter(*conditions).order_by("id").find()]


# --------------------------------------------------------------------------
# required scenario: users filtered by some / every / none of their posts
# --------------------------------------------------------------------------

def test_users_filtered_by_some_every_none_of_their_posts(blog):
    published = Post.published == True  # noqa: E712
    assert users(User.posts.some(published)) == ["ada", "bob", "cyd"]
    assert users(User.posts.some(Post.title == "b1")) == ["bob"]
    assert users(User.posts.some()) == ["ada", "bob", "cyd"]
    assert users(User.posts.every(published)) == ["cyd", "dan"]   # dan: no posts, vacuously
    assert users(User.posts.every(Post.published == False)) == ["dan"]  # noqa: E712
    assert users(User.posts.none(published)) == ["dan"]
    assert users(User.posts.none(Post.published == False)) == ["cyd", "dan"]  # noqa: E712
    assert users(User.posts.none()) == ["dan"]


def test_some_every_none_with_compound_conditions(blog):
    published_a = (Post.published == True) & Post.title.like("a%")  # noqa: E712
    assert users(User.posts.some(published_a)) == ["ada"]
    assert users(User.posts.some((Post.title == "b2") | (Post.title == "c1"))) == ["bob", "cyd"]
    assert users(User.posts.every(Post.title.in_(["b1", "b2", "c1"]))) == ["bob", "cyd", "dan"]
    assert users(User.posts.none(~(Post.published == True))) == ["cyd", "dan"]  # noqa: E712


def test_negating_and_combining_relation_filters(blog):
    assert users(~User.posts.some()) == ["dan"]
    assert users(~User.posts.none()) == ["ada", "bob", "cyd"]
    assert users(User.posts.some() & User.groups.some(Group.name == "readers")) == ["cyd"]
    assert users(User.posts.none() | User.groups.some(Group.name == "admins")) == ["ada", "dan"]
    assert users(User.posts.some(), User.credentials.is_()) == ["ada", "bob"]
    assert users(User.posts.some(), User.username != "ada") == ["bob", "cyd"]


def test_every_and_none_agree_with_filter_semantics_on_null(blog):
    """c1 (cyd's only post) has no reviewer. A plain filter does not match it
    with ``reviewer != bob`` (SQL: NULL <> 2 is not true), so cyd's posts do not
    all match that condition; yet they cannot both all match and none match."""
    assert posts(Post.reviewer != 2) == ["b2"]
    every = users(User.posts.every(Post.reviewer != 2))
    none = users(User.posts.none(Post.reviewer != 2))
    assert none == ["ada", "cyd", "dan"]
    # a user with posts is never in both
    assert [u for u in every if u in none and u != "dan"] == []
    assert every == ["dan"]


# --------------------------------------------------------------------------
# through a pivot, to-one, one-to-one
# --------------------------------------------------------------------------

def test_many_to_many_relation_filters(blog):
    assert users(User.groups.some(Group.name == "editors")) == ["ada", "bob"]
    assert users(User.groups.some()) == ["ada", "bob", "cyd"]
    assert users(User.groups.none()) == ["dan"]
    assert users(User.groups.every(Group.name == "editors")) == ["bob", "dan"]
    assert users(User.groups.none(Group.name == "editors")) == ["cyd", "dan"]
    assert groups(Group.users.some(User.username == "cyd")) == ["readers"]
    assert groups(Group.users.none(User.username == "ada")) == ["readers"]
    assert groups(Group.users.every(User.credentials.is_())) == ["admins", "editors"]


def test_to_one_reference_filters(blog):
    assert posts(Post.author.is_(User.username == "ada")) == ["a1", "a2", "a3"]
    assert posts(Post.reviewer.is_(None)) == ["a2", "b1", "a3", "c1"]
    assert posts(Post.reviewer.is_not(None)) == ["a1", "b2"]
    assert posts(Post.reviewer.is_(User.username == "bob")) == ["a1"]
    # is_not(cond): no referenced object matching, so a NULL reference qualifies
    assert posts(Post.reviewer.is_not(User.username == "bob")) == ["a2", "b1", "a3", "b2", "c1"]
    assert posts(Post.author.is_not(User.username.in_(["ada", "bob"]))) == ["c1"]


def test_one_to_one_back_reference_filters(blog):
    assert users(User.credentials.is_()) == ["ada", "bob"]
    assert users(User.credentials.is_not()) == ["cyd", "dan"]
    assert users(User.credentials.is_(UserCredentials.password == "pw-ada")) == ["ada"]
    assert users(User.credentials.is_not(UserCredentials.password == "pw-ada")) == \
        ["bob", "cyd", "dan"]
    wrote_b1 = User.posts.some(Post.title == "b1")
    creds = UserCredentials.query().filter(UserCredentials.user.is_(wrote_b1))
    assert [c.password for c in creds.find()] == ["pw-bob"]


# --------------------------------------------------------------------------
# nesting and self references
# --------------------------------------------------------------------------

def test_nested_relation_filters(blog):
    by_cyd = Comment.author.is_(User.username == "cyd")
    assert posts(Post.comments.some(by_cyd)) == ["a1"]
    assert users(User.posts.some(Post.comments.some(by_cyd))) == ["ada"]
    assert users(User.posts.some(Post.comments.some())) == ["ada", "bob"]
    assert users(User.posts.every(Post.comments.some())) == ["dan"]
    # who commented on bob's posts (User on the outside and on the inside)
    on_bobs_post = Comment.post.is_(Post.author.is_(User.username == "bob"))
    assert users(User.comments.some(on_bobs_post)) == ["ada"]
    assert users(User.reviewed.some()) == ["ada", "bob"]
    assert posts(Post.author.is_(User.groups.some(Group.name == "admins"))) == ["a1", "a2", "a3"]
    assert posts(Post.author.is_not(User.credentials.is_())) == ["c1"]
    # a post whose reviewer wrote a post that ada commented on
    assert posts(Post.reviewer.is_(User.posts.some(Post.comments.some(
        Comment.author.is_(User.username == "ada"))))) == ["a1", "b2"]


@pytest.fixture
def tree(db):
    """1 root A > (3 A1 > (6 A1a > 9 A1a-x, 7 A1b), 4 A2);  2 root B > 5 B1 > 8 B1a."""
    a, b = Category(name="root A"), Category(name="root B")
    db.persist(a, b)
    a1, a2 = Category(name="A1", parent=a), Category(name="A2", parent=a)
    b1 = Category(name="B1", parent=b)
    db.persist(a1, a2, b1)
    a1a, a1b, b1a = (Category(name="A1a", parent=a1), Category(name="A1b", parent=a1),
                     Category(name="B1a", parent=b1))
    db.persist(a1a, a1b, b1a)
    Category(name="A1a-x", parent=a1a).persist()


def cats(*conditions) -> list[str]:
    return [c.name for c in Category.query().filter(*conditions).order_by("id").find()]


def test_self_referencing_filters(tree):
    assert cats(Category.parent.is_(None)) == ["root A", "root B"]
    assert cats(Category.children.some(Category.name == "A1")) == ["root A"]
    assert cats(Category.children.none()) == ["A2", "A1b", "B1a", "A1a-x"]
    assert cats(Category.parent.is_(Category.name == "root A")) == ["A1", "A2"]
    assert cats(Category.parent.is_(Category.parent.is_(None))) == ["A1", "A2", "B1"]
    grandchild_a1a = Category.children.some(Category.children.some(Category.name == "A1a"))
    assert cats(grandchild_a1a) == ["root A"]
    assert cats(Category.children.some(Category.children.some())) == ["root A", "root B", "A1"]
    assert cats(Category.children.every(Category.name.like("A%"))) == \
        ["root A", "A1", "A2", "A1a", "A1b", "B1a", "A1a-x"]
    assert cats(Category.parent.is_(Category.parent.is_(Category.parent.is_(None))),
                Category.children.some()) == ["A1a"]


def test_self_referencing_filter_with_join(tree):
    roots = (Category.query().filter(Category.parent.is_(None),
                                     Category.children.some(Category.name == "B1"))
             .join_with("children.children").find())
    assert [(r.name, [(c.name, [g.name for g in c.children]) for c in r.children])
            for r in roots] == [("root B", [("B1", ["B1a"])])]


# --------------------------------------------------------------------------
# references compare by key
# --------------------------------------------------------------------------

def test_reference_compares_by_key(blog):
    ada, bob, cyd, dan = blog.ada, blog.bob, blog.cyd, blog.dan
    assert posts(author=ada) == ["a1", "a2", "a3"]
    assert posts(author=2) == ["b1", "b2"]
    assert posts(author=dan) == []
    assert posts(author=99) == []
    assert posts(reviewer=None) == ["a2", "b1", "a3", "c1"]
    assert posts(Post.author == bob) == ["b1", "b2"]
    assert posts(Post.author == 3) == ["c1"]
    assert posts(Post.author != ada) == ["b1", "b2", "c1"]
    assert posts(Post.author.in_([ada, 3])) == ["a1", "a2", "a3", "c1"]
    assert posts(Post.reviewer == ada) == ["b2"]
    # a stub (reached through a reference, only its key known) compares the same
    stub = Post.query().filter(title="c1").find_one().author
    assert posts(author=stub) == ["c1"]
    with pytest.raises(ValidationError):
        Post.query().filter(Post.author == blog.admins)
    with pytest.raises(ValidationError):
        Post.query().filter(author="ada")


def test_reference_key_in_composite_pivot_and_relation_filters(db):
    ann, ben, cat = Student(name="ann"), Student(name="ben"), Student(name="cat")
    cs, dbc = Course(code="CS101", title="Programming"), Course(code="DB201", title="Databases")
    ma, ph = Course(code="MA100", title="Calculus"), Course(code="PH300", title="Physics")
    db.persist(ann, ben, cat, cs, dbc, ma, ph)
    db.persist(Enrollment(student=ann, course=cs, grade="A"),
               Enrollment(student=ann, course=ma, grade="B"),
               Enrollment(student=ben, course=cs),
               Enrollment(student=ben, course=dbc, grade="C"))

    def students(*conds):
        return [s.name for s in Student.query().filter(*conds).order_by("id").find()]

    def courses(*conds):
        return [c.code for c in Course.query().filter(*conds).order_by("code").find()]

    assert students(Student.courses.some(Course.code == "CS101")) == ["ann", "ben"]
    assert students(Student.courses.some(Course.title == "Databases")) == ["ben"]
    assert students(Student.courses.none()) == ["cat"]
    assert courses(Course.students.every(Student.name != "ben")) == ["MA100", "PH300"]
    assert courses(Course.students.some()) == ["CS101", "DB201", "MA100"]
    rows = (Enrollment.query().filter(Enrollment.student.is_(Student.name == "ann"))
            .order_by("course"))
    assert [(e.course.code, e.grade) for e in rows.find()] == [("CS101", "A"), ("MA100", "B")]
    assert Enrollment.query().filter(student=ben).count() == 2
    assert Enrollment.query().filter(course="CS101").count() == 2
    assert Enrollment.query().filter(Enrollment.course.is_(Course.title == "Calculus"),
                                     grade="B").count() == 1


# --------------------------------------------------------------------------
# with the other parts of a query
# --------------------------------------------------------------------------

def test_relation_filters_with_terminals(blog, db):
    q = User.query().filter(User.posts.some())
    assert q.count() == 3
    assert q.exists()
    assert q.ids() == [1, 2, 3]
    assert q.order_by("-id").find_one().username == "cyd"
    assert not User.query().filter(User.posts.some(Post.title == "zz")).exists()
    assert User.query().filter(User.posts.none()).limit(5).count() == 1
    deleted = Post.query().filter(Post.author.is_(User.username == "bob")).delete_many()
    assert deleted == 2
    assert posts() == ["a1", "a2", "a3", "c1"]
    assert db.execute("SELECT COUNT(*) FROM comments")[0][0] == 4  # "great" went with b1


def test_relation_filters_with_joins_order_and_limit(blog):
    found = (User.query().filter(User.posts.some(Post.published == True))  # noqa: E712
             .join_with("posts").order_by("-id").limit(2).find())
    assert [(u.username, [p.title for p in u.posts]) for u in found] == [
        ("cyd", ["c1"]), ("bob", ["b1", "b2"])]
    found = (User.query().use_join_with("posts").filter(Post.reviewer.is_not(None)).end()
             .filter(User.groups.some()).order_by("id").find())
    assert [(u.username, [p.title for p in u.posts]) for u in found] == [
        ("ada", ["a1"]), ("bob", ["b2"]), ("cyd", [])]


def test_relation_filter_values_are_bound_parameters(blog, sql_log):
    sql_log.clear()
    assert users(User.posts.some(Post.title == "b1'; --")) == []
    select = [r for r in sql_log.records if r.sql.startswith("SELECT")][0]
    assert "b1'" not in select.sql
    assert "b1'; --" in list(select.params)


def test_patch_many_honours_an_inner_join(blog):
    """``inner_join_with`` keeps only users with a post, for find() and count()
    alike; patch_many on the same query must patch those users (or refuse the
    query, as it refuses relation filters) -- never every user."""
    from datetime import datetime
    q = User.query().inner_join_with("posts")
    assert q.count() == 3
    stamp = datetime(2000, 1, 1)
    try:
        n = q.patch_many(created=stamp)
    except QueryError:
        return
    assert n == 3
    assert [u.username for u in User.query().filter(created=stamp).order_by("id").find()] == \
        ["ada", "bob", "cyd"]


def test_delete_many_honours_an_inner_join(blog):
    q = Post.query().inner_join_with("comments")
    assert [p.title for p in q.order_by("id").find()] == ["a1", "b1", "a3"]
    assert q.delete_many() == 3
    assert posts() == ["a2", "b2", "c1"]


def test_patch_many_honours_relation_filters(blog, db):
    have_posts = sorted(User.query().filter(User.posts.some()).ids())
    assert User.query().filter(User.posts.some()).patch_many(created=datetime(2030, 1, 1)) == len(have_posts)
    changed = [r[0] for r in db.execute(
        "SELECT id FROM \"users\" WHERE created = ? ORDER BY id", (datetime(2030, 1, 1),))]
    assert changed == have_posts
    assert users() == ["ada", "bob", "cyd", "dan"]


# --------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------

def test_relation_of_another_model(blog):
    with pytest.raises(QueryError) as exc:
        User.query().filter(Post.comments.some())
    assert "Post.comments" in str(exc.value) and "User" in str(exc.value)


def test_condition_on_the_wrong_model_inside_a_relation_filter(blog):
    with pytest.raises(QueryError) as exc:
        User.query().filter(User.posts.some(User.username == "ada"))
    assert "User.username" in str(exc.value) and "Post" in str(exc.value)
    with pytest.raises(QueryError):
        Post.query().filter(Post.author.is_(Group.name == "x"))
    with pytest.raises(QueryError):
        User.query().filter(User.posts.some(Post.comments.some(Post.title == "a1")))


def test_wrong_operator_for_the_relation_kind(blog):
    with pytest.raises(QueryError):
        User.posts.is_()
    with pytest.raises(QueryError):
        User.groups.is_not(Group.name == "x")
    with pytest.raises(QueryError):
        User.username.is_(None)
    with pytest.raises(QueryError):
        Post.title.is_not(None)
    with pytest.raises(TypeError):
        User.posts.every()
    with pytest.raises(TypeError):
        User.posts.some("published")
    with pytest.raises(TypeError):
        bool(User.posts.some())
