"""Schema operations rendered as DDL and applied to a live database, on every
backend: each operation forward and then backward (``op.reverse(before)``)
on tables that hold rows, with the rows checked after each step; the exact
CREATE TABLE of each dialect; SQLite's table rebuild keeping foreign keys,
indexes and the key counter; and a failing migration (rolled back where DDL
is transactional, reported statement by statement on MariaDB)."""
from __future__ import annotations

import sqlite3
from typing import Any, Callable

import pytest

from activerel import ActiverelError, Database, IntegrityError, Sql
from activerel.dialects import dialect_for
from activerel.errors import MigrationError
from activerel.schema.operations import (AddCheck, AddColumn, AddForeignKey, AlterColumn,
                                         CreateIndex, CreateTable, DropColumn, DropTable,
                                         Operation, RenameColumn, RenameTable, RunPython, RunSQL)
from activerel.schema.tables import (CheckDef, ColumnDef, ForeignKeyDef, IndexDef, Schema,
                                     TableDef)
from activerel.schema_apply import apply_operations
from activerel.sql.ddl import create_table_sql, operation_sql
from activerel.url import URL
from tests.backends import URLS, namespace_url, require, tables

sqlite_only = pytest.mark.sqlite_only

PARENT = TableDef("ddl_parent", [
    ColumnDef("id", "int", autoincrement=True),
    ColumnDef("name", "str"),
], primary_key=("id",))

CHILD = TableDef("ddl_child", [
    ColumnDef("id", "int", autoincrement=True),
    ColumnDef("parent_id", "int", nullable=True),
    ColumnDef("qty", "int"),
    ColumnDef("note", "str", nullable=True),
], primary_key=("id",))

PARENT_ROWS = [(1, "a"), (2, "b")]
CHILD_ROWS = [(1, 1, 10, "x"), (2, 2, 20, None), (3, None, 30, "z")]


@pytest.fixture
def ddb(backend: str):
    """An empty database of its own on ``backend`` (no models)."""
    require(backend)
    url = URLS["sqlite"] if backend == "sqlite" else namespace_url(backend, "_ddl", fresh=True)
    database = Database(url, models=[])
    yield database
    database.close()


@pytest.fixture
def filled(ddb: Database) -> tuple[Database, Schema]:
    """``ddb`` with ddl_parent and ddl_child (no foreign key yet), created by
    CreateTable operations, holding PARENT_ROWS and CHILD_ROWS."""
    schema = apply_operations(ddb, [CreateTable(PARENT.copy()), CreateTable(CHILD.copy())],
                              Schema())
    for row in PARENT_ROWS:
        ddb.execute('INSERT INTO "ddl_parent" ("id", "name") VALUES (?, ?)', row)
    for row in CHILD_ROWS:
        ddb.execute('INSERT INTO "ddl_child" ("id", "parent_id", "qty", "note") '
                    "VALUES (?, ?, ?, ?)", row)
    return ddb, schema


def rows(db: Database, table: str, columns: str = "*") -> list[tuple]:
    return [tuple(r) for r in db.execute(f'SELECT {columns} FROM "{table}" ORDER BY "id"')]


def column_names(db: Database, table: str) -> list[str]:
    with db.session() as s:
        return db.dialect.column_names(s.fetch, table)


def index_names(db: Database, table: str) -> set[str]:
    """The names of the indexes of ``table`` but the primary key's."""
    name = db.dialect.name
    if name == "sqlite":
        return {r[1] for r in db.execute(f'PRAGMA index_list("{table}")') if r[3] != "pk"}
    if name == "postgresql":
        found = db.execute("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
                           "AND tablename = ?", (table,))
        return {r[0] for r in found} - {f"{table}_pkey"}
    found = db.execute("SELECT DISTINCT index_name FROM information_schema.statistics "
                       "WHERE table_schema = DATABASE() AND table_name = ?", (table,))
    return {r[0] for r in found} - {"PRIMARY"}


def forward_and_back(db: Database, schema: Schema, op: Operation,
                     after: Callable[[], None], before: Callable[[], None]) -> Schema:
    """Apply ``op``, run ``after()``; apply its reverse, run ``before()``;
    returns the schema at the end (which must be ``schema`` again)."""
    changed = apply_operations(db, [op], schema)
    after()
    back = apply_operations(db, [op.reverse(schema)], changed)
    before()
    assert back == schema
    return back


def check_unchanged(db: Database) -> None:
    assert rows(db, "ddl_parent") == PARENT_ROWS
    assert rows(db, "ddl_child") == CHILD_ROWS


# --------------------------------------------------------------------------
# CREATE TABLE text


GADGETS = TableDef("gadgets", [
    ColumnDef("id", "int", autoincrement=True),
    ColumnDef("name", "str", length=80),
    ColumnDef("colour", "str", default="it's red"),
    ColumnDef("owner_id", "int", nullable=True),
    ColumnDef("active", "bool", default=True),
    ColumnDef("made", "datetime", default=Sql("CURRENT_TIMESTAMP")),
], primary_key=("id",),
    indexes=[IndexDef("uq_gadgets_name", ("name",), unique=True),
             IndexDef("ix_gadgets_owner_id", ("owner_id",))],
    foreign_keys=[ForeignKeyDef("fk_gadgets_owner_id", ("owner_id",), "owners", ("id",),
                                on_delete="SET DEFAULT", on_update="CASCADE")],
    checks=[CheckDef("ck_gadgets_name", "name <> ''")])

EXPECTED_CREATE = {
    "sqlite": [
        'CREATE TABLE `gadgets` (`id` INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, '
        '`name` VARCHAR(80) NOT NULL, `colour` TEXT NOT NULL DEFAULT \'it\'\'s red\', '
        '`owner_id` INTEGER, `active` INTEGER NOT NULL DEFAULT 1, '
        '`made` TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP, '
        'CONSTRAINT `ck_gadgets_name` CHECK (name <> \'\'), '
        'CONSTRAINT `fk_gadgets_owner_id` FOREIGN KEY (`owner_id`) REFERENCES `owners` (`id`) '
        'ON DELETE SET DEFAULT ON UPDATE CASCADE)',
        'CREATE UNIQUE INDEX `uq_gadgets_name` ON `gadgets` (`name`)',
        'CREATE INDEX `ix_gadgets_owner_id` ON `gadgets` (`owner_id`)',
    ],
    "postgresql": [
        'CREATE TABLE "gadgets" ("id" BIGINT GENERATED BY DEFAULT AS IDENTITY NOT NULL, '
        '"name" VARCHAR(80) NOT NULL, "colour" TEXT NOT NULL DEFAULT \'it\'\'s red\', '
        '"owner_id" BIGINT, "active" BOOLEAN NOT NULL DEFAULT TRUE, '
        '"made" TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY ("id"), '
        'CONSTRAINT "ck_gadgets_name" CHECK (name <> \'\'), '
        'CONSTRAINT "fk_gadgets_owner_id" FOREIGN KEY ("owner_id") REFERENCES "owners" ("id") '
        'ON DELETE SET DEFAULT ON UPDATE CASCADE)',
        'CREATE UNIQUE INDEX "uq_gadgets_name" ON "gadgets" ("name")',
        'CREATE INDEX "ix_gadgets_owner_id" ON "gadgets" ("owner_id")',
    ],
    # (before the first connection: the collation every MySQL and MariaDB has)
    "mysql": [
        'CREATE TABLE "gadgets" ("id" BIGINT AUTO_INCREMENT NOT NULL, '
        '"name" VARCHAR(80) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL, '
        '"colour" LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL '
        'DEFAULT \'it\'\'s red\', "owner_id" BIGINT, "active" BOOLEAN NOT NULL DEFAULT 1, '
        '"made" DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), PRIMARY KEY ("id"), '
        'CONSTRAINT "ck_gadgets_name" CHECK (name <> \'\'), '
        'CONSTRAINT "fk_gadgets_owner_id" FOREIGN KEY ("owner_id") REFERENCES "owners" ("id") '
        'ON DELETE SET NULL ON UPDATE CASCADE) '
        'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin',
        'CREATE UNIQUE INDEX "uq_gadgets_name" ON "gadgets" ("name")',
        'CREATE INDEX "ix_gadgets_owner_id" ON "gadgets" ("owner_id")',
    ],
}


@pytest.mark.parametrize("name", sorted(EXPECTED_CREATE))
def test_create_table_sql_text(name):
    require(name)
    dialect = dialect_for(URL.parse(URLS[name]))
    assert create_table_sql(GADGETS, dialect) == EXPECTED_CREATE[name]


EXPECTED_ALTER = {
    "sqlite": None,  # rebuilt
    "postgresql": [
        'ALTER TABLE "ddl_child" ALTER COLUMN "qty" TYPE TEXT',
        'ALTER TABLE "ddl_child" ALTER COLUMN "qty" SET DEFAULT \'0\'',
        'ALTER TABLE "ddl_child" ALTER COLUMN "qty" DROP NOT NULL',
    ],
    "mysql": [
        'ALTER TABLE "ddl_child" MODIFY COLUMN "qty" LONGTEXT CHARACTER SET utf8mb4 '
        'COLLATE utf8mb4_bin DEFAULT \'0\'',
    ],
}


@pytest.mark.parametrize("name", sorted(EXPECTED_ALTER))
def test_alter_column_sql_text(name):
    require(name)
    dialect = dialect_for(URL.parse(URLS[name]))
    op = AlterColumn("ddl_child", ColumnDef("qty", "str", nullable=True, default="0"))
    statements = operation_sql(op, Schema({"ddl_child": CHILD.copy()}), dialect)
    if EXPECTED_ALTER[name] is not None:
        assert statements == EXPECTED_ALTER[name]
    else:
        assert statements[0].startswith('CREATE TABLE `_ar_new_ddl_child` (')
        assert statements[1:] == [
            'INSERT INTO `_ar_new_ddl_child` (`id`, `parent_id`, `qty`, `note`) '
            'SELECT `id`, `parent_id`, `qty`, `note` FROM `ddl_child`',
            "DELETE FROM sqlite_sequence WHERE name = '_ar_new_ddl_child'",
            "INSERT INTO sqlite_sequence (name, seq) SELECT '_ar_new_ddl_child', seq "
            "FROM sqlite_sequence WHERE name = 'ddl_child'",
            'DROP TABLE `ddl_child`',
            'ALTER TABLE `_ar_new_ddl_child` RENAME TO `ddl_child`']


# --------------------------------------------------------------------------
# tables


def test_create_and_drop_table(filled):
    db, schema = filled
    assert {"ddl_parent", "ddl_child"} <= tables(db)
    assert column_names(db, "ddl_child") == ["id", "parent_id", "qty", "note"]
    check_unchanged(db)

    def dropped():
        assert "ddl_child" not in tables(db)
        assert rows(db, "ddl_parent") == PARENT_ROWS

    def created_again():
        assert "ddl_child" in tables(db)
        assert column_names(db, "ddl_child") == ["id", "parent_id", "qty", "note"]
        assert rows(db, "ddl_child") == []  # a dropped table's rows do not come back
        assert rows(db, "ddl_parent") == PARENT_ROWS

    forward_and_back(db, schema, DropTable("ddl_child"), dropped, created_again)


def test_rename_table(filled):
    db, schema = filled

    def renamed():
        assert "ddl_child" not in tables(db) and "ddl_items" in tables(db)
        assert rows(db, "ddl_items") == CHILD_ROWS

    forward_and_back(db, schema, RenameTable("ddl_child", "ddl_items"), renamed,
                     lambda: check_unchanged(db))
    assert "ddl_items" not in tables(db)


# --------------------------------------------------------------------------
# columns


def test_add_nullable_column(filled):
    db, schema = filled

    def added():
        assert column_names(db, "ddl_child") == ["id", "parent_id", "qty", "note", "extra"]
        assert rows(db, "ddl_child", '"id", "extra"') == [(1, None), (2, None), (3, None)]
        db.execute('UPDATE "ddl_child" SET "extra" = ? WHERE "id" = ?', (7, 2))
        assert rows(db, "ddl_child", '"id", "extra"') == [(1, None), (2, 7), (3, None)]

    def removed():
        assert column_names(db, "ddl_child") == ["id", "parent_id", "qty", "note"]
        check_unchanged(db)

    forward_and_back(db, schema, AddColumn("ddl_child", ColumnDef("extra", "int", nullable=True)),
                     added, removed)


@pytest.mark.parametrize("column, existing", [
    (ColumnDef("colour", "str", default="it's red"), "it's red"),
    (ColumnDef("stock", "int", default=7), 7),
    (ColumnDef("label", "str", length=20, nullable=True, default="none"), "none"),
])
def test_add_column_with_a_server_default(filled, column, existing):
    db, schema = filled

    def added():
        assert column_names(db, "ddl_child")[-1] == column.name
        assert rows(db, "ddl_child", f'"id", "{column.name}"') == [
            (1, existing), (2, existing), (3, existing)]
        db.execute('INSERT INTO "ddl_child" ("id", "qty") VALUES (?, ?)', (4, 40))
        assert rows(db, "ddl_child", f'"{column.name}"')[-1] == (existing,)
        db.execute('DELETE FROM "ddl_child" WHERE "id" = ?', (4,))

    def removed():
        assert column_names(db, "ddl_child") == ["id", "parent_id", "qty", "note"]
        check_unchanged(db)

    forward_and_back(db, schema, AddColumn("ddl_child", column), added, removed)


def test_add_not_null_column_with_a_sql_default(filled):
    """SQLite cannot ADD a column whose default is not a constant: rebuilt."""
    db, schema = filled

    def added():
        stamps = rows(db, "ddl_child", '"id", "made"')
        assert [r[0] for r in stamps] == [1, 2, 3]
        assert all(r[1] is not None for r in stamps)
        assert rows(db, "ddl_child", '"id", "parent_id", "qty", "note"') == CHILD_ROWS

    def removed():
        assert column_names(db, "ddl_child") == ["id", "parent_id", "qty", "note"]
        check_unchanged(db)

    op = AddColumn("ddl_child", ColumnDef("made", "datetime", default=Sql("CURRENT_TIMESTAMP")))
    forward_and_back(db, schema, op, added, removed)


def test_drop_column(filled):
    db, schema = filled

    def dropped():
        assert column_names(db, "ddl_child") == ["id", "parent_id", "qty"]
        assert rows(db, "ddl_child") == [r[:3] for r in CHILD_ROWS]

    def added_back():
        # the column comes back, empty: a dropped column's values are gone
        assert column_names(db, "ddl_child") == ["id", "parent_id", "qty", "note"]
        assert rows(db, "ddl_child") == [r[:3] + (None,) for r in CHILD_ROWS]

    forward_and_back(db, schema, DropColumn("ddl_child", "note"), dropped, added_back)


def test_rename_column_keeps_its_data(filled):
    db, schema = filled

    def renamed():
        assert column_names(db, "ddl_child") == ["id", "parent_id", "amount", "note"]
        assert rows(db, "ddl_child", '"id", "amount"') == [(1, 10), (2, 20), (3, 30)]

    forward_and_back(db, schema, RenameColumn("ddl_child", "qty", "amount"), renamed,
                     lambda: check_unchanged(db))


def test_alter_column_type_int_to_str_and_back(filled):
    db, schema = filled

    def as_text():
        assert rows(db, "ddl_child", '"id", "qty"') == [(1, "10"), (2, "20"), (3, "30")]
        assert rows(db, "ddl_child", '"id", "parent_id", "note"') == [
            (r[0], r[1], r[3]) for r in CHILD_ROWS]

    forward_and_back(db, schema, AlterColumn("ddl_child", ColumnDef("qty", "str")), as_text,
                     lambda: check_unchanged(db))


def test_alter_column_length(filled):
    db, schema = filled

    def sized():
        check_unchanged(db)
        db.execute('INSERT INTO "ddl_parent" ("id", "name") VALUES (?, ?)', (3, "c" * 20))
        if db.dialect.name != "sqlite":  # (SQLite does not enforce a length)
            with pytest.raises(ActiverelError):
                db.execute('INSERT INTO "ddl_parent" ("id", "name") VALUES (?, ?)', (4, "d" * 21))
        db.execute('DELETE FROM "ddl_parent" WHERE "id" = ?', (3,))

    def unsized():
        check_unchanged(db)
        db.execute('INSERT INTO "ddl_parent" ("id", "name") VALUES (?, ?)', (4, "d" * 300))
        assert rows(db, "ddl_parent")[-1] == (4, "d" * 300)
        db.execute('DELETE FROM "ddl_parent" WHERE "id" = ?', (4,))

    forward_and_back(db, schema, AlterColumn("ddl_parent", ColumnDef("name", "str", length=20)),
                     sized, unsized)


def test_alter_nullability(filled):
    db, schema = filled
    # NULLs in the column: it cannot become NOT NULL, and nothing changes
    with pytest.raises(MigrationError):
        apply_operations(db, [AlterColumn("ddl_child", ColumnDef("note", "str"))], schema)
    check_unchanged(db)
    db.execute('UPDATE "ddl_child" SET "note" = ? WHERE "note" IS NULL', ("y",))
    filled_rows = [(1, 1, 10, "x"), (2, 2, 20, "y"), (3, None, 30, "z")]

    def not_null():
        assert rows(db, "ddl_child") == filled_rows
        with pytest.raises(IntegrityError):
            db.execute('INSERT INTO "ddl_child" ("id", "qty", "note") VALUES (?, ?, ?)',
                       (4, 40, None))
        assert rows(db, "ddl_child") == filled_rows

    def nullable():
        db.execute('INSERT INTO "ddl_child" ("id", "qty", "note") VALUES (?, ?, ?)', (4, 40, None))
        assert rows(db, "ddl_child") == filled_rows + [(4, None, 40, None)]

    forward_and_back(db, schema, AlterColumn("ddl_child", ColumnDef("note", "str")), not_null,
                     nullable)


def test_alter_default(filled):
    db, schema = filled

    def defaulted():
        check_unchanged(db)
        db.execute('INSERT INTO "ddl_child" ("id") VALUES (?)', (4,))
        assert rows(db, "ddl_child")[-1] == (4, None, 5, None)
        db.execute('DELETE FROM "ddl_child" WHERE "id" = ?', (4,))

    def no_default():
        check_unchanged(db)
        with pytest.raises(ActiverelError):
            db.execute('INSERT INTO "ddl_child" ("id") VALUES (?)', (4,))
        check_unchanged(db)

    forward_and_back(db, schema, AlterColumn("ddl_child", ColumnDef("qty", "int", default=5)),
                     defaulted, no_default)


# --------------------------------------------------------------------------
# indexes


def test_create_and_drop_index(filled):
    db, schema = filled
    index = IndexDef("ix_ddl_child_qty_note", ("qty", "note"))

    def created():
        assert index_names(db, "ddl_child") == {"ix_ddl_child_qty_note"}
        check_unchanged(db)

    def dropped():
        assert index_names(db, "ddl_child") == set()
        check_unchanged(db)

    forward_and_back(db, schema, CreateIndex("ddl_child", index), created, dropped)


def test_create_and_drop_unique_index(filled):
    """On MariaDB the text column becomes VARCHAR(255) to be indexed, and
    LONGTEXT again after."""
    db, schema = filled
    duplicate = 'INSERT INTO "ddl_parent" ("id", "name") VALUES (?, ?)'

    def unique():
        assert index_names(db, "ddl_parent") == {"uq_ddl_parent_name"}
        check_unchanged(db)
        with pytest.raises(IntegrityError):
            db.execute(duplicate, (3, "a"))
        check_unchanged(db)

    def not_unique():
        assert index_names(db, "ddl_parent") == set()
        check_unchanged(db)
        db.execute(duplicate, (3, "a"))
        assert rows(db, "ddl_parent") == PARENT_ROWS + [(3, "a")]

    op = CreateIndex("ddl_parent", IndexDef("uq_ddl_parent_name", ("name",), unique=True))
    forward_and_back(db, schema, op, unique, not_unique)


# --------------------------------------------------------------------------
# foreign keys and checks


def test_add_and_drop_foreign_key_on_delete_cascade(filled):
    db, schema = filled
    fk = ForeignKeyDef("fk_ddl_child_parent_id", ("parent_id",), "ddl_parent", ("id",),
                       on_delete="CASCADE")

    def enforced():
        check_unchanged(db)
        with pytest.raises(IntegrityError):
            db.execute('INSERT INTO "ddl_child" ("id", "parent_id", "qty") VALUES (?, ?, ?)',
                       (4, 99, 40))
        db.execute('DELETE FROM "ddl_parent" WHERE "id" = ?', (1,))
        assert rows(db, "ddl_child") == CHILD_ROWS[1:]  # the child went with its parent

    def gone():
        # (on MariaDB, with the index the foreign key made for itself)
        assert index_names(db, "ddl_child") == set()
        db.execute('DELETE FROM "ddl_parent" WHERE "id" = ?', (2,))
        assert rows(db, "ddl_parent") == []
        assert rows(db, "ddl_child") == CHILD_ROWS[1:]  # no cascade any more
        db.execute('INSERT INTO "ddl_child" ("id", "parent_id", "qty") VALUES (?, ?, ?)',
                   (4, 99, 40))
        assert rows(db, "ddl_child")[-1] == (4, 99, 40, None)

    forward_and_back(db, schema, AddForeignKey("ddl_child", fk), enforced, gone)


def test_add_and_drop_foreign_key_on_delete_set_null(filled):
    db, schema = filled
    fk = ForeignKeyDef("fk_ddl_child_parent_id", ("parent_id",), "ddl_parent", ("id",),
                       on_delete="SET NULL")

    def enforced():
        check_unchanged(db)
        db.execute('DELETE FROM "ddl_parent" WHERE "id" = ?', (1,))
        assert rows(db, "ddl_child") == [(1, None, 10, "x")] + CHILD_ROWS[1:]

    def gone():
        assert index_names(db, "ddl_child") == {"ix_ddl_child_parent_id"}
        db.execute('DELETE FROM "ddl_parent" WHERE "id" = ?', (2,))
        assert rows(db, "ddl_child") == [(1, None, 10, "x")] + CHILD_ROWS[1:]

    # with an index of its own: the foreign key makes none
    schema = apply_operations(db, [CreateIndex("ddl_child", IndexDef(
        "ix_ddl_child_parent_id", ("parent_id",)))], schema)
    forward_and_back(db, schema, AddForeignKey("ddl_child", fk), enforced, gone)


def test_add_and_drop_check(filled):
    db, schema = filled
    insert = 'INSERT INTO "ddl_child" ("id", "qty") VALUES (?, ?)'

    def checked():
        check_unchanged(db)
        with pytest.raises(IntegrityError):
            db.execute(insert, (4, -1))
        check_unchanged(db)

    def unchecked():
        db.execute(insert, (4, -1))
        assert rows(db, "ddl_child") == CHILD_ROWS + [(4, None, -1, None)]

    op = AddCheck("ddl_child", CheckDef("ck_ddl_child_qty", '"qty" > 0'))
    forward_and_back(db, schema, op, checked, unchecked)


def test_percent_signs_and_question_marks_in_ddl(filled):
    """The drivers of the servers format the statement text: a literal % or
    ? in a default or a check reaches the server as written."""
    db, schema = filled
    ops = [AddColumn("ddl_child", ColumnDef("label", "str", default="100% sure?")),
           AddCheck("ddl_child", CheckDef("ck_ddl_child_label", "\"label\" NOT LIKE '%?%?'"))]
    after = apply_operations(db, ops, schema)
    assert rows(db, "ddl_child", '"id", "label"') == [
        (1, "100% sure?"), (2, "100% sure?"), (3, "100% sure?")]
    with pytest.raises(IntegrityError):
        db.execute('INSERT INTO "ddl_child" ("id", "qty", "label") VALUES (?, ?, ?)',
                   (4, 1, "why??"))
    apply_operations(db, [op.reverse(schema) for op in reversed(ops)], after)
    check_unchanged(db)


# --------------------------------------------------------------------------
# data steps


def test_run_sql_forward_and_backward(filled):
    db, schema = filled
    op = RunSQL(['UPDATE "ddl_child" SET "qty" = "qty" + 1',
                 'UPDATE "ddl_parent" SET "name" = \'p\' || "name"'
                 if db.dialect.name != "mysql" else
                 'UPDATE "ddl_parent" SET "name" = CONCAT(\'p\', "name")'],
                ['UPDATE "ddl_child" SET "qty" = "qty" - 1',
                 'UPDATE "ddl_parent" SET "name" = SUBSTR("name", 2)'])

    def ran():
        assert rows(db, "ddl_child", '"id", "qty"') == [(1, 11), (2, 21), (3, 31)]
        assert rows(db, "ddl_parent") == [(1, "pa"), (2, "pb")]

    forward_and_back(db, schema, op, ran, lambda: check_unchanged(db))


def double(db: Any) -> None:
    db.execute('UPDATE "ddl_child" SET "qty" = "qty" * 2')


def halve(db: Any) -> None:
    db.execute('UPDATE "ddl_child" SET "qty" = "qty" / 2')


def test_run_python_joins_the_migration(filled):
    db, schema = filled

    def ran():
        assert rows(db, "ddl_child", '"id", "qty"') == [(1, 20), (2, 40), (3, 60)]

    op = RunPython(double, halve)
    assert operation_sql(op, schema, db.dialect) == []
    forward_and_back(db, schema, op, ran, lambda: check_unchanged(db))


def test_several_operations_in_one_migration(filled):
    db, schema = filled
    ops: list[Operation] = [
        AddColumn("ddl_child", ColumnDef("extra", "int", nullable=True)),
        RunSQL('UPDATE "ddl_child" SET "extra" = "qty" + 1'),
        AlterColumn("ddl_child", ColumnDef("extra", "int", default=0)),
        CreateIndex("ddl_child", IndexDef("ix_ddl_child_extra", ("extra",))),
    ]
    after = apply_operations(db, ops, schema)
    assert after.table("ddl_child").column("extra") == ColumnDef("extra", "int", default=0)
    assert rows(db, "ddl_child", '"id", "extra"') == [(1, 11), (2, 21), (3, 31)]
    assert index_names(db, "ddl_child") == {"ix_ddl_child_extra"}


# --------------------------------------------------------------------------
# failures


def test_a_failing_migration(filled, backend):
    """PostgreSQL and SQLite roll the whole migration back; MariaDB commits
    each DDL statement, so the error names what ran and stays."""
    db, schema = filled
    ops = [AddColumn("ddl_child", ColumnDef("extra", "int", nullable=True)),
           CreateIndex("ddl_child", IndexDef("ix_ddl_child_extra", ("extra",))),
           AlterColumn("ddl_child", ColumnDef("note", "str"))]  # a NULL note: fails
    with pytest.raises(MigrationError) as info:
        apply_operations(db, ops, schema)
    message = str(info.value)
    if db.dialect.features.transactional_ddl:
        assert "rolled back" in message
        assert column_names(db, "ddl_child") == ["id", "parent_id", "qty", "note"]
        assert index_names(db, "ddl_child") == set()
        check_unchanged(db)
    else:
        assert backend == "mysql"
        assert "commits each DDL statement" in message
        ran, failed = message.split("this failed:")
        assert ran.split("These ran:")[1].split() == (
            'ALTER TABLE "ddl_child" ADD COLUMN "extra" BIGINT\n'
            'CREATE INDEX "ix_ddl_child_extra" ON "ddl_child" ("extra")').split()
        assert 'MODIFY COLUMN "note"' in failed
        assert info.value.ran == operation_sql(ops[0], schema, db.dialect) + [  # type: ignore
            'CREATE INDEX "ix_ddl_child_extra" ON "ddl_child" ("extra")']
        assert info.value.schema.table("ddl_child").has_column("extra")  # type: ignore
        assert column_names(db, "ddl_child") == ["id", "parent_id", "qty", "note", "extra"]
        assert rows(db, "ddl_child", '"id", "parent_id", "qty", "note"') == CHILD_ROWS


def test_a_failing_data_step_rolls_back_where_ddl_is_transactional(filled):
    db, schema = filled

    def fail(db: Any) -> None:
        db.execute('UPDATE "ddl_child" SET "qty" = 0')
        raise ValueError("no")

    with pytest.raises(MigrationError) as info:
        apply_operations(db, [RunSQL('UPDATE "ddl_parent" SET "name" = \'q\''),
                              RunPython(fail)], schema)
    assert isinstance(info.value.__cause__, ValueError)
    assert "run fail()" in str(info.value)
    check_unchanged(db)  # (no DDL ran: rolled back on MariaDB too)


def test_data_steps_after_the_last_ddl_statement_roll_back_and_the_error_says_so(filled):
    """MariaDB commits at each DDL statement what ran before it; a data step
    after the last one is still in the transaction: rolled back with the
    failure, and listed apart from what stays."""
    db, schema = filled

    def fail(db: Any) -> None:
        raise ValueError("no")

    ops = [AddColumn("ddl_child", ColumnDef("extra", "int", nullable=True)),
           RunSQL('UPDATE "ddl_parent" SET "name" = \'q\''), RunPython(fail)]
    with pytest.raises(MigrationError) as info:
        apply_operations(db, ops, schema)
    message = str(info.value)
    assert rows(db, "ddl_parent") == PARENT_ROWS  # the UPDATE: rolled back everywhere
    if db.dialect.features.transactional_ddl:
        assert "rolled back" in message and info.value.ran == []  # type: ignore[attr-defined]
        assert column_names(db, "ddl_child") == ["id", "parent_id", "qty", "note"]
    else:
        assert column_names(db, "ddl_child") == ["id", "parent_id", "qty", "note", "extra"]
        assert info.value.ran == operation_sql(ops[0], schema, db.dialect)  # type: ignore
        kept, rest = message.split("These ran:")[1].split("these ran after it and were rolled back:")
        assert kept.split() == " ".join(operation_sql(ops[0], schema, db.dialect)).split()
        assert rest.split("this failed:")[0].split() == 'UPDATE "ddl_parent" SET "name" = \'q\''.split()
        assert "run fail()" in rest.split("this failed:")[1]


# --------------------------------------------------------------------------
# SQLite's rebuild


def _family(db: Database) -> Schema:
    parent = PARENT.copy()
    child = CHILD.copy()
    child.indexes = [IndexDef("ix_ddl_child_parent_id", ("parent_id",)),
                     IndexDef("uq_ddl_child_note", ("note",), unique=True)]
    child.foreign_keys = [ForeignKeyDef("fk_ddl_child_parent_id", ("parent_id",), "ddl_parent",
                                        ("id",), on_delete="CASCADE")]
    toy = TableDef("ddl_toy", [ColumnDef("id", "int"), ColumnDef("child_id", "int")],
                   primary_key=("id",),
                   foreign_keys=[ForeignKeyDef("fk_ddl_toy_child_id", ("child_id",), "ddl_child",
                                               ("id",))])
    schema = apply_operations(db, [CreateTable(parent), CreateTable(child), CreateTable(toy)],
                              Schema())
    for row in PARENT_ROWS:
        db.execute('INSERT INTO "ddl_parent" ("id", "name") VALUES (?, ?)', row)
    for row in CHILD_ROWS + [(4, 2, 40, "w")]:
        db.execute('INSERT INTO "ddl_child" ("id", "parent_id", "qty", "note") '
                   "VALUES (?, ?, ?, ?)", row)
    db.execute('DELETE FROM "ddl_child" WHERE "id" = ?', (4,))  # the key counter is at 4
    db.execute('INSERT INTO "ddl_toy" ("id", "child_id") VALUES (?, ?)', (1, 2))
    return schema


def _sqlite_shape(db: Database) -> tuple[Any, ...]:
    fks = sorted(tuple(r[2:]) for r in db.execute('PRAGMA foreign_key_list("ddl_child")'))
    toy_fks = sorted(tuple(r[2:]) for r in db.execute('PRAGMA foreign_key_list("ddl_toy")'))
    index_list = sorted((r[1], r[2]) for r in db.execute('PRAGMA index_list("ddl_child")')
                        if r[3] != "pk")
    return fks, toy_fks, index_list


@sqlite_only
def test_sqlite_rebuild_keeps_foreign_keys_indexes_and_the_key_counter(ddb):
    db = ddb
    schema = _family(db)
    shape = _sqlite_shape(db)
    assert shape == (
        [("ddl_parent", "parent_id", "id", "NO ACTION", "CASCADE", "NONE")],
        [("ddl_child", "child_id", "id", "NO ACTION", "NO ACTION", "NONE")],
        [("ix_ddl_child_parent_id", 0), ("uq_ddl_child_note", 1)])
    op = AlterColumn("ddl_child", ColumnDef("qty", "str"))
    statements = operation_sql(op, schema, db.dialect)
    assert 'DROP TABLE `ddl_child`' in statements  # rebuilt, not altered

    def check_rebuilt(qty: Callable[[int], Any]) -> None:
        assert _sqlite_shape(db) == shape
        assert rows(db, "ddl_child") == [(r[0], r[1], qty(r[2]), r[3]) for r in CHILD_ROWS]
        assert db.execute("PRAGMA foreign_keys") == [(1,)]
        assert db.execute("PRAGMA foreign_key_check") == []

    after = apply_operations(db, [op], schema)
    check_rebuilt(str)
    back = apply_operations(db, [op.reverse(schema)], after)
    check_rebuilt(int)
    assert back == schema

    # other tables' foreign keys to the rebuilt table are enforced
    with pytest.raises(IntegrityError):
        db.execute('INSERT INTO "ddl_toy" ("id", "child_id") VALUES (?, ?)', (2, 99))
    # its own foreign keys are enforced, with their actions
    with pytest.raises(IntegrityError):
        db.execute('INSERT INTO "ddl_child" ("parent_id", "qty") VALUES (?, ?)', (99, 1))
    db.execute('DELETE FROM "ddl_parent" WHERE "id" = ?', (1,))
    assert [r[0] for r in rows(db, "ddl_child")] == [2, 3]
    # its unique index too
    with pytest.raises(IntegrityError):
        db.execute('INSERT INTO "ddl_child" ("parent_id", "qty", "note") VALUES (?, ?, ?)',
                   (2, 1, "z"))
    # and a deleted key is not handed out again
    db.execute('INSERT INTO "ddl_child" ("parent_id", "qty") VALUES (?, ?)', (2, 50))
    assert rows(db, "ddl_child", '"id"')[-1] == (5,)


@sqlite_only
def test_sqlite_rebuild_that_breaks_a_foreign_key_is_rolled_back(ddb):
    """Rows that a rebuild would leave pointing nowhere: the foreign key
    check before COMMIT refuses the migration, and foreign keys are on
    again afterwards."""
    db = ddb
    schema = _family(db)
    raw = sqlite3.connect(db.dialect.target, uri=True, isolation_level=None)
    try:  # an orphan, written where foreign keys are off (sqlite3's default)
        raw.execute('INSERT INTO "ddl_child" ("id", "parent_id", "qty") VALUES (?, ?, ?)',
                    (9, 99, 1))
    finally:
        raw.close()
    op = AlterColumn("ddl_child", ColumnDef("qty", "int", default=1))
    with pytest.raises(MigrationError, match="ddl_child row 9 -> ddl_parent"):
        apply_operations(db, [op], schema)
    assert db.execute("PRAGMA foreign_keys") == [(1,)]
    assert 'DEFAULT' not in db.execute(
        "SELECT sql FROM sqlite_master WHERE name = 'ddl_child'")[0][0]
