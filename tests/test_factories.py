"""activerel.factory on SQLite, PostgreSQL and MySQL/MariaDB, tested with
the project's own pytest plugin (activerel.testing, active through its
``pytest11`` entry point): every test runs in the plugin's ``activerel_db``
(one transaction, rolled back after the test, every session a savepoint of
it) and counts with ``activerel_statements``.

The plugin's ``activerel_database`` serves every registered model, and the
suite registers many, some sharing a table name; this module overrides it
as docs/testing.md shows: one database per backend serving the shared
models, migrated once per run. ``tests/conftest.py`` resets the factory
sequences before each test, so every test makes ``user0`` first: were a
test's rows left behind, the next test's ``user0`` would break the unique
username."""
from __future__ import annotations

import factory
import pytest

from activerel import Database, IntegrityError, inspect
from activerel.factory import ActiverelFactory
from tests import factories as f
from tests.backends import namespace_url, require
from tests.models import ALL_MODELS, Enrollment, Post, User, UserGroup


@pytest.fixture(scope="session")
def activerel_database(backend: str):
    """Overrides the plugin's: the shared models' database on ``backend``."""
    require(backend)
    database = Database(namespace_url(backend, "_factories"), models=ALL_MODELS)
    database.migrate()
    yield database
    database.close()


class WriterFactory(ActiverelFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    posts = factory.RelatedFactoryList(f.PostFactory, factory_related_name="author", size=2)


class EnrollmentFactory(ActiverelFactory):
    class Meta:
        model = Enrollment

    student = factory.SubFactory(f.StudentFactory)
    course = factory.SubFactory(f.CourseFactory)
    grade = "A"


class EnrolledStudentFactory(f.StudentFactory):
    enrollments = factory.RelatedFactoryList(EnrollmentFactory, factory_related_name="student",
                                             size=3)


def test_the_plugin_gives_this_modules_database_pinned_and_bound(activerel_db, activerel_database):
    assert activerel_db is activerel_database
    assert activerel_db.engine.pinned is not None
    assert User.query().count() == 0


def test_create_persists_the_object_and_its_sub_factories(activerel_db, activerel_statements):
    comment = f.CommentFactory()
    # the post's author, the post, the comment's author, the comment: each its own session
    assert [u.username for u in (comment.post.author, comment.author)] == ["user0", "user1"]
    assert all(inspect(o).is_persistent for o in (comment, comment.post, comment.author))
    assert activerel_statements.count("INSERT") == 4
    assert activerel_statements.count("SAVEPOINT") == 4   # each session a savepoint of the test's
    with activerel_db.session():
        loaded = Post.query().join_with("comments").find_one()
        assert (loaded.title, [c.text for c in loaded.comments]) == ("post 0", ["comment 0"])


def test_build_writes_nothing(activerel_db, activerel_statements):
    post = f.PostFactory.build()
    assert inspect(post).is_new and inspect(post.author).is_new
    assert activerel_statements.statements == []
    post.persist()                                       # then both, in one flush
    assert activerel_statements.count("INSERT") == 2
    assert activerel_statements.count("SAVEPOINT") == 1
    assert User.query().count() == 1


def test_factories_in_one_session_make_one_flush(activerel_db, activerel_statements):
    with activerel_db.session():
        posts = f.PostFactory.create_batch(3)
    assert activerel_statements.count("INSERT") == 2     # the users, then the posts
    assert activerel_statements.count("SAVEPOINT") == 1
    assert Post.query().count() == 3
    assert {p.author.username for p in posts} == {"user0", "user1", "user2"}


def test_related_factory_list_fills_a_back_reference(activerel_db):
    writer = WriterFactory()
    assert len(writer.posts) == 2 and all(p.author is writer for p in writer.posts)
    assert Post.query().filter(author=writer).count() == 2
    assert Post.query().filter(author=WriterFactory(posts=[])).count() == 0


def test_many_to_many_through_a_pivot(activerel_db):
    user = f.UserFactory(groups=f.GroupFactory.build_batch(2))
    assert UserGroup.query().filter(user=user).count() == 2
    student = f.StudentFactory(courses=[f.CourseFactory(), f.CourseFactory()])
    assert Enrollment.query().filter(student=student).count() == 2
    with activerel_db.session():
        loaded = User.query().join_with("groups").find_one()
        assert [g.name for g in loaded.groups] == ["group0", "group1"]


def test_a_pivot_with_fields_of_its_own_from_a_related_factory_list(activerel_db):
    student = EnrolledStudentFactory()
    rows = Enrollment.query().filter(student=student).find()
    assert len(rows) == 3 and {r.grade for r in rows} == {"A"}
    with activerel_db.session():
        loaded = type(student).query().join_with("courses").find_one()
        assert sorted(c.code for c in loaded.courses) == ["C000", "C001", "C002"]


def test_a_failing_factory_rolls_back_alone(activerel_db):
    f.UserFactory(username="ada")
    with pytest.raises(IntegrityError):
        f.UserFactory(username="ada")                    # the unique username
    with pytest.raises(IntegrityError):
        with activerel_db.session():
            f.PostFactory(author__username="bob")
            f.UserFactory(username="ada")
    assert [u.username for u in User.query().find()] == ["ada"]   # bob's session undone whole
    assert Post.query().count() == 0


def test_what_the_tests_wrote_is_gone(activerel_database):
    """Outside activerel_db: the database as every test left it."""
    with activerel_database.session():
        assert (User.query().count(), Post.query().count(), UserGroup.query().count()) == (0, 0, 0)
