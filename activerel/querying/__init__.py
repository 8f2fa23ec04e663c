"""The parts of a query below :class:`~activerel.query.Query` itself: the
argument checks, the joined-relation builder (``use_join_with``), and the
query features kept in modules of their own (aggregates, streaming, ...).

A layer between :mod:`activerel.query` and :mod:`activerel.session`."""
