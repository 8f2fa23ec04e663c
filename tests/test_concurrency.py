"""Concurrency control: optimistic locking through a ``Version`` field,
pessimistic locking with ``for_update()``, write sessions on SQLite, and
threads writing at once through one ``Database``: nothing lost, nothing
duplicated, no "database is locked" within the busy timeout."""
from __future__ import annotations

import re

import threading
from typing import Annotated, Any, Callable

import pytest

from activerel import (ActiverelError, AutoIncrement, BackReference, Database, ModelDefinitionError,
                       Model, PrimaryKey, Reference, StaleObjectError, Version, inspect)
from activerel.mapping.mapper import mapper_of


class CcCounter(Model, table="cc_counters"):
    id: Annotated[int, PrimaryKey]
    value: int = 0
    version: Annotated[int, Version] = 0


class CcTally(Model, table="cc_tallies"):
    id: Annotated[int, PrimaryKey]
    value: int = 0


class CcAuthor(Model, table="cc_authors"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str
    articles: BackReference[list["CcArticle"]]


class CcArticle(Model, table="cc_articles"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    author: Annotated[CcAuthor, Reference(on_delete="CASCADE")]
    title: str
    labels: Annotated[list["CcLabel"], BackReference(via="CcArticleLabel")]


class CcLabel(Model, table="cc_labels"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str
    articles: Annotated[list[CcArticle], BackReference(via="CcArticleLabel")]


class CcArticleLabel(Model, table="cc_article_labels"):
    article: Annotated[CcArticle, PrimaryKey, Reference(on_delete="CASCADE")]
    label: Annotated[CcLabel, PrimaryKey, Reference(on_delete="CASCADE")]


MODELS = [CcCounter, CcTally, CcAuthor, CcArticle, CcLabel, CcArticleLabel]


@pytest.fixture
def cdb(backend: str, make_db: Callable[..., Database], tmp_path: Any) -> Any:
    """The models on ``backend``; SQLite in a file (an in-memory database
    shares one cache, whose table locks do not wait for a busy timeout)."""
    if backend != "sqlite":
        yield make_db(MODELS)
        return
    database = Database(f"sqlite:///{tmp_path / 'concurrency.db'}?timeout=30", models=MODELS)
    database.migrate()
    yield database
    database.close()


def _quoted(sql: str) -> str:
    """``sql`` with MySQL's backtick quotes written as double quotes."""
    return sql.replace("`", '"')


def _run(threads: int, work: Callable[[int], None]) -> list[BaseException]:
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def run(i: int) -> None:
        try:
            start.wait()
            work(i)
        except BaseException as exc:  # noqa: B036 - collected for the assertion
            errors.append(exc)

    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return errors


# --------------------------------------------------------------------------
# Version: declaration


def test_version_must_be_a_plain_int_that_is_not_the_key():
    with pytest.raises(ModelDefinitionError, match=r"CcBadVersion.version: a Version field is a plain int"):
        class CcBadVersion(Model, table="cc_bad_version"):
            id: Annotated[int, PrimaryKey]
            version: Annotated[str, Version] = "a"
        mapper_of(CcBadVersion)


def test_a_model_has_at_most_one_version_field():
    with pytest.raises(ModelDefinitionError, match=r"CcTwoVersions.b: CcTwoVersions already has the Version field 'a'"):
        class CcTwoVersions(Model, table="cc_two_versions"):
            id: Annotated[int, PrimaryKey]
            a: Annotated[int, Version] = 0
            b: Annotated[int, Version] = 0
        mapper_of(CcTwoVersions)


# --------------------------------------------------------------------------
# Version: behaviour


def test_every_update_increments_the_version(cdb, sql_log):
    counter = CcCounter(id=1).persist()
    assert counter.version == 0
    counter.value = 5
    counter.persist()
    assert counter.version == 1
    counter.value = 6
    counter.persist()
    assert (counter.version, inspect(counter).is_dirty) == (2, False)
    assert cdb.execute('SELECT "value", "version" FROM "cc_counters"') == [(6, 2)]
    updates = [_quoted(s) for s in sql_log.statements if s.startswith("UPDATE")]
    ph = cdb.dialect.placeholder
    assert updates[-1] == (f'UPDATE "cc_counters" SET "value"={ph},"version"={ph} '
                           f'WHERE "id"={ph} AND "version"={ph}')


def test_a_stale_update_raises_writes_nothing_and_keeps_the_change(cdb):
    CcCounter(id=1).persist()
    with cdb.session():
        mine = CcCounter.get(1)
    with cdb.session():
        theirs = CcCounter.get(1)
        theirs.value = 10
    mine.value = 3
    with pytest.raises(StaleObjectError, match=r"CcCounter 1 was changed or deleted by another "
                                                r"transaction since it was loaded with version=0"):
        mine.persist()
    assert cdb.execute('SELECT "value", "version" FROM "cc_counters"') == [(10, 1)]
    state = inspect(mine)
    assert (mine.value, mine.version, state.changes) == (3, 0, {"value": 0})
    mine.reload()  # unsaved changes are kept, the version is the row's
    assert (mine.value, mine.version) == (3, 1)
    mine.persist()
    assert cdb.execute('SELECT "value", "version" FROM "cc_counters"') == [(3, 2)]


def test_a_stale_flush_writes_none_of_its_other_changes(cdb):
    CcCounter(id=1).persist()
    CcTally(id=1).persist()
    with cdb.session():
        counter = CcCounter.get(1)
    cdb.execute('UPDATE "cc_counters" SET "version" = 7')
    with pytest.raises(StaleObjectError):
        with cdb.session():
            tally = CcTally.get(1)
            tally.value = 99
            fresh = CcTally(id=2, value=1)
            fresh.persist()
            counter.value = 1
            counter.persist()
    assert cdb.execute('SELECT "id", "value" FROM "cc_tallies" ORDER BY "id"') == [(1, 0)]
    assert inspect(fresh).is_new is True


def test_deleting_a_stale_object_raises_and_deletes_nothing(cdb):
    CcCounter(id=1).persist()
    with cdb.session():
        mine = CcCounter.get(1)
    cdb.execute('UPDATE "cc_counters" SET "value" = 4, "version" = 1')
    with pytest.raises(StaleObjectError, match=r"cannot delete CcCounter 1: another transaction "
                                                r"changed it since it was loaded with version=0"):
        mine.delete()
    assert cdb.execute('SELECT "value" FROM "cc_counters"') == [(4,)]
    assert inspect(mine).is_deleted is False
    mine.reload()
    mine.delete()
    assert cdb.execute('SELECT COUNT(*) FROM "cc_counters"') == [(0,)]


def test_deleting_an_object_deleted_elsewhere_raises(cdb):
    CcCounter(id=1).persist()
    with cdb.session():
        mine = CcCounter.get(1)
    cdb.execute('DELETE FROM "cc_counters"')
    with pytest.raises(StaleObjectError, match="another transaction deleted it"):
        mine.delete()


def test_models_without_a_version_send_the_plain_update(cdb, sql_log):
    tally = CcTally(id=1).persist()
    tally.value = 2
    sql_log.clear()
    tally.persist()
    ph = cdb.dialect.placeholder
    assert [_quoted(s) for s in sql_log.statements if s.startswith("UPDATE")] == [
        f'UPDATE "cc_tallies" SET "value"={ph} WHERE "id"={ph}']


# --------------------------------------------------------------------------
# for_update and write sessions


def test_for_update_renders_the_lock_where_rows_can_be_locked(cdb, sql_log):
    CcTally(id=1).persist()
    sql_log.clear()
    with cdb.session():
        CcTally.query().filter(id=1).for_update().find_one()
        CcTally.query().filter(id=1).for_update(skip_locked=True).find()
    selects = [s for s in sql_log.statements if s.startswith("SELECT")]
    begins = [s for s in sql_log.statements if s.startswith("BEGIN")]
    if cdb.dialect.features.row_locks:
        # (PostgreSQL names the table: a path's LEFT JOIN cannot be locked)
        assert re.search(r" FOR UPDATE( OF \S+)?$", selects[0]), selects[0]
        assert re.search(r" FOR UPDATE( OF \S+)? SKIP LOCKED$", selects[1]), selects[1]
        # (MySQL: the first statement begins the transaction, no BEGIN is sent)
        assert begins == ([cdb.dialect.begin_with_sent] if cdb.dialect.begin_with_sent
                          else [])
    else:  # SQLite: the transaction takes the write lock up front
        assert begins == ["BEGIN IMMEDIATE"]
        assert all("FOR UPDATE" not in s for s in selects)


def test_for_update_takes_nowait_or_skip_locked_not_both():
    with pytest.raises(ActiverelError, match="nowait or skip_locked, not both"):
        CcTally.query().for_update(nowait=True, skip_locked=True)


def test_a_locked_row_makes_for_update_nowait_fail_at_once(cdb):
    if not cdb.dialect.features.row_locks:
        pytest.skip("SQLite locks the whole database, not rows")
    CcTally(id=1).persist()
    with cdb.session():
        CcTally.query().filter(id=1).for_update().find_one()
        errors = _run(1, lambda i: _nowait_read(cdb))
    assert len(errors) == 1 and isinstance(errors[0], ActiverelError)


def _nowait_read(database: Database) -> None:
    with database.session():
        CcTally.query().filter(id=1).for_update(nowait=True).find_one()


def test_on_sqlite_for_update_after_a_read_explains_itself(cdb):
    if cdb.dialect.features.row_locks:
        pytest.skip("servers lock rows at any point of a transaction")
    CcTally(id=1).persist()
    with pytest.raises(ActiverelError, match=r"make the locking query the first of the session, "
                                             r"or open it with db.session\(write=True\)"):
        with cdb.session():
            CcTally.query().count()
            CcTally.query().filter(id=1).for_update().find_one()
    with cdb.session(write=True):
        CcTally.query().count()
        assert CcTally.query().filter(id=1).for_update().find_one().value == 0


def test_on_sqlite_for_update_after_a_savepoint_or_a_raw_read_explains_itself(cdb):
    if cdb.dialect.features.row_locks:
        pytest.skip("servers lock rows at any point of a transaction")
    CcTally(id=1).persist()
    for first in ("savepoint", "raw read"):
        with pytest.raises(ActiverelError, match="make the locking query the first"):
            with cdb.session() as s:
                if first == "savepoint":
                    with s.savepoint():
                        pass
                else:
                    cdb.execute('SELECT COUNT(*) FROM "cc_tallies"')
                CcTally.query().filter(id=1).for_update().find_one()
    with cdb.session():  # a raw write took the write lock: the lock is held already
        cdb.execute('UPDATE "cc_tallies" SET "value" = 3')
        assert CcTally.query().filter(id=1).for_update().find_one().value == 3


# --------------------------------------------------------------------------
# threads


def _increments(backend: str) -> tuple[int, int]:
    return (4, 50) if backend == "sqlite" else (8, 100)


def test_threads_incrementing_through_version_lose_nothing(cdb, backend):
    threads, each = _increments(backend)
    CcCounter(id=1).persist()
    retries = []

    def work(i: int) -> None:
        for _ in range(each):
            while True:
                try:
                    with cdb.session(write=True):
                        counter = CcCounter.get(1)
                        counter.value += 1
                    break
                except StaleObjectError:
                    retries.append(1)

    assert _run(threads, work) == []
    assert cdb.execute('SELECT "value", "version" FROM "cc_counters"') == [
        (threads * each, threads * each)]


def test_threads_incrementing_under_for_update_lose_nothing(cdb, backend):
    threads, each = _increments(backend)
    CcTally(id=1).persist()

    def work(i: int) -> None:
        for _ in range(each):
            with cdb.session():
                tally = CcTally.query().filter(id=1).for_update().find_one()
                tally.value += 1

    assert _run(threads, work) == []
    assert cdb.execute('SELECT "value" FROM "cc_tallies"') == [(threads * each,)]


def test_threads_persisting_graphs_lose_and_duplicate_nothing(cdb):
    threads, each = 8, 200

    def work(i: int) -> None:
        for n in range(each):
            author = CcAuthor(name=f"a{i}-{n}")
            for p in range(3):
                CcArticle(author=author, title=f"t{i}-{n}-{p}",
                          labels=[CcLabel(name=f"l{i}-{n}-{p}-{k}") for k in range(2)])
            author.persist()

    assert _run(threads, work) == []
    total = threads * each
    assert cdb.execute('SELECT COUNT(*), COUNT(DISTINCT "name") FROM "cc_authors"') == [(total, total)]
    assert cdb.execute('SELECT COUNT(*), COUNT(DISTINCT "title") FROM "cc_articles"') == [
        (3 * total, 3 * total)]
    assert cdb.execute('SELECT COUNT(*) FROM "cc_labels"') == [(6 * total,)]
    assert cdb.execute('SELECT COUNT(*) FROM "cc_article_labels"') == [(6 * total,)]
    # every article's labels are its own
    assert cdb.execute(
        'SELECT COUNT(*) FROM "cc_article_labels" al JOIN "cc_articles" a ON a."id" = al."article_id" '
        'JOIN "cc_labels" l ON l."id" = al."label_id" '
        "WHERE SUBSTR(l.\"name\", 2, LENGTH(a.\"title\") - 1) <> SUBSTR(a.\"title\", 2)") == [(0,)]


# --------------------------------------------------------------------------
# atomic updates: values the database computes


def test_patch_many_with_a_column_expression_is_atomic(cdb):
    CcTally(id=1, value=5).persist()
    CcTally(id=2, value=7).persist()
    with cdb.session():
        loaded = CcTally.get(1)
        assert CcTally.query().filter(id=1).patch_many(value=CcTally.value * 2 + 1) == 1
        assert loaded.value == 11  # read back from the row, not computed in Python
    assert cdb.execute('SELECT "id", "value" FROM "cc_tallies" ORDER BY "id"') == [(1, 11), (2, 7)]


def test_threads_incrementing_with_patch_many_lose_nothing(cdb, backend):
    threads, each = _increments(backend)
    CcTally(id=1).persist()

    def work(i: int) -> None:
        for _ in range(each):
            CcTally.query().filter(id=1).patch_many(value=CcTally.value + 1)

    assert _run(threads, work) == []
    assert cdb.execute('SELECT "value" FROM "cc_tallies"') == [(threads * each,)]


def test_patch_many_bumps_the_version_so_loaded_copies_go_stale(cdb):
    CcCounter(id=1).persist()
    with cdb.session():
        mine = CcCounter.get(1)
    with cdb.session():
        here = CcCounter.get(1)
        CcCounter.query().filter(id=1).patch_many(value=CcCounter.value + 10)
        assert (here.value, here.version) == (10, 1)
    mine.value = 1
    with pytest.raises(StaleObjectError):
        mine.persist()
    assert cdb.execute('SELECT "value", "version" FROM "cc_counters"') == [(10, 1)]


def test_arithmetic_needs_number_fields_of_the_same_model():
    with pytest.raises(ActiverelError, match=r"CcAuthor.name \+ \.\.\.: arithmetic needs a number field"):
        CcAuthor.name + 1
    with pytest.raises(ActiverelError, match="is not a field of CcTally"):
        CcTally.query().patch_many(value=CcCounter.value + 1)
