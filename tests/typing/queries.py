"""Correct application code from the docs (models, queries, sessions,
relations, aggregates, streaming), with what each expression types as
(``assert_type``: a checker error if the type differs). mypy and pyright
(basic and strict) must find no error here, and the file runs: it writes
and queries an in-memory SQLite database, and checks what it reads.

Not collected by pytest: tests/test_typing.py checks and runs this directory."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Iterator, NamedTuple, Optional

from typing_extensions import assert_type

from activerel import Database, ObjectState, Query, agg, inspect
from activerel.querying.joinquery import JoinQuery
from activerel.sql.conditions import Condition
from activerel.sql.expressions import ValueExpr
from activerel.sql.paths import PathExpr, ReferencePath, RelationPath
from tests.typing.blog import (MODELS, Category, Comment, Course, Enrollment, Group, Membership,
                               Pal, Post, Profile, User)

db = Database("sqlite://", models=MODELS)
db.migrate()

# -- constructors: required fields, defaults, references, back references -------
ada = User(username="ada", created=datetime(2023, 5, 1))
bob = User(username="bob", email="bob@example.com")
cyd = User(username="cyd", posts=[])                 # a back reference may be passed
db.persist(ada, bob, cyd)
hello = Post(author=ada, title="Hello", published=True, reviewer=bob)
draft = Post(author=ada, title="Draft", price=Decimal("1.50"))
tips = Post(author=bob, title="Tips", published=True, views=200)
db.persist(hello, draft, tips)
db.persist(Comment(post=hello, author=bob, text="Nice"), Comment(post=tips, author=ada, text="+1"))
admins = Group(name="admins")
db.persist(Membership(user=ada, group=admins, role="owner"))
Profile(user=ada, website="ada.example").persist()
books = Category(name="Books")
fiction = Category(name="Fiction", parent=books)
db.persist(fiction)
db.persist(Enrollment(student=ada, course=Course(code="CS101", title="Programming")))
pal = Pal(name="pal", friends=[Pal(name="other")])
pal.persist()

# -- what the fields of an instance are --------------------------------------------
assert_type(ada.id, int)
assert_type(ada.username, str)
assert_type(ada.email, Optional[str])
assert_type(ada.created, datetime)
assert_type(hello.author, User)
assert_type(hello.reviewer, Optional[User])
assert_type(draft.price, Decimal)
assert_type(fiction.parent, Optional[Category])
assert_type(ada.posts, list[Post])
assert_type(ada.profile, Optional[Profile])
assert_type(pal.friends, list[Pal])
assert_type(ada.groups, list[Group])
hello.reviewer = None                                # Optional: None is a value
hello.title = "Hello!"
hello.persist()
assert hello.author is ada and ada.id > 0

# -- and what they are on the class: query expressions -----------------------------
assert_type(User.id, PathExpr[int])
assert_type(User.username, PathExpr[str])
assert_type(Post.author, ReferencePath[User])
assert_type(Post.reviewer, ReferencePath[Optional[User]])
assert_type(User.posts, RelationPath[list[Post]])
assert_type(User.profile, RelationPath[Optional[Profile]])
assert_type(User.id > 1, Condition)
assert_type(Post.published == True, Condition)     # noqa: E712 - a condition, not a bool
assert_type(User.username != "x", Condition)
assert_type((User.id > 3) & ~User.username.like("a%"), Condition)
assert_type(Post.reviewer.is_null() | Post.reviewer.is_not_null(), Condition)
assert_type(User.id.in_([1, 2, 3]), Condition)
assert_type(User.created.between(datetime(2023, 1, 1), datetime(2025, 1, 1)), Condition)
assert_type(User.posts.some(Post.published == True), Condition)
assert_type(User.posts.every(Post.reviewer == bob), Condition)
assert_type(User.posts.none(), Condition)
assert_type(User.profile.is_(None), Condition)
assert_type(Post.author.is_(User.username == "bob"), Condition)
assert_type(Post.reviewer.is_not(None), Condition)
assert_type(Post.author == ada, Condition)
assert_type(Post.views + 1, ValueExpr)

# -- queries keep their model -------------------------------------------------------
assert_type(User.query(), Query[User])
assert_type(db.query(User), Query[User])
q = (User.query()
     .filter(username="ada")
     .filter(User.created >= datetime(2023, 1, 1))
     .filter((User.id > 0) & ~User.username.like("b%"))
     .filter(User.posts.some(Post.published == True))
     .join_with("posts")
     .inner_join_with("groups")
     .order_by("-created", "username")
     .limit(10)
     .skip(0))
assert_type(q, Query[User])
assert_type(q.find(), list[User])
assert [u.username for u in q.find()] == ["ada"]
assert_type(q.find_one(), User)
assert_type(q.find_one_or_none(), Optional[User])
assert_type(q.first(), Optional[User])
assert_type(q.count(), int)
assert_type(q.exists(), bool)
assert_type(q.ids(), list[Any])
assert_type(q.iterate(batch_size=100), Iterator[User])
for user in User.query().order_by("id"):
    assert_type(user, User)

shaped = User.query().use_join_with("posts")
assert_type(shaped, JoinQuery[Query[User]])
newest = (User.query()
          .use_join_with("posts")
              .filter(Post.published == True)
              .order_by("-id")
              .limit(1)
          .end()
          .order_by("username"))
assert_type(newest, Query[User])
assert [(u.username, [p.title for p in u.posts]) for u in newest.find()] == [
    ("ada", ["Hello!"]), ("bob", ["Tips"]), ("cyd", [])]
nested = (User.query()
          .use_join_with("posts").order_by("title")
              .use_join_with("comments").order_by("-id").limit(1)
                  .join_with("author")
              .end()
          .end()
          .use_inner_join_with("groups").filter(name="admins").end()
          .select("username", "posts"))
assert_type(nested, Query[User])
assert [u.username for u in nested.find()] == ["ada"]

# paths through references, subqueries and column values
by_ada = Post.query().filter(Post.author.username == "ada").order_by(Post.author.username, "id")
assert_type(by_ada, Query[Post])
assert [p.title for p in by_ada.find()] == ["Hello!", "Draft"]
assert Post.query().filter(Post.reviewer.username.is_null()).count() == 3
assert Post.query().filter(Post.author.in_(User.query().filter(username="bob"))).count() == 1
most_viewed = Post.query().filter(Post.views == Post.query().column("views").max()).find_one()
assert_type(most_viewed, Post)
assert most_viewed.title == "Tips"
assert User.query().filter(User.id.not_in(Post.query().column("author"))).count() == 1

# the model's own calls, sessions and objects
assert_type(User.get(ada.id), User)
assert_type(db.get(Post, hello.id), Post)
with db.session() as session:
    found = session.get(User, bob.id)
    assert_type(found, User)
    found.bio = "hi"
    found.persist()
assert_type(ada.reload(), User)
assert_type(inspect(ada), ObjectState)
assert_type(ada.to_dict(), dict[str, Any])
assert User.query().filter(username="bob").find_one().bio == "hi"

# aggregates, grouping and relation aggregates
assert_type(Post.query().count(), int)
rows = Post.query().group_by("author").having(agg.count() >= 1).aggregate(n=agg.count())
assert_type(rows, list[Any])


class AuthorStats(NamedTuple):
    author: int
    n: int


stats = Post.query().group_by("author").order_by("author").aggregate(AuthorStats, n=agg.count())
assert_type(stats, list[AuthorStats])
assert stats == [AuthorStats(ada.id, 2), AuthorStats(bob.id, 1)]
busy = User.query().filter(User.posts.count() >= 2).with_count("posts").find()
assert_type(busy, list[User])
assert [u.username for u in busy] == ["ada"]
assert_type(Post.query().distinct().values("author"), list[Any])

# writes through queries
assert_type(Post.query().filter(published=False).patch_many(views=Post.views + 1), int)
assert_type(Comment.query().filter(Comment.text == "+1").delete_many(), int)
for post in Post.query().join_with("comments").iterate(batch_size=2):
    assert_type(post.comments, list[Comment])
db.close()
