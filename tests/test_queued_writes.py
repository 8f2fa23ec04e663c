"""Writes whose result nobody reads (an UPDATE of loaded objects, an
INSERT with its keys given, pivot links) wait for the next statement of the
flush, or, at the end of a session, for the COMMIT: on PostgreSQL they go in
its round trip (a libpq pipeline), on MySQL/MariaDB in one multi-statement
script before it, or with the COMMIT. SQLite sends them at once. Either way a write
that fails is the flush's failure (or the COMMIT's): nothing is written and
the objects are put back; inside a savepoint only the savepoint goes."""
from __future__ import annotations

import pytest

from activerel import Database, IntegrityError, inspect
from tests.backends import namespace_url, require
from tests.models import Comment, Group, Post, User, UserCredentials, UserGroup

MODELS = [User, Post, Comment, Group, UserGroup, UserCredentials]


@pytest.fixture
def people(db):
    ada, bob = User(username="ada"), User(username="bob")
    db.persist(ada, bob, Post(author=ada, title="a1"), Group(name="admins"))
    return ada, bob


def _rows(db) -> list:
    return db.execute("SELECT id, username FROM users ORDER BY id")


def test_a_failing_write_sent_with_the_commit_writes_nothing(db, people):
    with pytest.raises(IntegrityError):
        with db.session():
            ada, bob = User.get(1), User.get(2)
            ada.username = "ada2"
            bob.username = "ada2"  # unique: the second UPDATE fails
    assert _rows(db) == [(1, "ada"), (2, "bob")]


def test_the_objects_of_a_failed_commit_keep_their_changes(db, people):
    with db.session() as s:
        ada, bob = User.get(1), User.get(2)
        ada.username, bob.username = "x", "x"
        with pytest.raises(IntegrityError):
            s.commit()
        assert inspect(ada).changes == {"username": "ada"}
        assert inspect(bob).changes == {"username": "bob"}
        bob.username = "bob2"
    assert _rows(db) == [(1, "x"), (2, "bob2")]


def test_a_failing_write_sent_with_a_later_statement_fails_the_flush(db, people):
    with db.session() as s:
        ada, bob = User.get(1), User.get(2)
        bob.username = "ada"  # fails on its own ...
        post = Post(author=ada, title="new")  # ... with the INSERT that reads its key
        with pytest.raises(IntegrityError):
            s.flush()
        assert inspect(post).is_new and post.id == 0
        assert inspect(bob).changes == {"username": "bob"}
        bob.username = "bob"
    assert db.execute("SELECT title FROM posts ORDER BY id") == [("a1",)]


def test_a_flush_sends_its_writes_before_it_returns(db, people):
    with db.session() as s:
        User.get(1).username = "ada2"
        s.flush()
        # a statement of the session's own sees the write
        assert s.fetch("SELECT username FROM users WHERE id = 1") == [("ada2",)]
        assert User.query().filter(User.username == "ada2").count() == 1
    assert _rows(db) == [(1, "ada2"), (2, "bob")]


def test_a_failing_write_in_a_savepoint_undoes_the_savepoint_only(db, people):
    with db.session() as s:
        ada = User.get(1)
        ada.username = "ada2"
        with pytest.raises(IntegrityError):
            with s.savepoint():
                User.get(2).username = "ada2"
        Comment(post=Post.get(1), author=ada, text="kept").persist()
    assert _rows(db) == [(1, "ada2"), (2, "bob")]
    assert db.execute("SELECT text FROM comments") == [("kept",)]


def test_links_and_updates_of_one_session_all_land(db, people):
    with db.session():
        ada, bob = (User.query().filter(User.id.in_([1, 2])).join_with("groups")
                    .order_by("id").find())
        admins = Group.get(1)
        ada.groups.append(admins)
        bob.groups.append(admins)
        ada.username, bob.username = "ada2", "bob2"
        Post.get(1).title = "a1 again"
    assert _rows(db) == [(1, "ada2"), (2, "bob2")]
    assert db.execute("SELECT user_id, group_id FROM user_groups ORDER BY user_id") == [
        (1, 1), (2, 1)]
    assert db.execute("SELECT title FROM posts") == [("a1 again",)]


def test_a_large_write_goes_on_its_own_after_the_small_ones(db, people):
    db.persist(*[Group(name=f"g{i}") for i in range(300)])
    with db.session():
        [ada] = User.query().filter(User.id == 1).join_with("groups").find()
        ada.username = "ada2"  # a small UPDATE, held ...
        ada.groups.extend(Group.query().filter(Group.name.like("g%")).order_by("id").find())
        # ... the 300 links (600 parameters) go on their own, after it
    assert _rows(db) == [(1, "ada2"), (2, "bob")]
    assert db.execute("SELECT count(*) FROM user_groups WHERE user_id = 1") == [(300,)]


@pytest.fixture
def listening_db(backend):
    """A database of its own (its event handlers stay with it), with ada and bob."""
    require(backend)
    database = Database(namespace_url(backend, "_queued", fresh=True), models=MODELS)
    database.migrate()
    database.bind()
    database.persist(User(username="ada"), User(username="bob"))
    yield database
    database.close()


def test_after_events_run_once_the_writes_reached_the_server(listening_db):
    """An after_update handler (sending mail, say) runs only for a write the
    server took: a held UPDATE is sent before the after-events, so its
    failure comes first, as where writes go at once."""
    db = listening_db
    seen: list[str] = []
    db.listen("after_update", User)(lambda user: seen.append(user.username))
    with pytest.raises(IntegrityError):
        with db.session():
            User.get(1).username = "bob"  # bob's already
    assert seen == []
    with db.session():
        User.get(1).username = "ada2"
    assert seen == ["ada2"] and _rows(db) == [(1, "ada2"), (2, "bob")]


def test_a_held_write_of_a_savepoint_that_fails_is_never_sent(listening_db):
    """A raw write held in a savepoint block that then raises is dropped with
    the savepoint, never sent (here one that would fail on the unique
    username); the session goes on."""
    db = listening_db
    # where writes are sent at once, the UPDATE's own error comes first
    failure = RuntimeError if db.dialect.features.queue_writes else IntegrityError
    with db.session() as s:
        ada = User.get(1)
        with pytest.raises(failure):
            with s.savepoint():
                s.queue("UPDATE users SET username = 'bob' WHERE id = 1", ())
                raise RuntimeError("the block fails")
        assert ada.username == "ada" and inspect(ada).changes == {}
        ada.username = "ada2"
    assert _rows(db) == [(1, "ada2"), (2, "bob")]
