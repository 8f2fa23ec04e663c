"""Leaf helpers with no knowledge of models: graph ordering, compiling
generated code, PyPika extensions, batching and the garbage-collector pause.

Imported by every layer above; imports nothing of activerel but
:mod:`activerel.errors`."""
