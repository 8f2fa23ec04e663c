"""The schema as data: tables described independently of any backend
(:mod:`~activerel.schema.tables`), what the models declare as such a
description (:mod:`~activerel.schema.declared`), the operations a migration
is made of (:mod:`~activerel.schema.operations`) and the difference between
two descriptions as operations (:mod:`~activerel.schema.diff`).

A layer of its own between :mod:`activerel.mapping` (which it reads) and
:mod:`activerel.dialects` (which reads live schemas into its descriptions and
renders its operations as DDL). Pure: no connection, no SQL text."""
