"""Migration files: finding, loading and writing them. A migration is a
Python file ``NNNN_name.py`` in the migrations directory, holding
``operations`` (a list of :mod:`~activerel.migrations.ops`) and ``previous``
(the name of the migration it follows, so that two branches that both wrote
``0003`` are caught instead of applied in a guessed order).

Used by the runner and the command line. Imports :mod:`activerel.schema`,
:mod:`activerel.migrations.ops` and :mod:`activerel.errors`."""
from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Optional, Sequence

from ..errors import MigrationError
from ..schema.operations import Operation, replay
from ..schema.tables import Schema
from .ops import NAMES

FILE_NAME = re.compile(r"^(\d{4})_(\w+)\.py$")


@dataclass
class Migration:
    """One migration file, loaded."""

    name: str
    number: int
    path: Path
    operations: list[Operation]
    previous: Optional[str]
    doc: str

    def describe(self) -> list[str]:
        return [op.describe() for op in self.operations]


def load(directory: Path) -> list[Migration]:
    """The migrations of ``directory`` in order (none when it does not exist);
    MigrationError for a file that is not a migration, two files with one
    number, or a file whose ``previous`` is not the one before it."""
    if not directory.is_dir():
        return []
    found: list[Migration] = []
    for path in sorted(directory.glob("*.py")):
        match = FILE_NAME.match(path.name)
        if path.name == "__init__.py":
            continue
        if match is None:
            raise MigrationError(f"{path}: a migration file is named NNNN_name.py (e.g. "
                                 "0002_add_colour.py)")
        found.append(_load_one(path, int(match.group(1))))
    seen: dict[int, str] = {}
    for k, m in enumerate(found):
        if m.number in seen:
            raise MigrationError(
                f"{m.name} and {seen[m.number]} share the number {m.number:04d}: two branches "
                "each wrote a migration; renumber one and set its `previous`")
        seen[m.number] = m.name
        expected = found[k - 1].name if k else None
        if m.previous != expected:
            raise MigrationError(
                f"{m.name} says it follows {m.previous!r}, but the migration before it is "
                f"{expected!r}: fix `previous` (or the numbering) after merging branches")
    return found


def _load_one(path: Path, number: int) -> Migration:
    name = path.stem
    spec = importlib.util.spec_from_file_location(f"activerel_migration_{name}", path)
    if spec is None or spec.loader is None:
        raise MigrationError(f"{path}: cannot be loaded as Python")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise MigrationError(f"{path}: {type(exc).__name__}: {exc}") from exc
    operations = getattr(module, "operations", None)
    if not isinstance(operations, list) or not all(isinstance(o, Operation) for o in operations):
        raise MigrationError(f"{path}: needs `operations = [...]`, a list of operations from "
                             "activerel.migrations.ops")
    return Migration(name, number, path, operations, getattr(module, "previous", None),
                     (module.__doc__ or "").strip())


def state(migrations: Sequence[Migration]) -> Schema:
    """The schema the migrations lead to, replayed without a database."""
    out = Schema()
    for m in migrations:
        try:
            out = replay(m.operations, out)
        except MigrationError:
            raise
        except Exception as exc:
            raise MigrationError(f"{m.name}: {exc}") from exc
    return out


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:48].rstrip("_")


def default_name(operations: Sequence[Operation], first: bool) -> str:
    """``initial`` for the first migration, else what its first operation
    does (``add_column_gadget_colour``), ``..._and_more`` when there are more."""
    if first:
        return "initial"
    if not operations:
        return "empty"
    name = _slug(operations[0].describe())
    return name + "_and_more" if len(operations) > 1 else name


def source(name: str, operations: Sequence[Operation], previous: Optional[str]) -> str:
    """The text of a migration file."""
    body = []
    for op in operations:
        note = getattr(op, "note", "")
        if note:
            body.append(f"    # {note}")
        code = op.code().replace("\n", "\n    ")
        body.append(f"    {code},")
    text = "\n".join(body)
    used = sorted({n for n in NAMES if re.search(rf"\b{n}\(", text)})
    lines = [f'"""Migration {name}.', ""]
    lines += [f"- {op.describe()}" for op in operations] or ["- (nothing yet: add operations)"]
    lines += ["",
              f"Written by `python -m activerel makemigrations` on {date.today().isoformat()}.",
              "Edit it freely: the operations run in order, and backward in reverse order,",
              "each undone by its inverse (RunPython and RunSQL need their backward step).",
              '"""']
    if used:
        lines.append(f"from activerel.migrations.ops import {', '.join(used)}")
    lines += ["", f"previous = {previous!r}", "", "operations = ["]
    if text:
        lines.append(text)
    lines.append("]")
    return "\n".join(lines) + "\n"


def write(directory: Path, operations: Sequence[Operation], existing: Sequence[Migration],
          name: Optional[str] = None) -> Path:
    """Write the next migration file of ``directory``; returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    number = existing[-1].number + 1 if existing else 1
    label = _slug(name) if name else default_name(operations, not existing)
    full = f"{number:04d}_{label}"
    path = directory / f"{full}.py"
    path.write_text(source(full, operations, existing[-1].name if existing else None))
    return path
