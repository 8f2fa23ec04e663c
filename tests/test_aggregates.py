"""Aggregates, groups, distinct values, relation aggregates, first() and sql().

Every test runs on SQLite, PostgreSQL and MySQL/MariaDB (``make_db``), with
exact expected values: an aggregate of a field comes back as the field's
Python type on every backend (an int sum, a Decimal sum, a datetime max),
an average as the exact quotient of the sum and the count. Relation
aggregates loaded onto objects cost one SELECT each, whatever else the query
loads (``sql_log`` counts them)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, NamedTuple, Optional

import pytest

from activerel import (AutoIncrement, BackReference, Model, PrimaryKey, QueryError, Reference,
                       ValidationError, agg, inspect)
from tests.models import Category


class AgAuthor(Model, table="ag_authors"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str
    books: Annotated[list["AgBook"], BackReference(mapped_by="author")]
    edited: Annotated[list["AgBook"], BackReference(mapped_by="editor")]
    clubs: Annotated[list["AgClub"], BackReference(via="AgMembership")]


class AgBook(Model, table="ag_books"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    author: Annotated[AgAuthor, Reference(on_delete="CASCADE")]
    editor: Annotated[Optional[AgAuthor], Reference(on_delete="SET NULL")] = None
    title: str
    pages: int
    price: Decimal
    rating: float
    published: datetime
    day: date
    draft: bool = False


class AgClub(Model, table="ag_clubs"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str
    members: Annotated[list[AgAuthor], BackReference(via="AgMembership")]


class AgMembership(Model, table="ag_memberships"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    author: Annotated[AgAuthor, Reference(on_delete="CASCADE")]
    club: Annotated[AgClub, Reference(on_delete="CASCADE")]


class AgPal(Model, table="ag_pals"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str
    friends: Annotated[list["AgPal"], BackReference(via="AgFriendship", symmetric=True)]


class AgFriendship(Model, table="ag_friendships"):
    a: Annotated[AgPal, PrimaryKey, Reference(on_delete="CASCADE")]
    b: Annotated[AgPal, PrimaryKey, Reference(on_delete="CASCADE")]


class AgShelf(Model, table="ag_shelves"):
    """A composite primary key on the parent side of a relation."""
    room: Annotated[str, PrimaryKey]
    number: Annotated[int, PrimaryKey]
    slots: Annotated[list["AgSlot"], BackReference(mapped_by="shelf")]


class AgSlot(Model, table="ag_slots"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    shelf: Annotated[AgShelf, Reference(on_delete="CASCADE")]
    width: int = 1


MODELS = [AgAuthor, AgBook, AgClub, AgMembership, AgPal, AgFriendship, AgShelf, AgSlot]

BOOKS = [  # author, title, pages, price, rating, published, draft
    ("ada", "a1", 100, "10.10", 4.5, datetime(2024, 1, 2, 10, 0, 0, 123456), False),
    ("ada", "a2", 250, "0.20", 3.0, datetime(2024, 3, 5, 8, 30), True),
    ("ada", "a3", 50, "5.00", 5.0, datetime(2023, 12, 31, 23, 59, 59), False),
    ("bob", "b1", 300, "12.25", 2.5, datetime(2024, 2, 10, 12, 0), False),
    ("bob", "b2", 120, "0.10", 4.0, datetime(2024, 6, 1), True),
    ("cyd", "c1", 80, "7.77", 3.5, datetime(2022, 5, 5, 5, 5, 5), False),
]


@pytest.fixture
def lib(make_db):
    """Four authors (dan has no books), six books (bob edits two of ada's),
    two clubs."""
    db = make_db(MODELS)
    authors = {n: AgAuthor(name=n) for n in ("ada", "bob", "cyd", "dan")}
    db.persist(*authors.values())
    books = [AgBook(author=authors[a], title=t, pages=p, price=Decimal(pr), rating=r, published=pub,
                    day=pub.date(), draft=d) for a, t, p, pr, r, pub, d in BOOKS]
    books[0].editor = books[1].editor = authors["bob"]
    db.persist(*books)
    readers, poets = AgClub(name="readers"), AgClub(name="poets")
    readers.members.extend([authors["ada"], authors["bob"], authors["cyd"]])
    poets.members.append(authors["ada"])
    db.persist(readers, poets)
    db.ids = {n: a.id for n, a in authors.items()}
    return db


def names(objs):
    return [o.name for o in objs]


# -- aggregates over a query's rows ------------------------------------------------

def test_sum_avg_min_max_give_the_fields_types(lib):
    q = AgBook.query()
    assert q.count() == 6
    total = q.sum("pages")
    assert total == 900 and type(total) is int
    assert q.avg("pages") == 150.0 and type(q.avg("pages")) is float
    assert q.sum(AgBook.price) == Decimal("35.42") and type(q.sum("price")) is Decimal
    assert q.avg("price") == Decimal("35.42") / 6 and type(q.avg("price")) is Decimal
    assert q.sum("rating") == 22.5 and q.avg("rating") == 3.75
    assert q.min("price") == Decimal("0.10") and q.max("price") == Decimal("12.25")
    first, last = q.min("published"), q.max("published")
    assert (first, last) == (datetime(2022, 5, 5, 5, 5, 5), datetime(2024, 6, 1))
    assert type(first) is datetime and type(last) is datetime
    assert (q.min("day"), q.max("day")) == (date(2022, 5, 5), date(2024, 6, 1))
    assert type(q.min("day")) is date
    assert (q.min("title"), q.max("title")) == ("a1", "c1")
    assert (q.min("pages"), q.max("pages")) == (50, 300)


def test_a_decimal_sum_is_exact_on_every_backend(lib):
    # 0.10 + 0.20 in binary floating point is 0.30000000000000004
    tenths = AgBook.query().filter(AgBook.price.in_([Decimal("0.10"), Decimal("0.20")]))
    assert tenths.sum("price") == Decimal("0.30")
    assert tenths.avg("price") == Decimal("0.15")


def test_aggregates_over_no_rows_are_none(lib):
    none = AgBook.query().filter(AgBook.pages > 1000)
    assert none.count() == 0
    assert [none.sum("pages"), none.avg("pages"), none.min("published"), none.max("price")] == [
        None, None, None, None]


def test_filters_limit_and_skip_apply(lib):
    assert AgBook.query().filter(draft=False).sum("pages") == 530
    assert AgBook.query().filter(AgBook.author.name == "ada").sum("pages") == 400
    biggest = AgBook.query().order_by("-pages")
    assert biggest.limit(2).sum("pages") == 550
    assert biggest.limit(2).avg("pages") == 275.0
    assert biggest.skip(1).limit(2).sum("pages") == 370
    assert biggest.skip(4).sum("pages") == 130
    assert biggest.skip(4).max("title") == "c1"


def test_aggregate_without_group_by_is_one_row(lib):
    [row] = AgBook.query().filter(draft=False).aggregate(
        n=agg.count(), edited=agg.count("editor"), authors=agg.count("author", distinct=True),
        pages=agg.sum("pages"), cheapest=agg.min("price"))
    assert row == (4, 1, 3, 530, Decimal("5.00"))
    assert row._fields == ("n", "edited", "authors", "pages", "cheapest")
    [empty] = AgBook.query().filter(AgBook.pages > 1000).aggregate(n=agg.count(), p=agg.sum("pages"))
    assert empty == (0, None)


def test_aggregate_functions_check_their_field(lib):
    with pytest.raises(QueryError, match=r"sum\(\) of AgBook.title \(str\)"):
        AgBook.query().sum("title")
    with pytest.raises(QueryError, match=r"max\(\) of AgBook.draft \(bool\)"):
        AgBook.query().max("draft")
    with pytest.raises(QueryError, match="AgBook has no field 'nope'"):
        AgBook.query().min("nope")
    with pytest.raises(QueryError, match="AgAuthor.name is not a field of AgBook"):
        AgBook.query().max(AgAuthor.name)
    with pytest.raises(QueryError, match="distinct values of a field: name it"):
        agg.count(distinct=True)
    with pytest.raises(QueryError, match="takes a condition"):
        agg.count(condition="draft")  # type: ignore[arg-type]


# -- group_by / having ----------------------------------------------------------------

def test_group_by_gives_a_named_tuple_per_group(lib):
    ada, bob, cyd = (lib.ids[n] for n in ("ada", "bob", "cyd"))
    rows = AgBook.query().group_by("author").aggregate(
        n=agg.count(), pages=agg.sum("pages"), last=agg.max("published"),
        rating=agg.avg("rating"), drafts=agg.count(condition=AgBook.draft == True))
    assert rows == [
        (ada, 3, 400, datetime(2024, 3, 5, 8, 30), 12.5 / 3, 1),
        (bob, 2, 420, datetime(2024, 6, 1), 3.25, 1),
        (cyd, 1, 80, datetime(2022, 5, 5, 5, 5, 5), 3.5, 0),
    ]
    assert rows[0].author == ada and rows[0].last == datetime(2024, 3, 5, 8, 30)
    assert rows[1]._asdict() == {"author": bob, "n": 2, "pages": 420, "last": datetime(2024, 6, 1),
                                 "rating": 3.25, "drafts": 1}


def test_having_order_and_paging_of_groups(lib):
    ada, bob, cyd = (lib.ids[n] for n in ("ada", "bob", "cyd"))
    by_author = AgBook.query().group_by(AgBook.author)
    assert by_author.having(agg.count() >= 2).aggregate(n=agg.count()) == [(ada, 3), (bob, 2)]
    assert by_author.having(agg.sum("pages") > 400).aggregate(n=agg.count()) == [(bob, 2)]
    assert by_author.having((agg.max("price") < Decimal("10")) | (agg.count() == 2)).aggregate(
        n=agg.count()) == [(bob, 2), (cyd, 1)]
    assert by_author.having(agg.max("published") > datetime(2024, 3, 1)).aggregate() == [(ada,), (bob,)]
    assert by_author.having(agg.sum("price") > Decimal("12.3")).aggregate() == [(ada,), (bob,)]
    assert by_author.having(agg.avg("rating") < 3.5).aggregate() == [(bob,)]
    assert by_author.having(agg.min(AgBook.title) == "c1").aggregate() == [(cyd,)]
    with pytest.raises(ValidationError, match="compares with values of AgBook.published"):
        by_author.having(agg.max("published") > date(2024, 3, 1))
    heavy = by_author.order_by(agg.sum("pages").desc())
    assert heavy.aggregate(p=agg.sum("pages")) == [(bob, 420), (ada, 400), (cyd, 80)]
    assert heavy.skip(1).limit(1).aggregate(p=agg.sum("pages")) == [(ada, 400)]
    assert by_author.order_by("-author").aggregate() == [(cyd,), (bob,), (ada,)]
    # count() of a grouped query counts groups
    assert by_author.count() == 3
    assert by_author.having(agg.count() >= 2).count() == 2
    assert by_author.filter(draft=True).count() == 2
    assert heavy.limit(2).count() == 2


def test_group_by_several_fields_and_a_bool(lib):
    rows = AgBook.query().group_by("draft").aggregate(n=agg.count(), pages=agg.sum("pages"))
    assert rows == [(False, 4, 530), (True, 2, 370)]
    assert type(rows[0].draft) is bool
    ada, bob = lib.ids["ada"], lib.ids["bob"]
    rows = AgBook.query().filter(AgBook.author.name != "cyd").group_by("author", "draft").aggregate(
        n=agg.count())
    assert rows == [(ada, False, 2), (ada, True, 1), (bob, False, 1), (bob, True, 1)]
    # a nullable reference: NULL is a group of its own, read as None
    rows = AgBook.query().group_by("editor").aggregate(n=agg.count())
    assert sorted(rows, key=lambda r: (r.editor is not None, r.editor)) == [(None, 4), (bob, 2)]


class AuthorStats(NamedTuple):
    author: int
    n: int
    last: datetime


class Draft(NamedTuple):
    draft: bool


@dataclass
class DraftCount:
    draft: bool
    n: int


def test_rows_as_a_class_of_ones_own(lib):
    rows = AgBook.query().group_by("author").aggregate(AuthorStats, n=agg.count(),
                                                       last=agg.max("published"))
    assert rows[0] == AuthorStats(lib.ids["ada"], 3, datetime(2024, 3, 5, 8, 30))
    assert isinstance(rows[0], AuthorStats)
    assert AgBook.query().group_by("draft").aggregate(DraftCount, n=agg.count()) == [
        DraftCount(False, 4), DraftCount(True, 2)]


def test_a_grouped_query_returns_rows_not_objects(lib):
    grouped = AgBook.query().group_by("author")
    for terminal in (grouped.find, grouped.first, grouped.exists, grouped.ids, grouped.delete_many):
        with pytest.raises(QueryError, match="group_by"):
            terminal()
    with pytest.raises(QueryError, match="aggregate"):
        grouped.sum("pages")
    with pytest.raises(QueryError, match="having"):
        AgBook.query().having(agg.count() > 1).aggregate(n=agg.count())
    with pytest.raises(QueryError, match="order by a group field or an aggregate"):
        grouped.order_by("title").aggregate(n=agg.count())
    with pytest.raises(QueryError, match="grouped query"):
        AgBook.query().order_by(agg.count()).find()
    with pytest.raises(QueryError, match="both a group field and an aggregate"):
        grouped.aggregate(author=agg.count())
    with pytest.raises(QueryError, match="AgBook has no field 'nope'"):
        AgBook.query().group_by("nope")
    with pytest.raises(QueryError, match="back reference"):
        AgAuthor.query().group_by("books")
    with pytest.raises(ValidationError):
        agg.count() >= "two"
    assert AgBook.query().count() == 6  # nothing was deleted


# -- values() and distinct() --------------------------------------------------------

def test_values_and_distinct_values(lib):
    ada, bob, cyd = (lib.ids[n] for n in ("ada", "bob", "cyd"))
    assert AgBook.query().values("title") == [("a1",), ("a2",), ("a3",), ("b1",), ("b2",), ("c1",)]
    rows = AgBook.query().order_by("-pages").limit(2).values("title", AgBook.author, "price")
    assert rows == [("b1", bob, Decimal("12.25")), ("a2", ada, Decimal("0.20"))]
    assert rows[0].author == bob and rows[0]._fields == ("title", "author", "price")
    assert AgBook.query().values("author") == [(ada,), (ada,), (ada,), (bob,), (bob,), (cyd,)]
    assert AgBook.query().distinct().values("author") == [(ada,), (bob,), (cyd,)]
    assert AgBook.query().distinct().order_by("-author").values("author") == [(cyd,), (bob,), (ada,)]
    assert AgBook.query().distinct().values("author", "draft") == [
        (ada, False), (ada, True), (bob, False), (bob, True), (cyd, False)]
    assert AgBook.query().distinct().limit(2).skip(1).values("draft") == [(True,)]
    whole = AgAuthor.query().filter(name="ada").values()
    assert whole == [(ada, "ada")] and whole[0]._fields == ("id", "name")
    assert AgBook.query().distinct().values(Draft, "draft") == [Draft(False), Draft(True)]
    with pytest.raises(QueryError, match="order_by\\('title'\\) is not among them"):
        AgBook.query().distinct().order_by("title").values("author")
    # objects are distinct by key anyway
    assert AgBook.query().distinct().count() == 6 and len(AgBook.query().distinct().find()) == 6


# -- relation aggregates loaded onto objects -------------------------------------------

def test_relation_aggregates_load_with_one_select_each(lib, sql_log):
    sql_log.clear()
    authors = (AgAuthor.query()
               .with_count("books")
               .with_count("books", AgBook.draft == True, name="drafts")
               .with_sum("books", "pages")
               .with_avg("books", AgBook.rating)
               .with_min("books", "published")
               .with_max("books", "price")
               .order_by("id").find())
    assert sql_log.count("SELECT") == 7
    got = [(a.name, a.books_count, a.drafts, a.books_sum_pages, a.books_avg_rating,
            a.books_min_published, a.books_max_price) for a in authors]
    assert got == [
        ("ada", 3, 1, 400, 12.5 / 3, datetime(2023, 12, 31, 23, 59, 59), Decimal("10.10")),
        ("bob", 2, 1, 420, 3.25, datetime(2024, 2, 10, 12, 0), Decimal("12.25")),
        ("cyd", 1, 0, 80, 3.5, datetime(2022, 5, 5, 5, 5, 5), Decimal("7.77")),
        ("dan", 0, 0, None, None, None, None),
    ]
    assert type(authors[0].books_min_published) is datetime
    assert type(authors[0].books_max_price) is Decimal and type(authors[0].books_sum_pages) is int


def test_relation_aggregates_with_joins_and_per_parent_limits(lib, sql_log):
    sql_log.clear()
    authors = (AgAuthor.query()
               .with_count("books")
               .use_join_with("books").order_by("-pages").limit(2).end()
               .join_with("clubs")
               .with_max("books", "pages", name="longest")
               .filter(AgAuthor.name != "cyd")
               .order_by("name").find())
    # the authors, their first two books, their clubs: k + 1 = 3; two aggregates: 5
    assert sql_log.count("SELECT") == 5
    assert [(a.name, a.books_count, [b.title for b in a.books], names(a.clubs), a.longest)
            for a in authors] == [
        ("ada", 3, ["a2", "a1"], ["readers", "poets"], 250),
        ("bob", 2, ["b1", "b2"], ["readers"], 300),
        ("dan", 0, [], [], None),
    ]
    sql_log.clear()
    ada = AgAuthor.query().filter(name="ada").with_count("books").join_with("books").first()
    assert sql_log.count("SELECT") == 3
    assert ada is not None and ada.books_count == len(ada.books) == 3


def test_relation_aggregates_through_a_pivot_and_a_symmetric_relation(lib, make_db, sql_log):
    clubs = AgClub.query().with_count("members").with_min("members", "name").order_by("id").find()
    assert [(c.name, c.members_count, c.members_min_name) for c in clubs] == [
        ("readers", 3, "ada"), ("poets", 1, "ada")]
    authors = AgAuthor.query().with_count("clubs", AgClub.name == "poets", name="poet").order_by(
        "id").find()
    assert [(a.name, a.poet) for a in authors] == [("ada", 1), ("bob", 0), ("cyd", 0), ("dan", 0)]

    ann, ben, cat = AgPal(name="ann"), AgPal(name="ben"), AgPal(name="cat")
    ann.friends.append(ben)
    cat.friends.append(ann)      # stored as (cat, ann): counted from both sides
    lib.persist(ann, cat)
    sql_log.clear()
    pals = AgPal.query().with_count("friends").with_max("friends", "name").order_by("name").find()
    assert sql_log.count("SELECT") == 3
    assert [(p.name, p.friends_count, p.friends_max_name) for p in pals] == [
        ("ann", 2, "cat"), ("ben", 1, "ann"), ("cat", 1, "ann")]


def test_relation_aggregates_of_many_parents_and_composite_keys(lib, sql_log):
    shelves = [AgShelf(room=r, number=n) for r in ("east", "west") for n in range(40)]
    lib.persist(*shelves)
    lib.persist(*[AgSlot(shelf=s, width=w) for i, s in enumerate(shelves) for w in range(i % 3)])
    for q in (AgShelf.query(), AgShelf.query().filter(AgShelf.number >= 0)):  # whole table, key set
        sql_log.clear()
        got = q.with_count("slots").with_sum("slots", "width").order_by("room", "number").find()
        assert sql_log.count("SELECT") == 3
        assert [(s.slots_count, s.slots_sum_width) for s in got] == [
            (i % 3, [None, 0, 1][i % 3]) for i in range(80)]
    authors = [AgAuthor(name=f"x{i:03}") for i in range(100)]
    lib.persist(*authors)
    lib.persist(*[AgBook(author=a, title="t", pages=i, price=Decimal(1), rating=1.0,
                         published=datetime(2020, 1, 1), day=date(2020, 1, 1))
                  for i, a in enumerate(authors) for _ in range(i % 4)])
    sql_log.clear()
    got = AgAuthor.query().filter(AgAuthor.name.like("x%")).with_count("books").order_by("id").find()
    assert sql_log.count("SELECT") == 2
    assert [a.books_count for a in got] == [i % 4 for i in range(100)]


def test_a_loaded_aggregate_is_not_a_field(lib, sql_log):
    with lib.session():
        ada = AgAuthor.query().filter(name="ada").with_count("books").find_one()
        assert ada.books_count == 3
        assert "books_count" not in ada.to_dict()
        assert AgAuthor.query().filter(name="ada").find_one() is ada
        assert ada.books_count == 3          # the value it was last loaded with
        AgAuthor.query().with_count("books", AgBook.draft == False, name="books_count").find()
        assert ada.books_count == 2          # a later load sets it again
        ada.name = "ada lovelace"
        assert inspect(ada).changes == {"name": "ada"}
        sql_log.clear()
    updates = [s for s in sql_log.statements if s.lstrip().upper().startswith("UPDATE")]
    assert len(updates) == 1 and "books_count" not in updates[0]
    assert AgAuthor.query().filter(name="ada lovelace").count() == 1


def test_relation_aggregate_names_are_checked(lib):
    with pytest.raises(QueryError, match="'name' is not a back reference of AgAuthor"):
        AgAuthor.query().with_count("name")
    with pytest.raises(QueryError, match="AgAuthor already has 'name'"):
        AgAuthor.query().with_count("books", name="name")
    with pytest.raises(QueryError, match="AgAuthor already has 'persist'"):
        AgAuthor.query().with_count("books", name="persist")
    with pytest.raises(QueryError, match="loaded twice"):
        AgAuthor.query().with_count("books").with_count("edited", name="books_count")
    assert AgAuthor.query().with_count("books").with_count("books")._aggregates.__len__() == 1
    with pytest.raises(QueryError, match=r"sum\(\) of AgBook.title \(str\)"):
        AgAuthor.query().with_sum("books", "title")
    with pytest.raises(QueryError, match="AgAuthor.name is not a field of AgBook"):
        AgAuthor.query().with_max("books", AgAuthor.name)
    with pytest.raises(QueryError, match="AgAuthor.id is not a field of AgBook|not a field"):
        AgAuthor.query().with_count("books", AgAuthor.id > 1)


# -- filtering and ordering by relation aggregates -------------------------------------

def test_filter_by_relation_aggregates(lib, sql_log):
    def who(*conds):
        return names(AgAuthor.query().filter(*conds).order_by("id").find())

    sql_log.clear()
    assert who(AgAuthor.books.count() >= 2) == ["ada", "bob"]
    assert sql_log.count("SELECT") == 1          # a correlated subquery in the same SELECT
    assert who(AgAuthor.books.count() == 0) == ["dan"]
    assert who(AgAuthor.books.count(AgBook.draft == True) == 0) == ["cyd", "dan"]
    assert who(AgAuthor.books.sum("price") > Decimal("9.5")) == ["ada", "bob"]
    assert who(AgAuthor.books.sum("pages") <= 400) == ["ada", "cyd"]  # dan's NULL sum matches nothing
    assert who(AgAuthor.books.max("published") >= datetime(2024, 3, 1)) == ["ada", "bob"]
    assert who(AgAuthor.books.min("day") < date(2024, 1, 1)) == ["ada", "cyd"]
    assert who(AgAuthor.books.avg("rating") > 3.5) == ["ada"]
    assert who(AgAuthor.books.max("title") == None) == ["dan"]  # noqa: E711
    assert who((AgAuthor.books.count() > 1) & ~AgAuthor.clubs.some(AgClub.name == "poets")) == ["bob"]
    assert who(AgAuthor.clubs.count() >= 1, AgAuthor.edited.count() > 0) == ["bob"]
    assert AgAuthor.query().filter(AgAuthor.books.count() >= 2).count() == 2
    # the rows a relation aggregate selects, deleted in one go
    assert AgAuthor.query().filter(AgAuthor.books.count() == 0).delete_many() == 1
    assert who() == ["ada", "bob", "cyd"]
    with pytest.raises(ValidationError):
        AgAuthor.books.count() >= 1.5
    with pytest.raises(ValidationError):
        AgAuthor.books.sum("pages") > "many"
    with pytest.raises(QueryError, match="not a relation of AgBook"):
        AgBook.query().filter(AgAuthor.books.count() > 1)


def test_order_by_relation_aggregates(lib, sql_log):
    sql_log.clear()
    busiest = AgAuthor.query().order_by("-books.count", "name").find()
    assert names(busiest) == ["ada", "bob", "cyd", "dan"]
    assert sql_log.count("SELECT") == 1
    assert names(AgAuthor.query().order_by("books.count", "-name").limit(2).find()) == ["dan", "cyd"]
    some = AgAuthor.query().filter(AgAuthor.books.count() > 0)  # no NULL sums to place
    assert names(some.order_by(AgAuthor.books.sum("pages").desc()).find()) == ["bob", "ada", "cyd"]
    assert names(some.order_by("books.max.published").find()) == ["cyd", "ada", "bob"]
    assert names(some.order_by("-books.avg.rating").find()) == ["ada", "cyd", "bob"]
    assert names(AgClub.query().order_by("-members.count").find()) == ["readers", "poets"]
    # inside a joined relation: ada's clubs, the smallest first
    ada = (AgAuthor.query().filter(name="ada")
           .use_join_with("clubs").order_by("members.count").end().find_one())
    assert names(ada.clubs) == ["poets", "readers"]
    with pytest.raises(QueryError, match="over some of the related rows is not supported"):
        AgAuthor.query().order_by(AgAuthor.books.count(AgBook.draft == True).desc())
    with pytest.raises(QueryError, match='"books.count", or "books.sum.<field>"'):
        AgAuthor.query().order_by("books.total")
    with pytest.raises(QueryError, match='"books.count"'):
        AgAuthor.query().order_by("books.sum")


# -- first() and sql() ------------------------------------------------------------------

def test_first(lib, sql_log):
    assert AgBook.query().order_by("-pages").first().title == "b1"
    assert AgBook.query().first().title == "a1"                     # primary-key order
    assert AgBook.query().filter(AgBook.pages > 1000).first() is None
    sql_log.clear()
    ada = AgAuthor.query().order_by("-books.count").with_count("books").join_with("books").first()
    assert (ada.name, ada.books_count, len(ada.books)) == ("ada", 3, 3)
    selects = [s for s in sql_log.statements if s.startswith("SELECT")]
    assert len(selects) == 3 and "LIMIT 1" in selects[0].upper()


def test_sql_shows_the_statement_without_running_it(lib, sql_log):
    q = AgBook.query().filter(AgBook.pages > 100, draft=False).order_by("-pages")
    stmt = q.sql()
    assert stmt.sql.startswith("SELECT ") and "ORDER BY" in stmt.sql
    assert stmt.params == (100, False)   # as bound: 0 where a bool is stored as an int
    sql_log.clear()
    assert [b.title for b in q.find()] == ["b1"]
    [sent] = [r for r in sql_log.records if r.sql.startswith("SELECT")]
    assert (sent.sql, tuple(sent.params)) == stmt
    # nothing is sent, nothing is flushed
    with lib.session() as s:
        eve = AgAuthor(name="eve")
        s.persist(eve)
        sql_log.clear()
        grouped = AgBook.query().group_by("author").having(agg.count() >= 2)
        gsql = grouped.sql(n=agg.count())
        assert "GROUP BY" in gsql.sql and "HAVING" in gsql.sql and gsql.params == (2,)
        assert AgAuthor.query().with_count("books").join_with("books").sql().params == ()
        assert sql_log.records == [] and inspect(eve).is_new
    assert sum(1 for a in AgAuthor.query().find() if a.name == "eve") == 1
    sql_log.clear()
    assert grouped.aggregate(n=agg.count()) == [(lib.ids["ada"], 3), (lib.ids["bob"], 2)]
    assert [s for s in sql_log.statements if s.startswith("SELECT")] == [gsql.sql]


def test_relation_aggregates_of_a_model_referring_to_itself(db, sql_log):
    root = Category(name="root")
    a, b = Category(name="a", parent=root), Category(name="b", parent=root)
    a1 = Category(name="a1", parent=a)
    db.persist(root, a, b, a1)
    sql_log.clear()
    got = Category.query().order_by("-children.count", "name").with_count("children").find()
    assert [(c.name, c.children_count) for c in got] == [("root", 2), ("a", 1), ("a1", 0), ("b", 0)]
    assert sql_log.count("SELECT") == 2
    leaves = Category.query().filter(Category.children.count() == 0).order_by("name")
    assert [c.name for c in leaves.find()] == ["a1", "b"]
    assert Category.query().group_by("parent").having(agg.count() > 1).aggregate(
        n=agg.count()) == [(root.id, 2)]
