"""The models of the web-application examples (docs/web.md)."""
from __future__ import annotations

from typing import Annotated

from activerel import AutoIncrement, BackReference, Model, PrimaryKey, Reference, Unique


class Author(Model, table="ex_authors"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: Annotated[str, Unique]
    notes: BackReference[list["Note"]]


class Note(Model, table="ex_notes"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    author: Annotated[Author, Reference(on_delete="CASCADE")]
    text: str
