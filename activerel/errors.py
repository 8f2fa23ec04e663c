"""The exception hierarchy: every error activerel raises derives from
:class:`ActiverelError`, so callers can catch the library's failures apart
from their own.

Raised by every layer; imports nothing."""
from __future__ import annotations


class ActiverelError(Exception):
    """Base class of every activerel error."""


class ModelDefinitionError(ActiverelError):
    """A model declaration is wrong; raised at declaration or first resolution."""


class QueryError(ActiverelError):
    """A query names a field, relation or path the model does not have."""


class NotFound(ActiverelError, LookupError):
    """No row matched where exactly one was required."""


class FieldNotLoaded(ActiverelError, AttributeError):
    """A field was not loaded on this object; the message says how to load it."""


class ReferenceNotLoaded(FieldNotLoaded):
    """A reference or back reference was not loaded (a stub, or no ``join_with``)."""


class IntegrityError(ActiverelError):
    """A unique, foreign-key or RESTRICT violation; the driver's error, if any,
    is chained as ``__cause__``."""


class ValidationError(ActiverelError, TypeError):
    """A value of the wrong type (or a missing or unknown field), caught before
    it reaches SQL."""


class ConfigurationError(ActiverelError):
    """A database URL or connection setting is wrong."""


class ConnectionLost(ActiverelError):
    """The connection to the database broke (the server ended the session,
    restarted, or the network failed). A transaction lost before its COMMIT
    is rolled back by the loss; one lost *during* its COMMIT may or may not
    have been committed (the message says which case it was). Either way the
    session restored its objects as unwritten and the connection is not
    reused."""


class PoolExhausted(ActiverelError):
    """Every connection of the pool stayed in use for the whole pool timeout."""


class StaleObjectError(ActiverelError):
    """Optimistic locking: the row of an object with a ``Version`` field was
    changed or deleted by another transaction since the object was loaded.
    The flush wrote nothing and the objects are as they were: reload and
    apply the change again."""


class SchemaError(ActiverelError):
    """The database's schema does not match the models (a missing table or
    column, a column that cannot hold its field), or a migration cannot be
    made or applied; the message names the model, the field and the command
    that fixes it."""


class MigrationError(SchemaError):
    """A migration failed, or the migration files are inconsistent; the
    message says what ran and what did not."""
