"""``activerel.migrations.inspect.models_source``: model classes written
from a schema description. Each test builds a :class:`Schema` by hand, runs
the generated source as a module of its own, resolves its models and checks
that they declare the schema they were written from (up to constraint names)
and a few lines of the source itself. No database."""
from __future__ import annotations

import ast
import itertools
import re
import sys
import types
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any, Callable, Iterator

import pytest

from activerel.mapping.markers import Sql
from activerel.mapping.registry import is_model_class, registry
from activerel.migrations.inspect import class_name, models_source
from activerel.schema.declared import declared_schema
from activerel.schema.tables import (CheckDef, ColumnDef as C, ForeignKeyDef, IndexDef, Schema,
                                     TableDef)

_modules = itertools.count()


def ix(table: str, *columns: str, unique: bool = False) -> IndexDef:
    return IndexDef(f"{'uq' if unique else 'ix'}_{table}_{'_'.join(columns)}", columns, unique)


def fk(table: str, columns: tuple[str, ...], target: str, target_columns: tuple[str, ...],
       on_delete: str = "NO ACTION", on_update: str = "NO ACTION") -> ForeignKeyDef:
    return ForeignKeyDef(f"fk_{table}_{'_'.join(columns)}", columns, target, target_columns,
                         on_delete, on_update)


def schema(*tables: TableDef) -> Schema:
    return Schema({t.name: t for t in tables})


Loaded = tuple[str, types.ModuleType, Schema]


@pytest.fixture
def load() -> Iterator[Callable[[Schema], Loaded]]:
    """Run ``models_source(schema)`` as a fresh module; give the source, the
    module and the schema its resolved models declare. The models are taken
    out of the registry afterwards."""
    made: list[types.ModuleType] = []

    def run(s: Schema, **kw: Any) -> Loaded:
        source = models_source(s, **kw)
        name = f"_inspected_{next(_modules)}"
        module = types.ModuleType(name)
        sys.modules[name] = module
        made.append(module)
        exec(compile(source, f"<{name}>", "exec"), module.__dict__)  # noqa: S102 - our source
        classes = [v for v in vars(module).values()
                   if is_model_class(v) and v.__module__ == name]
        mappers = [c.__ar_mapper__.resolve() for c in classes]
        return source, module, declared_schema(mappers)

    yield run
    for module in made:
        for v in vars(module).values():
            if is_model_class(v):
                registry.unregister(v)
        sys.modules.pop(module.__name__, None)


def assert_declares(declared: Schema, expected: Schema, *, left_out: tuple[str, ...] = (),
                    column_order: bool = True) -> None:
    """``declared`` is ``expected`` (without the tables ``left_out``) up to
    index and foreign-key names and the database's own type names."""
    want = {n: t for n, t in expected.tables.items() if n not in left_out}
    assert set(declared.tables) == set(want)
    for name, table in want.items():
        got = declared.tables[name]
        cols = [replace(c, sql_type=None) for c in got.columns]
        wanted = [replace(c, sql_type=None) for c in table.columns]
        if column_order:
            assert cols == wanted, name
        else:
            assert sorted(cols, key=lambda c: c.name) == sorted(wanted, key=lambda c: c.name)
        assert got.primary_key == table.primary_key, name
        assert ({(i.columns, i.unique) for i in got.indexes}
                == {(i.columns, i.unique) for i in table.indexes}), name
        assert len(got.foreign_keys) == len(table.foreign_keys), name
        for f in table.foreign_keys:
            assert any(f.same_as(g) for g in got.foreign_keys), (name, f)
        assert ({(c.name, c.sql) for c in got.checks}
                == {(c.name, c.sql) for c in table.checks}), name


def lines(source: str) -> list[str]:
    """The lines of ``source``, stripped, a line broken after a parenthesis joined."""
    return [line.strip() for line in re.sub(r"\(\n\s+", "(", source).splitlines()]


# -- a blog: keys, defaults, lengths, two references to one table, a tree ----------------
BLOG = schema(
    TableDef("users", [
        C("id", "int", autoincrement=True),
        C("username", "str", length=80),
        C("email", "str", nullable=True, length=200),
        C("created", "datetime", default=Sql("CURRENT_TIMESTAMP")),
        C("active", "bool", default=True),
        C("balance", "decimal", default=Decimal("0.00")),
        C("settings", "json", nullable=True),
        C("location", "str", nullable=True, sql_type="geometry"),
    ], ("id",), indexes=[ix("users", "username", unique=True), ix("users", "email")]),
    TableDef("posts", [
        C("id", "int", autoincrement=True),
        C("author_id", "int"),
        C("reviewer_id", "int", nullable=True),
        C("title", "str", length=200),
        C("body", "str", default=""),
        C("published", "bool", default=False),
        C("created", "date", nullable=True, default=date(2024, 1, 1)),
        C("views", "int", default=0),
    ], ("id",),
        indexes=[ix("posts", "author_id"), ix("posts", "reviewer_id"),
                 ix("posts", "author_id", "title", unique=True),
                 ix("posts", "published", "created")],
        foreign_keys=[fk("posts", ("author_id",), "users", ("id",), "CASCADE"),
                      fk("posts", ("reviewer_id",), "users", ("id",), "SET NULL", "CASCADE")],
        checks=[CheckDef("positive_views", "views >= 0")]),
    TableDef("profiles", [
        C("id", "int", autoincrement=True),
        C("user_id", "int"),
        C("website", "str", nullable=True),
    ], ("id",), indexes=[ix("profiles", "user_id", unique=True)],
        foreign_keys=[fk("profiles", ("user_id",), "users", ("id",), "CASCADE")]),
    TableDef("categories", [
        C("id", "int", autoincrement=True),
        C("name", "str"),
        C("parent_id", "int", nullable=True),
    ], ("id",), indexes=[ix("categories", "parent_id")],
        foreign_keys=[fk("categories", ("parent_id",), "categories", ("id",), "CASCADE")]),
    TableDef("audit_log", [C("at", "datetime"), C("message", "str")]),
)


def test_blog_round_trips(load: Callable[[Schema], Loaded]) -> None:
    source, module, declared = load(BLOG)
    assert_declares(declared, BLOG, left_out=("audit_log",))
    src = lines(source)
    assert "id: Annotated[int, PrimaryKey, AutoIncrement] = 0" in src
    assert "username: Annotated[str, Unique] = field(max_length=80)" in src
    assert "email: Annotated[Optional[str], Index] = field(default=None, max_length=200)" in src
    assert 'created: datetime = field(server_default=Sql("CURRENT_TIMESTAMP"))' in src
    assert 'balance: Decimal = field(server_default=Decimal("0.00"))' in src
    assert "settings: Optional[dict] = None" in src
    assert "created: Optional[date] = field(server_default=date(2024, 1, 1))" in src
    # an unknown database type is a str with a note
    assert src[src.index("location: Optional[str] = None") - 1] == "# database type: geometry"
    # two references to users: each back reference names its own
    # author_id has an index of its own although the unique (author_id, title)
    # begins with it: declared with Index, not left to the Reference
    assert 'author: Annotated[Users, Index, Reference(on_delete="CASCADE")]' in src
    assert ('reviewer: Annotated[Optional[Users], Reference(on_delete="SET NULL", '
            'on_update="CASCADE")] = None') in src
    assert 'posts_by_author: Annotated[list[Posts], BackReference(mapped_by="author")]' in src
    assert 'posts_by_reviewer: Annotated[list[Posts], BackReference(mapped_by="reviewer")]' in src
    # a unique foreign key: one-to-one
    assert 'user: Annotated[Users, Unique, Reference(on_delete="CASCADE")]' in src
    assert "profiles: BackReference[Optional[Profiles]]" in src
    # the tree
    assert 'parent: Annotated[Optional[Categories], Reference(on_delete="CASCADE")] = None' in src
    assert 'children: Annotated[list[Categories], BackReference(mapped_by="parent")]' in src
    # class keywords
    assert 'unique=[("author", "title")]' in source
    assert 'indexes=[("published", "created")]' in source
    assert 'checks={"positive_views": "views >= 0"}' in source
    # the table without a key is listed, not declared
    assert "#   audit_log: no primary key" in source
    assert not hasattr(module, "AuditLog")
    # parents first
    assert source.index("class Users(") < source.index("class Posts(")
    users = module.Users.__ar_mapper__
    assert users.props["posts_by_reviewer"].mapped_by.name == "reviewer"
    assert users.props["profiles"].many is False


# -- composite keys, pivots, a composite foreign key ----------------------------------------
SCHOOL = schema(
    TableDef("students", [C("id", "int", autoincrement=True), C("name", "str")], ("id",)),
    TableDef("courses", [C("code", "str", length=10), C("title", "str")], ("code",)),
    TableDef("clubs", [C("id", "int", autoincrement=True), C("name", "str")], ("id",),
             indexes=[ix("clubs", "name", unique=True)]),
    # a pivot with a column of its own, its key the two foreign keys
    TableDef("enrollments", [
        C("student_id", "int"),
        C("course_code", "str", length=10),
        C("grade", "str", nullable=True, length=2),
        C("enrolled", "date", default=Sql("CURRENT_DATE")),
    ], ("student_id", "course_code"),
        indexes=[ix("enrollments", "course_code")],
        foreign_keys=[
            fk("enrollments", ("student_id",), "students", ("id",), "CASCADE"),
            fk("enrollments", ("course_code",), "courses", ("code",), "RESTRICT", "CASCADE")]),
    # a pure link table
    TableDef("student_clubs", [C("student_id", "int"), C("club_id", "int")],
             ("student_id", "club_id"), indexes=[ix("student_clubs", "club_id")],
             foreign_keys=[fk("student_clubs", ("student_id",), "students", ("id",), "CASCADE"),
                           fk("student_clubs", ("club_id",), "clubs", ("id",), "CASCADE")]),
    # a link from students to students
    TableDef("follows", [C("follower_id", "int"), C("followee_id", "int")],
             ("follower_id", "followee_id"), indexes=[ix("follows", "followee_id")],
             foreign_keys=[fk("follows", ("follower_id",), "students", ("id",), "CASCADE"),
                           fk("follows", ("followee_id",), "students", ("id",), "CASCADE")]),
    # a composite foreign key to the pivot
    TableDef("submissions", [
        C("id", "int", autoincrement=True),
        C("student_id", "int"),
        C("course_code", "str", length=10),
        C("score", "float", nullable=True),
    ], ("id",), indexes=[ix("submissions", "student_id", "course_code")],
        foreign_keys=[fk("submissions", ("student_id", "course_code"), "enrollments",
                         ("student_id", "course_code"), "CASCADE")]),
)


def test_composite_keys_and_pivots_round_trip(load: Callable[[Schema], Loaded]) -> None:
    source, module, declared = load(SCHOOL)
    assert_declares(declared, SCHOOL)
    src = lines(source)
    # the key is the two references, in key order (the second one's index is activerel's own)
    assert 'student: Annotated[Students, PrimaryKey, Reference(on_delete="CASCADE")]' in src
    assert ('course_code_ref: Annotated[Courses, PrimaryKey, Reference('
            'on_delete="RESTRICT", on_update="CASCADE", column="course_code")]') in src
    assert "code: Annotated[str, PrimaryKey] = field(max_length=10)" in src
    # the pivot with data: its rows, and the many-to-many, on both sides
    assert "enrollments: BackReference[list[Enrollments]]" in src
    assert 'courses: Annotated[list[Courses], BackReference(via="Enrollments")]' in src
    assert 'students: Annotated[list[Students], BackReference(via="Enrollments")]' in src
    # the pure link table: only the many-to-many
    assert 'clubs: Annotated[list[Clubs], BackReference(via="StudentClubs")]' in src
    assert 'students: Annotated[list[Students], BackReference(via="StudentClubs")]' in src
    assert "student_clubs: BackReference[list[StudentClubs]]" not in src
    # a link of students to students: one list per direction
    assert ('followee_via_follows: Annotated[list[Students], BackReference(via="Follows", '
            'mapped_by="follower")]') in src
    assert ('follower_via_follows: Annotated[list[Students], BackReference(via="Follows", '
            'mapped_by="followee")]') in src
    # the composite foreign key
    assert ('enrollments_ref: Annotated[Enrollments, Reference(on_delete="CASCADE", '
            'column=("student_id", "course_code"))]') in src
    students = module.Students.__ar_mapper__
    assert students.props["clubs"].via is module.StudentClubs
    assert module.StudentClubs.__ar_mapper__.pure_link
    assert module.Enrollments.__ar_mapper__.pk_props[0].name == "student"


def test_key_order_wins_over_column_order(load: Callable[[Schema], Loaded]) -> None:
    s = schema(TableDef("pairs", [C("a", "int"), C("b", "str"), C("note", "str")], ("b", "a")))
    source, _, declared = load(s)
    assert_declares(declared, s, column_order=False)
    assert declared.tables["pairs"].primary_key == ("b", "a")
    assert "# the columns are declared in the order b, a, note" in source


# -- the indexes of foreign keys -------------------------------------------------------------
FK_INDEXES = schema(
    TableDef("owners", [C("id", "int", autoincrement=True), C("name", "str")], ("id",)),
    # a VARCHAR(36) key, and VARCHAR(36) foreign keys to it
    TableDef("tokens", [C("id", "str", length=36, sql_type="varchar(36)"),
                        C("label", "str", nullable=True)], ("id",)),
    # a foreign key without any index
    TableDef("notes", [C("id", "int", autoincrement=True), C("owner_id", "int"),
                       C("text", "str")], ("id",),
             foreign_keys=[fk("notes", ("owner_id",), "owners", ("id",))]),
    # a foreign key with its own index (activerel's automatic one), the VARCHAR(36) one too
    TableDef("pets", [C("id", "int", autoincrement=True), C("owner_id", "int"),
                      C("token_id", "str", nullable=True, length=36, sql_type="varchar(36)")],
             ("id",), indexes=[ix("pets", "owner_id"), ix("pets", "token_id")],
             foreign_keys=[fk("pets", ("owner_id",), "owners", ("id",), "CASCADE"),
                           fk("pets", ("token_id",), "tokens", ("id",), "SET NULL")]),
    # a foreign key covered by a composite unique index that begins with it
    TableDef("memberships", [C("id", "int", autoincrement=True), C("owner_id", "int"),
                             C("club", "str")], ("id",),
             indexes=[ix("memberships", "owner_id", "club", unique=True)],
             foreign_keys=[fk("memberships", ("owner_id",), "owners", ("id",))]),
    # a link table: the key begins with one foreign key, the other has no index
    TableDef("pet_tokens", [C("pet_id", "int"), C("token_id", "str", length=36)],
             ("pet_id", "token_id"),
             foreign_keys=[fk("pet_tokens", ("pet_id",), "pets", ("id",), "CASCADE"),
                           fk("pet_tokens", ("token_id",), "tokens", ("id",), "CASCADE")]),
    # a composite foreign key without any index
    TableDef("visits", [C("id", "int", autoincrement=True), C("pet_id", "int"),
                        C("token_id", "str", length=36)], ("id",),
             foreign_keys=[fk("visits", ("pet_id", "token_id"), "pet_tokens",
                              ("pet_id", "token_id"))]),
)


def test_foreign_key_indexes_round_trip(load: Callable[[Schema], Loaded]) -> None:
    source, module, declared = load(FK_INDEXES)
    assert_declares(declared, FK_INDEXES)
    src = lines(source)
    # no index at all: the Reference makes none
    assert "owner: Annotated[Owners, Reference(index=False)]" in src
    assert not any(i.columns == ("owner_id",) for i in declared.tables["notes"].indexes)
    # an index of its own is the Reference's automatic one: no marker, no keyword
    assert 'owner: Annotated[Owners, Reference(on_delete="CASCADE")]' in src
    assert ('token: Annotated[Optional[Tokens], Reference(on_delete="SET NULL")] = None'
            in src)
    assert "class Pets(Model, table=\"pets\"):" in source
    # covered by the unique (owner_id, club): the Reference makes none either
    assert "owner: Reference[Owners]" in src
    assert 'unique=[("owner", "club")]' in source
    assert declared.tables["memberships"].indexes == [
        IndexDef("uq_memberships_owner_id_club", ("owner_id", "club"), True)]
    # the key begins with pet_id; token_id has no index
    assert 'pet: Annotated[Pets, PrimaryKey, Reference(on_delete="CASCADE")]' in src
    assert ('token: Annotated[Tokens, PrimaryKey, Reference(on_delete="CASCADE", '
            'index=False)]') in src
    assert ('pet_tokens_ref: Annotated[PetTokens, Reference(column=("pet_id", "token_id"), '
            'index=False)]') in src
    # the VARCHAR(36) key and the foreign keys to it keep their length, without a note
    assert "id: Annotated[str, PrimaryKey] = field(max_length=36)" in src
    assert all(c.length == 36 for t in declared.tables.values() for c in t.columns
               if c.name == "token_id")
    assert "length" not in "".join(line for line in src if line.startswith("#"))


def test_a_reference_takes_its_keys_length(load: Callable[[Schema], Loaded]) -> None:
    s = schema(
        TableDef("tokens", [C("id", "str", length=36)], ("id",)),
        TableDef("pets", [C("id", "int", autoincrement=True), C("token_id", "str", length=40)],
                 ("id",), indexes=[ix("pets", "token_id")],
                 foreign_keys=[fk("pets", ("token_id",), "tokens", ("id",))]))
    source, _, declared = load(s)
    assert declared.tables["pets"].column("token_id").length == 36
    text = " ".join(line.strip().lstrip("# ") for line in source.splitlines())
    assert ("token_id has length 40 in the database; a Reference column takes that of "
            "tokens.id, length 36") in text


# -- names ----------------------------------------------------------------------------------
def test_names_never_collide(load: Callable[[Schema], Loaded]) -> None:
    s = schema(
        TableDef("index", [
            C("id", "int", autoincrement=True),
            C("query", "str"),
            C("class", "int", default=1),
            C("_hidden", "str", nullable=True),
            C("2nd", "str"),
            C("date", "date", nullable=True),
            C("due", "date", default=date(2030, 1, 1)),
            C("field", "bool", default=False),
            C("author", "str"),
            C("author_id", "int"),
            C("posts", "int", default=0),
        ], ("id",), indexes=[ix("index", "author_id")],
            foreign_keys=[fk("index", ("author_id",), "user_groups", ("id",))]),
        TableDef("user_groups", [C("id", "int", autoincrement=True), C("posts", "int")], ("id",)),
    )
    source, module, declared = load(s)
    assert_declares(declared, s)
    assert class_name("user_groups") == "UserGroups"
    assert "class Index_(Model, table=\"index\"):" in source   # activerel exports Index
    src = lines(source)
    assert 'query_: str = field(column="query")' in src
    assert 'class_: int = field(server_default=1, column="class")' in src
    assert 'hidden: Optional[str] = field(default=None, column="_hidden")' in src
    assert 'column_2nd: str = field(column="2nd")' in src
    # "date" and "field" are called by the defaults below them: renamed
    assert 'date_: Optional[date] = field(default=None, column="date")' in src
    assert 'field_: bool = field(server_default=False, column="field")' in src
    assert 'author_ref: Annotated[UserGroups, Reference(column="author_id")]' in src
    # user_groups has a column "posts" too, and the back reference is named after "index"
    assert "index: BackReference[list[Index_]]" in src
    fields = module.Index_.__ar_mapper__.props
    assert "author" in fields and "author_ref" in fields


# -- what activerel cannot declare -----------------------------------------------------------
def test_what_cannot_be_declared_is_said(load: Callable[[Schema], Loaded]) -> None:
    s = schema(
        TableDef("accounts", [C("id", "int", autoincrement=True), C("number", "str")], ("id",),
                 indexes=[ix("accounts", "number", unique=True)]),
        TableDef("transfers", [
            C("id", "int", autoincrement=True),
            C("account_number", "str"),
            C("ledger_id", "int", nullable=True),
            C("amount", "decimal", sql_type="numeric(12,2)"),
            C("kind", "str", sql_type="character(1)"),
        ], ("id",), foreign_keys=[
            fk("transfers", ("account_number",), "accounts", ("number",)),
            fk("transfers", ("ledger_id",), "ledger", ("id",)),
        ]),
        TableDef("ledger", [C("id", "int"), C("line", "str")]),  # no key: left out
    )
    source, _, declared = load(s)
    # both foreign keys are lost, the columns are kept
    table = declared.tables["transfers"]
    assert table.foreign_keys == []
    assert [c.name for c in table.columns] == ["id", "account_number", "ledger_id", "amount",
                                               "kind"]
    assert "ledger" not in declared.tables
    text = " ".join(line.lstrip("# ") for line in source.splitlines())
    assert "foreign key (account_number) -> accounts(number): it does not point at the primary " \
           "key of accounts" in text
    assert "foreign key (ledger_id) -> ledger(id): its table is left out" in text
    assert "database type: character(1)" in source
    assert "database type: numeric(12,2)" not in source     # NUMERIC is a decimal, exactly


def test_header_and_module_docstring() -> None:
    source = models_source(schema(TableDef("t", [C("id", "int")], ("id",))),
                           header='from sqlite:///app.db """quoted"""')
    doc = ast.get_docstring(ast.parse(source))
    assert doc is not None and doc.startswith('from sqlite:///app.db """quoted"""')
    assert "from activerel import Model, PrimaryKey" in source
