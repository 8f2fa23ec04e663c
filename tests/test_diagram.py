"""``python -m activerel diagram`` (issue 18, a picture of the models): the
exact Mermaid text for a small set of models (a composite key and a
composite foreign key, a nullable reference with SET NULL, a one-to-one, a
pivot that is a pure link), the DOT text, the command with ``--models`` and
with pyproject.toml, the SVG through Graphviz's ``dot`` where it is
installed, and the docs page of the demo's diagram, which must be the
command's current output."""
from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Annotated, Optional

import pytest

from activerel import (AutoIncrement, BackReference, Model, PrimaryKey, Reference, Unique,
                       field)
from activerel.cli import main
from activerel.diagram import Entity, build, output_format

ROOT = Path(__file__).resolve().parent.parent


class DgAuthor(Model, table="dg_authors"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    email: Annotated[str, Unique] = field(max_length=120)
    books: Annotated[list[DgBook], BackReference(mapped_by="author")]
    edited: Annotated[list[DgBook], BackReference(mapped_by="editor")]
    profile: Annotated[Optional[DgProfile], BackReference()]


class DgProfile(Model, table="dg_profiles"):
    """One-to-one: a unique reference, seen by a back reference of one."""
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    author: Annotated[DgAuthor, Unique, Reference(on_delete="CASCADE")]
    bio: Optional[str] = None


class DgBook(Model, table="dg_books", unique=[("author", "title")]):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    author: Annotated[DgAuthor, Reference(on_delete="CASCADE")]
    editor: Annotated[Optional[DgAuthor], Reference(on_delete="SET NULL")] = None
    title: str = field(max_length=200)
    shelves: Annotated[list[DgShelf], BackReference(via="DgShelving")]


class DgEdition(Model, table="dg_editions"):
    """A composite key: the book (a reference) and a number."""
    book: Annotated[DgBook, PrimaryKey, Reference(on_delete="CASCADE")]
    number: Annotated[int, PrimaryKey]
    year: Optional[int] = None


class DgPrinting(Model, table="dg_printings"):
    """A composite foreign key, with an ON UPDATE action."""
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    edition: Annotated[DgEdition, Reference(on_delete="RESTRICT", on_update="CASCADE")]
    copies: int = 0


class DgShelf(Model, table="dg_shelves"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str
    books: Annotated[list[DgBook], BackReference(via="DgShelving")]


class DgShelving(Model, table="dg_shelvings"):
    """The pivot of DgBook.shelves / DgShelf.books: only the two keys."""
    book: Annotated[DgBook, PrimaryKey, Reference(on_delete="CASCADE")]
    shelf: Annotated[DgShelf, PrimaryKey, Reference(on_delete="CASCADE")]


MODELS = [DgAuthor, DgProfile, DgBook, DgEdition, DgPrinting, DgShelf, DgShelving]

MERMAID = '''\
erDiagram
    dg_authors {
        int id PK "auto-increment"
        str(120) email UK
    }
    dg_books {
        int id PK "auto-increment"
        int author_id FK, UK "unique (author_id, title)"
        int editor_id FK "nullable"
        str(200) title UK "unique (author_id, title)"
    }
    dg_editions {
        int book_id PK, FK
        int number PK
        int year "nullable"
    }
    dg_printings {
        int id PK "auto-increment"
        int edition_book_id FK
        int edition_number FK
        int copies
    }
    dg_profiles {
        int id PK "auto-increment"
        int author_id FK, UK
        str bio "nullable"
    }
    dg_shelves {
        int id PK "auto-increment"
        str name
    }
    dg_shelvings["dg_shelvings (pivot, pure link)"] {
        int book_id PK, FK
        int shelf_id PK, FK
    }
    dg_authors ||..o{ dg_books : "author / books: ON DELETE CASCADE"
    dg_authors |o..o{ dg_books : "editor / edited: ON DELETE SET NULL"
    dg_books ||--o{ dg_editions : "book: ON DELETE CASCADE"
    dg_editions ||..o{ dg_printings : "edition: ON DELETE RESTRICT, ON UPDATE CASCADE"
    dg_authors ||..o| dg_profiles : "author / profile: ON DELETE CASCADE"
    dg_books ||--o{ dg_shelvings : "book / shelves: ON DELETE CASCADE"
    dg_shelves ||--o{ dg_shelvings : "shelf / books: ON DELETE CASCADE"
'''


def test_the_mermaid_text_of_a_small_schema() -> None:
    assert build(MODELS).mermaid() == MERMAID


def test_the_output_does_not_depend_on_the_order_the_models_come_in() -> None:
    # tables parents first, ties by name: whatever the list, and whichever
    # model the others are reached from
    assert build(list(reversed(MODELS))).mermaid() == MERMAID
    assert build([DgShelving, DgPrinting, DgProfile]).mermaid() == MERMAID


def test_the_diagram_reads_what_the_models_declare() -> None:
    d = build(MODELS)
    assert [e.table for e in d.entities] == [
        "dg_authors", "dg_books", "dg_editions", "dg_printings", "dg_profiles", "dg_shelves",
        "dg_shelvings"]
    by_field = {(r.child, r.field): r for r in d.relations}
    editor = by_field["dg_books", "editor"]
    assert (editor.optional, editor.one, editor.on_delete) == (True, False, "SET NULL")
    profile = by_field["dg_profiles", "author"]
    assert (profile.optional, profile.one, profile.back) == (False, True, ("profile",))
    edition = by_field["dg_printings", "edition"]
    assert edition.columns == ("edition_book_id", "edition_number")
    assert edition.parent == "dg_editions" and not edition.identifying
    assert by_field["dg_editions", "book"].identifying
    # a pivot with more than its two keys is marked a pivot only
    assert Entity("t", "T", (), pivot=True).title == "t (pivot)"


_ROW = '<TR><TD ALIGN="LEFT">{}</TD><TD ALIGN="LEFT">{}</TD><TD ALIGN="LEFT">{}</TD>' \
       '<TD ALIGN="LEFT">{}</TD></TR>'
AUTO = '<FONT COLOR="#666666">auto-increment</FONT>'
_TABLE = '[label=<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="0" CELLPADDING="3">'

DOT_HEAD = "\n".join([
    "digraph activerel {",
    '    graph [rankdir=LR, fontname="Helvetica", nodesep=0.5, ranksep=1.2];',
    '    node [shape=plain, fontname="Helvetica", fontsize=10];',
    '    edge [fontname="Helvetica", fontsize=9, dir=both, color="#555555"];',
    f'    "dg_authors" {_TABLE}',
    '        <TR><TD COLSPAN="4" BGCOLOR="#d7e3f4"><B>dg_authors</B></TD></TR>',
    "        " + _ROW.format("<U>id</U>", "int", "PK", AUTO),
    "        " + _ROW.format("email", "str(120)", "UK", ""),
    "    </TABLE>>];", ""])

DOT_PIVOT = "\n".join([
    f'    "dg_shelvings" {_TABLE}',
    '        <TR><TD COLSPAN="4" BGCOLOR="#f3e3c3"><B>dg_shelvings</B><BR/>'
    '<FONT POINT-SIZE="8"><I>pivot, pure link</I></FONT></TD></TR>',
    "        " + _ROW.format("<U>book_id</U>", "int", "PK, FK", ""),
    "        " + _ROW.format("<U>shelf_id</U>", "int", "PK, FK", ""),
    "    </TABLE>>];", ""])

DOT_EDGES = "\n".join([
    '    "dg_authors" -> "dg_books" [label="author / books: ON DELETE CASCADE", '
    "arrowtail=teetee, arrowhead=crowodot, style=dashed];",
    '    "dg_authors" -> "dg_books" [label="editor / edited: ON DELETE SET NULL", '
    "arrowtail=teeodot, arrowhead=crowodot, style=dashed];",
    '    "dg_books" -> "dg_editions" [label="book: ON DELETE CASCADE", '
    "arrowtail=teetee, arrowhead=crowodot];",
    '    "dg_editions" -> "dg_printings" [label="edition: ON DELETE RESTRICT, ON UPDATE '
    'CASCADE", arrowtail=teetee, arrowhead=crowodot, style=dashed];',
    '    "dg_authors" -> "dg_profiles" [label="author / profile: ON DELETE CASCADE", '
    "arrowtail=teetee, arrowhead=teeodot, style=dashed];",
    '    "dg_books" -> "dg_shelvings" [label="book / shelves: ON DELETE CASCADE", '
    "arrowtail=teetee, arrowhead=crowodot];",
    '    "dg_shelves" -> "dg_shelvings" [label="shelf / books: ON DELETE CASCADE", '
    "arrowtail=teetee, arrowhead=crowodot];",
    "}", ""])


def test_the_dot_text() -> None:
    text = build(MODELS).dot()
    assert text.startswith(DOT_HEAD)
    assert DOT_PIVOT in text
    assert text.endswith(DOT_EDGES)
    assert text.count("[label=<<TABLE") == len(MODELS)


def test_the_format_follows_the_output_file() -> None:
    assert [output_format(None, name) for name in
            (None, "er.mmd", "docs/er.md", "er.dot", "er.gv", "ER.SVG")] == [
        "mermaid", "mermaid", "mermaid", "dot", "dot", "svg"]
    assert output_format("dot", "er.md") == "dot"


# -- the command -------------------------------------------------------------------

APP = '''\
from __future__ import annotations

from typing import Annotated, Optional

from activerel import AutoIncrement, BackReference, Model, PrimaryKey, Reference


class DgcOwner(Model, table="dgc_owners"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str
    pets: BackReference[list[DgcPet]]


class DgcPet(Model, table="dgc_pets"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    owner: Annotated[Optional[DgcOwner], Reference(on_delete="SET NULL")] = None
    name: str = ""
'''

APP_MERMAID = '''\
erDiagram
    dgc_owners {
        int id PK "auto-increment"
        str name
    }
    dgc_pets {
        int id PK "auto-increment"
        int owner_id FK "nullable"
        str name
    }
    dgc_owners |o..o{ dgc_pets : "owner / pets: ON DELETE SET NULL"
'''


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """A project whose pyproject.toml names a models module of its own
    (a fresh module name: the registry keeps every model declared)."""
    root = tmp_path / "project"
    root.mkdir()
    module = f"dgc_app_{uuid.uuid4().hex[:8]}"
    (root / f"{module}.py").write_text(APP)
    (root / "pyproject.toml").write_text(f'[tool.activerel]\nmodels = "{module}"\n')
    monkeypatch.chdir(root)
    monkeypatch.syspath_prepend(str(root))
    return root, module


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_command_writes_the_models_of_pyproject_or_of_models(
        project: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    root, module = project
    assert _run(capsys, "diagram") == (0, APP_MERMAID, "")
    assert _run(capsys, "diagram", f"--models={module}") == (0, APP_MERMAID, "")

    assert _run(capsys, "diagram", "-o", "models.md") == (
        0, "Wrote the diagram of 2 table(s) (mermaid) to models.md.\n", "")
    assert (root / "models.md").read_text() == f"```mermaid\n{APP_MERMAID}```\n"
    assert _run(capsys, "diagram", "-o", "models.mmd")[0] == 0
    assert (root / "models.mmd").read_text() == APP_MERMAID

    code, out, _ = _run(capsys, "diagram", "--format", "dot")
    assert code == 0 and out.startswith("digraph activerel {\n")
    assert ('"dgc_owners" -> "dgc_pets" [label="owner / pets: ON DELETE SET NULL", '
            'arrowtail=teeodot, arrowhead=crowodot, style=dashed];') in out
    assert _run(capsys, "diagram", "-o", "models.dot")[0] == 0
    assert (root / "models.dot").read_text() == out


def test_the_command_without_models_or_dot_says_what_is_missing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(capsys, "diagram")
    assert (code, out) == (2, "")
    assert err.startswith("python -m activerel diagram: error: which models? pass --models")

    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    code, out, err = _run(capsys, "diagram", "--demo", "--format", "svg", "-o", "er.svg")
    assert (code, out) == (2, "")
    assert "Debian package graphviz (apt-get install graphviz)" in err
    assert not (tmp_path / "er.svg").exists()


def _require_dot() -> None:
    if shutil.which("dot") is None:
        why = "Graphviz's dot is not installed (Debian package graphviz)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI installs graphviz (.ci/run): {why}")
        pytest.skip(why)


def test_the_svg_drawn_by_graphviz(project: tuple[Path, str],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    _require_dot()
    root, module = project
    assert _run(capsys, "diagram", "--format", "svg", "-o", "er.svg") == (
        0, "Wrote the diagram of 2 table(s) (svg) to er.svg.\n", "")
    svg = (root / "er.svg").read_text()
    assert svg.startswith("<?xml") and "<svg" in svg and svg.rstrip().endswith("</svg>")
    for text in ("dgc_owners", "dgc_pets", "owner_id", "owner / pets: ON DELETE SET NULL"):
        assert text in svg
    # the suffix alone asks for SVG too
    assert _run(capsys, "diagram", "-o", "again.svg")[0] == 0
    assert (root / "again.svg").read_text() == svg


# -- the docs page -------------------------------------------------------------------


def test_the_docs_page_shows_the_demos_current_diagram(
        capsys: pytest.CaptureFixture[str]) -> None:
    page = (ROOT / "docs" / "diagram.md").read_text()
    blocks = re.findall(r"^```mermaid\n(.*?)^```$", page, re.M | re.S)
    code, out, _ = _run(capsys, "diagram", "--demo")
    assert code == 0
    assert blocks == [out], (
        "docs/diagram.md is not the demo's current diagram: replace its ```mermaid block "
        "with the output of python -m activerel diagram --demo")
    assert "demo_post_tags[\"demo_post_tags (pivot, pure link)\"]" in out
