"""Rows to objects: the join tree of a query (``joins``), the generated
hydrators (``hydrate``) and the loading strategies (``strategies``).

Imports :mod:`activerel.sql`, :mod:`activerel.instance`,
:mod:`activerel.mapping` and :mod:`activerel._util`; the session is seen
through :class:`~activerel.loading.hydrate.LoadSession`."""
