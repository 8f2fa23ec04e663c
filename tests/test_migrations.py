"""Schemas that evolve (issue 16), on every backend: the first-use check
(a model the table cannot hold raises SchemaError, never a wrong value),
``db.migrate()`` adding only what loses nothing, the complete DDL of a model
(server defaults read back, composite unique and indexes, checks, lengths),
and the migration files with the command line, forward and backward on
tables that hold data."""
from __future__ import annotations

import textwrap
from datetime import datetime
from pathlib import Path
from typing import Annotated, Optional

import pytest

from activerel import (AutoIncrement, Database, IntegrityError, Model, PrimaryKey, SchemaError,
                       Sql, Unique, ValidationError, field)
from activerel.cli import main
from activerel.errors import MigrationError
from activerel.migrations.runner import Migrator
from activerel.schema.operations import AddCheck
from activerel.schema.tables import CheckDef
from activerel.schema_apply import apply_operations
from tests.backends import namespace_url, require
from tests.test_introspection import _ddl as hand_made_ddl


@pytest.fixture
def url(backend: str, tmp_path: Path) -> str:
    """A database of its own, empty: an SQLite file, or a fresh server namespace."""
    require(backend)
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'mig.db'}"
    return namespace_url(backend, "_mig", fresh=True)


# -- the first-use check ---------------------------------------------------------


class MgGadgetV1(Model, table="mg_gadgets"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str


class MgGadgetV2(Model, table="mg_gadgets"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str
    colour: str = "red"


class MgGadgetV3(Model, table="mg_gadgets"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: Optional[str] = None
    colour: str = "red"


class MgGadgetV4(Model, table="mg_gadgets"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: int


def test_a_new_field_raises_schema_error_until_migrate_adds_it(url: str) -> None:
    with Database(url, models=[MgGadgetV1]) as old:
        old.migrate()
        old.persist(MgGadgetV1(name="g1"))
    with Database(url, models=[MgGadgetV2]) as db:
        with pytest.raises(SchemaError) as err:
            MgGadgetV2.query().find()
        message = str(err.value)
        assert message.startswith(
            "MgGadgetV2.colour: the table 'mg_gadgets' has no column 'colour'")
        assert "db.migrate()" in message and "makemigrations" in message
        with pytest.raises(SchemaError):
            MgGadgetV2.query().filter(colour="colour").count()
        # the column is NOT NULL with a Python default: the rows there get it
        db.migrate()
        assert [(g.name, g.colour) for g in MgGadgetV2.query().order_by("id").find()] == [
            ("g1", "red")]
        db.persist(MgGadgetV2(name="g2", colour="blue"))
        assert MgGadgetV2.query().filter(colour="colour").count() == 0
        assert [(g.name, g.colour) for g in MgGadgetV2.query().order_by("id").find()] == [
            ("g1", "red"), ("g2", "blue")]
        assert db.schema_diff() == []


def test_a_missing_table_raises_schema_error(url: str) -> None:
    with Database(url, models=[MgGadgetV1]):
        with pytest.raises(SchemaError, match=r"^MgGadgetV1: the table 'mg_gadgets' does not "
                                              r"exist in "):
            MgGadgetV1.get(1)


def test_a_column_that_cannot_hold_the_field_raises(url: str) -> None:
    with Database(url, models=[MgGadgetV1]) as old:
        old.migrate()
        old.persist(MgGadgetV1(name="g1"))
    with Database(url, models=[MgGadgetV3]):
        with pytest.raises(SchemaError, match=r"^MgGadgetV3.name: the column mg_gadgets.name is "
                                              r"NOT NULL, but the field is Optional"):
            MgGadgetV3.query().find()
    with Database(url, models=[MgGadgetV4]):
        with pytest.raises(SchemaError, match=r"^MgGadgetV4.name: the column mg_gadgets.name is "
                                              r".*, which cannot hold the field's int values"):
            MgGadgetV4.query().find()


def test_migrate_refuses_what_would_lose_data_and_changes_nothing(url: str) -> None:
    with Database(url, models=[MgGadgetV1]) as old:
        old.migrate()
        old.persist(MgGadgetV1(name="g1"))
    with Database(url, models=[MgGadgetV4]) as db:
        with pytest.raises(SchemaError) as err:
            db.migrate()
        assert "alter column mg_gadgets.name" in str(err.value)
        assert "makemigrations" in str(err.value)
    with Database(url, models=[MgGadgetV1]):
        assert [g.name for g in MgGadgetV1.query().find()] == ["g1"]


# -- complete DDL from the models -------------------------------------------------


class MgOrder(Model, table="mg_orders", unique=[("customer", "number")],
              indexes=[("placed", "status")], checks={"mg_orders_qty": "qty >= 0"}):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    customer: str = field(max_length=40)
    number: int
    qty: int = 1
    status: str = field(server_default="new", max_length=16)
    rank: int = field(server_default=7)
    placed: datetime = field(server_default=Sql("CURRENT_TIMESTAMP"))


def test_server_defaults_are_read_back_after_insert(url: str) -> None:
    with Database(url, models=[MgOrder]) as db:
        db.migrate()
        with db.session():
            a = MgOrder(customer="ada", number=1)
            b = MgOrder(customer="bob", number=1, status="paid", rank=1)
            MgOrder.query()  # nothing flushed yet
            a.persist()
            b.persist()
        assert (a.status, a.rank, b.status, b.rank) == ("new", 7, "paid", 1)
        assert isinstance(a.placed, datetime) and isinstance(b.placed, datetime)
        with db.session():
            again = MgOrder.get(a.id)
            assert (again.status, again.rank, again.placed) == ("new", 7, a.placed)


def test_composite_unique_index_check_and_length(url: str) -> None:
    with Database(url, models=[MgOrder]) as db:
        db.migrate()
        db.persist(MgOrder(customer="ada", number=1))
        db.persist(MgOrder(customer="ada", number=2))
        with pytest.raises(IntegrityError):
            db.persist(MgOrder(customer="ada", number=1))
        with pytest.raises(IntegrityError):
            db.persist(MgOrder(customer="cy", number=1, qty=-1))
        with pytest.raises(ValidationError):
            MgOrder(customer="x" * 41, number=3)
        live = db.live_schema(["mg_orders"]).table("mg_orders")
        assert {(i.columns, i.unique) for i in live.indexes} == {
            (("customer", "number"), True), (("placed", "status"), False)}
        assert [c.name for c in live.checks] == ["mg_orders_qty"]
        assert (live.column("customer").length, live.column("status").length) == (40, 16)
        assert db.schema_diff() == []
        assert MgOrder.query().count() == 2


# -- migration files and the command line ------------------------------------------

V1 = '''
from typing import Annotated, Optional
from activerel import AutoIncrement, BackReference, Model, PrimaryKey, Reference, field


class Author(Model, table="cli_authors"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str
    email: str
    books: BackReference[list["Book"]]


class Book(Model, table="cli_books"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    author: Annotated[Author, Reference(on_delete="CASCADE")]
    title: str
'''

V2 = '''
from typing import Annotated, Optional
from activerel import AutoIncrement, BackReference, Index, Model, PrimaryKey, Reference, field


class Author(Model, table="cli_authors"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    full_name: Annotated[str, Index]
    books: BackReference[list["Book"]]


class Book(Model, table="cli_books"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    author: Annotated[Author, Reference(on_delete="CASCADE")]
    title: str
    pages: int = 100
    isbn: Optional[str] = field(default=None, max_length=13)
'''


def _project(tmp_path: Path, url: str) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "pyproject.toml").write_text(textwrap.dedent(f'''
        [tool.activerel]
        url = "{url}"
        migrations = "migrations"
    '''))
    return root


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


def _rows(db: Database, sql: str) -> list[tuple]:
    return [tuple(r) for r in db.execute(sql)]


def test_makemigrations_and_migrate_forward_and_back(url: str, tmp_path: Path, backend: str,
                                                     capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    root = _project(tmp_path, url)
    monkeypatch.chdir(root)
    monkeypatch.syspath_prepend(str(root))
    (root / f"cli_v1_{backend}.py").write_text(V1)
    (root / f"cli_v2_{backend}.py").write_text(V2)
    v1, v2 = f"--models=cli_v1_{backend}", f"--models=cli_v2_{backend}"

    code, out = _run(capsys, "makemigrations", v1)
    assert code == 0, out
    assert out.splitlines() == [
        f"Wrote {root / 'migrations' / '0001_initial.py'}:",
        "  - create table cli_authors", "  - create table cli_books"]
    code, out = _run(capsys, "makemigrations", v1)
    assert (code, out) == (0, f"No changes: the models match the migrations in "
                              f"{root / 'migrations'}.\n")
    code, out = _run(capsys, "migrate")
    assert (code, out) == (0, "applying 0001_initial... done\n")

    with Database(url, models=[]) as db:
        db.execute("INSERT INTO cli_authors (name, email) VALUES (?, ?)", ("Ada", "ada@x"))
        db.execute("INSERT INTO cli_books (author_id, title) VALUES (?, ?)", (1, "Notes"))

    code, out = _run(capsys, "makemigrations", v2, "--check")
    assert code == 1
    code, out = _run(capsys, "makemigrations", v2, "--rename", "cli_authors.name=full_name",
                     "--name", "rename_and_pages")
    assert code == 0, out
    path = root / "migrations" / "0002_rename_and_pages.py"
    text = path.read_text()
    assert "RenameColumn('cli_authors', 'name', 'full_name')," in text
    assert "DropColumn('cli_authors', 'email')," in text
    assert "AddColumn('cli_books', Column('pages', 'int'), fill=100)," in text
    assert "AddColumn('cli_books', Column('isbn', 'str', nullable=True, length=13))," in text
    assert "CreateIndex('cli_authors', Index('ix_cli_authors_full_name', ('full_name',)))," in text
    assert 'previous = \'0001_initial\'' in text

    code, out = _run(capsys, "showmigrations", "-q")
    assert (code, out) == (0, "[X] 0001_initial\n[ ] 0002_rename_and_pages\n")
    code, out = _run(capsys, "sql", "0002")
    assert code == 0 and "full_name" in out and "pages" in out

    code, out = _run(capsys, "migrate")
    assert (code, out) == (0, "applying 0002_rename_and_pages... done\n")
    with Database(url, models=[]) as db:
        assert _rows(db, "SELECT id, full_name FROM cli_authors") == [(1, "Ada")]
        assert _rows(db, "SELECT id, title, pages, isbn FROM cli_books") == [
            (1, "Notes", 100, None)]
    code, out = _run(capsys, "makemigrations", v2)
    assert code == 0 and out.startswith("No changes"), out

    # back to 0001: the column gets its old name and data back; email returns empty
    code, out = _run(capsys, "migrate", "0001")
    assert (code, out) == (0, "unapplying 0002_rename_and_pages... done\n")
    with Database(url, models=[]) as db:
        assert _rows(db, "SELECT id, name FROM cli_authors") == [(1, "Ada")]
        assert _rows(db, "SELECT id, title FROM cli_books") == [(1, "Notes")]
    code, out = _run(capsys, "migrate", "zero")
    assert (code, out) == (0, "unapplying 0001_initial... done\n")
    with Database(url, models=[]) as db:
        assert db.live_schema().tables == {}
    code, out = _run(capsys, "migrate")
    assert (code, out) == (0, "applying 0001_initial... done\napplying 0002_rename_and_pages... "
                              "done\n")
    code, out = _run(capsys, "showmigrations")
    assert out.splitlines()[0] == "[X] 0001_initial"


@pytest.mark.sqlite_only
def test_sqlite_never_reads_a_missing_column_as_its_name(url: str) -> None:
    """SQLite reads an unknown "double-quoted" name as a string literal; a
    column dropped behind the check's back is an error, not its own name."""
    with Database(url, models=[MgGadgetV2]) as db:
        db.migrate()
        db.persist(MgGadgetV2(name="g1"))
        assert [g.colour for g in MgGadgetV2.query().find()] == ["red"]
        db.execute("ALTER TABLE mg_gadgets DROP COLUMN colour")
        with db.session():
            with pytest.raises(Exception, match="no such column"):
                MgGadgetV2.query().find()
        assert db.execute('SELECT "colour" FROM mg_gadgets') == [("colour",)]


def test_inspect_writes_models_that_match_the_database(url: str, tmp_path: Path, backend: str,
                                                       capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A schema made by hand (a composite key, a self reference, a pivot with
    extra columns, defaults, checks, unique and plain indexes) -> inspect ->
    models that makemigrations, against the database, finds nothing to change
    in; and the models load the rows."""
    with Database(url, models=[]) as db:
        for statement in hand_made_ddl(backend):
            db.execute(statement)
        db.execute("INSERT INTO authors (name) VALUES (?)", ("Ada",))
        db.execute("INSERT INTO books (author_id, seq, title) VALUES (?, ?, ?)", (1, 1, "Notes"))
        db.execute("INSERT INTO tags (label) VALUES (?)", ("math",))
        db.execute("INSERT INTO book_tags (author_id, seq, tag_id, note) VALUES (?, ?, ?, ?)",
                   (1, 1, 1, "first"))
    root = _project(tmp_path, url)
    monkeypatch.chdir(root)
    monkeypatch.syspath_prepend(str(root))
    module = f"inspected_{backend}"
    code, out = _run(capsys, "inspect", "-o", f"{module}.py")
    assert (code, out) == (0, f"Wrote 4 model(s) to {module}.py.\n")
    code, out = _run(capsys, "makemigrations", f"--models={module}", "--from-db", "--check")
    assert (code, out) == (0, "No changes: the models match the database.\n")
    models = __import__(module)
    with Database(url, models=[models.Authors, models.Books, models.Tags, models.BookTags]):
        ada = models.Authors.query().join_with("books").find_one()
        assert (ada.name, ada.status, ada.score, [b.title for b in ada.books]) == (
            "Ada", "it's new", 0, ["Notes"])
        link = models.BookTags.query().find_one()
        assert (link.note, link.added_by_ref) == ("first", None)


DATA_0001 = '''
from activerel.migrations.ops import Column, CreateTable, Table

previous = None

operations = [
    CreateTable(Table("dm_people", [
        Column("id", "int", autoincrement=True),
        Column("name", "str", length=40),
    ], primary_key=("id",))),
]
'''

DATA_0002 = '''
from activerel.migrations.ops import AddColumn, Column, RunPython, RunSQL


def split_names(db):
    for pk, name in db.execute("SELECT id, name FROM dm_people ORDER BY id"):
        db.execute("UPDATE dm_people SET first = ? WHERE id = ?", (name.split()[0], pk))


def clear_names(db):
    db.execute("UPDATE dm_people SET first = NULL")


previous = "0001_people"

operations = [
    RunSQL("INSERT INTO dm_people (name) VALUES ('Ada Lovelace')",
           "DELETE FROM dm_people WHERE name = 'Ada Lovelace'"),
    AddColumn("dm_people", Column("first", "str", nullable=True, length=40)),
    RunPython(split_names, clear_names),
]
'''


def test_a_data_migration_runs_forward_and_back(url: str, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_people.py").write_text(DATA_0001)
    (folder / "0002_first_names.py").write_text(DATA_0002)
    with Database(url, models=[]) as db:
        migrator = Migrator(db, folder)
        assert [(m.name, done) for m, done in migrator.status()] == [
            ("0001_people", False), ("0002_first_names", False)]
        migrator.migrate("0001")
        db.execute("INSERT INTO dm_people (name) VALUES (?)", ("Grace Hopper",))
        migrator.migrate()
        assert _rows(db, "SELECT name, first FROM dm_people ORDER BY id") == [
            ("Grace Hopper", "Grace"), ("Ada Lovelace", "Ada")]
        assert migrator.applied() == ["0001_people", "0002_first_names"]
        migrator.migrate("0001")
        assert _rows(db, "SELECT * FROM dm_people ORDER BY id") == [(1, "Grace Hopper")]
        assert migrator.applied() == ["0001_people"]


def test_a_failing_migration_is_not_recorded(url: str, tmp_path: Path, backend: str) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_people.py").write_text(DATA_0001)
    (folder / "0002_broken.py").write_text(
        "from activerel.migrations.ops import AddColumn, Column, RunSQL\n"
        "previous = '0001_people'\n"
        "operations = [AddColumn('dm_people', Column('age', 'int', nullable=True)),\n"
        "              RunSQL('SELECT no_such_column FROM dm_people')]\n")
    with Database(url, models=[]) as db:
        migrator = Migrator(db, folder)
        with pytest.raises(MigrationError) as err:
            migrator.migrate()
        assert str(err.value).startswith("0002_broken: ")
        assert "0002_broken is not recorded as applied." in str(err.value)
        assert migrator.applied() == ["0001_people"]
        columns = [c.name for c in db.live_schema(["dm_people"]).table("dm_people").columns]
        if db.dialect.features.transactional_ddl:
            assert "rolled back" in str(err.value) and columns == ["id", "name"]
        else:  # MariaDB: the ALTER TABLE ran and stays
            assert "These ran:" in str(err.value) and columns == ["id", "name", "age"]


class MgGadgetU(Model, table="mg_gadgets"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: Annotated[str, Unique]
    colour: str = "red"


def test_migrate_adds_a_field_to_a_table_with_an_inline_unique(url: str, backend: str) -> None:
    """A table made by the previous release (an inline UNIQUE, unnamed
    foreign keys) gains a NOT NULL field with a Python default."""
    ident = {"sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT",
             "postgresql": "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
             "mysql": "BIGINT AUTO_INCREMENT PRIMARY KEY"}[backend]
    text = "VARCHAR(255)" if backend == "mysql" else "TEXT"
    with Database(url, models=[]) as raw:
        raw.execute(f"CREATE TABLE mg_gadgets (id {ident}, name {text} NOT NULL UNIQUE)")
        raw.execute("INSERT INTO mg_gadgets (name) VALUES (?)", ("g1",))
    with Database(url, models=[MgGadgetU]) as db:
        db.migrate()
        assert [(g.name, g.colour) for g in MgGadgetU.query().find()] == [("g1", "red")]
        with pytest.raises(IntegrityError):
            db.persist(MgGadgetU(name="g1"))
        assert db.schema_diff() == []
        db.migrate()  # nothing left to do


def test_migrate_leaves_a_column_the_models_no_longer_declare(url: str) -> None:
    with Database(url, models=[MgGadgetV2]) as old:
        old.migrate()
        old.persist(MgGadgetV2(name="g1", colour="blue"))
    # the field is gone from the code; the column (with a default on SQLite,
    # NOT NULL elsewhere) stays until a migration drops it
    with Database(url, models=[MgGadgetV1]) as db:
        ops = db.schema_diff()
        assert [op.describe() for op in ops] == ["drop column mg_gadgets.colour"]
        if db.live_schema(["mg_gadgets"]).table("mg_gadgets").column("colour").default is None:
            with pytest.raises(SchemaError, match="drop column mg_gadgets.colour"):
                db.migrate()
        else:
            db.migrate()
            db.persist(MgGadgetV1(name="g2"))
            assert sorted(g.name for g in MgGadgetV1.query().find()) == ["g1", "g2"]


class MgNamesView(Model, table="mg_names"):
    id: Annotated[int, PrimaryKey] = 0
    name: str


def test_a_model_on_a_view_passes_the_first_use_check(url: str) -> None:
    with Database(url, models=[MgGadgetV1]) as old:
        old.migrate()
        old.persist(MgGadgetV1(name="g1"))
        old.execute("CREATE VIEW mg_names AS SELECT id, name FROM mg_gadgets")
    with Database(url, models=[MgNamesView]):
        assert [(v.id, v.name) for v in MgNamesView.query().find()] == [(1, "g1")]


def test_a_sqlite_rebuild_refuses_inside_a_pinned_test_transaction(url: str, backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("only SQLite switches foreign keys off around a migration")
    with Database(url, models=[MgOrder]) as db:
        db.migrate()
        db.engine.pin()
        try:
            with pytest.raises(Exception, match="pinned test transaction"):
                apply_operations(db, [AddCheck("mg_orders", CheckDef("mg_x", "qty < 100"))],
                                 db.live_schema(["mg_orders"]))
        finally:
            db.engine.unpin()
