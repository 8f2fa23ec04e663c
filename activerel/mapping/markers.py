"""The markers a model's annotations carry: ``PrimaryKey``, ``AutoIncrement``,
``Unique``, ``Index``, ``Reference``, ``BackReference`` and ``field()``.

They are inert declarations; :mod:`activerel.mapping.mapper` reads them.
Imported by the public package and the mapper; imports only
:mod:`activerel.errors`."""
from __future__ import annotations

import enum
from typing import Any, Callable, Optional, Union

from typing_extensions import Annotated

from ..errors import ModelDefinitionError

class Effect(enum.Enum):
    """What a referential action does to the rows pointing at a deleted (or
    re-keyed) row."""

    #: they go too (or follow the new key)
    CASCADE = "cascade"
    #: the delete is refused while any remains
    REFUSE = "refuse"
    #: their reference is set to NULL (the only default a reference may have)
    NULLIFY = "nullify"


#: the five referential actions, by what they do: the one table every
#: on_delete / on_update decision is looked up in
ACTION_EFFECTS: dict[str, Effect] = {
    "CASCADE": Effect.CASCADE,
    "RESTRICT": Effect.REFUSE,
    "NO ACTION": Effect.REFUSE,
    "SET NULL": Effect.NULLIFY,
    "SET DEFAULT": Effect.NULLIFY,
}
ACTIONS = tuple(ACTION_EFFECTS)


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


class _Flag:
    """A bare marker such as ``PrimaryKey``: used as is inside ``Annotated``."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


PrimaryKey = _Flag("PrimaryKey")
AutoIncrement = _Flag("AutoIncrement")
Unique = _Flag("Unique")
Index = _Flag("Index")
#: optimistic locking: ``version: Annotated[int, Version] = 0`` is checked and
#: incremented when the unit of work updates the object's row, checked when it
#: deletes the object, and incremented by ``patch_many``; set-based writes of
#: referential actions and ``delete_many`` neither check nor increment it
Version = _Flag("Version")


def _action(value: str, what: str) -> str:
    action = value.upper().replace("_", " ").strip()
    if action not in ACTIONS:
        raise ModelDefinitionError(
            f"{what}={value!r} is not a referential action; use one of {', '.join(ACTIONS)}")
    return action


class Reference:
    """The owning side of a relation: the field holds the referenced object and
    the table holds its key as a foreign key (``<field>_id`` unless ``column=``).

    ``index=False``: no index of its own on the foreign key's columns (by
    default one is made, unless the primary key or another index begins
    with them).

    ``Reference[T]`` is shorthand for ``Annotated[T, Reference()]``. A
    ``Reference(...)`` may also be the field's value in the class body
    (``author: Reference[User] = Reference(on_delete="CASCADE")``), where
    ``default=None`` gives an optional reference its default."""

    __slots__ = ("on_delete", "on_update", "column", "name", "index", "default")

    def __init__(self, on_delete: str = "NO ACTION", on_update: str = "NO ACTION",
                 column: Union[str, tuple[str, ...], None] = None,
                 name: Optional[str] = None, index: bool = True, *,
                 default: None = MISSING) -> None:
        self.on_delete = _action(on_delete, "on_delete")
        self.on_update = _action(on_update, "on_update")
        self.column = column
        self.name = name
        self.index = index
        self.default = default

    def __class_getitem__(cls, item: Any) -> Any:
        return Annotated[item, cls()]

    def __repr__(self) -> str:
        return f"Reference(on_delete={self.on_delete!r}, on_update={self.on_update!r})"


class BackReference:
    """The virtual inverse of a :class:`Reference`: ``list[T]`` (one-to-many),
    ``Optional[T]`` (one-to-one) or ``list[T]`` with ``via=`` a pivot model
    (many-to-many). ``mapped_by`` names the Reference on ``T`` when several
    point back (with ``via``: the pivot's Reference to this side).
    ``symmetric=True`` (with ``via=`` a pivot of two References to this same
    model): one pivot row links both ways, as friends do.

    ``BackReference[T]`` is shorthand for ``Annotated[T, BackReference()]``.
    A ``BackReference(...)`` may also be the field's value in the class body
    (``posts: BackReference[list[Post]] = BackReference()``): type checkers
    then see a field with a default, which a constructor call may leave out."""

    __slots__ = ("mapped_by", "via", "name", "symmetric")

    def __init__(self, mapped_by: Optional[str] = None, via: Union[str, type, None] = None,
                 name: Optional[str] = None, symmetric: bool = False) -> None:
        self.mapped_by = mapped_by
        self.via = via
        self.name = name
        self.symmetric = symmetric

    def __class_getitem__(cls, item: Any) -> Any:
        return Annotated[item, cls()]

    def __repr__(self) -> str:
        return f"BackReference(mapped_by={self.mapped_by!r}, via={self.via!r})"


class Sql:
    """A server-side default written as SQL rather than a value:
    ``field(server_default=Sql("CURRENT_TIMESTAMP"))``."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sql) and _norm_sql(other.text) == _norm_sql(self.text)

    def __hash__(self) -> int:
        return hash(_norm_sql(self.text))

    def __repr__(self) -> str:
        return f"Sql({self.text!r})"


def _norm_sql(text: str) -> str:
    text = " ".join(text.split()).lower()
    return {"now()": "current_timestamp", "current_timestamp()": "current_timestamp",
            "current_timestamp(6)": "current_timestamp"}.get(text, text)


class FieldSpec:
    """What ``field()`` returns: a default, a default factory, a column name,
    a maximum length and a server-side default."""

    __slots__ = ("default", "default_factory", "column", "max_length", "server_default")

    def __init__(self, default: Any, default_factory: Optional[Callable[[], Any]],
                 column: Optional[str], max_length: Optional[int] = None,
                 server_default: Any = MISSING) -> None:
        if default is not MISSING and default_factory is not None:
            raise ModelDefinitionError("field() takes default or default_factory, not both")
        # (default=None is what a field with a server default starts as anyway:
        # written out, it tells type checkers the constructor may leave it out)
        if server_default is not MISSING and ((default is not MISSING and default is not None)
                                               or default_factory is not None):
            raise ModelDefinitionError(
                "field() takes server_default or a Python default, not both: the database "
                "fills a server default in when the object is inserted")
        if max_length is not None and (not isinstance(max_length, int) or max_length <= 0):
            raise ModelDefinitionError(f"field(max_length={max_length!r}) takes a positive int")
        self.default = default
        self.default_factory = default_factory
        self.column = column
        self.max_length = max_length
        self.server_default = server_default


def field(*, default: Any = MISSING, default_factory: Optional[Callable[[], Any]] = None,
          column: Optional[str] = None, max_length: Optional[int] = None,
          server_default: Any = MISSING) -> Any:
    """Declare a field's default (``default=`` or ``default_factory=``), its
    column name, its maximum length (``max_length=80``: ``VARCHAR(80)``, and
    longer values are refused before they reach SQL) and a server-side
    default (``server_default=0``, ``server_default=Sql("CURRENT_TIMESTAMP")``):
    the database fills it in when the object is inserted with the field left
    None, and the value is read back into the object."""
    return FieldSpec(default, default_factory, column, max_length, server_default)
