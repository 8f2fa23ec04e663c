"""Query.iterate(batch_size): a query's objects in batches through a
server-side cursor (PostgreSQL, MySQL/MariaDB) or fetchmany (SQLite), joined
relations loaded per batch in one SELECT each, memory flat however many rows;
and db.raw(Model, sql, params): raw SELECTs hydrated through the identity map.

Statement counts come from the log; the memory test compares tracemalloc
peaks of streams of 10,000 and 100,000 rows."""
from __future__ import annotations

import gc
import tracemalloc
from typing import Annotated

import pytest

from activerel import (ActiverelError, AutoIncrement, BackReference, FieldNotLoaded, Model,
                       PrimaryKey, QueryError, Reference, inspect)
from activerel.loading.stream import release
from tests.models import Comment, Post, User
from tests.support import touches


class Tick(Model, table="stream_ticks"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    n: int = 0


class Box(Model, table="stream_boxes"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    n: int = 0
    items: Annotated[list["Thing"], BackReference(mapped_by="box")]


class Thing(Model, table="stream_things"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    box: Reference[Box]
    n: int = 0


def selects(sql_log, table):
    return [s for s in sql_log.statements
            if s.lstrip().upper().startswith("SELECT") and touches(s.split(" WHERE ")[0], table)]


def blog(db, users=25):
    """``users`` users u0.. with i % 3 posts each, every post one comment by its author."""
    with db.session():
        for i in range(users):
            u = User(username=f"u{i:02d}")
            for j in range(i % 3):
                p = Post(author=u, title=f"p{i}.{j}")
                p.comments.append(Comment(post=p, author=u, text=f"c{i}.{j}"))
                u.posts.append(p)
            u.persist()


# -- batches and their statements -------------------------------------------------------

def test_iterate_yields_every_object_in_order_with_its_relations_per_batch(db, sql_log):
    blog(db)
    sql_log.clear()
    seen = []
    for u in User.query().join_with("posts.comments").order_by("username").iterate(batch_size=10):
        seen.append((u.username, [p.title for p in u.posts],
                     [c.text for p in u.posts for c in p.comments]))
    assert seen == [(f"u{i:02d}", [f"p{i}.{j}" for j in range(i % 3)],
                     [f"c{i}.{j}" for j in range(i % 3)]) for i in range(25)]
    # one SELECT of the users, then per batch of 10 (3 batches) one per joined relation
    assert len(selects(sql_log, "users")) == 1
    assert len(selects(sql_log, "posts")) == 3
    assert len(selects(sql_log, "comments")) == 3


def test_to_one_joins_are_loaded_per_batch_too(db, sql_log):
    blog(db)
    sql_log.clear()
    titles = [(p.title, p.author.username)
              for p in Post.query().join_with("author").order_by("id").iterate(batch_size=7)]
    assert len(titles) == 24 and titles[0] == ("p1.0", "u01") and titles[-1] == ("p23.1", "u23")
    assert len(selects(sql_log, "posts")) == 1
    assert len(selects(sql_log, "users")) == 4  # ceil(24 / 7) batches


def test_relation_aggregates_are_loaded_per_batch(db, sql_log):
    blog(db)
    sql_log.clear()
    counts = [(u.username, u.posts_count)
              for u in User.query().with_count("posts").order_by("username").iterate(batch_size=10)]
    assert counts == [(f"u{i:02d}", i % 3) for i in range(25)]
    assert len(selects(sql_log, "users")) == 1
    assert len([s for s in sql_log.statements if s.upper().startswith("SELECT")]) == 1 + 3


def test_grouped_queries_give_no_objects(db):
    with pytest.raises(QueryError, match="group_by"):
        User.query().group_by("username").iterate()


def test_filter_order_limit_and_select_apply(db):
    blog(db)
    got = [(u.username,) for u in User.query().filter(User.username >= "u10").order_by("-username")
           .skip(2).limit(5).select("username").iterate(batch_size=2)]
    assert got == [("u22",), ("u21",), ("u20",), ("u19",), ("u18",)]
    u = next(iter(User.query().select("username").iterate()))
    with pytest.raises(FieldNotLoaded):
        u.created  # noqa: B018


def test_batch_size_is_checked():
    for bad in (0, -1, 2.5, True, "10"):
        with pytest.raises(QueryError, match="batch_size"):
            User.query().iterate(batch_size=bad)  # type: ignore[arg-type]


# -- the identity map and the session -----------------------------------------------------

def test_a_finished_batch_leaves_the_identity_map_and_loaded_objects_stay(db):
    blog(db)
    with db.session() as s:
        kept = User.query().filter(username="u03").find_one()
        for u in User.query().join_with("posts").order_by("username").iterate(batch_size=10):
            if u.username == "u03":
                assert u is kept  # one row, one object, as any query
            sizes = {m.name: len(objs) for m, objs in s.identity.maps.items()}
            # never more than the batch (and the object loaded before)
            assert sizes.get("User", 0) <= 11 and sizes.get("Post", 0) <= 20
        # the last batch went too when the stream ended; u03, loaded before, stayed
        assert list(s.identity.maps[User.__ar_mapper__].values()) == [kept]
        assert not s.identity.maps[Post.__ar_mapper__]


def test_changes_made_in_the_loop_are_flushed_at_each_batch(db, sql_log):
    blog(db)
    sql_log.clear()
    with db.session() as s:
        for u in User.query().order_by("username").iterate(batch_size=10):
            u.username = u.username.upper()
        # three batches: two flushed at their boundaries, the last at the end of the stream
        assert sum(1 for st in sql_log.statements if st.upper().startswith("UPDATE")) == 3
        assert not s.dirty
    assert db.execute("SELECT username FROM users ORDER BY id")[:2] == [("U00",), ("U01",)]


def test_release_keeps_objects_with_unsaved_changes(db):
    blog(db, users=4)
    with db.session() as s:
        marks: dict = {}
        users = User.query().order_by("username").find()
        users[1].username = "changed"
        new = User(username="new")
        s.persist(new)
        assert release(s, marks) == 3
        assert list(s.identity.maps[User.__ar_mapper__].values()) == [users[1]]
    assert db.execute("SELECT COUNT(*) FROM users WHERE username IN ('changed', 'new')") == [(2,)]


def test_outside_a_session_the_stream_has_its_own_which_commits_at_the_end(db):
    blog(db, users=6)
    for u in User.query().order_by("username").iterate(batch_size=4):
        u.username = u.username + "!"
    assert db.execute("SELECT COUNT(*) FROM users WHERE username LIKE '%!'") == [(6,)]
    for u in User.query().order_by("username").iterate(batch_size=4):
        u.username = "x" + u.username
        if u.username == "xu02!":
            break  # leaving early ends the stream too: what it changed is committed
    assert [r[0] for r in db.execute("SELECT username FROM users ORDER BY id")] == [
        "xu00!", "xu01!", "xu02!", "u03!", "u04!", "u05!"]


def test_statements_in_the_loop_do_not_break_the_stream(db):
    blog(db)
    out = []
    with db.session():
        for u in User.query().order_by("username").iterate(batch_size=4):
            n = Post.query().filter(author=u).count()
            if n:
                Post(author=u, title=f"extra for {u.username}").persist()
            out.append((u.username, n))
    assert out == [(f"u{i:02d}", i % 3) for i in range(25)]
    assert db.execute("SELECT COUNT(*) FROM posts WHERE title LIKE 'extra%'") == [(16,)]


def test_a_stream_sees_what_its_session_wrote_before_it(db):
    blog(db, users=3)
    with db.session() as s:
        User(username="zz").persist()
        Post.query().filter(title="p1.0").patch_many(title="renamed")
        s.flush()
        names = [u.username for u in User.query().order_by("username").iterate(batch_size=2)]
        titles = [p.title for p in Post.query().order_by("id").iterate(batch_size=2)]
    assert names == ["u00", "u01", "u02", "zz"]
    assert titles == ["renamed", "p2.0", "p2.1"]


def test_a_commit_during_the_stream_ends_it(db):
    blog(db, users=6)
    with db.session() as s:
        it = User.query().order_by("username").iterate(batch_size=2)
        assert next(it).username == "u00"
        s.commit()
        with pytest.raises(ActiverelError, match="ended"):
            list(it)


def test_a_locking_stream_reads_on_the_sessions_own_connection(db):
    blog(db, users=5)
    with db.session(write=True):
        names = [u.username for u in User.query().order_by("username").for_update()
                 .iterate(batch_size=2)]
    assert names == ["u00", "u01", "u02", "u03", "u04"]


def test_the_cursor_is_closed_when_the_stream_is_left(db):
    blog(db, users=6)
    with db.session() as s:
        for u in User.query().order_by("username").iterate(batch_size=2):
            break
        assert s.connection._streams == []
        assert User.query().count() == 6  # the connection still serves the session


# -- memory --------------------------------------------------------------------------------

def _fill(database, model, count):
    table = model.__ar_mapper__.table
    with database.session() as s:
        for start in range(0, count, 1000):
            n = min(1000, count - start)
            s.execute(database.dialect.raw_sql(
                f"INSERT INTO {table} (n) VALUES " + ",".join(["(?)"] * n)), list(range(n)))


def _peak(query, expect):
    gc.collect()
    tracemalloc.start()
    try:
        seen = 0
        for _ in query.iterate(batch_size=1000):
            seen += 1
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        assert seen == expect


def test_memory_stays_flat_however_many_rows(make_db):
    database = make_db([Tick])
    _fill(database, Tick, 100_000)
    _peak(Tick.query().limit(2_000), 2_000)  # generated code, caches, the connection
    small = _peak(Tick.query().limit(10_000), 10_000)
    large = _peak(Tick.query(), 100_000)
    assert large < 2 * small, (small, large)


def test_memory_stays_flat_with_a_joined_relation(make_db):
    database = make_db([Box, Thing])
    _fill(database, Box, 20_000)
    database.execute("INSERT INTO stream_things (box_id, n) SELECT id, n FROM stream_boxes")
    query = Box.query().join_with("items")
    _peak(query.limit(1_000), 1_000)
    small = _peak(query.limit(2_000), 2_000)
    large = _peak(query, 20_000)
    assert large < 2 * small, (small, large)
    box = next(iter(Box.query().join_with("items").order_by("id").iterate()))
    assert [t.n for t in box.items] == [0]


# -- raw SQL into models --------------------------------------------------------------------

def test_raw_hydrates_models_with_question_mark_placeholders(db):
    blog(db, users=4)
    users = db.raw(User, "SELECT id, username, created FROM users WHERE username IN (?, ?) "
                         "ORDER BY username DESC", ["u01", "u03"])
    assert [(type(u), u.username) for u in users] == [(User, "u03"), (User, "u01")]
    assert inspect(users[0]).is_persistent and users[0].created.year == 2024


def test_raw_goes_through_the_identity_map(db):
    blog(db, users=4)
    with db.session() as s:
        loaded = User.query().filter(username="u01").find_one()
        loaded.created = loaded.created.replace(year=1999)  # unsaved: kept
        (raw,) = s.raw(User, "SELECT * FROM users WHERE username = ?", ["u01"])
        assert raw is loaded and loaded.created.year == 1999
        posts = db.raw(Post, "SELECT id, title, author_id FROM posts WHERE author_id = ?",
                       [loaded.id])
        assert [p.title for p in posts] == ["p1.0"] and posts[0].author is loaded


def test_raw_leaves_out_what_the_result_leaves_out(db):
    blog(db, users=2)
    (u,) = db.raw(User, "SELECT username, id FROM users WHERE username = ?", ["u01"])
    assert u.username == "u01"
    with pytest.raises(FieldNotLoaded, match="created"):
        u.created  # noqa: B018


def test_raw_refuses_columns_the_model_does_not_have(db):
    blog(db, users=2)
    with pytest.raises(QueryError, match="'shout' is not a column of User"):
        db.raw(User, "SELECT id, upper(username) AS shout FROM users")
    with pytest.raises(QueryError, match="primary key column"):
        db.raw(User, "SELECT username FROM users")
    with pytest.raises(QueryError, match="twice"):
        db.raw(User, "SELECT id, username, username FROM users")
    with pytest.raises(QueryError, match="no rows at all"):
        db.raw(User, "UPDATE users SET username = username WHERE id = ?", [0])


def test_raw_flushes_pending_changes_first(db):
    with db.session() as s:
        User(username="pending").persist()
        assert [u.username for u in s.raw(User, "SELECT id, username FROM users")] == ["pending"]



def test_a_stream_sees_what_its_session_just_inserted(make_db):
    """The session's own uncommitted rows are in the stream on every backend
    (MySQL streams on a connection of its own only when nothing was written)."""
    database = make_db([Tick])
    database.persist(Tick(n=1))
    with database.session():
        Tick(n=5).persist()
        assert [t.n for t in Tick.query().order_by("id").iterate(batch_size=10)] == [1, 5]
