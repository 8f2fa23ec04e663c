"""The web-application examples of docs/web.md, run on every backend: one
session per request, committed when the endpoint returns and rolled back
when it raises; concurrent requests each in their own session."""
from __future__ import annotations

import pathlib
import threading

import pytest

from activerel import Database
from examples.notes import Author, Note

flask_example = pytest.importorskip("examples.web_flask", reason="the test extra installs Flask")
starlette_example = pytest.importorskip("examples.web_starlette",
                                        reason="the test extra installs Starlette and httpx")
from starlette.testclient import TestClient  # noqa: E402 - after the skip

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs" / "web.md"


@pytest.fixture
def notes_db(backend, make_db, tmp_path) -> Database:
    """The example's models; on SQLite a file, as a web application has (an
    in-memory database shares one cache, whose table locks do not wait)."""
    if backend != "sqlite":
        yield make_db([Author, Note])
        return
    database = Database(f"sqlite:///{tmp_path / 'notes.db'}?timeout=30", models=[Author, Note])
    database.migrate()
    yield database
    database.close()


def rows(db: Database) -> list[tuple]:
    return db.execute('SELECT a."name", n."text" FROM "ex_notes" n JOIN "ex_authors" a '
                      'ON a."id" = n."author_id" ORDER BY n."id"')


def test_flask_requests_each_run_in_a_session(notes_db):
    client = flask_example.create_app(notes_db).test_client()
    assert client.post("/authors/ada/notes", json={"text": "one"}).status_code == 201
    assert client.post("/authors/ada/notes", json={"text": "two"}).status_code == 201
    assert client.get("/authors/ada/notes").get_json() == ["one", "two"]
    assert client.get("/authors/bob/notes").status_code == 404
    # a request that fails half way writes nothing: no text, and not the
    # author it had persisted before failing either
    assert client.post("/authors/cyd/notes", json={}).status_code == 500
    assert rows(notes_db) == [("ada", "one"), ("ada", "two")]


def test_starlette_requests_each_run_in_a_session(notes_db):
    client = TestClient(starlette_example.create_app(notes_db), raise_server_exceptions=False)
    assert client.post("/authors/ada/notes", params={"text": "one"}).status_code == 201
    assert client.get("/authors/ada/notes").json() == ["one"]
    assert client.get("/authors/bob/notes").status_code == 404
    assert client.post("/authors/cyd/notes").status_code == 500  # no text: rolled back
    assert rows(notes_db) == [("ada", "one")]


def test_concurrent_flask_requests_lose_nothing(notes_db, backend):
    app = flask_example.create_app(notes_db)
    threads, each = 8, 25
    errors: list[BaseException] = []

    def work(i: int) -> None:
        client = app.test_client()
        try:
            for n in range(each):
                response = client.post(f"/authors/u{i}/notes", json={"text": f"{i}-{n}"})
                assert response.status_code == 201, response.get_data(as_text=True)
        except BaseException as exc:  # noqa: B036 - collected for the assertion
            errors.append(exc)

    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []
    assert sorted(rows(notes_db)) == sorted((f"u{i}", f"{i}-{n}") for i in range(threads)
                                            for n in range(each))


def test_per_request_refuses_coroutine_functions(notes_db):
    async def endpoint() -> None:
        pass

    with pytest.raises(TypeError, match="per_request takes a plain function"):
        notes_db.per_request(endpoint)
    with pytest.raises(TypeError, match="per_request takes a plain function"):
        notes_db.per_request(write=True)(endpoint)


def test_the_docs_show_the_examples_as_they_run():
    page = DOCS.read_text()
    for module in (flask_example, starlette_example):
        source = pathlib.Path(module.__file__).read_text()
        body = source.split("\n\n", 1)[1] if source.startswith('"""') else source
        assert body.strip() in page, f"docs/web.md does not show {module.__name__} as it is"
