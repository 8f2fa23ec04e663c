"""Raw DB-API: the physical limit every ORM is measured against.

Plain ``executemany`` for writes and ``fetchall`` into tuples for reads,
through the same drivers activerel uses (sqlite3, psycopg 3, mysqlclient),
with the few lines of Python needed to hand back the same result as the
ORMs. Where an ORM must do something that has no raw counterpart, raw does
the least a hand-written program would:

- W1: the program assigns the keys itself (the tables are empty), so it
  sends five ``executemany`` and never reads a generated key back;
- W5: the per-user limit is a ``ROW_NUMBER()`` window, the comment authors'
  names come from the users already fetched;
- W7: one ``DELETE ... WHERE id IN (...)``; the database's ON DELETE CASCADE
  does the rest;
- W8: the first pass fetches each user with its own SELECT, the second is
  served from a dict (the least an identity map can cost);
- W9: each request is one transaction of five statements: the user by key,
  its posts with their tag names in one ``LEFT JOIN`` (grouped in Python),
  one ``UPDATE``, one ``INSERT``, ``COMMIT``;
- W10: each query is one hand-written statement with its parameters (the
  exists check a ``SELECT 1 ... LIMIT 1``);
- W12: one ``LEFT JOIN ... GROUP BY`` (users without posts count 0);
- W14: one ``executemany`` of ``INSERT ... ON CONFLICT (name) DO UPDATE``
  (``ON DUPLICATE KEY UPDATE`` on MySQL, which mysqlclient sends as
  multi-row INSERTs);
- W15: one JOIN read ``fetchmany(1000)`` at a time, through a server-side
  cursor on PostgreSQL (a named cursor in a transaction) and MySQL
  (``SSCursor``); sqlite3's cursor steps through its rows by itself;
- W16: one recursive CTE from the root, the tree built from the rows'
  parent keys in Python."""
from __future__ import annotations

from typing import Any

from .backend import Target
from .data import NEWEST, STREAM_BATCH, Dataset

NAME = "raw"
LABEL = "raw DB-API"

_t: Any = None      # the Target
_conn: Any = None


def available() -> None:
    return None


def versions(target: Target) -> dict[str, str]:
    if target.kind == "postgresql":
        import psycopg
        return {"psycopg": psycopg.__version__}
    if target.kind == "mysql":
        import MySQLdb
        return {"mysqlclient": ".".join(map(str, MySQLdb.version_info[:3]))}
    return {}      # the standard library's sqlite3: the database line names SQLite's version


def setup(target: Target) -> None:
    global _t, _conn
    _t = target
    _conn = target.connect()


def teardown() -> None:
    global _conn
    if _conn is not None:
        _conn.close()
        _conn = None


def _begin(cur: Any) -> None:
    if _t.kind == "mysql":
        _conn.begin()
    else:
        cur.execute("BEGIN")


def _commit(cur: Any) -> None:
    if _t.kind == "mysql":
        _conn.commit()
    else:
        cur.execute("COMMIT")


def w1(d: Dataset) -> int:
    sql = _t.sql
    flag = (lambda b: 1 if b else 0) if _t.kind == "sqlite" else bool
    cur = _conn.cursor()
    _begin(cur)
    cur.executemany(sql("INSERT INTO users (id, name, age) VALUES (?, ?, ?)"), d.users)
    cur.executemany(sql("INSERT INTO tags (id, name) VALUES (?, ?)"), d.tags)
    cur.executemany(sql("INSERT INTO posts (id, author_id, title, published) VALUES (?, ?, ?, ?)"),
                    [(p[0], p[1], p[2], flag(p[3])) for p in d.posts])
    cur.executemany(sql("INSERT INTO comments (id, post_id, author_id, text) VALUES (?, ?, ?, ?)"),
                    d.comments)
    cur.executemany(sql("INSERT INTO post_tags (post_id, tag_id) VALUES (?, ?)"), d.post_tags)
    _commit(cur)
    return len(d.users) + len(d.tags) + len(d.posts) + len(d.comments) + len(d.post_tags)


def w2(d: Dataset) -> list:
    cur = _conn.cursor()
    cur.execute("SELECT id, name, age FROM users")
    users = cur.fetchall()
    cur.execute("SELECT author_id, title FROM posts")
    titles: dict[int, list[str]] = {}
    for author_id, title in cur.fetchall():
        titles.setdefault(author_id, []).append(title)
    return [(name, age, titles.get(uid, [])) for uid, name, age in users]


def w3(d: Dataset) -> list:
    cur = _conn.cursor()
    cur.execute("SELECT p.title, u.name FROM posts p JOIN users u ON u.id = p.author_id")
    return cur.fetchall()


def w4(d: Dataset) -> list:
    cur = _conn.cursor()
    cur.execute("SELECT id, title FROM posts")
    posts = cur.fetchall()
    cur.execute("SELECT pt.post_id, t.name FROM post_tags pt JOIN tags t ON t.id = pt.tag_id")
    tags: dict[int, list[str]] = {}
    for post_id, name in cur.fetchall():
        tags.setdefault(post_id, []).append(name)
    return [(title, tags.get(pid, [])) for pid, title in posts]


_RANKED = ("SELECT id, author_id, title FROM (SELECT id, author_id, title, ROW_NUMBER() OVER "
           "(PARTITION BY author_id ORDER BY id DESC) AS rn FROM posts WHERE published = ?) ranked "
           f"WHERE rn <= {NEWEST}")


def w5(d: Dataset) -> list:
    sql = _t.sql
    cur = _conn.cursor()
    cur.execute("SELECT id, name FROM users")
    users = cur.fetchall()
    names = dict(users)
    cur.execute(sql(_RANKED + " ORDER BY id DESC"), (True,))
    posts: dict[int, list] = {}
    comments: dict[int, list] = {}
    for pid, author_id, title in cur.fetchall():
        c: list = []
        comments[pid] = c
        posts.setdefault(author_id, []).append((title, c))
    cur.execute(sql("SELECT post_id, author_id, text FROM comments WHERE post_id IN "
                    f"(SELECT id FROM ({_RANKED}) r)"), (True,))
    for post_id, author_id, text in cur.fetchall():
        comments[post_id].append((text, names[author_id]))
    return [(name, posts.get(uid, [])) for uid, name in users]


def w6(d: Dataset) -> int:
    sql = _t.sql
    edited = d.edited_post_ids
    cur = _conn.cursor()
    cur.execute("SELECT id, title FROM posts")
    changes = [(d.edited_title(title), pid) for pid, title in cur.fetchall() if pid in edited]
    _begin(cur)
    cur.executemany(sql("UPDATE posts SET title = ? WHERE id = ?"), changes)
    _commit(cur)
    return len(changes)


def w7(d: Dataset) -> int:
    ids = d.deleted_user_ids
    cur = _conn.cursor()
    _begin(cur)
    cur.execute(_t.sql(f"DELETE FROM users WHERE id IN ({', '.join('?' * len(ids))})"), ids)
    count = cur.rowcount
    _commit(cur)
    return count


def w8(d: Dataset) -> list:
    sql = _t.sql("SELECT id, name, age FROM users WHERE id = ?")
    cur = _conn.cursor()
    cache: dict[int, tuple] = {}
    out = []
    for uid in d.lookup_ids:
        cur.execute(sql, (uid,))
        row = cache[uid] = cur.fetchone()
        out.append((row[0], row[1]))
    for uid in d.lookup_ids:
        row = cache[uid]
        out.append((row[0], row[1]))
    return out


_POSTS_WITH_TAGS = ("SELECT p.id, p.title, t.name FROM posts p "
                    "LEFT JOIN post_tags pt ON pt.post_id = p.id "
                    "LEFT JOIN tags t ON t.id = pt.tag_id WHERE p.author_id = ? ORDER BY p.id")


def w9(d: Dataset) -> int:
    sql = _t.sql
    user_sql = sql("SELECT id, name, age FROM users WHERE id = ?")
    posts_sql = sql(_POSTS_WITH_TAGS)
    update_sql = sql("UPDATE posts SET title = ? WHERE id = ?")
    insert_sql = sql("INSERT INTO comments (post_id, author_id, text) VALUES (?, ?, ?)")
    cur = _conn.cursor()
    for uid, index, text in d.requests:
        _begin(cur)
        cur.execute(user_sql, (uid,))
        user = cur.fetchone()
        cur.execute(posts_sql, (uid,))
        posts: dict[int, tuple[str, list[str]]] = {}
        for pid, title, tag in cur.fetchall():
            tags = posts.setdefault(pid, (title, []))[1]
            if tag is not None:
                tags.append(tag)
        pid, (title, tags) = list(posts.items())[index]
        cur.execute(update_sql, (d.request_title(title, tags), pid))
        cur.execute(insert_sql, (pid, user[0], text))
        _commit(cur)
    return len(d.requests)


def w10(d: Dataset) -> list:
    sql = _t.sql
    user_sql = sql("SELECT id, name, age FROM users WHERE name = ?")
    newest_sql = sql("SELECT id, title FROM posts WHERE author_id = ? AND published = ? "
                     f"ORDER BY id DESC LIMIT {NEWEST}")
    count_sql = sql("SELECT COUNT(*) FROM comments WHERE post_id = ?")
    exists_sql = sql("SELECT 1 FROM comments WHERE post_id = ? AND author_id = ? LIMIT 1")
    cur = _conn.cursor()
    out: list = []
    add = out.append
    for name, author, counted, asked, who in d.queries:
        cur.execute(user_sql, (name,))
        add(cur.fetchone())
        cur.execute(newest_sql, (author, True))
        add(cur.fetchall())
        cur.execute(count_sql, (counted,))
        add(cur.fetchone()[0])
        cur.execute(exists_sql, (asked, who))
        add(cur.fetchone() is not None)
    return out


def w12(d: Dataset) -> list:
    cur = _conn.cursor()
    cur.execute("SELECT u.name, COUNT(p.id) FROM users u LEFT JOIN posts p ON p.author_id = u.id "
                "GROUP BY u.id, u.name")
    return cur.fetchall()


def w13(d: Dataset) -> list:
    cur = _conn.cursor()
    cur.execute("SELECT p.id FROM posts p JOIN users u ON u.id = p.author_id ORDER BY u.name, p.id")
    return [row[0] for row in cur.fetchall()]


def w14(d: Dataset) -> None:
    if _t.kind == "mysql":
        sql = ("INSERT INTO users (name, age) VALUES (%s, %s) "
               "ON DUPLICATE KEY UPDATE age = VALUES(age)")
    else:
        sql = _t.sql("INSERT INTO users (name, age) VALUES (?, ?) "
                     "ON CONFLICT (name) DO UPDATE SET age = excluded.age")
    cur = _conn.cursor()
    _begin(cur)
    cur.executemany(sql, d.upserts)
    _commit(cur)
    return None


_STREAMED = "SELECT c.text, p.title FROM comments c JOIN posts p ON p.id = c.post_id"


def w15(d: Dataset) -> list:
    out: list = []
    if _t.kind == "postgresql":
        with _conn.transaction(), _conn.cursor(name="w15") as cur:
            cur.itersize = STREAM_BATCH
            cur.execute(_STREAMED)
            while rows := cur.fetchmany(STREAM_BATCH):
                out.extend(rows)
        return out
    if _t.kind == "mysql":
        import MySQLdb.cursors
        cur = _conn.cursor(MySQLdb.cursors.SSCursor)
    else:
        cur = _conn.cursor()
    try:
        cur.execute(_STREAMED)
        while rows := cur.fetchmany(STREAM_BATCH):
            out.extend(rows)
    finally:
        cur.close()
    return out


_TREE = ("WITH RECURSIVE tree (id, parent_id, name) AS ("
         "SELECT id, parent_id, name FROM categories WHERE parent_id IS NULL UNION ALL "
         "SELECT c.id, c.parent_id, c.name FROM categories c JOIN tree t ON c.parent_id = t.id) "
         "SELECT id, parent_id, name FROM tree")


def w16(d: Dataset) -> list:
    cur = _conn.cursor()
    cur.execute(_TREE)
    children: dict[Any, list] = {}
    for cid, parent_id, name in cur.fetchall():
        children.setdefault(parent_id, []).append((cid, name))

    def tree(cid: Any, name: str) -> tuple:
        return (name, [tree(k, n) for k, n in children.get(cid, ())])
    return [tree(cid, name) for cid, name in children.get(None, ())]
