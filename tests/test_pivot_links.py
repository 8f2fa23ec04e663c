"""Pivot rows a flush writes and deletes for many-to-many lists, where only
one side declares the list (nothing else can make the same row, so the
flush keeps no flush-wide record of the pairs it linked) and where both
do; and the state of objects a flush inserted, before and after a failed
flush restores them."""
from __future__ import annotations

from typing import Annotated

import pytest

from activerel import (AutoIncrement, BackReference, IntegrityError, Model, NotFound,
                       PrimaryKey, Reference, Unique, inspect)
from tests.models import Comment, Group, Post, User, UserCredentials, UserGroup


class PlLabel(Model, table="pl_labels"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: Annotated[str, Unique]


class PlNote(Model, table="pl_notes"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    title: str
    # one-sided: PlLabel has no list of notes
    labels: Annotated[list[PlLabel], BackReference(via="PlNoteLabel")]


class PlNoteLabel(Model, table="pl_note_labels"):
    note: Annotated[PlNote, PrimaryKey, Reference(on_delete="CASCADE")]
    label: Annotated[PlLabel, PrimaryKey, Reference(on_delete="CASCADE")]


class PlDoc(Model, table="pl_docs"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    title: str
    topics: Annotated[list["PlTopic"], BackReference(via="PlDocTopic")]


class PlTopic(Model, table="pl_topics"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str
    docs: Annotated[list[PlDoc], BackReference(via="PlDocTopic")]


class PlDocTopic(Model, table="pl_doc_topics"):
    doc: Annotated[PlDoc, PrimaryKey, Reference(on_delete="CASCADE")]
    topic: Annotated[PlTopic, PrimaryKey, Reference(on_delete="CASCADE")]


MODELS = [PlLabel, PlNote, PlNoteLabel, PlDoc, PlTopic, PlDocTopic]


def _pairs(db, table: str) -> list[tuple[int, int]]:
    return sorted(tuple(r) for r in db.execute(f"SELECT * FROM {table}"))


def _note_labels(db) -> list[tuple[str, str]]:
    notes = PlNote.query().join_with("labels").order_by("title").find()
    return [(n.title, l.name) for n in notes for l in sorted(n.labels, key=lambda l: l.name)]


def test_one_sided_list_holding_a_label_twice_writes_one_row(make_db):
    db = make_db(MODELS)
    red = PlLabel(name="red")
    note = PlNote(title="a")
    note.labels.extend([red, red])
    db.persist(note)
    assert _note_labels(db) == [("a", "red")]
    assert PlNoteLabel.query().count() == 1


def test_one_sided_lists_of_two_notes_sharing_labels_write_every_pair(make_db):
    db = make_db(MODELS)
    red, blue = PlLabel(name="red"), PlLabel(name="blue")
    a, b = PlNote(title="a"), PlNote(title="b")
    a.labels.extend([red, blue])
    b.labels.extend([blue, red])
    db.persist(a, b)
    assert _note_labels(db) == [("a", "blue"), ("a", "red"), ("b", "blue"), ("b", "red")]


def test_appending_to_a_loaded_one_sided_list_twice_writes_one_row(make_db):
    db = make_db(MODELS)
    red, blue = PlLabel(name="red"), PlLabel(name="blue")
    note = PlNote(title="a")
    note.labels.append(red)
    db.persist(note, blue)
    with db.session():
        note = PlNote.query().join_with("labels").find_one()
        blue = PlLabel.query().filter(name="blue").find_one()
        note.labels.append(blue)
        note.labels.append(blue)
        note.persist()
    assert _note_labels(db) == [("a", "blue"), ("a", "red")]
    with db.session():
        note = PlNote.query().join_with("labels").find_one()
        note.labels[:] = [l for l in note.labels if l.name != "red"]
        note.persist()
    assert _note_labels(db) == [("a", "blue")]


def test_unlinking_from_one_side_leaves_the_loaded_other_side_and_its_baseline(make_db):
    db = make_db(MODELS)
    x, y = PlTopic(name="x"), PlTopic(name="y")
    d1, d2 = PlDoc(title="d1"), PlDoc(title="d2")
    d1.topics.extend([x, y])
    d2.topics.append(x)
    db.persist(d1, d2)
    with db.session() as s:
        x = PlTopic.query().filter(name="x").join_with("docs").find_one()
        docs = PlDoc.query().join_with("topics").order_by("title").find()
        assert [d.title for d in x.docs] == ["d1", "d2"]
        for d in docs:
            d.topics.remove(x)
        s.flush()
        assert x.docs == [] and list(x.docs.baseline) == []
        assert [t.name for t in docs[0].topics] == ["y"] and docs[1].topics == []
        # the other side, changed after the flush, links again
        x.docs.append(docs[1])
    assert _pairs(db, "pl_doc_topics") == [(d1.id, y.id), (d2.id, x.id)]


def test_linking_from_both_sides_writes_one_row(make_db):
    db = make_db(MODELS)
    x = PlTopic(name="x")
    d = PlDoc(title="d")
    d.topics.append(x)
    x.docs.append(d)
    db.persist(d)
    assert _pairs(db, "pl_doc_topics") == [(d.id, x.id)]


def test_inserted_objects_are_persistent_and_a_failed_flush_makes_them_new_again(make_db):
    db = make_db(MODELS)
    db.persist(PlLabel(name="red"))
    with db.session() as s:
        blue = PlLabel(name="blue")
        note = PlNote(title="a")
        note.labels.append(blue)
        s.persist(note)
        s.flush()
        assert inspect(note).is_persistent and inspect(blue).is_persistent
        assert not inspect(note).is_dirty and inspect(note).key == note.id != 0
        assert PlNote.get(note.id) is note
        s.rollback()
        assert inspect(note).is_new and note.id == 0 and blue.id == 0
    with pytest.raises(IntegrityError):
        with db.session() as s:
            again = PlLabel(name="red")  # the unique name is taken
            note = PlNote(title="b")
            note.labels.append(again)
            s.persist(note)
            s.flush()
    assert inspect(note).is_new and note.id == 0
    assert inspect(again).is_new and again.id == 0
    assert [(n.title, len(n.labels)) for n in [note]] == [("b", 1)]
    again.name = "green"
    db.persist(note)  # new again: persisted whole, with its label
    assert _note_labels(db) == [("b", "green")]
    assert inspect(note).is_persistent and PlNote.get(note.id).title == "b"


def test_a_rolled_back_insert_leaves_no_key_behind_when_the_key_is_a_reference(make_db):
    """UserCredentials' key is its user's: the rollback renews the user
    (id 0 again) before the credentials, which must still leave the
    identity map under the key they were inserted with."""
    db = make_db([User, Post, Comment, Group, UserGroup, UserCredentials])
    db.persist(User(username="ada"))
    with db.session() as s:
        eve = User(username="eve")
        creds = UserCredentials(user=eve, password="pw")
        s.persist(eve, creds)
        s.flush()
        key = eve.id
        assert key != 0 and UserCredentials.get(key) is creds and User.get(key) is eve
        s.rollback()
        assert inspect(creds).is_new and inspect(eve).is_new and eve.id == 0
        for model in (UserCredentials, User):  # no row, and no object left in the map
            with pytest.raises(NotFound):
                model.get(key)
        s.persist(eve, creds)  # written again, whole
    assert UserCredentials.get(eve.id).password == "pw"
    assert [u.username for u in User.query().order_by("id").find()] == ["ada", "eve"]
