"""The models of the web-application examples (docs/web.md)."""
from __future__ import annotations

from typing import Annotated

from activerel import (AutoIncrement, BackReference, Field, Model, PrimaryKey, Reference,
                       Unique, field)


class Author(Model, table="ex_authors"):
    id: Annotated[Field[int], PrimaryKey, AutoIncrement] = field(default=0)
    name: Annotated[Field[str], Unique]
    notes: BackReference[list["Note"]] = BackReference()


class Note(Model, table="ex_notes"):
    id: Annotated[Field[int], PrimaryKey, AutoIncrement] = field(default=0)
    author: Reference[Author] = Reference(on_delete="CASCADE")
    text: Field[str]
