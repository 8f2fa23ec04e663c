"""Column types: every supported type round-trips exactly through persist and
reload, comes back with its own Python type, compares correctly in queries,
and wrong values never reach SQL.

This module deliberately has no ``from __future__ import annotations``: its
local models are declared with real (evaluated) annotations, forward
references written as strings."""
import enum
import json
import os
import traceback
import types
from datetime import date, datetime, time
from decimal import Decimal
from typing import Annotated, Optional
from uuid import UUID

import pytest

import activerel
from activerel import (ActiverelError, AutoIncrement, BackReference, Database,
                       Model, ModelDefinitionError, PrimaryKey, Reference,
                       ValidationError, field)
from tests.models import Color, Everything, Priority
from tests.support import count as rows


class TtShade(enum.Enum):
    LIGHT = "light"
    DARK = "dark"


class TtLevel(enum.IntEnum):
    ONE = 1
    TEN = 10


class TtNullable(Model, table="tt_nullable"):
    """Optional[T] of every column type."""
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    i: Optional[int] = None
    f: Optional[float] = None
    b: Optional[bool] = None
    s: Optional[str] = None
    raw: Optional[bytes] = None
    dec: Optional[Decimal] = None
    dt: Optional[datetime] = None
    d: Optional[date] = None
    t: Optional[time] = None
    uid: Optional[UUID] = None
    shade: Optional[TtShade] = None
    level: Optional[TtLevel] = None
    data: Optional[dict] = None
    items: Optional[list] = None


class TtEagerChild(Model, table="tt_eager_child"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    parent: Annotated["TtEagerParent", Reference(on_delete="CASCADE")]
    note: Optional[str] = None


class TtEagerParent(Model, table="tt_eager_parent"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str
    children: BackReference[list["TtEagerChild"]]
    friends: Annotated[list["TtEagerFriend"], BackReference(via="TtEagerLink")]


class TtEagerFriend(Model, table="tt_eager_friend"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0


class TtEagerLink(Model, table="tt_eager_link"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    parent: Reference[TtEagerParent]
    friend: Reference[TtEagerFriend]


class TtFanLink(Model, table="tt_fan_link"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    fan: Reference["TtFan"]
    friend: Reference[TtEagerFriend]


class TtFan(Model, table="tt_fan"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    # via= given as a class object
    friends: Annotated[list[TtEagerFriend], BackReference(via=TtFanLink)]


LOCAL_MODELS = [TtNullable, TtEagerChild, TtEagerParent, TtEagerFriend, TtEagerLink]


@pytest.fixture
def local_db(make_db):
    """A database (on every backend) with this module's own tables."""
    return make_db(LOCAL_MODELS)




def reload_fresh(model, pk):
    """Load ``pk`` in a session of its own: a new object read from the row."""
    return model.get(pk)


EXPECTED_TYPES = {
    "id": int, "i": int, "f": float, "b": bool, "s": str, "raw": bytes,
    "dec": Decimal, "dt": datetime, "d": date, "t": time, "uid": UUID,
    "color": Color, "priority": Priority, "data": dict, "items": list,
}

FULL = dict(
    i=-123456789,
    f=3.141592653589793,
    b=True,
    s="héllo wörld ✓ 😀 'quoted' \"double\"",
    raw=bytes(range(256)),
    dec=Decimal("12.345"),
    dt=datetime(2024, 2, 29, 13, 14, 15, 123456),
    d=date(2024, 2, 29),
    t=time(13, 14, 15, 654321),
    uid=UUID("12345678-1234-5678-1234-567812345678"),
    color=Color.GREEN,
    priority=Priority.HIGH,
    data={"name": "x", "n": 1, "f": 1.5, "ok": True, "none": None,
          "nested": {"list": [1, "two", [3]]}, "ünï": "cödé"},
    items=[1, 2.5, "three", None, False, {"k": [1, 2]}],
    maybe="present",
)


def assert_same(loaded, expected: dict):
    for name, value in expected.items():
        got = getattr(loaded, name)
        assert got == value, name
        if value is not None:
            assert type(got) is type(value), (name, type(got), type(value))


# --------------------------------------------------------------------------
# round trips


def test_every_type_round_trips_outside_a_session(db):
    e = Everything(**FULL)
    e.persist()
    assert e.id > 0
    loaded = reload_fresh(Everything, e.id)
    assert loaded is not e
    assert_same(loaded, FULL)
    assert loaded.color is Color.GREEN
    assert loaded.priority is Priority.HIGH
    assert type(loaded.id) is int and loaded.id == e.id


def test_every_type_round_trips_in_a_new_session(db):
    e = Everything(**FULL)
    with db.session():
        e.persist()
    with db.session():
        loaded = Everything.get(e.id)
        assert loaded is not e
        assert_same(loaded, FULL)
        again = Everything.query().filter(id=e.id).find_one()
        assert again is loaded


def test_defaults_round_trip(db):
    e = Everything()
    e.persist()
    loaded = reload_fresh(Everything, e.id)
    assert_same(loaded, dict(i=0, f=0.0, b=False, s="", raw=b"", dec=Decimal("0"),
                             dt=datetime(2000, 1, 1), d=date(2000, 1, 1), t=time(0, 0),
                             color=Color.RED, priority=Priority.LOW, data={}, items=[]))
    assert loaded.uid is None
    assert loaded.maybe is None


EXACT = [
    ("i", 0), ("i", -1), ("i", 2 ** 62), ("i", -(2 ** 63)), ("i", 2 ** 63 - 1),
    ("f", 0.1), ("f", -1e308), ("f", 5e-324), ("f", 1.0), ("f", -0.5),
    ("b", True), ("b", False),
    ("s", ""), ("s", " leading and trailing "), ("s", "line1\nline2\ttab"),
    ("s", "'; DROP TABLE everything; --"), ("maybe", "long " * 4000),
    ("raw", b""), ("raw", b"\x00"), ("raw", b"\xff\x00\xfe" * 100),
    ("dec", Decimal("0.001")), ("dec", Decimal("-12.345")),
    ("dec", Decimal("12345678901234567890.123456789")),
    ("dt", datetime(1, 1, 1)), ("dt", datetime(9999, 12, 31, 23, 59, 59, 999999)),
    ("dt", datetime(2020, 1, 1, 0, 0, 0, 1)), ("dt", datetime(2020, 6, 15, 12, 30)),
    ("d", date(1, 1, 1)), ("d", date(9999, 12, 31)),
    ("t", time(0, 0)), ("t", time(23, 59, 59, 999999)), ("t", time(0, 0, 0, 1)),
    ("uid", UUID(int=0)), ("uid", UUID(int=2 ** 128 - 1)),
    ("color", Color.RED), ("color", Color.GREEN),
    ("priority", Priority.LOW), ("priority", Priority.HIGH),
    ("data", {}), ("data", {"a": {"b": {"c": [1, {"d": None}]}}}), ("data", {"q": "it's \"x\""}),
    ("items", []), ("items", [[], {}, "", 0, 0.5, -1]),
    ("maybe", ""), ("maybe", None),
]

# values some backend may be unable to hold: they round-trip exactly or are
# refused with an ActiverelError, never stored as something else
EDGE = [
    ("f", float("inf")), ("f", float("-inf")),
    ("s", "nul\x00inside"), ("s", "indexed " * 2000),
    ("dec", Decimal("0.1000000000000000055511151231257827")),
]


def _ids(cases):
    return [f"{name}-{i}" for i, (name, _) in enumerate(cases)]


def _beyond_sqlite_decimal(db, value) -> bool:
    """SQLite keeps 15 significant digits of a Decimal and refuses longer ones."""
    digits = db.dialect.features.decimal_digits
    return (digits is not None and isinstance(value, Decimal)
            and len(value.as_tuple().digits) > digits)


@pytest.mark.parametrize("name, value", EXACT, ids=_ids(EXACT))
def test_single_value_round_trip(db, name, value):
    e = Everything(**{name: value})
    if _beyond_sqlite_decimal(db, value):
        with pytest.raises(ValidationError, match="15 significant digits"):
            e.persist()
        assert rows(db, "everything") == 0
        return
    e.persist()
    loaded = reload_fresh(Everything, e.id)
    got = getattr(loaded, name)
    assert got == value
    assert type(got) is type(value)
    if isinstance(value, enum.Enum):
        assert got is value


@pytest.mark.parametrize("name, value", EDGE, ids=_ids(EDGE))
def test_edge_value_round_trips_or_is_refused(db, name, value):
    e = Everything(**{name: value})
    try:
        e.persist()
    except ActiverelError:
        assert rows(db, "everything") == 0
        assert activerel.inspect(e).is_new is True
        return
    got = getattr(reload_fresh(Everything, e.id), name)
    assert got == value, f"stored {value!r}, loaded {got!r}"
    assert type(got) is type(value)


def test_timezone_aware_datetime_round_trips_or_is_rejected(db):
    """An aware datetime is never silently turned into a different (or naive) one."""
    from datetime import timedelta, timezone
    value = datetime(2024, 1, 1, 12, 0, 0, 5, tzinfo=timezone(timedelta(hours=2)))
    try:
        e = Everything(dt=value)
        e.persist()
    except ActiverelError:
        assert rows(db, "everything") == 0
        return
    loaded = reload_fresh(Everything, e.id)
    assert loaded.dt.tzinfo is not None, f"stored {value!r}, loaded {loaded.dt!r}"
    assert loaded.dt == value


def test_decimal_keeps_its_exact_digits(db):
    e = Everything(dec=Decimal("12.345"))
    e.persist()
    loaded = reload_fresh(Everything, e.id)
    assert loaded.dec == Decimal("12.345")
    assert str(loaded.dec) == "12.345"


def test_int_for_float_and_decimal_fields_loads_back_as_the_field_type(db):
    e = Everything(f=3, dec=5)
    e.persist()
    loaded = reload_fresh(Everything, e.id)
    assert loaded.f == 3.0 and type(loaded.f) is float
    assert loaded.dec == Decimal(5) and type(loaded.dec) is Decimal


def test_updates_round_trip(db):
    e = Everything()
    e.persist()
    with db.session():
        loaded = Everything.get(e.id)
        for name, value in FULL.items():
            setattr(loaded, name, value)
    assert_same(reload_fresh(Everything, e.id), FULL)


def test_reload_reads_the_stored_values(db):
    e = Everything(**FULL)
    e.persist()
    db.execute('UPDATE "everything" SET i = ? WHERE id = ?', (77, e.id))
    e.reload()
    assert e.i == 77
    assert_same(e, {k: v for k, v in FULL.items() if k != "i"})


def test_nullable_columns_of_every_type(local_db):
    empty = TtNullable()
    empty.persist()
    loaded = TtNullable.get(empty.id)
    for name in ("i", "f", "b", "s", "raw", "dec", "dt", "d", "t", "uid", "shade",
                 "level", "data", "items"):
        assert getattr(loaded, name) is None, name
    assert local_db.execute(
        'SELECT "i", "f", "b", "s", "raw", "dec", "dt", "d", "t", "uid", "shade", "level", '
        '"data", "items" FROM "tt_nullable" WHERE "id" = ?', (empty.id,)) == [(None,) * 14]

    values = dict(i=0, f=0.0, b=False, s="", raw=b"", dec=Decimal("0.50"),
                  dt=datetime(2020, 1, 1, 1, 1, 1, 1), d=date(2020, 1, 1), t=time(1, 2, 3),
                  uid=UUID(int=7), shade=TtShade.DARK, level=TtLevel.TEN,
                  data={"a": None}, items=[None])
    full = TtNullable(**values)
    full.persist()
    assert_same(TtNullable.get(full.id), values)

    # and back to None
    with local_db.session():
        again = TtNullable.get(full.id)
        for name in values:
            setattr(again, name, None)
    cleared = TtNullable.get(full.id)
    for name in values:
        assert getattr(cleared, name) is None, name


def test_optional_rejects_wrong_types_but_accepts_none(local_db):
    TtNullable(i=None, shade=None)
    with pytest.raises(ValidationError) as info:
        TtNullable(i="1")
    assert "TtNullable.i" in str(info.value)
    with pytest.raises(ValidationError):
        TtNullable(shade="light")
    with pytest.raises(ValidationError):
        TtNullable(level=Color.RED)
    with pytest.raises(ValidationError):
        TtNullable(b=0)
    assert rows(local_db, "tt_nullable") == 0


# --------------------------------------------------------------------------
# typed values in queries


@pytest.mark.parametrize("name", [n for n in FULL if n not in ("data", "items")])
def test_filter_by_equality_on_each_type(db, name):
    e = Everything(**FULL)
    other = Everything()
    e.persist()
    other.persist()
    assert Everything.query().filter(**{name: FULL[name]}).ids() == [e.id]
    assert Everything.query().filter(getattr(Everything, name) == FULL[name]).ids() == [e.id]


def test_filter_bool_and_none(db):
    a = Everything(b=True, uid=UUID(int=1))
    b = Everything(b=False)
    a.persist()
    b.persist()
    assert Everything.query().filter(b=True).ids() == [a.id]
    assert Everything.query().filter(Everything.b == False).ids() == [b.id]  # noqa: E712
    assert Everything.query().filter(Everything.uid.is_null()).ids() == [b.id]
    assert Everything.query().filter(uid=None).ids() == [b.id]


def test_ordering_and_ranges_compare_by_value(db):
    """Comparisons follow the Python order of the values, not their text."""
    values = [
        dict(i=10, f=10.0, dec=Decimal("10"), dt=datetime(2020, 1, 10), d=date(2020, 1, 10),
             t=time(10, 0), priority=Priority.HIGH),
        dict(i=9, f=9.5, dec=Decimal("9.5"), dt=datetime(2020, 1, 9, 23), d=date(2020, 1, 9),
             t=time(9, 30), priority=Priority.LOW),
        dict(i=-2, f=-2.0, dec=Decimal("-2"), dt=datetime(2019, 12, 31), d=date(2019, 12, 31),
             t=time(0, 0, 0, 1), priority=Priority.LOW),
    ]
    objs = [Everything(**v) for v in values]
    for o in objs:
        o.persist()
    ten, nine, neg = (o.id for o in objs)
    for name in ("i", "f", "dec", "dt", "d", "t"):
        col = getattr(Everything, name)
        assert Everything.query().order_by(name).ids() == [neg, nine, ten], name
        assert Everything.query().order_by("-" + name).ids() == [ten, nine, neg], name
        assert sorted(Everything.query().filter(col > values[1][name]).ids()) == [ten], name
        assert sorted(Everything.query().filter(col <= values[1][name]).ids()) == sorted([nine, neg]), name
    assert sorted(Everything.query().filter(
        Everything.dec.between(Decimal("-2"), Decimal("9.75"))).ids()) == sorted([nine, neg])
    assert Everything.query().filter(Everything.priority > Priority.LOW).ids() == [ten]


def test_enum_and_uuid_in_(db):
    a = Everything(color=Color.GREEN, uid=UUID(int=5))
    b = Everything(color=Color.RED, uid=UUID(int=6))
    a.persist()
    b.persist()
    assert Everything.query().filter(Everything.color.in_([Color.GREEN])).ids() == [a.id]
    assert sorted(Everything.query().filter(
        Everything.uid.in_([UUID(int=5), UUID(int=6)])).ids()) == sorted([a.id, b.id])


# --------------------------------------------------------------------------
# wrong values never reach SQL


def test_wrong_type_writes_nothing(db, sql_log):
    sql_log.clear()
    with pytest.raises(ValidationError):
        Everything(dec="12.345")
    with pytest.raises(ValidationError):
        Everything(d=datetime(2020, 1, 1))
    assert sql_log.count() == 0
    assert rows(db, "everything") == 0


def test_wrong_assignment_then_persist_writes_nothing(db, sql_log):
    e = Everything(i=1)
    e.persist()
    with pytest.raises(ValidationError):
        e.i = True
    with pytest.raises(ValidationError):
        e.t = "10:00"
    sql_log.clear()
    e.persist()
    assert sql_log.count("UPDATE") == 0
    assert db.execute('SELECT i FROM "everything"', ()) == [(1,)]


def test_unserializable_json_is_rejected_and_writes_nothing(db):
    good = Everything(s="good")
    with pytest.raises(TypeError):  # ValidationError is a TypeError too
        bad = Everything(s="bad", data={"x": object()})
        db.persist(good, bad)
    assert rows(db, "everything") == 0
    assert activerel.inspect(good).is_new is True


@pytest.mark.parametrize("values", [
    dict(i=2 ** 63),                       # beyond a 64-bit INTEGER
    dict(i=-(2 ** 63) - 1),
    dict(s="lone surrogate \ud800"),      # cannot be encoded
    dict(maybe="\udfff"),
], ids=["int-above-max", "int-below-min", "surrogate-s", "surrogate-maybe"])
def test_values_the_database_cannot_store_fail_cleanly(db, values):
    """Whatever the driver cannot bind is an activerel error, and nothing is written."""
    good = Everything(s="good")
    with pytest.raises(ActiverelError):
        db.persist(good, Everything(**values))
    assert rows(db, "everything") == 0
    assert activerel.inspect(good).is_new is True


def test_nan_is_never_silently_turned_into_null(local_db):
    nan = float("nan")
    n = TtNullable(f=nan)
    try:
        n.persist()
    except ActiverelError:
        assert rows(local_db, "tt_nullable") == 0   # rejected: fine
        return
    loaded = TtNullable.get(n.id)
    assert loaded.f is not None, "NaN was stored as NULL"
    assert loaded.f != loaded.f


def test_nan_in_a_required_float_round_trips_or_fails_cleanly(db):
    e = Everything(f=float("nan"))
    try:
        e.persist()
    except ActiverelError:
        assert rows(db, "everything") == 0
        return
    loaded = reload_fresh(Everything, e.id)
    assert loaded.f != loaded.f


def test_non_string_json_keys_or_values_fail_cleanly(db):
    with pytest.raises(TypeError):
        e = Everything(items=[{1, 2}])
        e.persist()
    assert rows(db, "everything") == 0


# --------------------------------------------------------------------------
# annotations as real objects


def test_evaluated_annotations_and_string_forward_references(local_db):
    p = TtEagerParent(name="p")
    c = TtEagerChild(parent=p, note=None)
    fr = TtEagerFriend()
    p.friends.append(fr)
    c.persist()
    p.persist()
    assert local_db.execute('SELECT parent_id, note FROM "tt_eager_child"', ()) == [(p.id, None)]
    assert local_db.execute('SELECT parent_id, friend_id FROM "tt_eager_link"', ()) == [(p.id, fr.id)]
    loaded = TtEagerParent.query().join_with("children").join_with("friends").filter(id=p.id).find_one()
    assert [x.id for x in loaded.children] == [c.id]
    assert [x.id for x in loaded.friends] == [fr.id]
    with pytest.raises(ValidationError):
        TtEagerChild(parent=fr)


def test_via_given_as_a_class_object(make_db):
    database = make_db([TtFan, TtFanLink, TtEagerFriend])
    fan = TtFan()
    assert fan.friends == []
    friend = TtEagerFriend()
    fan.friends.append(friend)
    fan.persist()
    assert database.execute('SELECT fan_id, friend_id FROM "tt_fan_link"', ()) == [
        (fan.id, friend.id)]
    loaded = TtFan.query().join_with("friends").filter(id=fan.id).find_one()
    assert [x.id for x in loaded.friends] == [friend.id]


# --------------------------------------------------------------------------
# unsupported column types


def definition_error(declare) -> str:
    """Run ``declare`` in a forked child (its models never reach this
    process's registry); assert ModelDefinitionError; return the message."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            try:
                declare()
                result = {"raised": None}
            except BaseException as exc:  # noqa: BLE001
                result = {"raised": type(exc).__name__,
                          "ok": isinstance(exc, ModelDefinitionError) and isinstance(exc, ActiverelError),
                          "message": str(exc), "tb": traceback.format_exc()}
            with os.fdopen(w, "w") as out:
                json.dump(result, out)
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r) as inp:
        result = json.loads(inp.read())
    os.waitpid(pid, 0)
    assert result["raised"] is not None, "no error was raised"
    assert result["ok"], result["tb"]
    return result["message"]


class _NotAColumn:
    pass


@pytest.mark.parametrize("annotation, default", [
    (set, field(default_factory=set)),
    (frozenset, frozenset()),
    (complex, 0j),
    (_NotAColumn, None),
    (Optional[set], None),
    (object, None),
])
def test_unsupported_column_types(annotation, default):
    def declare():
        def body(ns):
            ns.update({"__annotations__": {
                "id": Annotated[int, PrimaryKey, AutoIncrement], "odd": annotation},
                "id": 0, "odd": default, "__module__": __name__})
        cls = types.new_class("TtOdd", (Model,), {"table": "tt_odd"}, body)
        database = Database("sqlite://", models=[cls])
        database.migrate()
    msg = definition_error(declare)
    assert "TtOdd" in msg
    assert "odd" in msg
