"""Writing the planned models as the Python source of a module: its
docstring and imports, one class per model with its class keywords, a line
per field (markers inside ``Annotated``, defaults through ``field()``) and
per back reference, the notes as wrapped comments, and the tables left out
listed at the top.

Called by :mod:`activerel.migrations.inspect` with the finished plans.
Imports :mod:`activerel.migrations.inspect_plan` and
:class:`~activerel.mapping.markers.Sql`."""
from __future__ import annotations

import json
import math
import re
import textwrap
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Optional
from uuid import UUID

from ..mapping.markers import Sql
from .inspect_plan import BackPlan, FieldPlan, ModelPlan

#: the longest line the generated module aims at (notes are wrapped to it)
WIDTH = 100

#: the names the generated module imports, which no class may take
MODULE_NAMES = frozenset({
    "annotations", "Annotated", "Optional", "Decimal", "UUID", "date", "datetime", "time",
    "Model", "PrimaryKey", "AutoIncrement", "Unique", "Index", "Reference", "BackReference",
    "field", "Sql"})

#: what the generated module may import from activerel, in import order
_ACTIVEREL_NAMES = ("AutoIncrement", "BackReference", "Index", "Model", "PrimaryKey", "Reference",
                    "Sql", "Unique", "field")


def _q(text: str) -> str:
    """A double-quoted Python string literal."""
    return json.dumps(text, ensure_ascii=False)


# -- imports, values, lines -----------------------------------------------------------
class _Imports:
    def __init__(self) -> None:
        self.names: set[str] = {"Model"}

    def use(self, *names: str) -> None:
        self.names.update(names)

    def lines(self) -> list[str]:
        n = self.names
        out = ["from __future__ import annotations", ""]
        dt = [x for x in ("date", "datetime", "time") if x in n]
        if dt:
            out.append(f"from datetime import {', '.join(dt)}")
        if "Decimal" in n:
            out.append("from decimal import Decimal")
        typing_names = [x for x in ("Annotated", "Optional") if x in n]
        if typing_names:
            out.append(f"from typing import {', '.join(typing_names)}")
        if "UUID" in n:
            out.append("from uuid import UUID")
        if len(out) > 2:
            out.append("")
        ours = [x for x in _ACTIVEREL_NAMES if x in n]
        line = f"from activerel import {', '.join(ours)}"
        if len(line) > WIDTH:
            line = "from activerel import (" + ",\n                       ".join(
                ", ".join(ours[i:i + 6]) for i in range(0, len(ours), 6)) + ")"
        out.append(line)
        return out


def _literal(v: Any, imports: _Imports) -> str:
    if isinstance(v, Sql):
        imports.use("Sql")
        return f"Sql({_q(v.text)})"
    if isinstance(v, bool) or v is None:
        return repr(v)
    if isinstance(v, int):
        return repr(v)
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else f"float({_q(repr(v))})"
    if isinstance(v, str):
        return _q(v)
    if isinstance(v, Decimal):
        imports.use("Decimal")
        return f"Decimal({_q(str(v))})"
    if isinstance(v, datetime):
        imports.use("datetime")
        parts = [v.year, v.month, v.day, v.hour, v.minute, v.second] + (
            [v.microsecond] if v.microsecond else [])
        return f"datetime({', '.join(map(str, parts))})"
    if isinstance(v, date):
        imports.use("date")
        return f"date({v.year}, {v.month}, {v.day})"
    if isinstance(v, time):
        imports.use("time")
        parts = [v.hour, v.minute, v.second] + ([v.microsecond] if v.microsecond else [])
        return f"time({', '.join(map(str, parts))})"
    if isinstance(v, UUID):
        imports.use("UUID")
        return f"UUID({_q(str(v))})"
    return repr(v)  # bytes, JSON values


def _default_source(f: FieldPlan, imports: _Imports) -> Optional[str]:
    """What follows ``=`` on the field's line, or None for nothing."""
    if f.is_reference:
        return "None" if f.nullable else None
    c = f.column
    assert c is not None
    args = []
    if f.autoincrement:
        args.append("default=0")
    elif f.server_default is not None:
        args.append(f"server_default={_literal(f.server_default, imports)}")
    elif f.nullable:
        args.append("default=None")
    if c.length is not None and c.type in ("str", "bytes"):
        args.append(f"max_length={c.length}")
    if f.name != c.name:
        args.append(f"column={_q(c.name)}")
    if len(args) == 1 and args[0] in ("default=0", "default=None"):
        return args[0].split("=", 1)[1]
    if not args:
        return None
    imports.use("field")
    return f"field({', '.join(args)})"


def _runtime_names(source: Optional[str]) -> set[str]:
    return set(re.findall(r"\b(field|Sql|Decimal|datetime|date|time|UUID|float)\(",
                          source or ""))


def _settle_runtime_names(m: ModelPlan) -> None:
    """Rename fields whose default would hide a name a later default calls
    (``field``, ``date``, ...): the class body runs its defaults in order."""
    for _ in range(5):
        scratch = _Imports()
        defaults = {f: _default_source(f, scratch) for f in m.fields}
        used = set().union(*map(_runtime_names, defaults.values())) if defaults else set()
        clash = [f for f in m.fields if defaults[f] is not None and f.name in used]
        if not clash:
            return
        for f in clash:
            f.name = m.claim(f.name + "_")


def _field_line(m: ModelPlan, f: FieldPlan, imports: _Imports) -> str:
    markers = []
    if f.primary_key:
        markers.append("PrimaryKey")
    if f.autoincrement:
        markers.append("AutoIncrement")
    if f.unique:
        markers.append("Unique")
    if f.index:
        markers.append("Index")
    imports.use(*markers)
    if f.is_reference:
        assert f.target is not None and f.fk is not None
        tp = f.target.cls
        if f.nullable:
            imports.use("Optional")
            tp = f"Optional[{tp}]"
        args = []
        if f.fk.on_delete != "NO ACTION":
            args.append(f"on_delete={_q(f.fk.on_delete)}")
        if f.fk.on_update != "NO ACTION":
            args.append(f"on_update={_q(f.fk.on_update)}")
        key = f.target.table.primary_key
        default = [f"{f.name}_id"] if len(key) == 1 else [f"{f.name}_{k}" for k in key]
        if list(f.columns) != default:
            cols = (_q(f.columns[0]) if len(f.columns) == 1
                    else "(" + ", ".join(map(_q, f.columns)) + ")")
            args.append(f"column={cols}")
        if not f.fk_index:
            args.append("index=False")
        imports.use("Reference")
        if not args and not markers:
            ann = f"Reference[{tp}]"
        else:
            imports.use("Annotated")
            ref = f"Reference({', '.join(args)})"
            ann = f"Annotated[{', '.join([tp, *markers, ref])}]"
    else:
        tp = f.py_type
        if tp in ("Decimal", "UUID", "datetime", "date", "time"):
            imports.use(tp)
        if f.nullable:
            imports.use("Optional")
            tp = f"Optional[{tp}]"
        if markers:
            imports.use("Annotated")
            ann = f"Annotated[{', '.join([tp, *markers])}]"
        else:
            ann = tp
    value = _default_source(f, imports)
    return _wrap(f"    {f.name}: {ann}" + (f" = {value}" if value is not None else ""))


def _wrap(line: str) -> str:
    """A field line too long for :data:`WIDTH`, broken after the opening
    parenthesis of its (Back)Reference marker."""
    at = line.rfind("Reference(")
    if len(line) <= WIDTH or at < 0:
        return line
    at += len("Reference(")
    return line[:at] + "\n" + " " * 8 + line[at:]


def _back_line(b: BackPlan, imports: _Imports) -> str:
    tp = b.target.cls
    tp = f"list[{tp}]" if b.many else f"Optional[{tp}]"
    if not b.many:
        imports.use("Optional")
    args = []
    if b.via is not None:
        args.append(f"via={_q(b.via.cls)}")
    if b.mapped_by is not None:
        args.append(f"mapped_by={_q(b.mapped_by.name)}")
    imports.use("BackReference")
    if not args:
        return f"    {b.name}: BackReference[{tp}]"
    imports.use("Annotated")
    return _wrap(f"    {b.name}: Annotated[{tp}, BackReference({', '.join(args)})]")


def _comment(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, WIDTH - len(indent) - 2, initial_indent=indent + "# ",
                         subsequent_indent=indent + "#   ", break_long_words=False,
                         break_on_hyphens=False) or [indent + "#"]


def _names(fields: tuple[FieldPlan, ...]) -> str:
    inner = ", ".join(_q(f.name) for f in fields)
    return f"({inner},)" if len(fields) == 1 else f"({inner})"


def _class_source(m: ModelPlan, imports: _Imports) -> list[str]:
    kws = [f"table={_q(m.table.name)}"]
    if m.unique:
        kws.append(f"unique=[{', '.join(_names(u) for u in m.unique)}]")
    if m.indexes:
        kws.append(f"indexes=[{', '.join(_names(i) for i in m.indexes)}]")
    if m.table.checks:
        kws.append("checks={" + ", ".join(f"{_q(c.name)}: {_q(c.sql)}"
                                          for c in m.table.checks) + "}")
    head = f"class {m.cls}(Model, {', '.join(kws)}):"
    if len(head) > WIDTH:
        pad = " " * len(f"class {m.cls}(")
        head = f"class {m.cls}(Model, {kws[0]},\n" + ",\n".join(pad + k for k in kws[1:]) + "):"
    lines = [head]
    for note in m.notes:
        lines += _comment(note, "    ")
    for f in m.fields:
        for note in f.notes:
            lines += _comment(note, "    ")
        lines.append(_field_line(m, f, imports))
    for b in m.backs:
        lines.append(_back_line(b, imports))
    return lines


def module_source(models: list[ModelPlan], skipped: dict[str, str], header: str) -> str:
    """The module declaring ``models`` in that order (fields whose default
    would hide a name a later default calls are renamed first), the tables
    ``skipped`` listed at the top with why, ``header`` opening its docstring."""
    for m in models:
        _settle_runtime_names(m)
    imports = _Imports()
    body: list[str] = []
    for m in models:
        body += ["", ""] + _class_source(m, imports)
    doc = header.strip()
    doc = (doc + "\n\n" if doc else "") + (
        "Models written by ``activerel inspect`` from the database's schema: review the\n"
        "names (a Reference is named after its column without ``_id``, a back reference\n"
        "after the table it lists) and the notes before using them.")
    doc = doc.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    out = [f'"""{doc}"""'] + imports.lines()
    if skipped:
        out += ["", "# Tables left out:"]
        for name, why in skipped.items():
            out += textwrap.wrap(f"{name}: {why}", WIDTH, initial_indent="#   ",
                                 subsequent_indent="#     ", break_long_words=False,
                                 break_on_hyphens=False)
    out += body
    return "\n".join(out) + "\n"
