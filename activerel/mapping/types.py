"""Column types: which Python types a field may hold, how a value is checked
before it reaches SQL, and what *kind* of column it is. Each dialect maps a
kind to its native type and to the adapters that move values in and out
(its type table, :mod:`activerel.dialects.base`).

Used by the mapper, the properties and the dialects. Imports
:mod:`activerel.errors` and :mod:`activerel._util.codegen`."""
from __future__ import annotations

import enum
import types
import typing
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Optional
from uuid import UUID

from .._util.codegen import compile_function
from ..errors import ModelDefinitionError

# kind -> the Python types it accepts, in the order they are tried
_KINDS: dict[type, str] = {
    bool: "bool",
    int: "int",
    float: "float",
    str: "str",
    bytes: "bytes",
    Decimal: "decimal",
    datetime: "datetime",
    date: "date",
    time: "time",
    UUID: "uuid",
    dict: "json",
    list: "json",
}

# Source of the check each kind's values must pass; ``{v}`` is the value.
# Source of the check each kind's values must pass; ``{v}`` is the value.
# Every name is one of CHECK_GLOBALS, prefixed, so that no field name (the
# generated constructor's parameters: ``type``, ``date``, ``list``, ...) can
# hide it.
_CHECKS: dict[str, str] = {
    "int": "(_ar_type({v}) is _ar_int or (_ar_isinstance({v}, _ar_int) and not _ar_isinstance({v}, _ar_bool)))",
    "float": "(_ar_type({v}) is _ar_float or (_ar_isinstance({v}, (_ar_int, _ar_float)) "
             "and not _ar_isinstance({v}, _ar_bool)))",
    "bool": "({v} is True or {v} is False)",
    "str": "(_ar_type({v}) is _ar_str or _ar_isinstance({v}, _ar_str))",
    "bytes": "_ar_isinstance({v}, _ar_bytes)",
    "decimal": "(_ar_isinstance({v}, (_ar_Decimal, _ar_int)) and not _ar_isinstance({v}, _ar_bool))",
    "datetime": "(_ar_isinstance({v}, _ar_datetime) and {v}.tzinfo is None)",
    "date": "(_ar_isinstance({v}, _ar_date) and not _ar_isinstance({v}, _ar_datetime))",
    "time": "(_ar_isinstance({v}, _ar_time) and {v}.tzinfo is None)",
    "uuid": "_ar_isinstance({v}, _ar_UUID)",
    "json_dict": "_ar_isinstance({v}, _ar_dict)",
    "json_list": "_ar_isinstance({v}, _ar_list)",
}

CHECK_GLOBALS: dict[str, Any] = {
    "_ar_" + k: v for k, v in {
        "Decimal": Decimal, "datetime": datetime, "date": date, "time": time, "UUID": UUID,
        "type": type, "isinstance": isinstance, "int": int, "float": float, "bool": bool,
        "str": str, "bytes": bytes, "dict": dict, "list": list, "len": len,
    }.items()
}


class ColumnType:
    """The type of one column: its kind (``int``, ``str``, ``json``, ...), the
    Python class it holds (the enum class for enums), and nullability."""

    __slots__ = ("kind", "python_type", "nullable", "length")

    def __init__(self, kind: str, python_type: type, nullable: bool,
                 length: Optional[int] = None) -> None:
        self.kind = kind
        self.python_type = python_type
        self.nullable = nullable
        #: the most characters (str) or bytes (bytes) a value may have, if limited
        self.length = length

    @classmethod
    def from_annotation(cls, tp: Any, nullable: bool, where: str) -> "ColumnType":
        """The column type of a resolved annotation ``tp`` (``Optional`` already
        stripped); ``where`` names the field for the error message."""
        origin = getattr(tp, "__origin__", None)
        if origin in (dict, list):
            return cls("json", origin, nullable)
        if isinstance(tp, type):
            if issubclass(tp, enum.Enum):
                return cls("enum", tp, nullable)
            kind = _KINDS.get(tp)
            if kind is not None:
                return cls(kind, tp, nullable)
        raise ModelDefinitionError(
            f"{where}: unsupported column type {getattr(tp, '__name__', tp)!r}; supported are "
            "int, float, bool, str, bytes, Decimal, datetime, date, time, UUID, Enum "
            "subclasses, dict and list (JSON)")

    def check_source(self, var: str, globals_: dict[str, Any], uid: str) -> str:
        """Python source of a boolean expression true when ``var`` is a valid value."""
        if self.kind == "enum":
            globals_[f"_enum_{uid}"] = self.python_type
            src = f"_ar_isinstance({var}, _enum_{uid})"
        elif self.kind == "json":
            src = _CHECKS["json_dict" if self.python_type is dict else "json_list"].format(v=var)
        else:
            src = _CHECKS[self.kind].format(v=var)
        if self.length is not None:
            src = f"({src} and _ar_len({var}) <= {int(self.length)})"
        if self.nullable:
            src = f"({var} is None or {src})"
        return src

    def checker(self) -> Any:
        """A compiled function: value -> whether it may be stored in this column."""
        ns = dict(CHECK_GLOBALS)
        src = f"def check(v):\n    return {self.check_source('v', ns, 'x')}\n"
        return compile_function(src, ns, name="check", kind="check", owner=self.kind,
                                variant=("nullable" if self.nullable else "") + (f"len{self.length}" if self.length else ""))

    def is_valid(self, value: Any) -> bool:
        """Whether ``value`` may be stored in this column (slow path, for defaults)."""
        return bool(self.checker()(value))

    def __repr__(self) -> str:
        return f"ColumnType({self.kind}, {self.python_type.__name__}, nullable={self.nullable})"


def describe(value: Any) -> str:
    """A short description of a value for error messages."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def unwrap_optional(tp: Any) -> tuple[Any, bool]:
    """``(T, True)`` for ``Optional[T]`` / ``T | None``, else ``(tp, False)``."""
    args = getattr(tp, "__args__", None)
    origin = getattr(tp, "__origin__", None)
    if args and (origin is typing.Union or isinstance(tp, getattr(types, "UnionType", ()))):
        rest = [a for a in args if a is not type(None)]
        if len(rest) == len(args):
            return tp, False
        if len(rest) == 1:
            return rest[0], True
        return typing.Union[tuple(rest)], True
    return tp, False
