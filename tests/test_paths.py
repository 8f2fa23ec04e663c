"""Paths through relations in filters and ordering (``Post.author.username``,
``filter(**{"author.username": ...})``, ``order_by("author.username")``),
compiled as one LEFT JOIN per hop in the one SELECT of the query; paths
inside relation filters; the errors for paths through to-many relations and
unknown names; and subqueries rendered into the outer statement
(``in_(query)``, ``query.column(...)``, ``.max()`` and its kin), never run
first.

The data (``blog``), by primary key:

    users       1 ada, 2 bob, 3 cyd, 4 dan
    posts       1 a1 (ada, published, reviewer bob)   2 a2 (ada, draft)
                3 b1 (bob, published)                 4 a3 (ada, published)
                5 b2 (bob, draft, reviewer ada)       6 c1 (cyd, published)
    comments    1 "nice" on a1 by bob    2 "meh" on a1 by cyd
                3 "great" on b1 by ada   4 "ok" on a3 by bob
                5 "thanks" on a1 by ada
    categories  1 root, 2 books (root), 3 music (root), 4 novels (books),
                5 poems (books), 6 jazz (music), 7 loose (no parent)
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from activerel import QueryError, ValidationError, inspect
from tests.models import (Category, Comment, Course, Enrollment, Post, Student, User,
                          UserCredentials)


@pytest.fixture
def blog(db):
    ada, bob, cyd, dan = (User(username=n) for n in ("ada", "bob", "cyd", "dan"))
    db.persist(ada, bob, cyd, dan)
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
    db.persist(UserCredentials(user=ada, password="pw-ada"))
    root = Category(name="root")
    books, music = Category(name="books", parent=root), Category(name="music", parent=root)
    db.persist(root, books, music)
    db.persist(Category(name="novels", parent=books), Category(name="poems", parent=books),
               Category(name="jazz", parent=music), Category(name="loose"))
    assert [u.id for u in (ada, bob, cyd, dan)] == [1, 2, 3, 4]
    assert [p.id for p in (a1, a2, b1, a3, b2, c1)] == [1, 2, 3, 4, 5, 6]
    return SimpleNamespace(ada=ada, bob=bob, cyd=cyd, dan=dan)


def posts(*conditions, **equals) -> list[str]:
    return [p.title for p in Post.query().filter(*conditions, **equals).order_by("id").find()]


def users(*conditions) -> list[str]:
    return [u.username for u in User.query().filter(*conditions).order_by("id").find()]


def texts(query) -> list[str]:
    return [c.text for c in query.find()]


def selects(sql_log) -> list:
    return [r for r in sql_log.records if r.sql.lstrip().upper().startswith("SELECT")]


def sent(sql_log) -> list:
    """The statements sent, without the transaction's own (BEGIN, COMMIT, ...)."""
    return [r for r in sql_log.records
            if r.sql.split()[0].upper() not in ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT",
                                                "RELEASE")]


# -- paths in filters ------------------------------------------------------------------

def test_a_path_filters_in_one_select_with_one_left_join(blog, sql_log):
    sql_log.clear()
    assert posts(Post.author.username == "ada") == ["a1", "a2", "a3"]
    [select] = selects(sql_log)
    assert len(sent(sql_log)) == 1
    assert select.sql.count("LEFT JOIN") == 1
    assert list(select.params) == ["ada"]


def test_the_string_form_names_the_same_path(blog):
    assert posts(**{"author.username": "bob"}) == ["b1", "b2"]
    assert posts(**{"author.username": "bob", "published": True}) == ["b1"]
    assert posts(**{"reviewer.username": "ada"}) == ["b2"]
    assert [c.text for c in Comment.query().filter(**{"post.author.username": "bob"})
            .order_by("id").find()] == ["great"]


def test_a_path_takes_every_operator_a_field_takes(blog):
    assert posts(Post.author.username != "ada") == ["b1", "b2", "c1"]
    assert posts(Post.author.username < "bob") == ["a1", "a2", "a3"]
    assert posts(Post.author.username >= "bob") == ["b1", "b2", "c1"]
    assert posts(Post.author.username.like("c%")) == ["c1"]
    assert posts(Post.author.username.in_(["bob", "cyd"])) == ["b1", "b2", "c1"]
    assert posts(Post.author.username.not_in(["ada", "bob"])) == ["c1"]
    assert posts(Post.author.id.between(2, 3)) == ["b1", "b2", "c1"]
    assert posts(Post.author.username.is_not_null()) == ["a1", "a2", "b1", "a3", "b2", "c1"]
    assert posts((Post.author.username == "ada") & (Post.published == True)) == ["a1", "a3"]
    assert posts((Post.author.username == "cyd") | (Post.title == "a2")) == ["a2", "c1"]
    assert posts(~(Post.author.username == "ada")) == ["b1", "b2", "c1"]
    assert posts(Post.author.username == "zed") == []


def test_a_path_through_a_null_reference_is_null_as_in_sql(blog):
    """A post without a reviewer matches no comparison on the reviewer's
    fields, not even a negated one; it matches is_null()."""
    assert posts(Post.reviewer.username == "bob") == ["a1"]
    assert posts(Post.reviewer.username != "bob") == ["b2"]
    assert posts(~(Post.reviewer.username == "bob")) == ["b2"]
    assert posts(Post.reviewer.username.in_(["ada", "bob"])) == ["a1", "b2"]
    assert posts(Post.reviewer.username.is_null()) == ["a2", "b1", "a3", "c1"]
    assert posts(Post.reviewer.username.is_not_null()) == ["a1", "b2"]


def test_conditions_on_one_hop_share_its_join(blog, sql_log):
    sql_log.clear()
    assert posts((Post.author.username == "ada") | (Post.author.username == "cyd"),
                 Post.author.id != 3) == ["a1", "a2", "a3"]
    [select] = selects(sql_log)
    assert select.sql.count("LEFT JOIN") == 1
    sql_log.clear()
    # two references to the same table are two hops, two joins
    assert posts(Post.author.username == "bob", Post.reviewer.username == "ada") == ["b2"]
    [select] = selects(sql_log)
    assert select.sql.count("LEFT JOIN") == 2


def test_a_chain_of_references_joins_once_per_hop(blog, sql_log):
    sql_log.clear()
    found = Comment.query().filter(Comment.post.author.username == "ada").order_by("id")
    assert texts(found) == ["nice", "meh", "ok", "thanks"]
    [select] = selects(sql_log)
    assert select.sql.count("LEFT JOIN") == 2
    assert texts(Comment.query().filter(Comment.post.reviewer.username == "bob")
                 .order_by("id")) == ["nice", "meh", "thanks"]
    # a reference at the end of a path compares by key, like Post.author
    assert texts(Comment.query().filter(Comment.post.author == blog.bob)) == ["great"]
    assert texts(Comment.query().filter(Comment.post.reviewer.is_null())
                 .order_by("id")) == ["great", "ok"]


def test_a_chain_through_a_self_reference(blog):
    def names(*conditions, order=("id",)):
        return [c.name for c in Category.query().filter(*conditions).order_by(*order).find()]

    assert names(Category.parent.name == "root") == ["books", "music"]
    assert names(Category.parent.parent.name == "root") == ["novels", "poems", "jazz"]
    assert names(Category.parent.parent.parent.name.is_not_null()) == []
    assert names(Category.parent.parent.is_null(), Category.parent.is_not_null()) == [
        "books", "music"]
    assert names(Category.parent.parent.name == "root",
                 order=("-parent.name", "name")) == ["jazz", "novels", "poems"]


# -- paths in ordering -----------------------------------------------------------------

def test_order_by_a_path_in_one_select(blog, sql_log):
    sql_log.clear()
    found = Post.query().order_by("author.username", "-id").find()
    assert [p.title for p in found] == ["a3", "a2", "a1", "b2", "b1", "c1"]
    assert len(sent(sql_log)) == 1
    assert selects(sql_log)[0].sql.count("LEFT JOIN") == 1
    found = Post.query().order_by("-author.username", "id").find()
    assert [p.title for p in found] == ["c1", "b1", "b2", "a1", "a2", "a3"]
    found = Post.query().order_by(Post.author.username, "-id").find()
    assert [p.title for p in found] == ["a3", "a2", "a1", "b2", "b1", "c1"]


def test_order_and_filter_on_one_path_share_its_join(blog, sql_log):
    sql_log.clear()
    found = (Post.query().filter(Post.reviewer.username.is_not_null())
             .order_by("reviewer.username").find())
    assert [p.title for p in found] == ["b2", "a1"]
    assert selects(sql_log)[0].sql.count("LEFT JOIN") == 1
    found = (Comment.query().order_by("post.author.username", "-id").find())
    assert [c.text for c in found] == ["thanks", "ok", "meh", "nice", "great"]


# -- paths with the terminals, joins and paging -------------------------------------------

def test_a_path_in_count_exists_ids_and_find_one(blog, sql_log):
    by_ada = Post.query().filter(Post.author.username == "ada")
    sql_log.clear()
    assert by_ada.count() == 3
    assert by_ada.exists()
    assert by_ada.ids() == [1, 2, 4]
    assert by_ada.order_by("-id").find_one().title == "a3"
    assert not Post.query().filter(Post.author.username == "zed").exists()
    assert len(sent(sql_log)) == 5 == len(selects(sql_log))
    assert Post.query().order_by("author.username", "-id").ids() == [4, 2, 1, 5, 3, 6]
    assert by_ada.order_by("-id").limit(2).count() == 2


def test_a_path_with_paging(blog):
    ordered = Post.query().order_by("author.username", "-id")
    assert [p.title for p in ordered.limit(2).skip(1).find()] == ["a2", "a1"]
    assert [p.title for p in ordered.skip(4).find()] == ["b1", "c1"]
    by_ada = Post.query().filter(Post.author.username == "ada").order_by("-id")
    assert [p.title for p in by_ada.limit(2).skip(1).find()] == ["a2", "a1"]
    assert by_ada.skip(1).count() == 2


def test_a_path_with_join_with(blog, sql_log):
    sql_log.clear()
    found = (Post.query().filter(Post.author.username == "bob").join_with("author")
             .join_with("comments").order_by("id").find())
    assert [(p.title, p.author.username, [c.text for c in p.comments]) for p in found] == [
        ("b1", "bob", ["great"]), ("b2", "bob", [])]
    assert len(sent(sql_log)) == 3 == len(selects(sql_log))
    # joined relations keep their bounded statements, paged at the root
    sql_log.clear()
    found = (Post.query().join_with("comments").order_by("author.username", "-id")
             .limit(2).find())
    assert [(p.title, len(p.comments)) for p in found] == [("a3", 1), ("a2", 0)]
    assert len(sent(sql_log)) == 2


def test_a_path_inside_a_joined_relation(blog, sql_log):
    sql_log.clear()
    found = (User.query().use_join_with("posts").filter(Post.reviewer.username == "bob").end()
             .order_by("id").find())
    assert [(u.username, [p.title for p in u.posts]) for u in found] == [
        ("ada", ["a1"]), ("bob", []), ("cyd", []), ("dan", [])]
    assert len(sent(sql_log)) == 2
    # ordered by a path, and paged per parent (ROW_NUMBER over the joined rows)
    a1 = (Post.query().filter(title="a1").use_join_with("comments")
          .order_by("author.username", "-id").end().find_one())
    assert [c.text for c in a1.comments] == ["thanks", "nice", "meh"]
    a1 = (Post.query().filter(title="a1").use_join_with("comments")
          .order_by("-author.username").limit(2).end().find_one())
    assert [c.text for c in a1.comments] == ["meh", "nice"]
    # an inner join whose filter is a path
    assert [u.username for u in User.query().use_inner_join_with("comments")
            .filter(Comment.post.author.username == "bob").end().order_by("id").find()] == ["ada"]


def test_a_path_in_patch_many_and_delete_many(blog, sql_log):
    sql_log.clear()
    assert Post.query().filter(Post.author.username == "bob").patch_many(published=True) == 2
    assert sql_log.count("SELECT") == 1 and sql_log.count("UPDATE") == 1
    assert posts(published=True) == ["a1", "b1", "a3", "b2", "c1"]
    assert Post.query().filter(**{"reviewer.username": "bob"}).patch_many(title="a1!") == 1
    assert posts(Post.reviewer.username == "bob") == ["a1!"]
    assert Comment.query().filter(Comment.post.author.username == "ada").delete_many() == 4
    assert texts(Comment.query()) == ["great"]
    assert Post.query().filter(Post.author.username == "cyd").delete_one() is None
    assert posts() == ["a1!", "a2", "b1", "a3", "b2"]


def test_a_path_in_delete_many_keeps_loaded_objects_true(db, blog):
    with db.session():
        loaded = Comment.query().order_by("id").find()
        assert Comment.query().filter(Comment.post.author.username == "bob").delete_many() == 1
        assert [inspect(c).is_deleted for c in loaded] == [False, False, True, False, False]


def test_a_path_with_for_update(db, blog):
    """PostgreSQL locks no row on the NULL side of an outer join: the lock
    names the query's own table."""
    with db.session():
        found = (Post.query().filter(Post.reviewer.username.is_null()).order_by("author.username")
                 .for_update().find())
        assert [p.title for p in found] == ["a2", "a3", "b1", "c1"]


# -- paths through to-many relations: only inside some() / every() / none() ------------------

def test_a_path_inside_a_relation_filter(blog, sql_log):
    sql_log.clear()
    assert users(User.posts.some(Post.reviewer.username == "bob")) == ["ada"]
    [select] = selects(sql_log)
    assert "EXISTS" in select.sql and select.sql.count("LEFT JOIN") == 1
    assert users(User.posts.none(Post.reviewer.username == "bob")) == ["bob", "cyd", "dan"]
    # every(): a post without reviewer is NULL there, so it does not match
    assert users(User.posts.every(Post.reviewer.username == "ada")) == ["dan"]
    assert users(User.comments.some(Comment.post.author.username == "ada")) == [
        "ada", "bob", "cyd"]
    assert users(User.comments.some(Comment.post.author.username == "bob")) == ["ada"]


def test_a_relation_at_the_end_of_a_path(blog):
    assert texts(Comment.query().filter(Comment.post.author.posts.some(Post.title == "b2"))
                 .order_by("id")) == ["great"]
    assert texts(Comment.query().filter(Comment.post.author.posts.none(Post.published == False))
                 .order_by("id")) == []
    assert texts(Comment.query().filter(Comment.post.author.is_(User.username == "bob"))) == [
        "great"]
    assert texts(Comment.query().filter(Comment.post.reviewer.is_not(User.username == "bob"))
                 .order_by("id")) == ["great", "ok"]
    assert posts(Post.author.credentials.is_(UserCredentials.password == "pw-ada")) == [
        "a1", "a2", "a3"]


def test_a_path_through_a_to_many_relation_elsewhere_is_an_error(blog):
    with pytest.raises(QueryError, match=r"'posts\.title' .*User\.posts.*aggregates"):
        User.query().order_by("posts.title")   # ordering: by an aggregate of it instead
    for attempt in (lambda: User.query().filter(**{"posts.title": "a1"}),
                    lambda: User.query().column("posts.title"),
                    lambda: User.posts.title,
                    lambda: Comment.query().filter(Comment.post.author.posts.title == "a1")):
        with pytest.raises(QueryError) as exc:
            attempt()
        message = str(exc.value)
        assert "posts.title" in message and "some(" in message, message
        assert "User" in message or "Comment" in message, message
    with pytest.raises(QueryError, match=r"User\.credentials\.password.*is_\("):
        User.credentials.password


def test_unknown_names_in_a_path_are_errors(blog):
    with pytest.raises(QueryError, match=r"Post\.author\.nick: User has no field 'nick'"):
        Post.query().filter(**{"author.nick": "ada"})
    with pytest.raises(QueryError, match=r"order_by\(\): Post\.author\.nick: User has no field"):
        Post.query().order_by("-author.nick")
    with pytest.raises(QueryError, match=r"Post\.author\.nick: User has no field 'nick'"):
        Post.author.nick
    with pytest.raises(QueryError, match=r"Post\.title\.x: Post\.title is a plain field"):
        Post.query().filter(**{"title.x": 1})
    with pytest.raises(QueryError, match="Post"):
        Post.query().filter(**{"author.": 1})
    with pytest.raises(QueryError, match=r"Comment\.post\.title is not a field of Post"):
        Post.query().filter(Comment.post.title == "a1")
    with pytest.raises(QueryError, match=r"Comment\.post\.author is not a relation of Post"):
        Post.query().filter(Comment.post.author.posts.some())
    with pytest.raises(QueryError, match="path through a relation"):
        Post.query().patch_many(title=Post.author.id + 1)
    with pytest.raises(ValidationError):
        Post.author.username == 3


def test_paths_through_a_composite_key_pivot(db):
    ann = Student(name="ann")
    db.persist(Enrollment(student=ann, course=Course(code="CS1", title="Programming"), grade="A"),
               Enrollment(student=ann, course=Course(code="MA1", title="Algebra"), grade="B"))
    found = Enrollment.query().filter(Enrollment.course.title.like("Alg%")).find()
    assert [e.grade for e in found] == ["B"]
    found = Enrollment.query().order_by("-course.title").find()
    assert [e.grade for e in found] == ["A", "B"]
    assert [s.name for s in Student.query().filter(
        Student.courses.some(Course.title == "Algebra")).find()] == ["ann"]


# -- subqueries, rendered in the outer statement ----------------------------------------------

def test_a_query_in_in_stands_for_its_keys_in_one_statement(blog, sql_log):
    sql_log.clear()
    found = posts(Post.title != "a1",
                  Post.author.in_(User.query().filter(User.username.like("a%"))),
                  Post.title != "a2")
    assert found == ["a3"]
    [select] = sent(sql_log)
    assert "IN (SELECT" in select.sql
    assert list(select.params) == ["a1", "a%", "a2"]   # in the order the SQL names them
    assert posts(Post.author.not_in(User.query().filter(username="ada"))) == ["b1", "b2", "c1"]
    assert posts(Post.author.in_(User.query().filter(User.username.in_(["bob", "cyd"])))) == [
        "b1", "b2", "c1"]
    # a reference that is NULL is in no set and outside none, as in SQL
    assert posts(Post.reviewer.not_in(User.query().filter(username="bob"))) == ["b2"]


def test_column_gives_one_field_as_a_subquery(blog, sql_log):
    sql_log.clear()
    assert users(User.id.in_(Post.query().filter(published=False).column("author"))) == [
        "ada", "bob"]
    assert len(sent(sql_log)) == 1
    # NULLs are left out of the values: not_in() is not emptied by them
    assert users(User.id.not_in(Post.query().column("reviewer"))) == ["cyd", "dan"]
    assert users(User.id.not_in(Post.query().column(Post.reviewer))) == ["cyd", "dan"]
    # a path as the column
    assert posts(Post.title.in_(Comment.query().filter(text="great").column("post.title"))) == [
        "b1"]
    assert users(User.username.in_(Comment.query().column(Comment.post.reviewer.username))) == [
        "bob"]
    # a paged query: its page, whatever the backend allows inside IN
    assert posts(Post.id.in_(Post.query().order_by("-id").limit(2).column("id"))) == [
        "b2", "c1"]
    assert posts(Post.id.not_in(Post.query().order_by("author.username").skip(2)
                                .limit(3).column("id"))) == ["a1", "a2", "c1"]


def test_an_aggregate_of_a_column_is_one_value(blog, sql_log):
    sql_log.clear()
    assert posts(Post.id == Post.query().filter(Post.author.username == "ada")
                 .column("id").max()) == ["a3"]
    [select] = sent(sql_log)
    assert select.sql.count("SELECT") == 2 and "MAX(" in select.sql
    assert list(select.params) == ["ada"]
    assert posts(Post.id > Post.query().column("id").avg()) == ["a3", "b2", "c1"]   # 3.5
    assert posts(Post.id <= Post.query().filter(published=False).column("id").count()) == [
        "a1", "a2"]
    assert posts(Post.id < Post.query().filter(published=True).column("id").min()) == []
    assert posts(Post.id == Post.query().filter(Post.id < 3).column("id").sum()) == ["b1"]
    assert users(User.username == Post.query().column("author.username").min()) == ["ada"]
    # of a page: the aggregate of its rows
    assert posts(Post.id == Post.query().order_by("-id").limit(3).column("id").min()) == ["a3"]


def test_a_one_row_query_compares_as_a_value(blog):
    cyd_query = User.query().filter(username="cyd").limit(1)
    assert posts(Post.author == cyd_query) == ["c1"]
    assert posts(author=cyd_query) == ["c1"]
    assert posts(Post.title == Post.query().order_by("-id").limit(1).column("title")) == ["c1"]


def test_subqueries_inside_relation_filters_and_joins(blog, sql_log):
    assert users(User.posts.some(Post.id.in_(Comment.query().filter(text="ok").column("post")))) \
        == ["ada"]
    sql_log.clear()
    found = (User.query().use_join_with("posts")
             .filter(Post.id.in_(Comment.query().column("post"))).end().order_by("id").find())
    assert [(u.username, [p.title for p in u.posts]) for u in found] == [
        ("ada", ["a1", "a3"]), ("bob", ["b1"]), ("cyd", []), ("dan", [])]
    assert len(sent(sql_log)) == 2
    # a subquery holding a path and a relation filter of its own
    inner = User.query().filter(User.posts.some(Post.reviewer.username == "ada"))
    assert texts(Comment.query().filter(Comment.author.in_(inner)).order_by("id")) == [
        "nice", "ok"]


def test_subqueries_in_count_exists_patch_and_delete(blog, sql_log):
    bobs = Post.query().filter(Post.author.in_(User.query().filter(username="bob")))
    sql_log.clear()
    assert bobs.count() == 2
    assert bobs.exists()
    assert bobs.ids() == [3, 5]
    assert len(sent(sql_log)) == 3
    assert bobs.patch_many(title="bob's") == 2
    assert posts(Post.title == "bob's") == ["bob's", "bob's"]
    on_bobs = Comment.query().filter(Comment.post.in_(bobs))
    assert on_bobs.delete_many() == 1
    assert texts(Comment.query().order_by("id")) == ["nice", "meh", "ok", "thanks"]


def test_subquery_errors(blog):
    with pytest.raises(QueryError, match="must give one value"):
        Post.id == Post.query().column("id")
    with pytest.raises(QueryError, match="must give one value"):
        Post.author == User.query().filter(username="cyd")
    with pytest.raises(QueryError, match=r"stands for its User keys.*column"):
        Post.title.in_(User.query())
    with pytest.raises(ValidationError, match=r"Post\.title \(str\) cannot be compared"):
        Post.title.in_(Post.query().column("id"))
    with pytest.raises(QueryError, match="not a number field"):
        Post.query().column("title").sum()
    with pytest.raises(QueryError, match=r"column\(\): Post has no field 'nope'"):
        Post.query().column("nope")
    with pytest.raises(QueryError, match="some\\("):
        User.query().column("posts.title")
    with pytest.raises(QueryError, match="one column"):
        User.query()._as_subquery().max()
