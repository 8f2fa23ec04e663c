"""The mapping registry: every declared model by class name, so string and
forward annotations can name models defined anywhere, in any order."""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from .errors import ModelDefinitionError

if TYPE_CHECKING:
    from .model import Model


class Registry:
    """Declared model classes, in declaration order, looked up by name."""

    def __init__(self) -> None:
        self._classes: list[type[Model]] = []

    def register(self, cls: type[Model]) -> None:
        # a redefinition (same module and qualified name) replaces the old class
        self._classes = [c for c in self._classes
                         if (c.__module__, c.__qualname__) != (cls.__module__, cls.__qualname__)]
        self._classes.append(cls)

    def unregister(self, cls: type[Model]) -> None:
        self._classes = [c for c in self._classes if c is not cls]

    def models(self) -> list[type[Model]]:
        return list(self._classes)

    def lookup(self, name: str, module: str) -> Optional[type[Model]]:
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
