"""What a delete would do, without doing it: ``db.plan_delete(obj)``.

The rows a delete reaches are found as the delete itself finds them by keys
(CASCADE closure level by level, then every other action on the references
into the deleted rows), with SELECTs only: per model, the rows deleted, the
references set to NULL or to their default, and the RESTRICT / NO ACTION
references that would refuse it.

Called by :class:`~activerel.database.Database`. Imports
:mod:`activerel.unitofwork.cascade` (its ``dependents``) and ``plan``, and
:mod:`activerel.mapping`."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from ..mapping.mapper import Mapper
from ..mapping.markers import Effect
from .cascade import dependents, on_delete
from .plan import FlushSession


@dataclass
class DeletePlan:
    """The effect of deleting some rows, by model: keys deleted; keys whose
    reference would be set to NULL (or its default, which is NULL), by
    ``"Model.field"``; and the references that would refuse the delete,
    with the keys of the rows that hold it back."""

    deleted: dict[str, list[Any]] = field(default_factory=dict)
    nulled: dict[str, list[Any]] = field(default_factory=dict)
    defaulted: dict[str, list[Any]] = field(default_factory=dict)
    refused_by: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def allowed(self) -> bool:
        """Whether ``delete()`` would go through (no refusing reference)."""
        return not self.refused_by

    def __str__(self) -> str:
        lines = [f"delete {model}: {len(keys)} row(s)" for model, keys in self.deleted.items()]
        lines += [f"set NULL {ref}: {len(keys)} row(s)" for ref, keys in self.nulled.items()]
        lines += [f"set default {ref}: {len(keys)} row(s)" for ref, keys in self.defaulted.items()]
        lines += [f"REFUSED by {ref}: {len(keys)} row(s)" for ref, keys in self.refused_by.items()]
        return "\n".join(lines)


def plan_delete(session: FlushSession, objs: Sequence[Any]) -> DeletePlan:
    """What deleting ``objs`` would do, read with SELECTs only."""
    doomed: dict[Mapper, dict[Any, None]] = {}
    for obj in objs:
        doomed.setdefault(type(obj).__ar_mapper__, {})[obj._ar_state.key] = None
    catalog = session.catalog
    work = [(m, list(keys)) for m, keys in doomed.items()]
    while work:
        mapper, keys = work.pop()
        for ref in catalog.incoming(mapper):
            if on_delete(ref) is not Effect.CASCADE:
                continue
            have = doomed.setdefault(ref.owner, {})
            fresh = [k for k in dependents(session, ref, keys) if k not in have]
            if fresh:
                have.update(dict.fromkeys(fresh))
                work.append((ref.owner, fresh))
    plan = DeletePlan()
    for mapper in catalog.delete_order(doomed):
        if doomed[mapper]:
            plan.deleted[mapper.name] = list(doomed[mapper])
    for mapper, gone_keys in doomed.items():
        if not gone_keys:
            continue
        for ref in catalog.incoming(mapper):
            effect = on_delete(ref)
            if effect is Effect.CASCADE:
                continue
            gone = doomed.get(ref.owner, {})
            left = [k for k in dependents(session, ref, list(gone_keys)) if k not in gone]
            if not left:
                continue
            where = f"{ref.owner.name}.{ref.name}"
            if effect is Effect.REFUSE:
                plan.refused_by.setdefault(where, []).extend(left)
            elif ref.on_delete == "SET DEFAULT":
                plan.defaulted.setdefault(where, []).extend(left)
            else:
                plan.nulled.setdefault(where, []).extend(left)
    return plan
