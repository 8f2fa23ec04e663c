"""factory_boy support: :class:`ActiverelFactory`, the base of factories
whose ``create()`` persists through the unit of work.

``Factory.build()`` makes unsaved objects; ``Factory.create()`` (or calling
the factory) persists the object and everything it reaches in one flush, in
the current session if one is open. ``SubFactory``, ``RelatedFactoryList``
and lists of related objects (one-to-many and many-to-many through a pivot)
work as factory_boy documents them::

    class UserFactory(ActiverelFactory):
        class Meta:
            model = User

        username = factory.Sequence(lambda n: f"user{n}")

Needs factory_boy (``pip install "activerel[factory]"``); importing
:mod:`activerel` does not import this module. Imports nothing of activerel."""
from __future__ import annotations

from typing import Any

from factory.base import Factory


class ActiverelFactory(Factory[Any]):
    """A factory_boy factory for an activerel model."""

    # (factory_boy reads Meta's attributes; it need not derive from Factory.Meta)
    class Meta:  # pyright: ignore[reportIncompatibleVariableOverride]
        abstract = True

    @classmethod
    def _create(cls, model_class: type, *args: Any, **kwargs: Any) -> Any:
        return model_class(*args, **kwargs).persist()
