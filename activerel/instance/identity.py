"""The identity map: within a session, one row is one Python object. Keys are
the primary-key value (a tuple for a composite key), one dict per model.

Owned by the session; written by hydrators, the unit of work and the undo
log. Imports :mod:`activerel.mapping`."""
from __future__ import annotations

from typing import Any, Iterator

from ..mapping.mapper import Mapper


class IdentityMap:
    """Per-model dictionaries from identity key to the loaded object."""

    __slots__ = ("maps",)

    def __init__(self) -> None:
        self.maps: dict[Mapper, dict[Any, Any]] = {}

    def for_mapper(self, mapper: Mapper) -> dict[Any, Any]:
        """The (live) key -> object dict of one model."""
        m = self.maps.get(mapper)
        if m is None:
            m = self.maps[mapper] = {}
        return m

    def get(self, mapper: Mapper, key: Any) -> Any:
        m = self.maps.get(mapper)
        return None if m is None else m.get(key)

    def add(self, mapper: Mapper, key: Any, obj: Any) -> None:
        self.for_mapper(mapper)[key] = obj

    def discard(self, mapper: Mapper, key: Any, obj: Any) -> None:
        m = self.maps.get(mapper)
        if m is not None and m.get(key) is obj:
            del m[key]

    def objects(self) -> Iterator[Any]:
        for m in self.maps.values():
            yield from m.values()
