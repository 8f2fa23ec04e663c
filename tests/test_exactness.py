"""What peers' own test suites expect of relations, values and the unit of
work (issue 15): each test states the expected behaviour on every backend."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal as Dec
from typing import Annotated, Optional
from uuid import UUID as Uid

import pytest

from activerel import (AutoIncrement, BackReference, Model, PrimaryKey, Reference,
                       ValidationError, inspect)


class ExNames(Model, table="ex_names"):
    """Fields named like the types and builtins generated code uses."""
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    date: Optional[dt.date] = None
    time: Optional[dt.time] = None
    datetime: Optional[dt.datetime] = None
    Decimal: Optional[Dec] = None
    UUID: Optional[Uid] = None
    type: str = "t"
    list: int = 0
    str: Optional[float] = None
    isinstance: bool = False


def test_fields_named_like_types_and_builtins(make_db):
    db = make_db([ExNames])
    row = ExNames(date=dt.date(2024, 5, 6), time=dt.time(7, 8, 9), datetime=dt.datetime(2024, 1, 2, 3, 4),
                  Decimal=Dec("1.5"), UUID=Uid(int=7), type="kind", list=3, str=2.5, isinstance=True)
    row.persist()
    with pytest.raises(ValidationError, match=r"ExNames.date must be date or None, not 5 \(int\)"):
        ExNames(date=5)
    with pytest.raises(ValidationError, match=r"ExNames.type must be str"):
        row.type = 1
    with db.session():
        back = ExNames.get(row.id)
        assert (back.date, back.time, back.datetime, back.Decimal, back.UUID, back.type, back.list,
                back.str, back.isinstance) == (dt.date(2024, 5, 6), dt.time(7, 8, 9),
                                               dt.datetime(2024, 1, 2, 3, 4), Dec("1.5"), Uid(int=7),
                                               "kind", 3, 2.5, True)
