"""The statement cache (issue 19): a query's SQL is rendered once per shape
and reused with new values; results stay exact, and what cannot be cached
(a list, a path, a relation filter) is rendered each time."""
from __future__ import annotations

from activerel import Database
from tests import factories as f
from tests.models import Post, User


def _cache(db: Database) -> dict:
    return db.dialect.statement_cache


def test_one_shape_is_rendered_once_and_reused_with_new_values(db, sql_log):
    ada, bob = f.UserFactory(username="ada"), f.UserFactory(username="bob")
    f.PostFactory(author=ada, title="a1", published=True)
    f.PostFactory(author=bob, title="b1", published=False)
    _cache(db).clear()
    assert User.query().filter(username="ada").find_one().id == ada.id
    size = len(_cache(db))
    assert size == 1
    sql_log.clear()
    assert User.query().filter(username="bob").find_one().id == bob.id
    assert len(_cache(db)) == size
    [select] = [s for s in sql_log.statements if s.startswith("SELECT")]
    [record] = [r for r in sql_log.records if r.sql == select]
    assert list(record.params) == ["bob"]
    # the same shape with other values, None, & | ~, count and exists
    q = Post.query().filter((Post.published == True) | (Post.author == bob))  # noqa: E712
    assert sorted(p.title for p in q.find()) == ["a1", "b1"]
    assert Post.query().filter((Post.published == True) | (Post.author == ada)).count() == 1  # noqa: E712
    assert Post.query().filter(Post.reviewer.is_null()).count() == 2
    assert Post.query().filter(reviewer=None).count() == 2
    assert Post.query().filter(reviewer=ada).count() == 0
    assert Post.query().filter(~(Post.title == "a1")).exists()
    assert not Post.query().filter(~(Post.title != "a1") & (Post.author == bob)).exists()


def test_what_depends_on_its_values_is_rendered_each_time(db):
    ada = f.UserFactory(username="ada")
    f.PostFactory(author=ada, title="a1")
    _cache(db).clear()
    assert Post.query().filter(Post.id.in_([1, 2, 3])).count() == 1
    assert Post.query().filter(Post.author.username == "ada").count() == 1
    assert User.query().filter(User.posts.some(Post.title == "a1")).count() == 1
    assert len(_cache(db)) == 0


def test_relation_loads_reuse_their_statement_with_new_keys(db, sql_log):
    ada, bob = f.UserFactory(username="ada"), f.UserFactory(username="bob")
    for title in ("a1", "a2"):
        f.PostFactory(author=ada, title=title)
    f.PostFactory(author=bob, title="b1")
    _cache(db).clear()
    [u] = User.query().filter(username="ada").join_with("posts").find()
    size = len(_cache(db))
    assert sorted(p.title for p in u.posts) == ["a1", "a2"]
    sql_log.clear()
    [u] = User.query().filter(username="bob").join_with("posts").find()
    assert [p.title for p in u.posts] == ["b1"]
    assert len(_cache(db)) == size  # the root and the posts' SELECT, both reused
    posts_select = [r for r in sql_log.records if r.sql.startswith("SELECT")][-1]
    assert list(posts_select.params) == [bob.id]
