"""The mapping registry: every declared model by class name, so string and
forward annotations can name models defined anywhere, in any order; and the
test for "is this a model?" that lower layers use instead of importing
:class:`~activerel.model.Model`.

Filled by :class:`~activerel.model.ModelMeta`; read by the mapper and by
:class:`~activerel.database.Database`. Imports only :mod:`activerel.errors`."""
from __future__ import annotations

import threading
from typing import Any, Optional

from ..errors import ModelDefinitionError


def is_model_class(tp: Any) -> bool:
    """Whether ``tp`` is a declared model class (a subclass of Model, which
    the metaclass gave a mapper)."""
    return isinstance(tp, type) and "__ar_mapper__" in tp.__dict__


def is_model_instance(obj: Any) -> bool:
    """Whether ``obj`` is an instance of a declared model."""
    return "__ar_mapper__" in type(obj).__dict__


class Registry:
    """Declared model classes, in declaration order, looked up by name."""

    def __init__(self) -> None:
        self._classes: list[type] = []
        self._lock = threading.Lock()

    def register(self, cls: type) -> None:
        # a redefinition (same module and qualified name) replaces the old class
        with self._lock:
            self._classes = [c for c in self._classes
                             if (c.__module__, c.__qualname__) != (cls.__module__, cls.__qualname__)]
            self._classes.append(cls)

    def unregister(self, cls: type) -> None:
        with self._lock:
            self._classes = [c for c in self._classes if c is not cls]

    def models(self) -> list[type]:
        return list(self._classes)

    def lookup(self, name: str, module: str) -> Optional[type]:
        """The model called ``name``; of several, the newest of ``module``'s own,
        else the only one; ``None`` if there is none."""
        found = [c for c in self._classes if c.__name__ == name]
        if not found:
            return None
        own = [c for c in found if c.__module__ == module]
        if own:
            return own[-1]
        modules = {c.__module__ for c in found}
        if len(modules) > 1:
            raise ModelDefinitionError(
                f"the model name {name!r} is ambiguous: it is declared in "
                f"{', '.join(sorted(modules))}; import the one you mean into {module}")
        return found[-1]


registry = Registry()
