"""Per-object bookkeeping: object state, the identity map, the undo log,
relation lists, and the code generated into model classes.

Sits on :mod:`activerel.mapping`; used by loading, the unit of work, the
session and the model layer."""
