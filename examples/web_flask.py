"""A Flask application with one activerel session per request (docs/web.md)."""
from __future__ import annotations

from flask import Flask, jsonify, request

from activerel import Database, NotFound
from examples.notes import Author, Note


def create_app(db: Database) -> Flask:
    app = Flask(__name__)

    @app.post("/authors/<name>/notes")
    @db.per_request(write=True)
    def add_note(name: str):
        author = Author.query().filter(name=name).find_one_or_none()
        if author is None:
            author = Author(name=name).persist()
        Note(author=author, text=request.get_json()["text"]).persist()
        return jsonify(ok=True), 201

    @app.get("/authors/<name>/notes")
    @db.per_request
    def notes_of(name: str):
        author = Author.query().filter(name=name).join_with("notes").find_one()
        return jsonify([note.text for note in author.notes])

    @app.errorhandler(NotFound)
    def not_found(exc: NotFound):
        return jsonify(error=str(exc)), 404

    return app
