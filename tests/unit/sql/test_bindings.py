"""What a model derives per dialect (value codec, statements, hydrators,
row getters) is kept per dialect *instance*: two databases of one scheme
whose servers differ in what they can do must not share the first one's
choices (they used to be keyed by the backend's name)."""
from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any, Optional, Sequence

from pypika import Table

from activerel import AutoIncrement, Model, PrimaryKey
from activerel.dialects import dialect_for
from activerel.dialects.sqlite import SQLiteDialect
from activerel.mapping.mapper import mapper_of
from activerel.sql.compiler import Compiler, key_set
from activerel.sql.statements import statements
from activerel.sql.values import binding, codec
from activerel.url import URL


class UnitBindWidget(Model, table="unit_bind_widgets"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str


class _NoKeySets(SQLiteDialect):
    """A server that cannot unpack a list parameter (as MySQL before 8.0)."""

    def key_set_criterion(self, term: Any, keys: Sequence[Any], comp: Any) -> Optional[Any]:
        return None


def test_each_dialect_instance_has_its_own_binding():
    mapper = mapper_of(UnitBindWidget)
    first = dialect_for(URL.parse("sqlite://"))
    second = dialect_for(URL.parse("sqlite://"))
    assert binding(mapper, first) is binding(mapper, first)
    assert binding(mapper, first) is not binding(mapper, second)
    assert codec(mapper, second).dialect is second
    assert statements(mapper, second).dialect is second


def test_a_key_set_follows_the_dialect_it_is_rendered_for():
    mapper = mapper_of(UnitBindWidget)
    able = dialect_for(URL.parse("sqlite://"))
    unable = _NoKeySets(URL.parse("sqlite://"))
    keys = list(range(1, 101))
    for dialect in (able, unable):  # the capable one is bound first
        statements(mapper, dialect)
    table = Table("unit_bind_widgets")
    on_able = Compiler(mapper, able)
    on_unable = Compiler(mapper, unable)
    assert key_set(on_able, [table.id], keys).get_sql(quote_char='"') == (
        '"id" IN (SELECT value FROM json_each(?))')
    assert on_able.params == ["[" + ",".join(map(str, keys)) + "]"]
    assert key_set(on_unable, [table.id], keys).get_sql(quote_char='"') == (
        '"id" IN (' + ",".join(["?"] * 100) + ")")
    assert on_unable.params == keys


def test_a_servers_features_stay_with_its_dialect():
    first = dialect_for(URL.parse("sqlite://"))
    second = dialect_for(URL.parse("sqlite://"))
    second.features = replace(second.features, param_limit=10)
    assert first.features.param_limit >= 999
    assert second.features.param_limit == 10
    assert type(first).features.param_limit == 999  # the class default is untouched
