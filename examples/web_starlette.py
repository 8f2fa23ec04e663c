"""A Starlette application with one activerel session per request
(docs/web.md). Endpoints are plain functions: Starlette runs them in its
thread pool, and each call runs in a session of its own."""
from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from activerel import Database, NotFound
from examples.notes import Author, Note


def create_app(db: Database) -> Starlette:
    @db.per_request(write=True)
    def add_note(request: Request) -> JSONResponse:
        name = request.path_params["name"]
        author = Author.query().filter(name=name).find_one_or_none()
        if author is None:
            author = Author(name=name).persist()
        Note(author=author, text=request.query_params["text"]).persist()
        return JSONResponse({"ok": True}, status_code=201)

    @db.per_request
    def notes_of(request: Request) -> JSONResponse:
        name = request.path_params["name"]
        author = Author.query().filter(name=name).join_with("notes").find_one()
        return JSONResponse([note.text for note in author.notes])

    def not_found(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=404)

    return Starlette(routes=[Route("/authors/{name}/notes", add_note, methods=["POST"]),
                             Route("/authors/{name}/notes", notes_of, methods=["GET"])],
                     exception_handlers={NotFound: not_found})
