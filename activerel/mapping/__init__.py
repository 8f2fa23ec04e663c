"""Declarations and what they map to: markers, column types, properties,
the mapper, the registry of models and the catalog of a database's models.

The lowest layer that knows about models; imports only :mod:`activerel.errors`
and :mod:`activerel._util`. Everything above reads it."""
