"""Where the command line finds the models, the database and the migration
files: its options first, then the environment (``ACTIVEREL_DATABASE_URL``),
then ``[tool.activerel]`` in the nearest ``pyproject.toml``::

    [tool.activerel]
    models = "app.models"        # an importable module that defines the models
    url = "sqlite:///app.db"     # or ACTIVEREL_DATABASE_URL, or --url
    migrations = "migrations"    # the directory of the migration files

Used by :mod:`activerel.cli`. Imports the standard library, the model
registry and :mod:`activerel.errors`."""
from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ..errors import ConfigurationError
from ..mapping.registry import registry

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib  # pyright: ignore[reportMissingImports]

URL_VARIABLE = "ACTIVEREL_DATABASE_URL"


@dataclass
class Settings:
    """The resolved settings of one command."""

    models: Optional[str]
    url: Optional[str]
    migrations: Path
    #: where they came from, for error messages
    source: str

    def require_url(self, command: str) -> str:
        if not self.url:
            raise ConfigurationError(
                f"{command} needs a database: pass --url, set {URL_VARIABLE}, or set url in "
                f"[tool.activerel] of pyproject.toml")
        return self.url

    def import_models(self) -> list[type]:
        """Import the models module; its models (those of the module, or of
        the package and its modules), which register themselves."""
        if not self.models:
            raise ConfigurationError(
                "which models? pass --models app.models, or set models in [tool.activerel] "
                "of pyproject.toml")
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        try:
            importlib.import_module(self.models)
        except ImportError as exc:
            raise ConfigurationError(f"cannot import the models module {self.models!r} "
                                     f"(from {self.source}): {exc}") from exc
        name = self.models
        found = [m for m in registry.models()
                 if m.__module__ == name or m.__module__.startswith(name + ".")]
        if not found:
            raise ConfigurationError(f"the module {name!r} defines no models")
        return found


def _pyproject(start: Path) -> tuple[dict[str, Any], Optional[Path]]:
    for folder in (start, *start.parents):
        path = folder / "pyproject.toml"
        if path.is_file():
            with path.open("rb") as fh:
                data = tomllib.load(fh)
            return data.get("tool", {}).get("activerel", {}), path
    return {}, None


def resolve(models: Optional[str] = None, url: Optional[str] = None,
            migrations: Optional[str] = None, cwd: Optional[Path] = None) -> Settings:
    """The settings from options, environment and pyproject.toml, in that order."""
    here = cwd or Path.cwd()
    table, path = _pyproject(here)
    base = path.parent if path is not None else here
    folder = migrations or table.get("migrations") or "migrations"
    found = Path(folder)
    if not found.is_absolute():
        found = (here if migrations else base) / found
    return Settings(models=models or table.get("models"),
                    url=url or os.environ.get(URL_VARIABLE) or table.get("url"),
                    migrations=found,
                    source=f"{path}" if path is not None and not models else "--models")
