"""Planning model classes from a database's schema: :func:`models_source`
turns a :class:`~activerel.schema.tables.Schema` read from a live database
into the Python module of its models, the way in for a team with a database
already (as Django's ``inspectdb`` or Prisma's ``db pull`` are).

One class per table (``user_groups`` -> ``UserGroups``, ``table=`` always
given), parents first: columns as typed fields (``Optional[T] = None`` where
nullable, ``field(max_length=n)``, ``field(server_default=...)``), the
primary key as ``PrimaryKey`` markers in key order, foreign keys to a
primary key as ``Reference`` fields with their actions (``index=False``
where the database has no index for them), back references on the
referenced side (one-to-many lists, one-to-one where the foreign key is
unique, ``via=`` lists through link tables), indexes, unique constraints and
checks as markers or class keywords. The models declare the schema they were
read from, up to constraint names: what activerel cannot declare is left as
a plain column or left out, with a comment saying so, and a table without a
primary key is skipped, listed at the top of the module.

This module decides which foreign keys become References, the names, the
constraints and the back references; the plans and what one column becomes
are :mod:`~activerel.migrations.inspect_plan`'s, the writing of the source
:mod:`~activerel.migrations.inspect_source`'s.

Called by the command line's ``inspect`` command. Imports
:mod:`activerel.schema.tables`, :mod:`activerel._util.graph` and those two
sibling modules."""
from __future__ import annotations

import keyword
import re
from typing import Optional

from .._util import graph
from ..schema.tables import ForeignKeyDef, Schema, TableDef
from .inspect_plan import (BackPlan, FieldPlan, ModelPlan, class_name, column_field, identifier,
                           type_note)
from .inspect_source import MODULE_NAMES, module_source


# -- entry point -------------------------------------------------------------------
def models_source(schema: Schema, *, header: str = "") -> str:
    """The Python source of a module declaring one model class per table of
    ``schema``; ``header`` (where the schema was read from, say) opens the
    module's docstring. Tables without a primary key are left out and listed
    in a comment at the top."""
    skipped: dict[str, str] = {}
    models: dict[str, ModelPlan] = {}
    used_classes = set(MODULE_NAMES)
    for t in schema.tables.values():
        reason = _unusable(t)
        if reason:
            skipped[t.name] = reason
            continue
        name = class_name(t.name)
        base, n = name, 1
        while name in used_classes or keyword.iskeyword(name):
            n += 1
            name = base + ("_" if n == 2 else f"_{n - 1}")
        used_classes.add(name)
        models[t.name] = ModelPlan(t, name)
    for m in models.values():
        _build_fields(m, models, skipped)
    for m in models.values():
        _constraints(m)
    for m in models.values():
        m.pivot = _is_pivot(m)
    for m in models.values():
        _back_references(m)
    order = graph.sort(list(models.values()),
                       lambda m: [f.target for f in m.references
                                  if f.target is not None and f.target is not m],
                       strict=False)
    assert order is not None
    return module_source(order, skipped, header)


def _unusable(t: TableDef) -> str:
    if not t.primary_key:
        candidates = [i.columns for i in t.indexes
                      if i.unique and all(t.has_column(c) and not t.column(c).nullable
                                          for c in i.columns)]
        hint = (f"; its unique {', '.join('(' + ', '.join(c) + ')' for c in candidates)} "
                "could be the key" if candidates else "")
        return (f"no primary key (activerel needs one: add a primary key to the table and "
                f"run inspect again, or write its model by hand with PrimaryKey on a unique, "
                f"non-null column){hint}")
    missing = [c for c in t.primary_key if not t.has_column(c)]
    if missing:
        return f"its primary key names missing columns {', '.join(missing)}"
    return ""


# -- fields ------------------------------------------------------------------------
def _build_fields(m: ModelPlan, models: dict[str, ModelPlan], skipped: dict[str, str]) -> None:
    """The References (where activerel can declare the foreign key), then
    plain fields for the other columns; names, then order."""
    t = m.table
    pk = tuple(t.primary_key)
    claimed: dict[str, FieldPlan] = {}
    fallback: dict[str, list[str]] = {}   # first column -> notes
    refs: list[FieldPlan] = []
    # self references last: they need this table's key to be plain columns
    fks = sorted(t.foreign_keys, key=lambda fk: fk.target == t.name)
    for fk in fks:
        target = models.get(fk.target)
        why, columns = _reference_problem(m, fk, target, claimed, skipped)
        if why:
            first = fk.columns[0] if fk.columns else ""
            fallback.setdefault(first, []).append(
                f"foreign key ({', '.join(fk.columns)}) -> {fk.target}"
                f"({', '.join(fk.target_columns)}){_actions(fk)}: {why}; kept as plain "
                f"column{'s' if len(fk.columns) > 1 else ''}")
            continue
        assert target is not None
        cols = [t.column(c) for c in columns]
        f = FieldPlan("", tuple(columns), target=target, fk=fk,
                      primary_key=bool(set(columns) & set(pk)))
        f.nullable = any(c.nullable for c in cols)
        if f.nullable and not all(c.nullable for c in cols):
            f.notes.append(f"only some of {', '.join(columns)} are nullable in the database; "
                           "a Reference makes all of them nullable")
        needs_null = [a for a, action in (("on_delete", fk.on_delete), ("on_update", fk.on_update))
                      if action == "SET NULL" or (a == "on_delete" and action == "SET DEFAULT")]
        if needs_null and not f.nullable:
            f.nullable = True
            f.notes.append(f"{', '.join(columns)} is NOT NULL in the database, but "
                           f"{needs_null[0]}={getattr(fk, needs_null[0])} needs an Optional "
                           "reference: it is made nullable here")
        for c in cols:
            tc = target.table.column(fk.target_columns[fk.columns.index(c.name)])
            if c.type != tc.type:
                f.notes.append(f"{c.name} is {c.type} in the database; a Reference takes the "
                               f"type of {target.table.name}.{tc.name}, {tc.type}")
            if c.length != tc.length:
                f.notes.append(f"{c.name} has {_length(c.length)} in the database; a Reference "
                               f"column takes that of {target.table.name}.{tc.name}, "
                               f"{_length(tc.length)}")
            if c.default is not None:
                f.notes.append(f"{c.name} has the server default {c.default!r}, which a "
                               "Reference cannot declare")
            if c.autoincrement:
                f.notes.append(f"{c.name} is generated by the database, which a Reference "
                               "cannot declare")
            type_note(f, c)
        for name in columns:
            claimed[name] = f
        refs.append(f)
    plain: list[FieldPlan] = []
    for c in t.columns:
        if c.name in claimed:
            continue
        f = column_field(m, c)
        f.notes[:0] = fallback.pop(c.name, [])
        plain.append(f)
    for notes in fallback.values():
        m.notes += notes
    # names: plain columns first (their names are the columns'), then references
    for f in plain:
        f.name = m.claim(identifier(f.columns[0]))
    for f in refs:
        f.name = m.claim(*_reference_names(f))
    position = {c.name: i for i, c in enumerate(t.columns)}
    fields = sorted(plain + refs, key=lambda f: min(position[c] for c in f.columns))
    # the key's order is the order of its fields: put the key fields, in key
    # order, in the places the key fields take
    slots = [i for i, f in enumerate(fields) if f.primary_key]
    keyed = sorted((fields[i] for i in slots), key=lambda f: pk.index(f.columns[0]))
    for i, f in zip(slots, keyed):
        fields[i] = f
    m.fields = fields
    declared = [c for f in fields for c in f.columns]
    if declared != [c.name for c in t.columns]:
        m.notes.append("the columns are declared in the order " + ", ".join(declared)
                       + " (the key's order, and a Reference's columns side by side)")


def _length(length: Optional[int]) -> str:
    return "no length" if length is None else f"length {length}"


def _actions(fk: ForeignKeyDef) -> str:
    out = ""
    if fk.on_delete != "NO ACTION":
        out += f" on delete {fk.on_delete}"
    if fk.on_update != "NO ACTION":
        out += f" on update {fk.on_update}"
    return out


def _reference_problem(m: ModelPlan, fk: ForeignKeyDef, target: Optional[ModelPlan],
                       claimed: dict[str, FieldPlan], skipped: dict[str, str],
                       ) -> tuple[str, list[str]]:
    """Why ``fk`` cannot be a Reference ("" if it can), and its columns in the
    order of the target's key."""
    t = m.table
    if target is None:
        return ("its table is left out" if fk.target in skipped
                else "its table is not in the schema"), []
    missing = [c for c in fk.columns if not t.has_column(c)]
    if missing or not fk.columns or len(fk.columns) != len(fk.target_columns):
        return "it names columns the table does not have", []
    key = tuple(target.table.primary_key)
    if sorted(fk.target_columns) != sorted(key) or len(set(key)) != len(key):
        return (f"it does not point at the primary key of {target.table.name} "
                "(activerel References point at primary keys)"), []
    columns = [fk.columns[fk.target_columns.index(k)] for k in key]
    taken = [c for c in columns if c in claimed]
    if taken:
        return f"{', '.join(taken)} already belong to another Reference", []
    pk = tuple(t.primary_key)
    in_key = [c for c in columns if c in pk]
    if in_key:
        if len(in_key) != len(columns):
            return "only some of its columns are in the primary key", []
        start = pk.index(columns[0])
        if pk[start:start + len(columns)] != tuple(columns):
            return ("its columns are not side by side in the primary key, in the order of "
                    f"{target.table.name}'s key"), []
    if target is m:
        if in_key:
            return "a self reference cannot be part of the primary key", []
        if any(c in claimed for c in pk):
            return "a self reference needs a primary key of plain columns", []
    return "", columns


def _strip_id(column: str) -> Optional[str]:
    m = re.fullmatch(r"(.+?)_id", column, re.I)
    return m.group(1) if m else None


def _reference_names(f: FieldPlan) -> list[str]:
    """The field names a Reference would like, best first."""
    assert f.target is not None
    if len(f.columns) == 1:
        column = f.columns[0]
        stripped = _strip_id(column)
        if stripped:
            name = identifier(stripped)
            return [name, name + "_ref"]
        return [identifier(column) + "_ref"]
    key = f.target.table.primary_key
    prefix = f.columns[0][:-len(key[0]) - 1] if f.columns[0].endswith("_" + key[0]) else ""
    if prefix and all(c == f"{prefix}_{k}" for c, k in zip(f.columns, key)):
        name = identifier(prefix)
        return [name, name + "_ref"]
    return [identifier(f.target.table.name) + "_ref"]


# -- constraints -------------------------------------------------------------------
def _constraints(m: ModelPlan) -> None:
    """Indexes, unique constraints and checks: markers on one field where
    that says it, class keywords otherwise."""
    t = m.table
    pk = tuple(t.primary_key)
    automatic = _reference_indexes(m)
    seen: set[tuple[tuple[str, ...], bool]] = set()
    # unique ones first: whether a column is unique decides the rest
    for index in sorted(t.indexes, key=lambda i: not i.unique):
        cols = tuple(index.columns)
        if (cols, index.unique) in seen or (index.unique and cols == pk):
            continue
        seen.add((cols, index.unique))
        what = f"{'unique ' if index.unique else ''}index {index.name} ({', '.join(cols)})"
        if not index.unique and cols in automatic:
            continue
        fields = _fields_of(m, cols)
        if fields is None:
            m.notes.append(f"{what} is left out: its columns are not whole fields in order "
                           "(a Reference's columns go together)")
            continue
        one = fields[0] if len(fields) == 1 else None
        if index.unique:
            if one is not None and len(one.columns) == 1 and not one.primary_key:
                one.unique = True
            else:
                m.unique.append(fields)
            continue
        if one is not None and len(one.columns) == 1 and not one.unique:
            one.index = True
        else:
            m.indexes.append(fields)


def _reference_indexes(m: ModelPlan) -> set[tuple[str, ...]]:
    """The columns of the live indexes activerel makes by itself: a
    Reference's foreign key gets an index exactly on its columns unless the
    key or another declared index begins with them. A Reference whose
    columns no index (nor the key) begins with is marked ``index=False``."""
    t = m.table
    pk = tuple(t.primary_key)
    declared = [i for i in t.indexes if not (i.unique and tuple(i.columns) == pk)
                and _fields_of(m, tuple(i.columns)) is not None]
    automatic: set[tuple[str, ...]] = set()
    for f in m.references:
        cols, n = f.columns, len(f.columns)
        own = [i for i in declared if not i.unique and tuple(i.columns) == cols]
        if pk[:n] == cols or any(tuple(i.columns[:n]) == cols for i in declared if i not in own):
            continue        # no index of its own: an index of its columns is declared as such
        if own:
            automatic.add(cols)
        else:
            f.fk_index = False
    return automatic


def _fields_of(m: ModelPlan, cols: tuple[str, ...]) -> Optional[tuple[FieldPlan, ...]]:
    out: list[FieldPlan] = []
    i = 0
    while i < len(cols):
        try:
            f = m.field_of(cols[i])
        except StopIteration:
            return None
        if cols[i:i + len(f.columns)] != f.columns:
            return None
        out.append(f)
        i += len(f.columns)
    return tuple(out)


def _unique_columns(m: ModelPlan, columns: tuple[str, ...]) -> bool:
    """Whether ``columns`` (as a set) hold one row at most: the key, or unique."""
    want = set(columns)
    return (want == set(m.table.primary_key)
            or any(i.unique and set(i.columns) == want for i in m.table.indexes))


def _is_pivot(m: ModelPlan) -> bool:
    """A link table: two References to other tables whose columns together
    are the key (or unique). Other columns may come with them."""
    refs = m.references
    if len(refs) != 2 or any(r.target is m for r in refs):
        return False
    return _unique_columns(m, refs[0].columns + refs[1].columns)


def _back_references(m: ModelPlan) -> None:
    """The back references pointing at ``m``'s References, added to their
    targets: lists (or a one-to-one) of ``m``, and ``via=`` lists when ``m``
    is a link table."""
    refs = m.references
    pure = m.pivot and {c.name for c in m.table.columns} == {c for r in refs for c in r.columns}
    table_name = identifier(m.table.name, "rows")
    if not pure:
        for r in refs:
            target = r.target
            assert target is not None
            several = sum(1 for o in refs if o.target is target) > 1
            one = _unique_columns(m, r.columns)
            by = f"{table_name}_by_{r.name}"
            if target is m and not several:
                names = (["children"] if r.name == "parent" else []) + [table_name, by]
            elif several:
                names = [by]
            else:
                names = [table_name, by]
            target.backs.append(BackPlan(target.claim(*names), m, not one,
                                         mapped_by=r if several or target is m else None))
    if m.pivot:
        a, b = refs
        assert a.target is not None and b.target is not None
        for here, there in ((a, b), (b, a)):
            side, other = here.target, there.target
            assert side is not None and other is not None
            if side is other:
                name = side.claim(f"{there.name}_via_{table_name}")
                side.backs.append(BackPlan(name, other, via=m, mapped_by=here))
            else:
                name = side.claim(identifier(other.table.name, "rows"),
                                  f"{identifier(other.table.name, 'rows')}_via_{table_name}")
                side.backs.append(BackPlan(name, other, via=m))
