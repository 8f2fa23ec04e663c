"""An entity-relationship diagram of the models: ``python -m activerel
diagram``. :func:`build` reads the served mappers into a :class:`Diagram`
(tables parents first, their columns with types and keys, one
:class:`Relation` per reference with its on_delete action, crow's-foot
cardinality and the back references that see it), which renders as Mermaid
``erDiagram`` text (:meth:`Diagram.mermaid`), as Graphviz DOT
(:meth:`Diagram.dot`) and, through Graphviz's ``dot`` program, as SVG
(:meth:`Diagram.svg`). Columns, keys and foreign keys come from the
backend-independent description of :mod:`activerel.schema.declared`; field
names, back references and pivots from the mappers. The output depends only
on the models: tables parents first (ties by table name), columns and
references in declaration order, everything else sorted.

The top layer, beside :mod:`activerel.cli`, which calls it. Imports
:mod:`activerel.mapping`, :mod:`activerel.schema` and :mod:`activerel.errors`."""
from __future__ import annotations

import html
import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import Optional, Sequence

from .errors import ConfigurationError
from .mapping.catalog import Catalog, table_order
from .mapping.mapper import Mapper
from .mapping.properties import ReferenceProp
from .schema.declared import declared_schema
from .schema.tables import ForeignKeyDef, TableDef

#: the output formats, the first the default
FORMATS = ("mermaid", "dot", "svg")
#: what a file name's suffix asks for when no format is given
SUFFIX_FORMATS = {".mmd": "mermaid", ".mermaid": "mermaid", ".md": "mermaid",
                  ".dot": "dot", ".gv": "dot", ".svg": "svg"}

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class Attribute:
    """One column: its abstract type (``str(80)`` with a length), keys among
    PK, FK and UK, and notes (nullable, auto-increment, composite unique)."""

    name: str
    type: str
    keys: tuple[str, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Entity:
    """One table. ``pivot``: some many-to-many back reference goes through
    it; ``pure_link``: its rows are only its two references' keys."""

    table: str
    model: str
    attributes: tuple[Attribute, ...]
    pivot: bool = False
    pure_link: bool = False

    @property
    def title(self) -> str:
        """The table's name, with what kind of pivot it is."""
        if not self.pivot:
            return self.table
        return f"{self.table} (pivot, pure link)" if self.pure_link else f"{self.table} (pivot)"


@dataclass(frozen=True)
class Relation:
    """One reference: ``child.field`` holds a row of ``parent``.

    ``optional``: the reference may be NULL (the parent end is zero-or-one,
    else exactly one); ``one``: a parent has at most one such child (a unique
    or primary-key reference, or a one-to-one back reference), else any
    number; ``identifying``: the reference is part of the child's primary
    key. ``back`` names the back references on the parent that this
    reference feeds: its inverses, and the many-to-many ones through it."""

    parent: str
    child: str
    field: str
    columns: tuple[str, ...]
    on_delete: str
    on_update: str
    optional: bool
    one: bool
    identifying: bool
    back: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """``field / back: ON DELETE ACTION`` (and ON UPDATE when it acts)."""
        names = " / ".join((self.field, ", ".join(self.back))) if self.back else self.field
        actions = f"ON DELETE {self.on_delete}"
        if self.on_update != "NO ACTION":
            actions += f", ON UPDATE {self.on_update}"
        return f"{names}: {actions}"


@dataclass(frozen=True)
class Diagram:
    """The tables (parents first) and references of a set of models."""

    entities: tuple[Entity, ...]
    relations: tuple[Relation, ...]

    # -- Mermaid ---------------------------------------------------------------
    def mermaid(self) -> str:
        """Mermaid ``erDiagram`` text: the tables with their columns, then one
        line per reference, parent first (``||`` exactly one, ``|o`` zero or
        one; ``o{`` zero or more, ``o|`` zero or one; ``--`` identifying,
        ``..`` not)."""
        lines = ["erDiagram"]
        for e in self.entities:
            name = _mermaid_name(e.table)
            head = f"{name}[{_quote(e.title)}]" if e.pivot else name
            lines.append(f"    {head} {{")
            for a in e.attributes:
                line = f"        {a.type} {a.name}"
                if a.keys:
                    line += " " + ", ".join(a.keys)
                if a.notes:
                    line += " " + _quote("; ".join(a.notes))
                lines.append(line)
            lines.append("    }")
        for r in self.relations:
            left = "|o" if r.optional else "||"
            line = "--" if r.identifying else ".."
            right = "o|" if r.one else "o{"
            lines.append(f"    {_mermaid_name(r.parent)} {left}{line}{right} "
                         f"{_mermaid_name(r.child)} : {_quote(r.label)}")
        return "\n".join(lines) + "\n"

    # -- Graphviz ----------------------------------------------------------------
    def dot(self) -> str:
        """Graphviz DOT: one HTML-like table per table (pivots shaded), one
        edge per reference from parent to child, crow's-foot ends (``teetee``
        exactly one, ``teeodot`` zero or one, ``crowodot`` zero or more),
        dashed unless identifying, labelled like the Mermaid lines."""
        lines = ["digraph activerel {",
                 '    graph [rankdir=LR, fontname="Helvetica", nodesep=0.5, ranksep=1.2];',
                 '    node [shape=plain, fontname="Helvetica", fontsize=10];',
                 '    edge [fontname="Helvetica", fontsize=9, dir=both, color="#555555"];']
        for e in self.entities:
            lines.append(f"    {_dot_id(e.table)} [label=<{_dot_table(e)}>];")
        for r in self.relations:
            attrs = [f"label={_dot_string(r.label)}",
                     f"arrowtail={'teeodot' if r.optional else 'teetee'}",
                     f"arrowhead={'teeodot' if r.one else 'crowodot'}"]
            if not r.identifying:
                attrs.append("style=dashed")
            lines.append(f"    {_dot_id(r.parent)} -> {_dot_id(r.child)} [{', '.join(attrs)}];")
        lines.append("}")
        return "\n".join(lines) + "\n"

    def svg(self) -> str:
        """The DOT text laid out by Graphviz's ``dot -Tsvg``."""
        program = shutil.which("dot")
        if program is None:
            raise ConfigurationError(
                "SVG needs Graphviz's dot program, which is not installed: install the Debian "
                "package graphviz (apt-get install graphviz), or write --format mermaid or "
                "--format dot")
        done = subprocess.run([program, "-Tsvg"], input=self.dot().encode(),
                              capture_output=True, check=False)
        if done.returncode != 0:
            raise ConfigurationError(f"dot -Tsvg failed (exit {done.returncode}): "
                                     f"{done.stderr.decode(errors='replace').strip()}")
        return done.stdout.decode()

    def render(self, fmt: str, markdown: bool = False) -> str:
        """The diagram in ``fmt`` (one of :data:`FORMATS`); ``markdown``
        wraps text formats in a fenced block (```` ```mermaid ````)."""
        if fmt not in FORMATS:
            raise ConfigurationError(f"unknown diagram format {fmt!r}; use one of "
                                     f"{', '.join(FORMATS)}")
        if fmt == "svg":
            if markdown:
                raise ConfigurationError("SVG is not Markdown: write it to a .svg file")
            return self.svg()
        text = self.mermaid() if fmt == "mermaid" else self.dot()
        return f"```{fmt}\n{text}```\n" if markdown else text


def output_format(fmt: Optional[str], output: Optional[str]) -> str:
    """The format asked for: ``fmt`` if given, else from the output file's
    suffix (``.svg``, ``.dot``/``.gv``, ``.md``/``.mmd``), else Mermaid."""
    if fmt:
        return fmt
    if output:
        for suffix, found in SUFFIX_FORMATS.items():
            if output.lower().endswith(suffix):
                return found
    return FORMATS[0]


# -- reading the models ------------------------------------------------------------


def build(models: Sequence[type]) -> Diagram:
    """The diagram of ``models`` and of every model they reach (references,
    back references and pivots), as a database serving them would see it."""
    found = Catalog(list(models), "the diagram").mappers
    mappers = table_order(sorted(found, key=lambda m: m.table))
    schema = declared_schema(mappers)
    pivots = {b.via_mapper for m in mappers for b in m.backrefs if b.via is not None}
    entities = tuple(_entity(m, schema.table(m.table), m in pivots) for m in mappers)
    relations = tuple(_relation(m, ref, schema.table(m.table))
                      for m in mappers for ref in m.references)
    return Diagram(entities, relations)


def _entity(m: Mapper, table: TableDef, pivot: bool) -> Entity:
    fk_columns = {c for fk in table.foreign_keys for c in fk.columns}
    unique_alone = {i.columns[0] for i in table.indexes if i.unique and len(i.columns) == 1}
    composite = [i.columns for i in table.indexes if i.unique and len(i.columns) > 1]
    attributes = []
    for c in table.columns:
        keys = []
        if c.name in table.primary_key:
            keys.append("PK")
        if c.name in fk_columns:
            keys.append("FK")
        together = [cols for cols in composite if c.name in cols]
        if c.name in unique_alone or together:
            keys.append("UK")
        notes = []
        if c.nullable:
            notes.append("nullable")
        if c.autoincrement:
            notes.append("auto-increment")
        notes += [f"unique ({', '.join(cols)})" for cols in sorted(together)]
        kind = f"{c.type}({c.length})" if c.length is not None else c.type
        attributes.append(Attribute(c.name, kind, tuple(keys), tuple(notes)))
    return Entity(m.table, m.name, tuple(attributes), pivot, pivot and m.pure_link)


def _relation(m: Mapper, ref: ReferenceProp, table: TableDef) -> Relation:
    columns = tuple(c.name for c in ref.columns)
    fk = _foreign_key(table, columns)
    unique = (set(columns) == set(table.primary_key)
              or any(i.unique and set(i.columns) == set(columns) for i in table.indexes))
    one_to_one = any(not b.many for b in ref.inverses)
    back = {b.name for b in ref.inverses}
    back.update(b.name for b in ref.target_mapper.backrefs if b.via_local is ref)
    return Relation(parent=fk.target, child=m.table, field=ref.name, columns=columns,
                    on_delete=fk.on_delete, on_update=fk.on_update, optional=ref.nullable,
                    one=unique or one_to_one,
                    identifying=bool(columns) and set(columns) <= set(table.primary_key),
                    back=tuple(sorted(back)))


def _foreign_key(table: TableDef, columns: tuple[str, ...]) -> ForeignKeyDef:
    for fk in table.foreign_keys:
        if fk.columns == columns:
            return fk
    raise ConfigurationError(f"{table.name}: no foreign key on {columns!r}")  # pragma: no cover


# -- quoting -------------------------------------------------------------------------


def _quote(text: str) -> str:
    """A Mermaid string: double quotes cannot be escaped there."""
    return '"' + text.replace('"', "'") + '"'


def _mermaid_name(name: str) -> str:
    return name if _IDENTIFIER.match(name) else _quote(name)


def _dot_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot_id(name: str) -> str:
    return _dot_string(name)


def _dot_table(e: Entity) -> str:
    """An HTML-like label: the table's name (and pivot kind) over one row per
    column: name, type, keys, notes."""
    esc = html.escape
    colour = "#f3e3c3" if e.pivot else "#d7e3f4"
    head = f"<B>{esc(e.table)}</B>"
    if e.pivot:
        kind = "pivot, pure link" if e.pure_link else "pivot"
        head += f'<BR/><FONT POINT-SIZE="8"><I>{kind}</I></FONT>'
    rows = [f'<TR><TD COLSPAN="4" BGCOLOR="{colour}">{head}</TD></TR>']
    for a in e.attributes:
        name = f"<U>{esc(a.name)}</U>" if "PK" in a.keys else esc(a.name)
        notes = f'<FONT COLOR="#666666">{esc("; ".join(a.notes))}</FONT>' if a.notes else ""
        rows.append(f'<TR><TD ALIGN="LEFT">{name}</TD><TD ALIGN="LEFT">{esc(a.type)}</TD>'
                    f'<TD ALIGN="LEFT">{esc(", ".join(a.keys))}</TD>'
                    f'<TD ALIGN="LEFT">{notes}</TD></TR>')
    inner = "\n        ".join(rows)
    return ('<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="0" CELLPADDING="3">\n        '
            f"{inner}\n    </TABLE>")
