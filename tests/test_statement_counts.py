"""Statement counts: the unit of work is set-based.

Persisting a graph of thousands of new objects costs O(tables) multi-row
INSERTs, chunked under SQLite's bound-parameter limit, never one per row; a
cascading delete over thousands of rows costs at most one DELETE per table per
chunk.

The bound, explained. A multi-row ``INSERT INTO t (c1..ck) VALUES (...), ...``
binds k parameters per row. SQLite refuses a statement with more parameters
than its limit ``SQLITE_LIMIT_VARIABLE_NUMBER``: 999 in builds before 3.32,
32766 since, and whatever the build chose (this machine's says 250000). The
core may chunk with any limit between the most conservative, 999, and the
library's actual one. So for every table t with R_t rows and k_t columns:

* each statement into t binds at most ``limit`` parameters,
* every chunk but the last is full: #statements_t == ceil(R_t / rows_per_chunk_t),
* a chunk is never smaller than the 999 limit allows:
  rows_per_chunk_t >= min(R_t, 999 // k_t),

hence #statements_t <= ceil(R_t / (999 // k_t)), a number that does not grow
with the graph's shape, only with its size divided by ~999/k."""
from __future__ import annotations

import math
import re
import sqlite3

import pytest

from activerel import inspect
from tests.models import Comment, Post, User
from tests.support import count

CONSERVATIVE_LIMIT = 999
#: SQLITE_MAX_VARIABLE_NUMBER's default since SQLite 3.32.0: a statement binding
#: more fails on stock builds, so the core must stay under it even where the
#: local library (this machine's allows 250000) would accept more.
PORTABLE_LIMIT = 32766


def runtime_limit() -> int:
    con = sqlite3.connect(":memory:")
    try:
        return con.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    finally:
        con.close()


def param_limit(backend: str) -> int:
    """The most parameters one statement may bind on ``backend``: SQLite's
    (capped at the stock default, see PORTABLE_LIMIT); PostgreSQL's and
    MySQL's protocols count parameters in 16 bits."""
    if backend == "sqlite":
        return min(runtime_limit(), PORTABLE_LIMIT)
    return 65535




def insert_target(sql: str) -> str:
    m = re.match(r'\s*INSERT\s+INTO\s+[`"]?(\w+)[`"]?', sql, re.I)
    assert m, sql
    return m.group(1)


def insert_columns(sql: str) -> list[str]:
    head = re.split(r"\bVALUES\b", sql, maxsplit=1, flags=re.I)[0]
    m = re.search(r"\(([^)]*)\)", head)
    assert m, sql
    return [c.strip().strip('"`') for c in m.group(1).split(",")]


def value_rows(sql: str) -> int:
    tail = re.split(r"\bVALUES\b", sql, maxsplit=1, flags=re.I)[1]
    tail = re.split(r"\b(RETURNING|ON\s+CONFLICT)\b", tail, flags=re.I)[0]
    return tail.count("(")


def delete_target(sql: str) -> str:
    m = re.match(r'\s*DELETE\s+FROM\s+[`"]?(\w+)[`"]?', sql, re.I)
    assert m, sql
    return m.group(1)


def records(sql_log, verb: str):
    return [r for r in sql_log.records if r.sql.lstrip().upper().startswith(verb)]


def check_insert_batching(sql_log, expected_rows: dict[str, int],
                          backend: str) -> dict[str, int]:
    """Assert the chunking contract above; return statements per table."""
    limit = param_limit(backend)
    inserts = records(sql_log, "INSERT")
    order = [insert_target(r.sql) for r in inserts]
    # parents before children, and each table's chunks contiguous
    dedup = [t for i, t in enumerate(order) if i == 0 or order[i - 1] != t]
    assert dedup == list(expected_rows), order
    per_table = {}
    for table, rows in expected_rows.items():
        recs = [r for r in inserts if insert_target(r.sql) == table]
        cols = len(insert_columns(recs[0].sql))
        sizes = [value_rows(r.sql) for r in recs]
        assert sum(sizes) == rows, (table, sizes)
        for r, n in zip(recs, sizes):
            assert len(insert_columns(r.sql)) == cols
            assert len(list(r.params)) == n * cols, (table, n, cols)
            assert n * cols <= limit
        chunk = max(sizes)
        assert chunk >= min(rows, CONSERVATIVE_LIMIT // cols), (table, sizes)
        assert len(recs) == math.ceil(rows / chunk), (table, sizes)
        assert all(n == chunk for n in sizes[:-1]), (table, sizes)
        assert len(recs) <= math.ceil(rows / (CONSERVATIVE_LIMIT // cols))
        per_table[table] = len(recs)
    return per_table


@pytest.fixture
def big_graph():
    """500 users x 4 posts; each user's first post gets 2 comments and the
    other three 1 each, written by the next user: 500 + 2000 + 2500 = 5000."""
    users = [User(username=f"user{i:03d}") for i in range(500)]
    posts, comments = [], []
    for i, u in enumerate(users):
        nxt = users[(i + 1) % len(users)]
        for k in range(4):
            p = Post(author=u, title=f"{u.username}-p{k}", published=k % 2 == 0)
            posts.append(p)
            for c in range(2 if k == 0 else 1):
                comments.append(Comment(post=p, author=nxt, text=f"{p.title}-c{c}"))
    assert len(users) + len(posts) + len(comments) == 5000
    return users, posts, comments


def test_persisting_5000_objects_costs_o_tables_inserts(db, backend, sql_log, big_graph):
    users, posts, comments = big_graph
    sql_log.clear()
    db.persist(*users)
    per_table = check_insert_batching(
        sql_log, {"users": 500, "posts": 2000, "comments": 2500}, backend)
    assert sum(per_table.values()) == sql_log.count("INSERT")
    assert 3 <= sql_log.count("INSERT") <= 2 + 11 + 11   # see the module docstring
    assert sql_log.count("UPDATE") == 0 and sql_log.count("DELETE") == 0
    assert sql_log.count("BEGIN") == 1 and sql_log.count("COMMIT") == 1

    assert count(db, "users") == 500
    assert count(db, "posts") == 2000
    assert count(db, "comments") == 2500
    # generated keys written back onto the right objects
    assert set(db.execute('SELECT id, username FROM "users"', ())) == {
        (u.id, u.username) for u in users}
    assert set(db.execute('SELECT id, author_id, title, published FROM "posts"', ())) == {
        (p.id, p.author.id, p.title, int(p.published)) for p in posts}
    assert set(db.execute('SELECT id, post_id, author_id, text FROM "comments"', ())) == {
        (c.id, c.post.id, c.author.id, c.text) for c in comments}
    assert all(not inspect(o).is_new for o in (*users, *posts, *comments))

    # and a second persist of the now-clean graph sends nothing
    sql_log.clear()
    db.persist(*users)
    assert sql_log.statements == []


def test_one_dirty_object_among_many_costs_one_update(db, sql_log, big_graph):
    users, posts, comments = big_graph
    db.persist(*users)
    posts[1234].title = "changed"
    sql_log.clear()
    db.persist(*users)
    assert sql_log.count("UPDATE") == 1 and sql_log.count("INSERT") == 0
    assert db.execute('SELECT title FROM "posts" WHERE id = ?', (posts[1234].id,)) == [
        ("changed",)]


def test_cascading_delete_over_thousands_of_rows(db, sql_log):
    victim, other = User(username="victim"), User(username="other")
    for i in range(1500):
        p = Post(author=victim, title=f"v{i}")
        Comment(post=p, author=other, text="x")
    kept = [Post(author=other, title=f"o{i}", reviewer=victim) for i in range(10)]
    db.persist(victim, other)
    assert count(db, "posts") == 1510 and count(db, "comments") == 1500

    sql_log.clear()
    victim.delete()
    per_table: dict[str, int] = {}
    for r in records(sql_log, "DELETE"):
        t = delete_target(r.sql)
        per_table[t] = per_table.get(t, 0) + 1
    deleted_rows = {"users": 1, "posts": 1500, "comments": 1500,
                    "user_groups": 0, "user_credentials": 0}
    assert set(per_table) <= set(deleted_rows)
    assert {"users", "posts", "comments"} <= set(per_table)
    for table, n in per_table.items():
        assert n <= max(1, math.ceil(deleted_rows[table] / CONSERVATIVE_LIMIT)), (table, n)
    assert sql_log.count("DELETE") <= 1 + 2 + 2 + 1 + 1
    assert sql_log.count("UPDATE") <= 1           # SET NULL of posts.reviewer, set-based
    assert sql_log.count("SELECT") <= 20          # not one per row

    assert db.execute('SELECT username FROM "users"', ()) == [("other",)]
    assert count(db, "comments") == 0
    assert sorted(db.execute('SELECT title, author_id, reviewer_id FROM "posts"', ())) == sorted(
        (p.title, other.id, None) for p in kept)


def test_query_of_thousands_of_rows_is_one_select(db, sql_log, big_graph):
    users, _, _ = big_graph
    db.persist(*users)
    sql_log.clear()
    found = Post.query().find()
    assert len(found) == 2000
    assert sql_log.count("SELECT") == 1
    assert Comment.query().count() == 2500
    assert sql_log.count("SELECT") == 2


def test_insert_is_chunked_past_the_parameter_limit(db, backend, sql_log):
    """17,000 posts x 4 columns = 68,000 parameters: more than stock SQLite
    (32,766) or the PostgreSQL/MySQL protocols (65,535) take in one statement,
    so the posts INSERT must be split into full chunks, and the generated keys
    still land on the right objects."""
    u = User(username="prolific")
    posts = [Post(author=u, title=f"t{i:05d}", published=i % 3 == 0) for i in range(17000)]
    sql_log.clear()
    u.persist()
    per_table = check_insert_batching(sql_log, {"users": 1, "posts": 17000}, backend)
    assert per_table["posts"] >= 2
    assert count(db, "posts") == 17000
    assert set(db.execute('SELECT id, title, published FROM "posts"', ())) == {
        (p.id, p.title, int(p.published)) for p in posts}
    assert len({p.id for p in posts}) == 17000


@pytest.mark.sqlite_only
def test_cascading_delete_past_the_parameter_limit(db, sql_log):
    """35,000 posts (set up with raw SQL) cascade from one user: the key lists
    exceed the parameter limit, so DELETEs come in chunks, each under it, and
    never one per row."""
    db.execute('INSERT INTO "users" (id, username, created) VALUES (1, ?, ?), (2, ?, ?)',
               ("victim", "2024-01-01 12:00:00", "other", "2024-01-01 12:00:00"))
    db.execute('WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 35000) '
               'INSERT INTO "posts" (author_id, reviewer_id, title, published) '
               "SELECT 1, NULL, 'p' || i, 0 FROM n", ())
    db.execute('INSERT INTO "posts" (author_id, reviewer_id, title, published) '
               "VALUES (2, 1, 'kept', 0)", ())
    db.execute('INSERT INTO "comments" (post_id, author_id, text) '
               'SELECT id, 2, ? FROM "posts" WHERE id <= 5000', ("x",))
    assert count(db, "posts") == 35001 and count(db, "comments") == 5000
    limit = param_limit("sqlite")
    sql_log.clear()
    User.get(1).delete()
    writes = [r for r in sql_log.records
              if r.sql.lstrip().upper().startswith(("DELETE", "UPDATE"))]
    for r in writes:
        assert len(list(r.params)) <= limit
    per_table: dict[str, int] = {}
    for r in records(sql_log, "DELETE"):
        t = delete_target(r.sql)
        per_table[t] = per_table.get(t, 0) + 1
    assert per_table["posts"] <= math.ceil(35000 / CONSERVATIVE_LIMIT)
    assert per_table["comments"] <= math.ceil(5000 / CONSERVATIVE_LIMIT)
    assert per_table["users"] == 1
    assert len(sql_log.records) <= 100          # 40,001 rows; never one statement per row
    assert db.execute('SELECT username FROM "users"', ()) == [("other",)]
    assert db.execute('SELECT title, author_id, reviewer_id FROM "posts"', ()) == [
        ("kept", 2, None)]
    assert count(db, "comments") == 0


def test_objects_changed_in_different_orders_share_one_update(db, sql_log):
    """The changed fields, not the order they were assigned in, pick the
    statement: two posts with the same two changes cost one UPDATE."""
    author, reviewer = User(username="author"), User(username="reviewer")
    first = Post(author=author, title="first")
    second = Post(author=author, title="second")
    db.persist(first, second, reviewer)
    first.title = "first, edited"
    first.reviewer = reviewer
    second.reviewer = reviewer
    second.title = "second, edited"
    sql_log.clear()
    db.persist(first, second)
    assert sql_log.count("UPDATE") == 1 and sql_log.count("INSERT") == 0
    assert db.execute('SELECT id, title, reviewer_id FROM "posts" ORDER BY id') == [
        (first.id, "first, edited", reviewer.id), (second.id, "second, edited", reviewer.id)]
    assert not inspect(first).is_dirty and not inspect(second).is_dirty
