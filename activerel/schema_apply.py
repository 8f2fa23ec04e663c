"""Running schema operations on a live database: :func:`apply_operations`
sends the DDL of each operation (:func:`activerel.sql.ddl.operation_sql`)
and calls the data steps, all in one write session, and returns the schema
they lead to.

Where the backend has transactional DDL (PostgreSQL, SQLite) the whole list
is one transaction: a failure rolls everything back. On SQLite foreign keys
are switched off around that transaction (a table rebuild drops a table that
others reference) and checked before COMMIT. MySQL and MariaDB commit at each
DDL statement what ran before it and the statement itself, so a failure
there says which statements stay applied (those up to the last DDL
statement) and which were rolled back (the data steps after it).

Called by :meth:`Database.migrate <activerel.database.Database.migrate>` and
the migration runner. Imports :mod:`activerel.sql.ddl`,
:mod:`activerel.schema` and :mod:`activerel.errors`; takes the database as
a parameter (it sits below :mod:`activerel.database`)."""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

from .connection import outside_transaction
from .errors import ActiverelError, MigrationError
from .schema.operations import Operation, RunPython
from .schema.tables import Schema
from .sql.ddl import is_ddl, operation_sql


class _Progress:
    """What has run so far, and what was running when it failed."""

    def __init__(self) -> None:
        self.ran: list[str] = []
        #: how many of ``ran`` a DDL statement has committed (no transactional DDL)
        self.committed = 0
        self.op: Optional[Operation] = None
        self.sql: Optional[str] = None
        #: the schema after the operations that completed
        self.schema = Schema()

    def step(self) -> str:
        if self.sql is not None:
            return self.sql
        return self.op.describe() if self.op is not None else "the foreign key check"


def apply_operations(db: Any, operations: Sequence[Operation], schema: Schema,
                     record: Optional[Callable[[Any], None]] = None) -> Schema:
    """Run ``operations`` on ``db`` (a :class:`~activerel.database.Database`),
    whose schema is ``schema`` before them; returns the schema after them.

    ``RunPython`` steps get ``db``: its ``execute`` and active-record calls
    join the migration's session (a ``db.session()`` opened inside would be
    a second transaction; on SQLite it waits for the migration's lock).
    ``record(session)`` runs last, in the same transaction (the runner's
    version row). A failure raises
    :class:`~activerel.errors.MigrationError` (chained to the cause) after
    rolling back; on a backend without transactional DDL the message lists
    the statements that ran and stay applied, and the error carries them
    (``ran``) with the schema they led to (``schema``)."""
    dialect = db.dialect
    progress = _Progress()
    progress.schema = schema.copy()
    db.engine.forget_foreign_keys()
    with db.session(write=True) as s:
        conn = s.connection
        for sql in dialect.foreign_keys_off_sql():
            outside_transaction(conn, sql)
        try:
            # connect before rendering any DDL: a dialect reads what its
            # server offers at the first connection (MySQL: the collation
            # of text columns), and the DDL depends on it
            dialect.table_names(s.fetch)
            _run(db, s, operations, progress)
            if record is not None:
                progress.op, progress.sql = None, "(recording the migration)"
                record(s)
            s.commit()
        except BaseException as exc:
            s.rollback()
            if isinstance(exc, Exception):
                raise _failure(dialect, progress, exc) from exc
            raise
        finally:
            _foreign_keys_on(dialect, conn)
    db.engine.forget_foreign_keys()
    return progress.schema


def _run(db: Any, s: Any, operations: Sequence[Operation], progress: _Progress) -> None:
    dialect = db.dialect
    for op in operations:
        progress.op, progress.sql = op, None
        if isinstance(op, RunPython):
            op.forward(db)
            progress.ran.append(op.describe())
        else:
            for sql in operation_sql(op, progress.schema, dialect):
                progress.sql = sql
                s.execute(dialect.raw_sql(sql))  # (a literal % doubled for the driver)
                progress.ran.append(sql)
                if is_ddl(sql):
                    progress.committed = len(progress.ran)
            progress.sql = None
        op.apply(progress.schema)
    progress.op = None
    check = dialect.foreign_key_check_sql()
    if check:
        bad = s.fetch(check)
        if bad:
            rows = "; ".join(f"{r[0]} row {r[1]} -> {r[2]}" for r in bad[:10])
            more = f" (and {len(bad) - 10} more)" if len(bad) > 10 else ""
            raise MigrationError(
                f"the migration leaves rows whose foreign key points at no row: {rows}{more}; "
                "it was rolled back")


def _failure(dialect: Any, progress: _Progress, exc: Exception) -> MigrationError:
    """The MigrationError for ``exc``, saying what is left applied."""
    if isinstance(exc, MigrationError) and progress.op is None:
        return exc  # the foreign key check: its message says it all
    where = f" ({progress.op.describe()})" if progress.op is not None else ""
    if dialect.features.transactional_ddl:
        err = MigrationError(f"the migration failed at {progress.step()}{where}: {exc}; "
                             "it was rolled back: the database is as it was before")
        err.ran, err.schema = [], None  # type: ignore[attr-defined]
        return err
    kept, undone = progress.ran[:progress.committed], progress.ran[progress.committed:]
    ran = "".join(f"\n  {sql}" for sql in kept) or " nothing"
    rolled_back = "".join(f"\n  {sql}" for sql in undone)
    err = MigrationError(
        f"{dialect.name}: the server commits each DDL statement at once, so the statements that "
        f"ran before the failure stay applied, up to the last DDL statement. These ran:{ran}\n"
        + (f"these ran after it and were rolled back:{rolled_back}\n" if undone else "")
        + f"this failed: {progress.step()}{where}: {exc}")
    err.ran, err.schema = kept, progress.schema  # type: ignore[attr-defined]
    return err


def _foreign_keys_on(dialect: Any, conn: Any) -> None:
    """Switch foreign keys back on, on the migration's connection, after its
    transaction ended; a connection where that fails is not reused."""
    try:
        for sql in dialect.foreign_keys_on_sql():
            outside_transaction(conn, sql)
    except ActiverelError:
        conn.broken = True
