"""Objects outside their session: pickled and copied (for a cache, a task
queue or a web session) they are detached, with their fields, loaded
relations and state; persisted again they attach to the new session. And
a Database used as a context manager; to_dict(); and factory_boy factories."""
from __future__ import annotations

import copy
import pickle

import factory

from activerel import Database, inspect
from activerel.factory import ActiverelFactory
from tests.models import ALL_MODELS, Comment, Group, Post, User


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


class WriterFactory(ActiverelFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"writer{n}")
    posts = factory.RelatedFactoryList("tests.test_objects.ArticleFactory", "author", size=2)


class ArticleFactory(ActiverelFactory):
    class Meta:
        model = Post

    author = factory.SubFactory(WriterFactory, posts=[])
    title = factory.Sequence(lambda n: f"title{n}")


class TeamFactory(ActiverelFactory):
    class Meta:
        model = Group

    name = factory.Sequence(lambda n: f"team{n}")


class RemarkFactory(ActiverelFactory):
    class Meta:
        model = Comment

    post = factory.SubFactory(ArticleFactory)
    author = factory.SelfAttribute("post.author")
    text = "hi"


def test_factories_persist_graphs_through_the_unit_of_work(db):
    built = WriterFactory.build()
    assert inspect(built).is_new and built.id == 0
    writer = WriterFactory(groups=[TeamFactory(), TeamFactory()])   # many-to-many through a pivot
    assert inspect(writer).is_persistent
    assert db.execute('SELECT COUNT(*) FROM "posts" WHERE "author_id" = ?', (writer.id,)) == [(2,)]
    assert db.execute('SELECT COUNT(*) FROM "user_groups" WHERE "user_id" = ?', (writer.id,)) == [(2,)]
    remark = RemarkFactory()
    assert (remark.post.author is remark.author, inspect(remark).is_persistent) == (True, True)
    assert db.execute('SELECT COUNT(*) FROM "comments"') == [(1,)]
