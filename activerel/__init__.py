"""activerel: an active-record ORM for graphs of related objects, with an
identity map and a unit of work. See ``docs/`` and the README.

Public names only; the layers behind them are described in
docs/architecture.md."""
from __future__ import annotations

from .database import Database
from .errors import (ActiverelError, ConfigurationError, ConnectionLost, FieldNotLoaded,
                     IntegrityError, MigrationError, ModelDefinitionError, NotFound,
                     PoolExhausted, QueryError, ReferenceNotLoaded, SchemaError,
                     StaleObjectError, ValidationError)
from .descriptors import BackReference, Field, Reference
from .mapping.markers import AutoIncrement, Index, PrimaryKey, Sql, Unique, Version, field
from .model import Model
from .query import Query
from .sql.aggregates import agg
from .session import Session
from .instance.state import ObjectState, inspect

__version__ = "0.1.0"

__all__ = [
    "ActiverelError", "AutoIncrement", "BackReference", "ConfigurationError", "ConnectionLost",
    "Database", "Field",
    "FieldNotLoaded", "Index", "IntegrityError", "MigrationError", "Model", "ModelDefinitionError", "NotFound",
    "ObjectState", "PoolExhausted", "PrimaryKey", "Query", "QueryError", "Reference", "ReferenceNotLoaded",
    "SchemaError", "Session", "Sql", "StaleObjectError", "Unique", "ValidationError", "Version", "agg",
    "field", "inspect",
]
