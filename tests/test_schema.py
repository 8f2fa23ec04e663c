"""The schema: column names and types, NOT NULL, primary keys, foreign keys
with their actions, unique and plain indexes, the DDL text, ``migrate``,
``schema_sql`` and ``drop_all``; all checked against what SQLite itself
reports (PRAGMA table_info / foreign_key_list / index_list)."""
from __future__ import annotations

import re
import sqlite3
from typing import Annotated, Optional

import pytest

import activerel
from activerel import (AutoIncrement, Database, Index, Model, PrimaryKey,
                       Reference, Unique)
from tests import factories as f
from tests.backends import tables
from tests.models import (ALL_MODELS, Department, Employee, Enrollment,
                          Everything, Item, User, UserCredentials)

#: PRAGMA-level checks, and tests that drop or reference the shared tables
#: from databases of their own, run on SQLite only
sqlite_only = pytest.mark.sqlite_only

ALL_TABLES = {"users", "posts", "comments", "groups", "user_groups", "user_credentials",
              "categories", "everything", "warehouses", "items", "students", "courses",
              "enrollments", "employees", "departments"}


# --------------------------------------------------------------------------
# local models


class TsEnrollmentNote(Model, table="ts_enrollment_notes"):
    """A reference to a model with a composite primary key."""
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    enrollment: Annotated[Enrollment, Reference(on_delete="CASCADE")]
    text: str = ""


class TsOwned(Model, table="ts_owned"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    owner: Annotated[User, Reference(column="owner_ref", on_delete="RESTRICT",
                                     on_update="CASCADE")]
    backup: Annotated[Optional[User], Reference(on_delete="SET NULL")] = None


class TsProfile(Model, table="ts_profiles"):
    """Unique and Index on reference fields."""
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    user: Annotated[User, Reference(on_delete="CASCADE"), Unique]
    tag: Annotated[Optional[User], Reference(), Index] = None


class TsKeyword(Model, table="order"):
    """SQL keywords as table and column names: identifiers must be quoted."""
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    group: Annotated[str, Unique]
    select: int = 0
    where: Optional[str] = None


class TsKeywordChild(Model, table="index"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    order: Annotated[TsKeyword, Reference(on_delete="CASCADE")]
    limit: int = 0


# --------------------------------------------------------------------------
# helpers




def driver_integrity_error(database) -> type:
    return database.dialect.driver_errors()[1]


def columns(database, table: str) -> list[tuple]:
    """(name, type, notnull, pk) per column, in table order."""
    return [(r[1], r[2].upper(), r[3], r[5])
            for r in database.execute(f'PRAGMA table_info("{table}")', ())]


def column_names(database, table: str) -> list[str]:
    return [c[0] for c in columns(database, table)]


def any_column_names(database, table: str) -> list[str]:
    """Column names in table order, on any backend."""
    with database.session() as session:
        return database.dialect.column_names(session.fetch, table)


def foreign_keys(database, table: str) -> set[tuple]:
    """(target table, from column, to column, on_update, on_delete)."""
    return {(r[2], r[3], r[4], r[5], r[6])
            for r in database.execute(f'PRAGMA foreign_key_list("{table}")', ())}


def indexes(database, table: str) -> set[tuple]:
    """(unique, (columns...)) for each index that is not the primary key's."""
    out = set()
    for r in database.execute(f'PRAGMA index_list("{table}")', ()):
        name, unique, origin = r[1], r[2], r[3]
        if origin == "pk":
            continue
        cols = tuple(c[2] for c in database.execute(f'PRAGMA index_info("{name}")', ()))
        out.add((unique, cols))
    return out


def ddl_for(statements: list[str], table: str) -> str:
    pattern = re.compile(r'^\s*CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?[`"]%s[`"]' % re.escape(table),
                         re.IGNORECASE)
    found = [s for s in statements if pattern.search(s)]
    assert len(found) == 1, (table, statements)
    return found[0]


def fk_clause(column: str, target: str, target_column: str, action: str | None = None) -> re.Pattern:
    text = (r'FOREIGN\s+KEY\s*\(\s*"%s"\s*\)\s*REFERENCES\s+"%s"\s*\(\s*"%s"\s*\)'
            % (re.escape(column), re.escape(target), re.escape(target_column)))
    if action:
        text += r"[^,)]*ON\s+DELETE\s+" + re.escape(action)
    return re.compile(text, re.IGNORECASE)


@pytest.fixture
def fresh():
    """A database serving the shared models, not migrated."""
    database = Database("sqlite://", models=ALL_MODELS)
    yield database
    database.close()


# --------------------------------------------------------------------------
# migrate: tables and columns


def test_migrate_creates_every_served_table(db):
    assert ALL_TABLES <= tables(db)
    if db.dialect.name == "sqlite":
        assert tables(db) == ALL_TABLES


@sqlite_only
def test_sqlite_has_foreign_keys_on(db):
    assert db.execute("PRAGMA foreign_keys", ()) == [(1,)]


@sqlite_only
def test_columns_of_users_and_posts(db):
    assert column_names(db, "users") == ["id", "username", "created"]
    cols = {c[0]: c for c in columns(db, "users")}
    assert cols["id"][1] == "INTEGER" and cols["id"][3] == 1
    assert cols["username"] == ("username", "TEXT", 1, 0)
    assert cols["created"][2] == 1

    assert column_names(db, "posts") == ["id", "author_id", "reviewer_id", "title", "published"]
    cols = {c[0]: c for c in columns(db, "posts")}
    assert cols["id"][1:] == ("INTEGER", cols["id"][2], 1)
    assert cols["author_id"] == ("author_id", "INTEGER", 1, 0)
    assert cols["reviewer_id"] == ("reviewer_id", "INTEGER", 0, 0)
    assert cols["title"] == ("title", "TEXT", 1, 0)
    assert cols["published"][2] == 1


@pytest.mark.parametrize("table, names", [
    ("comments", ["id", "post_id", "author_id", "text"]),
    ("groups", ["id", "name"]),
    ("user_groups", ["id", "user_id", "group_id"]),
    ("user_credentials", ["user_id", "password"]),
    ("categories", ["id", "name", "parent_id"]),
    ("everything", ["id", "i", "f", "b", "s", "raw", "dec", "dt", "d", "t", "uid", "color",
                    "priority", "data", "items", "maybe"]),
    ("warehouses", ["id", "name"]),
    ("items", ["id", "name", "warehouse_id", "overflow_id", "archive_id"]),
    ("students", ["id", "name"]),
    ("courses", ["code", "title"]),
    ("enrollments", ["student_id", "course_id", "grade"]),
    ("employees", ["id", "name", "department_id"]),
    ("departments", ["id", "name", "manager_id"]),
])
@sqlite_only
def test_column_names_in_declaration_order(db, table, names):
    """Back references have no column; references are ``<field>_id``."""
    assert column_names(db, table) == names


@sqlite_only
def test_column_types_of_everything(db):
    cols = {c[0]: c for c in columns(db, "everything")}
    assert cols["i"][1] == "INTEGER"
    assert cols["f"][1] == "REAL"
    assert cols["s"][1] == "TEXT"
    assert cols["raw"][1] == "BLOB"
    for name, col in cols.items():
        assert col[1], f"column {name} has no declared type"
    nullable = {name for name, col in cols.items() if col[2] == 0 and col[3] == 0}
    assert nullable == {"uid", "maybe"}


@sqlite_only
def test_foreign_key_column_takes_the_type_of_the_target_key(db):
    cols = {c[0]: c for c in columns(db, "enrollments")}
    assert cols["student_id"][1] == "INTEGER"
    assert cols["course_id"][1] == "TEXT"
    cols = {c[0]: c for c in columns(db, "courses")}
    assert cols["code"][1] == "TEXT"


@sqlite_only
def test_primary_keys(db):
    def pk(table):
        return [(c[0], c[3]) for c in columns(db, table) if c[3]]
    assert pk("users") == [("id", 1)]
    assert pk("user_credentials") == [("user_id", 1)]
    assert pk("courses") == [("code", 1)]
    assert pk("enrollments") == [("student_id", 1), ("course_id", 2)]


@sqlite_only
def test_non_rowid_primary_key_columns_are_not_null(db):
    """SQLite lets NULL into a non-INTEGER or composite primary key unless
    NOT NULL is declared."""
    assert {c[0]: c[2] for c in columns(db, "courses")}["code"] == 1
    cols = {c[0]: c[2] for c in columns(db, "enrollments")}
    assert cols["student_id"] == 1
    assert cols["course_id"] == 1


@sqlite_only
def test_autoincrement_key_is_the_rowid(db):
    """An AutoIncrement int key is SQLite's INTEGER PRIMARY KEY."""
    db.execute('INSERT INTO "users" ("username", "created") VALUES (?, ?)', ("raw", "2024-01-01"))
    assert db.execute('SELECT id, rowid FROM "users"', ()) == [(1, 1)]


def test_autoincrement_never_reuses_a_deleted_key(db):
    """AutoIncrement keys are not handed out twice, even after the highest row
    is deleted (SQLite's AUTOINCREMENT, not plain rowid reuse)."""
    a, b = f.UserFactory(), f.UserFactory()
    highest = b.id
    b.delete()
    c = f.UserFactory()
    assert c.id > highest
    assert a.id < highest


# --------------------------------------------------------------------------
# foreign keys


@pytest.mark.parametrize("table, expected", [
    ("users", set()),
    ("everything", set()),
    ("posts", {("users", "author_id", "id", "NO ACTION", "CASCADE"),
               ("users", "reviewer_id", "id", "NO ACTION", "SET NULL")}),
    ("comments", {("posts", "post_id", "id", "NO ACTION", "CASCADE"),
                  ("users", "author_id", "id", "NO ACTION", "CASCADE")}),
    ("user_groups", {("users", "user_id", "id", "NO ACTION", "CASCADE"),
                     ("groups", "group_id", "id", "NO ACTION", "CASCADE")}),
    ("user_credentials", {("users", "user_id", "id", "NO ACTION", "CASCADE")}),
    ("categories", {("categories", "parent_id", "id", "NO ACTION", "CASCADE")}),
    ("items", {("warehouses", "warehouse_id", "id", "NO ACTION", "RESTRICT"),
               ("warehouses", "overflow_id", "id", "NO ACTION", "NO ACTION"),
               ("warehouses", "archive_id", "id", "NO ACTION", "SET DEFAULT")}),
    ("enrollments", {("students", "student_id", "id", "NO ACTION", "CASCADE"),
                     ("courses", "course_id", "code", "NO ACTION", "CASCADE")}),
    ("employees", {("departments", "department_id", "id", "NO ACTION", "CASCADE")}),
    ("departments", {("employees", "manager_id", "id", "NO ACTION", "SET NULL")}),
])
@sqlite_only
def test_foreign_keys_and_actions(db, table, expected):
    assert foreign_keys(db, table) == expected


@sqlite_only
def test_reference_column_override_and_on_update(make_db):
    database = make_db([TsOwned])
    assert column_names(database, "ts_owned") == ["id", "owner_ref", "backup_id"]
    cols = {c[0]: c for c in columns(database, "ts_owned")}
    assert cols["owner_ref"] == ("owner_ref", "INTEGER", 1, 0)
    assert cols["backup_id"] == ("backup_id", "INTEGER", 0, 0)
    assert foreign_keys(database, "ts_owned") == {
        ("users", "owner_ref", "id", "CASCADE", "RESTRICT"),
        ("users", "backup_id", "id", "NO ACTION", "SET NULL")}
    # the served set includes the referenced model
    assert "users" in tables(database)
    u = User(username="owner")
    TsOwned(owner=u).persist()
    assert database.execute('SELECT owner_ref, backup_id FROM "ts_owned"', ()) == [(u.id, None)]


@sqlite_only
def test_reference_to_a_composite_primary_key(make_db):
    database = make_db([TsEnrollmentNote])
    assert {"ts_enrollment_notes", "enrollments", "students", "courses"} <= tables(database)
    assert column_names(database, "ts_enrollment_notes") == [
        "id", "enrollment_student_id", "enrollment_course_id", "text"]
    cols = {c[0]: c for c in columns(database, "ts_enrollment_notes")}
    assert cols["enrollment_student_id"] == ("enrollment_student_id", "INTEGER", 1, 0)
    assert cols["enrollment_course_id"] == ("enrollment_course_id", "TEXT", 1, 0)
    fk_rows = database.execute('PRAGMA foreign_key_list("ts_enrollment_notes")', ())
    assert len({r[0] for r in fk_rows}) == 1, "one composite constraint"
    assert sorted((r[1], r[2], r[3], r[4], r[6]) for r in fk_rows) == [
        (0, "enrollments", "enrollment_student_id", "student_id", "CASCADE"),
        (1, "enrollments", "enrollment_course_id", "course_id", "CASCADE")]

    e = Enrollment(student=f.StudentFactory.build(name="s"),
                   course=f.CourseFactory.build(code="BIO"), grade="A")
    note = TsEnrollmentNote(enrollment=e, text="good")
    note.persist()
    assert database.execute(
        'SELECT enrollment_student_id, enrollment_course_id, text FROM "ts_enrollment_notes"',
        ()) == [(e.student.id, "BIO", "good")]
    loaded = TsEnrollmentNote.query().join_with("enrollment").find_one()
    assert loaded.enrollment.grade == "A"
    # the database enforces the composite key
    with pytest.raises(activerel.IntegrityError):
        database.execute(
            'INSERT INTO "ts_enrollment_notes" ("enrollment_student_id", '
            '"enrollment_course_id", "text") VALUES (?, ?, ?)', (e.student.id, "NOPE", "x"))
    assert database.execute('SELECT COUNT(*) FROM "ts_enrollment_notes"', ()) == [(1,)]


# --------------------------------------------------------------------------
# indexes


@sqlite_only
def test_unique_and_plain_indexes(db):
    assert (1, ("username",)) in indexes(db, "users")
    assert (0, ("s",)) in indexes(db, "everything")
    assert not any(cols == ("s",) and unique for unique, cols in indexes(db, "everything"))


@sqlite_only
def test_unique_and_index_on_reference_columns(make_db):
    database = make_db([TsProfile])
    assert column_names(database, "ts_profiles") == ["id", "user_id", "tag_id"]
    found = indexes(database, "ts_profiles")
    assert (1, ("user_id",)) in found
    assert (0, ("tag_id",)) in found
    u = User(username="one")
    TsProfile(user=u).persist()
    with pytest.raises(activerel.IntegrityError):
        TsProfile(user=u).persist()
    assert database.execute('SELECT COUNT(*) FROM "ts_profiles"', ()) == [(1,)]


def test_unique_is_enforced_by_the_database(db):
    db.execute('INSERT INTO "users" ("username", "created") VALUES (?, ?)', ("x", "2024-01-01"))
    with pytest.raises(activerel.IntegrityError) as info:
        db.execute('INSERT INTO "users" ("username", "created") VALUES (?, ?)', ("x", "2024-01-01"))
    assert isinstance(info.value.__cause__, driver_integrity_error(db))
    assert db.execute('SELECT COUNT(*) FROM "users"', ()) == [(1,)]


# --------------------------------------------------------------------------
# schema_sql


def test_schema_sql_returns_ddl_strings(fresh):
    statements = fresh.schema_sql()
    assert isinstance(statements, list)
    assert statements and all(isinstance(s, str) for s in statements)
    for s in statements:
        assert re.match(r"\s*CREATE\s", s, re.IGNORECASE), s
    for table in ALL_TABLES:
        ddl_for(statements, table)


def test_schema_sql_fragments(fresh):
    # SQLite's identifiers are in backquotes (an unknown "name" would be a
    # string there); the fragments below are read in double quotes
    assert all("`" in s and '"' not in s.replace("'\"'", "") for s in fresh.schema_sql())
    statements = [s.replace("`", '"') for s in fresh.schema_sql()]
    posts = ddl_for(statements, "posts")
    assert '"author_id" INTEGER NOT NULL' in posts
    assert re.search(r'"reviewer_id" INTEGER(?!\s+NOT\s+NULL)', posts)
    assert '"title" TEXT NOT NULL' in posts
    assert fk_clause("author_id", "users", "id", "CASCADE").search(posts)
    assert fk_clause("reviewer_id", "users", "id", "SET NULL").search(posts)
    items = ddl_for(statements, "items")
    assert fk_clause("warehouse_id", "warehouses", "id", "RESTRICT").search(items)
    assert fk_clause("archive_id", "warehouses", "id", "SET DEFAULT").search(items)
    assert fk_clause("overflow_id", "warehouses", "id").search(items)
    enrollments = ddl_for(statements, "enrollments")
    assert fk_clause("course_id", "courses", "code", "CASCADE").search(enrollments)
    assert re.search(r'PRIMARY\s+KEY\s*\(\s*"student_id"\s*,\s*"course_id"\s*\)', enrollments)
    users = ddl_for(statements, "users")
    assert '"username" TEXT NOT NULL' in users
    joined = "\n".join(statements)
    # unique constraints are named unique indexes, foreign keys named constraints
    assert 'CREATE UNIQUE INDEX "uq_users_username" ON "users" ("username")' in statements
    assert "UNIQUE" not in users
    assert ('CONSTRAINT "fk_posts_author_id" FOREIGN KEY ("author_id") REFERENCES "users" ("id") '
            "ON DELETE CASCADE ON UPDATE NO ACTION") in posts
    assert re.search(r'CREATE\s+INDEX\s+(IF\s+NOT\s+EXISTS\s+)?"[^"]+"\s+ON\s+"everything"\s*\(\s*"s"\s*\)',
                     joined, re.IGNORECASE)


def test_schema_sql_orders_parents_first(fresh):
    statements = fresh.schema_sql()
    position = {t: statements.index(ddl_for(statements, t)) for t in ALL_TABLES}
    for parent, child in [("users", "posts"), ("posts", "comments"), ("users", "comments"),
                          ("users", "user_groups"), ("groups", "user_groups"),
                          ("users", "user_credentials"), ("students", "enrollments"),
                          ("courses", "enrollments"), ("warehouses", "items")]:
        assert position[parent] < position[child], (parent, child)


def test_schema_sql_has_no_side_effects(fresh, sql_log):
    sql_log.clear()
    fresh.schema_sql()
    assert tables(fresh) == set()
    assert not any(re.match(r"\s*(CREATE|DROP|INSERT)", s, re.IGNORECASE) for s in sql_log.statements)


def test_schema_sql_is_what_migrate_builds(fresh):
    """Running the DDL on a bare sqlite3 connection gives the same schema."""
    statements = fresh.schema_sql()
    fresh.migrate()
    con = sqlite3.connect(":memory:")
    try:
        for statement in statements:
            con.execute(statement)

        class Raw:
            dialect = fresh.dialect

            @staticmethod
            def execute(sql, params):
                return con.execute(sql, params).fetchall()
        assert tables(Raw) == ALL_TABLES
        for table in ALL_TABLES:
            assert columns(Raw, table) == columns(fresh, table), table
            assert foreign_keys(Raw, table) == foreign_keys(fresh, table), table
            assert indexes(Raw, table) == indexes(fresh, table), table
    finally:
        con.close()


def test_schema_sql_of_a_subset():
    database = Database("sqlite://", models=[Everything])
    try:
        statements = database.schema_sql()
        ddl_for(statements, "everything")
        assert not any('"users"' in s for s in statements)
    finally:
        database.close()


# --------------------------------------------------------------------------
# migrate again, drop_all


def test_migrate_twice_keeps_data_and_creates_nothing(db, sql_log):
    u = f.UserFactory(username="keep")
    sql_log.clear()
    db.migrate()
    assert not any(re.match(r"\s*CREATE", s, re.IGNORECASE) for s in sql_log.statements)
    assert ALL_TABLES <= tables(db)
    assert User.get(u.id).username == "keep"


def test_migrate_creates_only_missing_tables(db, sql_log):
    f.CommentFactory()
    db.execute('DROP TABLE "comments"', ())
    assert "comments" not in tables(db)
    sql_log.clear()
    db.migrate()
    created = [s for s in sql_log.statements if re.match(r"\s*CREATE\s+TABLE", s, re.IGNORECASE)]
    assert len(created) == 1 and db.dialect.quote("comments") in created[0]
    assert ALL_TABLES <= tables(db)
    assert db.execute('SELECT COUNT(*) FROM "users"', ()) == [(2,)]
    assert db.execute('SELECT COUNT(*) FROM "comments"', ()) == [(0,)]
    if db.dialect.name == "sqlite":
        assert foreign_keys(db, "comments") == {
            ("posts", "post_id", "id", "NO ACTION", "CASCADE"),
            ("users", "author_id", "id", "NO ACTION", "CASCADE")}
    f.CommentFactory(text="works again")
    with pytest.raises(activerel.IntegrityError):     # and its foreign keys are back
        db.execute('INSERT INTO "comments" ("post_id", "author_id", "text") VALUES (?, ?, ?)',
                   (424242, 424242, "orphan"))


def _fill(db):
    """A row in every table, including the RESTRICT and the cycle."""
    c = f.CommentFactory()
    p = c.post
    p.reviewer = c.author
    p.persist()
    u = c.author
    g = f.GroupFactory()
    u.groups.append(g)
    u.persist()
    UserCredentials(user=u, password="pw").persist()
    parent = f.CategoryFactory()
    f.CategoryFactory(parent=parent)
    f.ItemFactory()
    Enrollment(student=f.StudentFactory(), course=f.CourseFactory()).persist()
    dep = Department(name="d")
    boss = Employee(name="boss", department=dep)
    boss.persist()
    dep.manager = boss
    dep.persist()
    Everything().persist()
    for table in ALL_TABLES:
        assert db.execute(f'SELECT COUNT(*) FROM "{table}"', ())[0][0] >= 1, table


@sqlite_only
def test_drop_all_drops_children_first(db, sql_log):
    _fill(db)
    sql_log.clear()
    db.drop_all()
    assert tables(db) == set()
    drops = [s for s in sql_log.statements if re.match(r"\s*DROP\s+TABLE", s, re.IGNORECASE)]
    assert len(drops) == len(ALL_TABLES)

    def position(table):
        hits = [i for i, s in enumerate(drops) if re.search(r'"%s"' % table, s)]
        assert len(hits) == 1, (table, drops)
        return hits[0]
    for child, parent in [("comments", "posts"), ("posts", "users"), ("user_groups", "groups"),
                          ("user_groups", "users"), ("user_credentials", "users"),
                          ("items", "warehouses"), ("enrollments", "students"),
                          ("enrollments", "courses")]:
        assert position(child) < position(parent), (child, parent)


@sqlite_only
def test_drop_all_then_migrate_again(db):
    _fill(db)
    db.drop_all()
    db.migrate()
    assert tables(db) == ALL_TABLES
    for table in ALL_TABLES:
        assert db.execute(f'SELECT COUNT(*) FROM "{table}"', ()) == [(0,)], table
    u = f.UserFactory(username="again")
    assert User.get(u.id).username == "again"


@sqlite_only
def test_drop_all_twice_is_harmless(db):
    db.drop_all()
    db.drop_all()
    assert tables(db) == set()


def test_drop_all_touches_only_served_tables(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    full = Database(url, models=ALL_MODELS)
    full.migrate()
    full.close()
    part = Database(url, models=[Everything])
    try:
        part.drop_all()
        assert tables(part) == ALL_TABLES - {"everything"}
        part.migrate()
        assert tables(part) == ALL_TABLES
    finally:
        part.close()


@sqlite_only
def test_migrate_serves_only_the_given_models_and_their_targets(make_db):
    database = make_db([Item])
    assert tables(database) == {"items", "warehouses"}


# --------------------------------------------------------------------------
# quoting


def test_keywords_as_table_and_column_names(make_db):
    database = make_db([TsKeyword, TsKeywordChild])
    assert {"order", "index"} <= tables(database)
    assert any_column_names(database, "order") == ["id", "group", "select", "where"]
    assert any_column_names(database, "index") == ["id", "order_id", "limit"]
    parent = TsKeyword(group="g1", select=3)
    child = TsKeywordChild(order=parent, limit=9)
    child.persist()
    assert TsKeyword.query().filter(select=3).ids() == [parent.id]
    assert TsKeyword.query().filter(TsKeyword.where.is_null()).order_by("-select").count() == 1
    loaded = TsKeywordChild.query().join_with("order").find_one()
    assert loaded.order.group == "g1"
    assert loaded.limit == 9
    with pytest.raises(activerel.IntegrityError):
        TsKeyword(group="g1").persist()
    parent.delete()
    assert database.execute('SELECT COUNT(*) FROM "index"', ()) == [(0,)]
    database.drop_all()
    assert not {"order", "index"} & tables(database)
