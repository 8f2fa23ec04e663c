"""The exact SQL text of activerel.sql.statements and of key sets, per
dialect, with no database: a dialect is built from its URL without
connecting (SQLite only opens a private ``:memory:`` probe to read its
parameter limit; PostgreSQL and MySQL import their driver and keep the
connection settings for later).

The texts below were checked to run on SQLite, PostgreSQL 15 and MariaDB.
PyPika's MySQL flavour quotes with backticks, which MySQL accepts with
ANSI_QUOTES on as well."""
from __future__ import annotations

from typing import Annotated, Any, Optional

import pytest
from pypika import Table

from activerel import AutoIncrement, Model, PrimaryKey, Reference
from activerel.dialects import dialect_for
from activerel.dialects.base import Dialect
from activerel.mapping.mapper import mapper_of
from activerel.sql.compiler import ParamCollector, key_set
from activerel.sql.statements import repeat_case_arms, repeat_values, statements
from activerel.sql.values import codec
from activerel.url import URL


class UnitStAuthor(Model, table="unit_st_authors"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str


class UnitStBook(Model, table="unit_st_books"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    title: str
    author: Annotated[UnitStAuthor, Reference(on_delete="CASCADE")]
    editor: Annotated[Optional[UnitStAuthor], Reference(on_delete="SET NULL")] = None


URLS = {"sqlite": "sqlite://", "postgresql": "postgresql://u@h/db", "mysql": "mysql://u@h/db"}
DRIVERS = {"sqlite": "sqlite3", "postgresql": "psycopg", "mysql": "MySQLdb"}


def make_dialect(name: str) -> Dialect:
    pytest.importorskip(DRIVERS[name])
    return dialect_for(URL.parse(URLS[name]))


# --------------------------------------------------------------------------
# the statement shapes of one model


EXPECTED = {
    "sqlite": {
        "insert 1": 'INSERT INTO `unit_st_books` (`title`,`author_id`,`editor_id`) VALUES (?,?,?)',
        "insert 3": 'INSERT INTO `unit_st_books` (`title`,`author_id`,`editor_id`) '
                    'VALUES (?,?,?),(?,?,?),(?,?,?)',
        "insert defaults 2": 'INSERT INTO `unit_st_books` (`id`) VALUES (NULL),(NULL)',
        "select by key 1": 'SELECT `id`,`title`,`author_id`,`editor_id` FROM `unit_st_books` '
                           'WHERE `id`=?',
        "select by key 3": 'SELECT `id`,`title`,`author_id`,`editor_id` FROM `unit_st_books` '
                           'WHERE `id` IN (?,?,?)',
        "update": 'UPDATE `unit_st_books` SET `title`=?,`author_id`=? WHERE `id`=?',
        "update case 2": 'UPDATE `unit_st_books` SET '
                         '`title`=CASE WHEN `id`=? THEN ? WHEN `id`=? THEN ? END,'
                         '`author_id`=CASE WHEN `id`=? THEN ? WHEN `id`=? THEN ? END '
                         'WHERE `id` IN (?,?)',
        "delete 1": 'DELETE FROM `unit_st_books` WHERE `id`=?',
        "delete 3": 'DELETE FROM `unit_st_books` WHERE `id` IN (?,?,?)',
        "fk select 1": 'SELECT `id` FROM `unit_st_books` WHERE `author_id`=?',
        "fk select 3": 'SELECT `id` FROM `unit_st_books` WHERE `author_id` IN (?,?,?)',
        "set ref 1": 'UPDATE `unit_st_books` SET `editor_id`=? WHERE `id`=?',
        "set ref 2": 'UPDATE `unit_st_books` SET `editor_id`=? WHERE `id` IN (?,?)',
        "delete where 1": 'DELETE FROM `unit_st_books` WHERE (`author_id`,`editor_id`) IN ((?,?))',
        "delete where 2": 'DELETE FROM `unit_st_books` WHERE (`author_id`,`editor_id`) '
                          'IN ((?,?),(?,?))',
    },
    "postgresql": {
        "insert 1": 'INSERT INTO "unit_st_books" ("title","author_id","editor_id") '
                    'VALUES (%s,%s,%s)',
        "insert 3": 'INSERT INTO "unit_st_books" ("title","author_id","editor_id") '
                    'VALUES (%s,%s,%s),(%s,%s,%s),(%s,%s,%s)',
        "insert defaults 2": 'INSERT INTO "unit_st_books" ("id") VALUES (DEFAULT),(DEFAULT)',
        "select by key 1": 'SELECT "id","title","author_id","editor_id" FROM "unit_st_books" '
                           'WHERE "id"=%s',
        "select by key 3": 'SELECT "id","title","author_id","editor_id" FROM "unit_st_books" '
                           'WHERE "id" IN (%s,%s,%s)',
        "update": 'UPDATE "unit_st_books" SET "title"=%s,"author_id"=%s WHERE "id"=%s',
        "update case 2": 'UPDATE "unit_st_books" SET '
                         '"title"=CASE WHEN "id"=%s THEN %s WHEN "id"=%s THEN %s END,'
                         '"author_id"=CASE WHEN "id"=%s THEN %s WHEN "id"=%s THEN %s END '
                         'WHERE "id" IN (%s,%s)',
        "delete 1": 'DELETE FROM "unit_st_books" WHERE "id"=%s',
        "delete 3": 'DELETE FROM "unit_st_books" WHERE "id" IN (%s,%s,%s)',
        "fk select 1": 'SELECT "id" FROM "unit_st_books" WHERE "author_id"=%s',
        "fk select 3": 'SELECT "id" FROM "unit_st_books" WHERE "author_id" IN (%s,%s,%s)',
        "set ref 1": 'UPDATE "unit_st_books" SET "editor_id"=%s WHERE "id"=%s',
        "set ref 2": 'UPDATE "unit_st_books" SET "editor_id"=%s WHERE "id" IN (%s,%s)',
        "delete where 1": 'DELETE FROM "unit_st_books" WHERE ("author_id","editor_id") '
                          'IN ((%s,%s))',
        "delete where 2": 'DELETE FROM "unit_st_books" WHERE ("author_id","editor_id") '
                          'IN ((%s,%s),(%s,%s))',
    },
    "mysql": {
        "insert 1": "INSERT INTO `unit_st_books` (`title`,`author_id`,`editor_id`) "
                    "VALUES (%s,%s,%s)",
        "insert 3": "INSERT INTO `unit_st_books` (`title`,`author_id`,`editor_id`) "
                    "VALUES (%s,%s,%s),(%s,%s,%s),(%s,%s,%s)",
        "insert defaults 2": "INSERT INTO `unit_st_books` (`id`) VALUES (NULL),(NULL)",
        "select by key 1": "SELECT `id`,`title`,`author_id`,`editor_id` FROM `unit_st_books` "
                           "WHERE `id`=%s",
        "select by key 3": "SELECT `id`,`title`,`author_id`,`editor_id` FROM `unit_st_books` "
                           "WHERE `id` IN (%s,%s,%s)",
        "update": "UPDATE `unit_st_books` SET `title`=%s,`author_id`=%s WHERE `id`=%s",
        "update case 2": "UPDATE `unit_st_books` SET "
                         "`title`=CASE WHEN `id`=%s THEN %s WHEN `id`=%s THEN %s END,"
                         "`author_id`=CASE WHEN `id`=%s THEN %s WHEN `id`=%s THEN %s END "
                         "WHERE `id` IN (%s,%s)",
        "delete 1": "DELETE FROM `unit_st_books` WHERE `id`=%s",
        "delete 3": "DELETE FROM `unit_st_books` WHERE `id` IN (%s,%s,%s)",
        "fk select 1": "SELECT `id` FROM `unit_st_books` WHERE `author_id`=%s",
        "fk select 3": "SELECT `id` FROM `unit_st_books` WHERE `author_id` IN (%s,%s,%s)",
        "set ref 1": "UPDATE `unit_st_books` SET `editor_id`=%s WHERE `id`=%s",
        "set ref 2": "UPDATE `unit_st_books` SET `editor_id`=%s WHERE `id` IN (%s,%s)",
        "delete where 1": "DELETE FROM `unit_st_books` WHERE (`author_id`,`editor_id`) "
                          "IN ((%s,%s))",
        "delete where 2": "DELETE FROM `unit_st_books` WHERE (`author_id`,`editor_id`) "
                          "IN ((%s,%s),(%s,%s))",
    },
}


def render_all(dialect: Dialect) -> dict[str, str]:
    mapper = mapper_of(UnitStBook)
    stmts = statements(mapper, dialect)
    columns = codec(mapper, dialect).select_columns()
    insert = mapper.insert_columns_generated
    author, editor = mapper.props["author"], mapper.props["editor"]
    pair = ("author_id", "editor_id")
    return {
        "insert 1": stmts.insert_sql(insert, 1),
        "insert 3": stmts.insert_sql(insert, 3),
        "insert defaults 2": stmts.insert_sql((), 2),
        "select by key 1": stmts.select_by_key_sql(columns, 1),
        "select by key 3": stmts.select_by_key_sql(columns, 3),
        "update": stmts.update_sql(("title", "author_id")),
        "update case 2": stmts.update_case_sql(("title", "author_id"), 2),
        "delete 1": stmts.delete_sql(1),
        "delete 3": stmts.delete_sql(3),
        "fk select 1": stmts.fk_select_sql(author, 1),
        "fk select 3": stmts.fk_select_sql(author, 3),
        "set ref 1": stmts.set_ref_sql(editor, 1),
        "set ref 2": stmts.set_ref_sql(editor, 2),
        "delete where 1": stmts.delete_where_sql(pair, 1),
        "delete where 2": stmts.delete_where_sql(pair, 2),
    }


def test_the_model_maps_to_the_expected_columns():
    mapper = mapper_of(UnitStBook)
    assert [c.name for c in mapper.columns] == ["id", "title", "author_id", "editor_id"]
    assert mapper.insert_columns_generated == ("title", "author_id", "editor_id")
    c = codec(mapper, make_dialect("sqlite"))
    assert c.pk_names == ["id"]
    assert c.select_columns() == ("id", "title", "author_id", "editor_id")


@pytest.mark.parametrize("name", [pytest.param(n, id=f"dialect_{n}") for n in EXPECTED])
def test_statement_text(name: str):
    assert render_all(make_dialect(name)) == EXPECTED[name]


@pytest.mark.parametrize("name", [pytest.param(n, id=f"dialect_{n}") for n in EXPECTED])
def test_statement_text_is_the_same_from_the_cache(name: str):
    dialect = make_dialect(name)
    first = render_all(dialect)
    assert render_all(dialect) == first
    assert statements(mapper_of(UnitStBook), dialect) is statements(mapper_of(UnitStBook), dialect)


@pytest.mark.parametrize("name", [pytest.param(n, id=f"dialect_{n}")
                                  for n in ("postgresql", "mysql")])
def test_building_a_server_dialect_does_not_connect(name: str, monkeypatch):
    driver = pytest.importorskip(DRIVERS[name])

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"{name}: connected while building the dialect")
    monkeypatch.setattr(driver, "connect", refuse)
    dialect = dialect_for(URL.parse(URLS[name]))
    assert dialect.name == name
    assert statements(mapper_of(UnitStBook), dialect).delete_sql(1) == EXPECTED[name]["delete 1"]


# --------------------------------------------------------------------------
# the two string steps PyPika cannot express


def test_repeat_values_repeats_the_row_group():
    one = 'INSERT INTO "t" ("a","b") VALUES (?,?)'
    assert repeat_values(one, 1) == one
    assert repeat_values(one, 3) == 'INSERT INTO "t" ("a","b") VALUES (?,?),(?,?),(?,?)'


def test_repeat_values_repeats_only_the_last_values_group():
    one = 'INSERT INTO " VALUES " ("a") VALUES (NULL)'
    assert repeat_values(one, 2) == 'INSERT INTO " VALUES " ("a") VALUES (NULL),(NULL)'


def test_repeat_case_arms_repeats_every_case_arm():
    one = ('UPDATE "t" SET "a"=CASE WHEN "id"=? THEN ? END,"b"=CASE WHEN "id"=? THEN ? END '
           'WHERE "id" IN (?,?,?)')
    assert repeat_case_arms(one, 1) == one
    assert repeat_case_arms(one, 3) == (
        'UPDATE "t" SET '
        '"a"=CASE WHEN "id"=? THEN ? WHEN "id"=? THEN ? WHEN "id"=? THEN ? END,'
        '"b"=CASE WHEN "id"=? THEN ? WHEN "id"=? THEN ? WHEN "id"=? THEN ? END '
        'WHERE "id" IN (?,?,?)')


def test_repeat_case_arms_of_one_column():
    one = 'UPDATE "t" SET "a"=CASE WHEN "id"=%s THEN %s END WHERE "id" IN (%s,%s)'
    assert repeat_case_arms(one, 2) == (
        'UPDATE "t" SET "a"=CASE WHEN "id"=%s THEN %s WHEN "id"=%s THEN %s END '
        'WHERE "id" IN (%s,%s)')


# --------------------------------------------------------------------------
# key sets


def where_key_set(dialect: Dialect, keys: list[Any], terms: int = 1) -> tuple[str, list[Any]]:
    """``SELECT "id" FROM "t" WHERE <key set>`` and the parameters it binds."""
    t = Table("t")
    params: list[Any] = []
    collector = ParamCollector(dialect, params)
    fields = [t.field("id")] if terms == 1 else [t.field(f"k{i}") for i in range(terms)]
    crit = key_set(collector, fields, keys)
    assert collector.params is params
    return dialect.query_class.from_(t).select(t.field("id")).where(crit).get_sql(), params


@pytest.mark.parametrize("name", [pytest.param(n, id=f"dialect_{n}") for n in EXPECTED])
def test_no_keys_is_never_true(name: str):
    sql, params = where_key_set(make_dialect(name), [])
    q = '"' if name == "postgresql" else "`"
    assert sql == f"SELECT {q}id{q} FROM {q}t{q} WHERE 1=0"
    assert params == []


def test_few_keys_are_one_parameter_each():
    sql, params = where_key_set(make_dialect("sqlite"), [5, 6, 7])
    assert sql == 'SELECT `id` FROM `t` WHERE `id` IN (?,?,?)'
    assert params == [5, 6, 7]


def test_sqlite_keeps_one_parameter_each_up_to_64_keys():
    keys = list(range(64))
    sql, params = where_key_set(make_dialect("sqlite"), keys)
    assert sql == 'SELECT `id` FROM `t` WHERE `id` IN (' + ",".join(["?"] * 64) + ")"
    assert params == keys


def test_sqlite_sends_more_int_keys_as_one_json_parameter():
    sql, params = where_key_set(make_dialect("sqlite"), list(range(65)))
    assert sql == 'SELECT `id` FROM `t` WHERE `id` IN (SELECT value FROM json_each(?))'
    assert params == ["[" + ",".join(str(i) for i in range(65)) + "]"]


def test_sqlite_sends_more_text_keys_as_one_json_parameter():
    keys = [f"k{i}" for i in range(64)] + ['say "hi"']
    sql, params = where_key_set(make_dialect("sqlite"), keys)
    assert sql == 'SELECT `id` FROM `t` WHERE `id` IN (SELECT value FROM json_each(?))'
    assert params == ['["k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9", '
                      + ", ".join(f'"k{i}"' for i in range(10, 64)) + ', "say \\"hi\\""]']


@pytest.mark.parametrize("keys", [
    pytest.param([float(i) for i in range(65)], id="floats"),
    pytest.param([True] * 65, id="bools"),
    pytest.param(list(range(64)) + [None], id="with_none"),
])
def test_sqlite_keeps_other_key_types_one_parameter_each(keys: list[Any]):
    sql, params = where_key_set(make_dialect("sqlite"), keys)
    assert sql == 'SELECT `id` FROM `t` WHERE `id` IN (' + ",".join(["?"] * 65) + ")"
    assert params == keys


def test_sqlite_composite_keys_are_row_values():
    sql, params = where_key_set(make_dialect("sqlite"), [(1, "a"), (2, "b")], terms=2)
    assert sql == 'SELECT `id` FROM `t` WHERE (`k0`,`k1`) IN ((?,?),(?,?))'
    assert params == [1, "a", 2, "b"]


def test_sqlite_many_composite_keys_stay_one_parameter_each():
    keys = [(i, i + 1) for i in range(65)]
    sql, params = where_key_set(make_dialect("sqlite"), keys, terms=2)
    assert sql == ('SELECT `id` FROM `t` WHERE (`k0`,`k1`) IN ('
                   + ",".join(["(?,?)"] * 65) + ")")
    assert params == [v for k in keys for v in k]


def test_postgresql_sends_more_keys_as_one_array_parameter():
    keys = list(range(65))
    sql, params = where_key_set(make_dialect("postgresql"), keys)
    assert sql == 'SELECT "id" FROM "t" WHERE "id" = ANY(%s)'
    assert params == [keys]


def test_mysql_before_connecting_keeps_one_parameter_each():
    # JSON_TABLE is used only once a connection showed the server has it
    keys = list(range(65))
    sql, params = where_key_set(make_dialect("mysql"), keys)
    assert sql == "SELECT `id` FROM `t` WHERE `id` IN (" + ",".join(["%s"] * 65) + ")"
    assert params == keys
