"""What activerel adds to PyPika: :class:`SqlTemplate` for the few SQL
fragments PyPika has no builder for, and the constant criteria :data:`TRUE`
and :data:`FALSE`.

Used by :mod:`activerel.sql` and by the dialects (their one-parameter key
sets). Imports nothing of activerel."""
from __future__ import annotations

from typing import Any, Iterable, cast

from pypika.terms import Criterion


class SqlTemplate(Criterion):
    """A SQL fragment PyPika has no builder for, e.g. ``"{term} = ANY({param})"``:
    each named part is a PyPika term rendered in place, with the query's
    quoting and namespaces; parts are parenthesised where they nest."""

    def __init__(self, template: str, **parts: Any) -> None:
        super().__init__()
        self.template = template
        self.parts = parts

    def get_sql(self, **kwargs: Any) -> str:
        kwargs["subquery"] = True
        return self.template.format(**{k: v.get_sql(**kwargs) for k, v in self.parts.items()})


def negate(criterion: Any) -> SqlTemplate:
    """``NOT (criterion)``, parenthesised whatever the criterion renders to."""
    return SqlTemplate("NOT ({inner})", inner=criterion)


def not_true(criterion: Any) -> SqlTemplate:
    """True where ``criterion`` is false *or unknown* (NULL): ``NOT (c)`` is
    unknown, so it drops the rows ``c`` cannot decide."""
    return SqlTemplate("(CASE WHEN {cond} THEN 1 ELSE 0 END)=0", cond=criterion)


def all_of(criteria: Iterable[Any]) -> Criterion:
    """``Criterion.all``: every one of ``criteria`` (AND), typed as the
    criterion it is (PyPika's own signature leaves it open)."""
    return cast(Criterion, Criterion.all(criteria))


def any_of(criteria: Iterable[Any]) -> Criterion:
    """``Criterion.any``: at least one of ``criteria`` (OR)."""
    return cast(Criterion, Criterion.any(criteria))


#: a criterion that always holds, and one that never does
TRUE = SqlTemplate("1=1")
FALSE = SqlTemplate("1=0")
