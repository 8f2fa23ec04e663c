"""Migration files, their runner and the command line's schema commands.
The operations themselves are run on a live database by
:mod:`activerel.schema_apply` (below :mod:`activerel.database`, which uses it
too), their DDL rendered by :mod:`activerel.sql.ddl`.

The layer above :mod:`activerel.database`: it imports the database facade,
:mod:`activerel.sql` and :mod:`activerel.schema`."""
