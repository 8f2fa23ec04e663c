"""Objects outside their session: pickled and copied (for a cache, a task
queue or a web session) they are detached, with their fields, loaded
relations and state; persisted again they attach to the new session. And
a Database used as a context manager."""
from __future__ import annotations

import copy
import pickle

from activerel import Database, inspect
from tests.models import ALL_MODELS, Post, User


def test_a_loaded_object_pickles_detached_and_persists_again(db):
    ada = User(username="ada")
    Post(author=ada, title="t")
    ada.persist()
    with db.session():
        loaded = User.query().join_with("posts").find_one()
    back = pickle.loads(pickle.dumps(loaded))
    state = inspect(back)
    assert (state.is_persistent, state.key, state.session, state.is_dirty) == (True, ada.id, None, False)
    assert [p.title for p in back.posts] == ["t"] and back.posts[0].author is back
    back.username = "ada2"
    back.posts.append(Post(author=back, title="u"))
    back.persist()
    assert db.execute('SELECT "username" FROM "users"') == [("ada2",)]
    assert db.execute('SELECT "title" FROM "posts" ORDER BY "id"') == [("t",), ("u",)]


def test_new_and_copied_objects_keep_their_state(db):
    fresh = pickle.loads(pickle.dumps(User(username="new")))
    assert (inspect(fresh).is_new, fresh.posts) == (True, [])
    fresh.persist()
    assert db.execute('SELECT "username" FROM "users"') == [("new",)]
    with db.session():
        loaded = User.query().join_with("posts").find_one()
    twin = copy.deepcopy(loaded)
    assert twin is not loaded and (twin.username, inspect(twin).key) == ("new", loaded.id)
    assert inspect(twin).is_dirty is False


def test_a_database_closes_at_the_end_of_its_block(tmp_path):
    with Database(f"sqlite:///{tmp_path / 'ctx.db'}", models=ALL_MODELS) as database:
        database.migrate()
        assert database.closed is False
    assert database.closed is True


def test_to_dict_gives_the_loaded_fields_and_on_request_the_loaded_relations(db):
    ada = User(username="ada")
    Post(author=ada, title="t")
    ada.persist()
    with db.session():
        user = User.query().join_with("posts").find_one()
        post = user.posts[0]
        assert user.to_dict() == {"id": ada.id, "username": "ada", "created": user.created}
        assert post.to_dict() == {"id": post.id, "author": ada.id, "reviewer": None, "title": "t",
                                  "published": False}
        assert user.to_dict(relations=True) == {
            "id": ada.id, "username": "ada", "created": user.created,
            "posts": [{"id": post.id, "author": ada.id, "reviewer": None, "title": "t",
                       "published": False}]}
    with db.session():
        partial = User.query().select("username").find_one()   # the fields not loaded are left out
        assert partial.to_dict() == {"id": ada.id, "username": "ada"}
    with db.session():
        post = Post.query().find_one()          # its author a stub: given by key
        assert post.to_dict(relations=True)["author"] == ada.id
