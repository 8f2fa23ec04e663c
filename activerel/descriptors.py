"""The annotations of a model's fields as type checkers see them:
``Field[T]``, ``Reference[T]`` and ``BackReference[T]``.

At run time they change nothing: ``Field[int]`` is ``int`` itself, and
``Reference`` / ``BackReference`` are the markers of
:mod:`activerel.mapping.markers` (``Reference[User]`` is
``Annotated[User, Reference()]``). For pyright and mypy each is a
descriptor, as SQLAlchemy's ``Mapped[T]`` is: read on an instance it is a
``T`` (``post.author`` is a ``User``, ``user.posts`` a ``list[Post]``);
read on the class it is the query expression the model's metaclass puts
there at run time (``User.id`` a :class:`~activerel.sql.paths.PathExpr`,
``Post.author`` a :class:`~activerel.sql.paths.ReferencePath`,
``User.posts`` a :class:`~activerel.sql.paths.RelationPath`); and its
``__set__`` takes a ``T``, which ``dataclass_transform`` makes the type of
the constructor's keyword. See docs/typing.md.

Re-exported by the public package; named in ``Model``'s
``dataclass_transform`` (``Reference`` is a field specifier there).
Imports :mod:`activerel.mapping.markers` and :mod:`activerel.sql.paths`."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, Union, overload

from typing_extensions import TypeVar

from .mapping import markers
from .sql.paths import PathExpr, ReferencePath, RelationPath

#: the field's type; a ``Reference(...)`` written in ``Annotated[...]``,
#: where nothing says what it refers to, is a ``Reference[Any]``
T = TypeVar("T", default=Any)


class Field(Generic[T]):
    """``Field[T]``: a column field holding a ``T``, typed for checkers on
    both sides: ``user.id`` is an ``int``, ``User.id`` an expression
    (``User.id > 3`` is a condition). At run time ``Field[T]`` is ``T``, so
    ``Annotated[Field[int], PrimaryKey]`` maps exactly as
    ``Annotated[int, PrimaryKey]``. A default is written with ``field()``
    (``= field(default=0)``), since a checker would refuse ``= 0`` for a
    ``Field[int]``."""

    __slots__ = ()

    if TYPE_CHECKING:
        @overload
        def __get__(self, obj: None, owner: Any) -> PathExpr[T]: ...
        @overload
        def __get__(self, obj: object, owner: Any) -> T: ...
        def __get__(self, obj: object, owner: Any) -> Union[PathExpr[T], T]:
            raise NotImplementedError

        def __set__(self, obj: object, value: T) -> None: ...
    else:
        def __class_getitem__(cls, item):
            return item


class Reference(markers.Reference, Generic[T]):
    """``Reference[T]``: the owning side of a relation (see
    :class:`activerel.mapping.markers.Reference`). For checkers
    ``post.author`` is a ``T`` and ``Post.author`` a
    :class:`~activerel.sql.paths.ReferencePath` (``== user``,
    ``.is_(...)``, ``Post.author.username``). With options, write it as
    the value: ``author: Reference[User] = Reference(on_delete="CASCADE")``
    (required in the constructor) or
    ``reviewer: Reference[Optional[User]] = Reference(on_delete="SET NULL", default=None)``."""

    __slots__ = ()

    if TYPE_CHECKING:
        @overload
        def __get__(self, obj: None, owner: Any) -> ReferencePath[T]: ...
        @overload
        def __get__(self, obj: object, owner: Any) -> T: ...
        def __get__(self, obj: object, owner: Any) -> Union[ReferencePath[T], T]:
            raise NotImplementedError

        def __set__(self, obj: object, value: T) -> None: ...


class BackReference(markers.BackReference, Generic[T]):
    """``BackReference[T]``: the virtual inverse of a reference (see
    :class:`activerel.mapping.markers.BackReference`). For checkers
    ``user.posts`` is a ``T`` (``list[Post]``) and ``User.posts`` a
    :class:`~activerel.sql.paths.RelationPath` (``.some(...)``,
    ``.count()``). Written with a value,
    ``posts: BackReference[list[Post]] = BackReference()``, it is a field
    with a default, which a constructor call may leave out (as it may at
    run time: a new object's list starts empty)."""

    __slots__ = ()

    if TYPE_CHECKING:
        @overload
        def __get__(self, obj: None, owner: Any) -> RelationPath[T]: ...
        @overload
        def __get__(self, obj: object, owner: Any) -> T: ...
        def __get__(self, obj: object, owner: Any) -> Union[RelationPath[T], T]:
            raise NotImplementedError

        def __set__(self, obj: object, value: T) -> None: ...
