"""The unit of work: objects to SQL. A flush is a list of phases
(:mod:`~activerel.unitofwork.flush`) over a plan
(:mod:`~activerel.unitofwork.plan`): the walk (``dependency``), insert
ordering (``ordering``), the writes (``persistence``), deletes with their
referential actions (``cascade``), loaded objects following set-based
writes (``reflect``) and bulk updates (``bulk``).

Imports :mod:`activerel.sql`, :mod:`activerel.instance`,
:mod:`activerel.mapping` and :mod:`activerel._util`; the session is seen
through :class:`~activerel.unitofwork.plan.FlushSession`."""
