"""``with session.savepoint():``: a block whose writes are undone alone, its
objects restored, while the session goes on; nested blocks; a failure of
the block's own flush; and what a released block leaves to the outer
transaction."""
from __future__ import annotations

import pytest

from activerel import IntegrityError, inspect
from tests.models import Post, User


def usernames(db) -> list[str]:
    return [r[0] for r in db.execute('SELECT "username" FROM "users" ORDER BY "username"')]


def test_a_block_that_raises_is_undone_and_the_session_goes_on(db, sql_log):
    with db.session() as s:
        kept = User(username="kept").persist()
        with pytest.raises(RuntimeError, match="changed my mind"):
            with s.savepoint():
                dropped = User(username="dropped").persist()
                kept.username = "renamed"
                s.flush()
                raise RuntimeError("changed my mind")
        assert (inspect(dropped).is_new, dropped.id) == (True, 0)
        assert (kept.username, inspect(kept).is_dirty) == ("kept", False)
        after = User(username="after").persist()
    assert usernames(db) == ["after", "kept"]
    assert inspect(after).is_persistent and inspect(kept).is_persistent
    sent = [r.sql.replace("`", '"') for r in sql_log.records if "SAVEPOINT" in r.sql]
    assert [s.split('"')[0] for s in sent] == ["SAVEPOINT ", "ROLLBACK TO SAVEPOINT ",
                                               "RELEASE SAVEPOINT "]


def test_a_failing_flush_rolls_back_to_the_savepoint_only(db):
    with db.session() as s:
        User(username="ada").persist()
        with pytest.raises(IntegrityError):
            with s.savepoint():
                twin = User(username="ada")
                twin.persist()
                other = User(username="bob").persist()
        assert inspect(twin).is_new and inspect(other).is_new
        User(username="cyd").persist()
    assert usernames(db) == ["ada", "cyd"]


def test_a_released_block_is_undone_with_the_transaction(db):
    with pytest.raises(RuntimeError):
        with db.session() as s:
            outer = User(username="outer").persist()
            with s.savepoint():
                inner = User(username="inner").persist()
                post = Post(author=outer, title="t").persist()
            assert inspect(inner).is_persistent and inspect(post).is_persistent
            raise RuntimeError("abort everything")
    assert usernames(db) == []
    assert [inspect(o).is_new for o in (outer, inner, post)] == [True, True, True]
    assert (outer.id, inner.id, post.id) == (0, 0, 0)


def test_savepoints_nest(db):
    with db.session() as s:
        a = User(username="a").persist()
        with s.savepoint():
            b = User(username="b").persist()
            with pytest.raises(KeyError):
                with s.savepoint():
                    c = User(username="c").persist()
                    b.username = "b2"
                    s.flush()
                    raise KeyError("inner")
            assert (b.username, inspect(c).is_new) == ("b", True)
            d = User(username="d").persist()
        assert [inspect(o).is_persistent for o in (a, b, d)] == [True, True, True]
    assert usernames(db) == ["a", "b", "d"]


def test_an_object_changed_before_and_inside_the_block_goes_back_to_the_block_start(db):
    ada = User(username="ada").persist()
    with db.session() as s:
        user = User.get(ada.id)
        user.username = "first"
        s.flush()
        with pytest.raises(ValueError):
            with s.savepoint():
                user.username = "second"
                s.flush()
                raise ValueError
        assert (user.username, inspect(user).is_dirty) == ("first", False)
    assert usernames(db) == ["first"]
