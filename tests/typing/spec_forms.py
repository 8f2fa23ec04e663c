"""The short forms of SPEC.md §1, which keep working: ``Annotated[T, ...]``
with a marker inside, a bare type, ``Reference[T]`` and
``BackReference[T]`` without a value. What a checker sees of them
(docs/typing.md): every field of an instance has its type; on the class,
only ``Reference[T]`` / ``BackReference[T]`` are expressions (a bare or
``Annotated`` type is that type there too); and a back reference without a
value is a required constructor argument for a checker (wrong.py shows the
error), though not at run time. mypy and pyright (basic and strict) must
find no error here, and the file runs.

Not collected by pytest: tests/test_typing.py checks and runs this directory."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Optional

from typing_extensions import assert_type

from activerel import (AutoIncrement, BackReference, Database, Model, PrimaryKey, Reference,
                       Unique, field)
from activerel.sql.paths import ReferencePath, RelationPath


class Author(Model, table="authors"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: Annotated[str, Unique]
    joined: datetime = field(default_factory=datetime.now)
    books: BackReference[list[Book]]


class Editor(Model, table="editors"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str
    edited: Annotated[list[Book], BackReference()]


class Book(Model, table="books"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    author: Reference[Author]
    editor: Annotated[Optional[Editor], Reference(on_delete="SET NULL")] = None
    title: str


db = Database("sqlite://", models=[Author, Editor, Book])
db.migrate()
# a checker wants every back reference without a value (here an empty list)
le_guin = Author(name="Le Guin", books=[])
earthsea = Book(author=le_guin, title="A Wizard of Earthsea", editor=Editor(name="Ed", edited=[]))
earthsea.persist()

assert_type(le_guin.id, int)
assert_type(le_guin.name, str)
assert_type(earthsea.author, Author)
assert_type(earthsea.editor, Optional[Editor])
assert_type(le_guin.books, list[Book])
assert_type(Editor(name="Al", edited=[]).edited, list[Book])
# on the class: the shorthands are expressions, the other forms their type
assert_type(Book.author, ReferencePath[Author])
assert_type(Author.books, RelationPath[list[Book]])
assert_type(Author.name, str)
assert_type(Book.editor, Optional[Editor])

found = Book.query().filter(Book.author == le_guin).filter(title="A Wizard of Earthsea").find()
assert_type(found, list[Book])
assert [b.title for b in found] == ["A Wizard of Earthsea"]
assert Author.query().filter(Author.books.some()).count() == 1
db.close()
