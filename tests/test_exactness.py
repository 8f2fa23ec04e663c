"""What peers' own test suites expect of relations, values and the unit of
work (issue 15): each test states the expected behaviour on every backend."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal as Dec
from typing import Annotated, Any, Optional
from uuid import UUID as Uid

import pytest

from activerel import (ActiverelError, AutoIncrement, BackReference, IntegrityError, Model, NotFound,
                       PrimaryKey, QueryError, Reference, Unique, ValidationError, field, inspect)


class ExNames(Model, table="ex_names"):
    """Fields named like the types and builtins generated code uses."""
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    date: Optional[dt.date] = None
    time: Optional[dt.time] = None
    datetime: Optional[dt.datetime] = None
    Decimal: Optional[Dec] = None
    UUID: Optional[Uid] = None
    type: str = "t"
    list: int = 0
    str: Optional[float] = None
    isinstance: bool = False


def test_fields_named_like_types_and_builtins(make_db):
    db = make_db([ExNames])
    row = ExNames(date=dt.date(2024, 5, 6), time=dt.time(7, 8, 9), datetime=dt.datetime(2024, 1, 2, 3, 4),
                  Decimal=Dec("1.5"), UUID=Uid(int=7), type="kind", list=3, str=2.5, isinstance=True)
    row.persist()
    with pytest.raises(ValidationError, match=r"ExNames.date must be date or None, not 5 \(int\)"):
        ExNames(date=5)
    with pytest.raises(ValidationError, match=r"ExNames.type must be str"):
        row.type = 1
    with db.session():
        back = ExNames.get(row.id)
        assert (back.date, back.time, back.datetime, back.Decimal, back.UUID, back.type, back.list,
                back.str, back.isinstance) == (dt.date(2024, 5, 6), dt.time(7, 8, 9),
                                               dt.datetime(2024, 1, 2, 3, 4), Dec("1.5"), Uid(int=7),
                                               "kind", 3, 2.5, True)


# --------------------------------------------------------------------------
# integrity: RESTRICT decided before anything is written


class ExParent(Model, table="ex_parents"):
    id: Annotated[int, PrimaryKey]


class ExChild(Model, table="ex_children"):
    id: Annotated[int, PrimaryKey]
    keeper: Annotated[ExParent, Reference(on_delete="RESTRICT")]
    owner: Annotated[Optional[ExParent], Reference(on_delete="CASCADE")] = None


def test_restrict_holds_when_the_same_rows_cascade_reference_is_null(make_db, sql_log):
    db = make_db([ExParent, ExChild])
    parent = ExParent(id=1).persist()
    ExChild(id=10, keeper=parent).persist()            # owner NULL: the cascade does not reach it
    sql_log.clear()
    with pytest.raises(IntegrityError, match=r"1 ExChild row\(s\) still reference them through "
                                             r"ExChild.keeper \(on_delete='RESTRICT'\)"):
        parent.delete()
    assert [s for s in sql_log.statements if s.startswith(("UPDATE", "DELETE"))] == []
    assert db.execute('SELECT COUNT(*) FROM "ex_parents"') == [(1,)]
    assert db.execute('SELECT "id" FROM "ex_children"') == [(10,)]
    assert inspect(parent).is_persistent


def test_restrict_still_lets_go_rows_the_delete_removes(make_db):
    db = make_db([ExParent, ExChild])
    parent = ExParent(id=1).persist()
    ExChild(id=10, keeper=parent, owner=parent).persist()   # the cascade removes it anyway
    parent.delete()
    assert db.execute('SELECT COUNT(*) FROM "ex_children"') == [(0,)]


class ExTop(Model, table="ex_tops"):
    id: Annotated[int, PrimaryKey]


class ExLeft(Model, table="ex_lefts"):
    id: Annotated[int, PrimaryKey]
    top: Annotated[ExTop, Reference(on_delete="CASCADE")]


class ExRight(Model, table="ex_rights"):
    id: Annotated[int, PrimaryKey]
    top: Annotated[ExTop, Reference(on_delete="CASCADE")]


class ExBottom(Model, table="ex_bottoms"):
    id: Annotated[int, PrimaryKey]
    left: Annotated[ExLeft, Reference(on_delete="RESTRICT")]
    right: Annotated[ExRight, Reference(on_delete="CASCADE")]


def test_a_diamond_of_cascade_and_restrict_deletes_alike_everywhere(make_db):
    db = make_db([ExTop, ExLeft, ExRight, ExBottom])
    top = ExTop(id=1).persist()
    left, right = ExLeft(id=2, top=top).persist(), ExRight(id=3, top=top).persist()
    ExBottom(id=4, left=left, right=right).persist()
    top.delete()
    assert [db.execute(f'SELECT COUNT(*) FROM "{t}"')[0][0]
            for t in ("ex_tops", "ex_lefts", "ex_rights", "ex_bottoms")] == [0, 0, 0, 0]


# --------------------------------------------------------------------------
# collections hold their own model only


class ExShelf(Model, table="ex_shelves"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    books: BackReference[list["ExBook"]]
    tags: Annotated[list["ExTag"], BackReference(via="ExShelfTag")]


class ExBook(Model, table="ex_books"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    shelf: Annotated[ExShelf, Reference(on_delete="CASCADE")]


class ExTag(Model, table="ex_tags"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0


class ExShelfTag(Model, table="ex_shelf_tags"):
    shelf: Annotated[ExShelf, PrimaryKey, Reference(on_delete="CASCADE")]
    tag: Annotated[ExTag, PrimaryKey, Reference(on_delete="CASCADE")]


@pytest.mark.parametrize("relation", ["books", "tags"])
def test_a_wrong_item_in_a_collection_is_refused_before_any_sql(make_db, sql_log, relation):
    db = make_db([ExShelf, ExBook, ExTag, ExShelfTag])
    shelf = ExShelf().persist()
    other = ExShelf().persist()  # its id names a real row: written as a key, it would link it
    for wrong, shown in ((other, r"ExShelf\(id=2\) \(ExShelf\)"), (7, r"7 \(int\)")):
        getattr(shelf, relation).append(wrong)
        sql_log.clear()
        expected = "ExBook" if relation == "books" else "ExTag"
        with pytest.raises(ValidationError, match=rf"ExShelf.{relation} holds {shown}: only "
                                                  rf"{expected} objects belong in it"):
            shelf.persist()
        assert [s for s in sql_log.statements if not s.startswith(("BEGIN", "ROLLBACK"))] == []
        getattr(shelf, relation).remove(wrong)
    assert db.execute('SELECT COUNT(*) FROM "ex_shelf_tags"') == [(0,)]


# --------------------------------------------------------------------------
# relation filters and filtered joins


class ExAccount(Model, table="ex_accounts"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str
    profile: BackReference[Optional["ExProfile"]]


class ExProfile(Model, table="ex_profiles"):
    account: Annotated[ExAccount, PrimaryKey, Reference(on_delete="CASCADE")]
    bio: str = ""


class ExPost(Model, table="ex_posts"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    account: Annotated[ExAccount, Reference(on_delete="CASCADE")]


def _accounts(make_db):
    db = make_db([ExAccount, ExProfile, ExPost])
    ada, bob = ExAccount(name="ada").persist(), ExAccount(name="bob").persist()
    ExProfile(account=ada, bio="hi").persist()
    ExPost(account=ada).persist()
    ExPost(account=bob).persist()
    return db


def test_is_none_on_a_one_to_one_back_reference_means_it_has_none(make_db):
    _accounts(make_db)

    def names(cond):
        return [a.name for a in ExAccount.query().filter(cond).order_by("id").find()]

    assert names(ExAccount.profile.is_(None)) == ["bob"]
    assert names(ExAccount.profile.is_not(None)) == ["ada"]
    assert names(ExAccount.profile.is_()) == ["ada"]           # is_() alone: it exists
    assert names(ExAccount.profile.is_not()) == ["bob"]
    assert names(ExAccount.profile.is_(ExProfile.bio == "hi")) == ["ada"]


def test_a_filtered_to_one_join_that_does_not_match_is_none(make_db):
    _accounts(make_db)
    posts = (ExPost.query().use_join_with("account").filter(name="ada").end()
             .order_by("id").find())
    assert [(p.id, p.account.name if p.account else None) for p in posts] == [(1, "ada"), (2, None)]
    # the same filter on a one-to-one back reference, for comparison
    accounts = (ExAccount.query().use_join_with("profile").filter(bio="none such").end()
                .order_by("id").find())
    assert [a.profile for a in accounts] == [None, None]


# --------------------------------------------------------------------------
# values: like() and floats mean the same everywhere


class ExWord(Model, table="ex_words"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    text: str
    amount: Optional[float] = None


def test_like_is_case_sensitive_with_backslash_escapes_everywhere(make_db):
    make_db([ExWord])
    for text in ("a_b", "axb", "50%", "500", "Ada", "ada", "back\\slash"):
        ExWord(text=text).persist()

    def like(pattern: str) -> list[str]:
        return sorted(w.text for w in ExWord.query().filter(ExWord.text.like(pattern)).find())

    assert like("a\\_b") == ["a_b"]
    assert like("a_b") == ["a_b", "axb"]
    assert like("50\\%") == ["50%"]
    assert like("A%") == ["Ada"]
    assert like("back\\\\slash") == ["back\\slash"]
    with pytest.raises(QueryError, match=r"ExWord.text.like\('50\\\\'\): the pattern ends with "
                                         r"the escape character"):
        ExWord.query().filter(ExWord.text.like("50\\"))


def test_floats_take_the_same_ints_everywhere(make_db):
    db = make_db([ExWord])
    ExWord(text="big", amount=2 ** 63).persist()
    assert db.execute('SELECT "amount" FROM "ex_words"') == [(9.223372036854776e18,)]
    with pytest.raises(ValidationError, match="too large for a float column"):
        ExWord(text="huge", amount=10 ** 400).persist()
    assert db.execute('SELECT COUNT(*) FROM "ex_words"') == [(1,)]


# --------------------------------------------------------------------------
# delete_one and patch_one


def test_delete_one_deletes_the_first_match_with_its_actions(make_db):
    db = _accounts(make_db)
    with db.session():
        posts = ExPost.query().order_by("id").find()
        ExAccount.query().order_by("-name").delete_one()         # bob, and his post by cascade
        assert [inspect(p).is_deleted for p in posts] == [False, True]
    assert db.execute('SELECT "name" FROM "ex_accounts"') == [("ada",)]
    assert db.execute('SELECT "id" FROM "ex_posts"') == [(1,)]
    with pytest.raises(NotFound, match=r"delete_one\(\): no ExAccount matches the query"):
        ExAccount.query().filter(name="cyd").delete_one()


def test_patch_one_patches_the_first_match_and_the_loaded_object(make_db):
    db = _accounts(make_db)
    with db.session():
        ada, bob = ExAccount.query().order_by("id").find()
        ExAccount.query().order_by("-id").patch_one(name="robert")
        assert (ada.name, bob.name) == ("ada", "robert")
    assert db.execute('SELECT "name" FROM "ex_accounts" ORDER BY "id"') == [("ada",), ("robert",)]
    with pytest.raises(NotFound, match=r"patch_one\(\): no ExAccount matches the query"):
        ExAccount.query().filter(name="cyd").patch_one(name="x")
    with pytest.raises(ValidationError, match="ExAccount.name cannot be set to 5"):
        ExAccount.query().patch_one(name=5)


# --------------------------------------------------------------------------
# inserts batched per table, levels only for the self-referencing table


class ExFolder(Model, table="ex_folders"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    parent: Annotated[Optional["ExFolder"], Reference(on_delete="CASCADE")] = None
    files: BackReference[list["ExFile"]]


class ExFile(Model, table="ex_files"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    folder: Annotated[ExFolder, Reference(on_delete="CASCADE")]
    notes: BackReference[list["ExFileNote"]]


class ExFileNote(Model, table="ex_file_notes"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    file: Annotated[ExFile, Reference(on_delete="CASCADE")]


def test_only_the_self_referencing_table_is_inserted_in_levels(make_db, sql_log):
    db = make_db([ExFolder, ExFile, ExFileNote])
    root = ExFolder()
    child = ExFolder(parent=root)
    grandchild = ExFolder(parent=child)
    for folder in (root, child, grandchild):
        for _ in range(2):
            ExFileNote(file=ExFile(folder=folder))
    sql_log.clear()
    grandchild.persist()
    inserts = [s.split("(")[0].strip().replace("`", '"') for s in sql_log.statements
               if s.startswith("INSERT")]
    if db.dialect.single_row_inserts():  # MySQL without consecutive keys: a batch of rows each
        inserts = sorted(set(inserts))
        assert inserts == ['INSERT INTO "ex_file_notes"', 'INSERT INTO "ex_files"',
                           'INSERT INTO "ex_folders"']
    else:
        assert inserts == ['INSERT INTO "ex_folders"'] * 3 + ['INSERT INTO "ex_files"',
                                                               'INSERT INTO "ex_file_notes"']
    assert db.execute('SELECT COUNT(*) FROM "ex_file_notes"') == [(6,)]
    assert grandchild.parent.parent is root and inspect(root).key == 1


# --------------------------------------------------------------------------
# a many-to-many from a model to itself, both directions of one pivot


class ExPerson(Model, table="ex_people"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str
    following: Annotated[list["ExPerson"], BackReference(via="ExFollow", mapped_by="follower")]
    followers: Annotated[list["ExPerson"], BackReference(via="ExFollow", mapped_by="followee")]


class ExFollow(Model, table="ex_follows"):
    follower: Annotated[ExPerson, PrimaryKey, Reference(on_delete="CASCADE")]
    followee: Annotated[ExPerson, PrimaryKey, Reference(on_delete="CASCADE")]


def test_followers_and_following_through_one_pivot(make_db):
    db = make_db([ExPerson, ExFollow])
    ada, bob, cyd = ExPerson(name="ada"), ExPerson(name="bob"), ExPerson(name="cyd")
    ada.following.extend([bob, cyd])
    bob.following.append(cyd)
    ada.persist()
    assert db.execute('SELECT "follower_id", "followee_id" FROM "ex_follows" '
                      'ORDER BY "follower_id", "followee_id"') == [(1, 2), (1, 3), (2, 3)]

    def names(people):
        return [p.name for p in people]

    assert names(cyd.followers) == ["ada", "bob"]  # the other side, kept true by the flush
    with db.session() as s:
        people = ExPerson.query().join_with("following").join_with("followers").order_by("id").find()
        assert [(p.name, names(p.following), names(p.followers)) for p in people] == [
            ("ada", ["bob", "cyd"], []), ("bob", ["cyd"], ["ada"]), ("cyd", [], ["ada", "bob"])]
        loaded_ada, loaded_bob, loaded_cyd = people
        loaded_cyd.followers.remove(loaded_ada)          # ada unfollows cyd, from cyd's side
        s.flush()                                        # a changed list is a change
        assert names(loaded_ada.following) == ["bob"]     # the other side follows
    assert db.execute('SELECT "follower_id", "followee_id" FROM "ex_follows" '
                      'ORDER BY "follower_id", "followee_id"') == [(1, 2), (2, 3)]
    followed_by_ada = ExPerson.query().filter(ExPerson.followers.some(ExPerson.name == "ada"))
    assert names(followed_by_ada.order_by("id").find()) == ["bob"]


# --------------------------------------------------------------------------
# a changed collection is a change


def test_collection_changes_inside_a_session_are_flushed(make_db):
    db = make_db([ExShelf, ExBook, ExTag, ExShelfTag])
    shelf = ExShelf(tags=[ExTag(), ExTag()]).persist()
    ExBook(shelf=shelf).persist()
    spare = ExShelf().persist()
    with db.session():
        loaded, other = ExShelf.query().join_with("books").join_with("tags").order_by("id").find()
        assert inspect(loaded).is_dirty is False
        loaded.tags.pop()                         # unlink one tag
        book = loaded.books[0]
        other.books.append(book)                  # move the book to the other shelf
        assert (inspect(loaded).is_dirty, inspect(other).is_dirty) == (True, True)
        assert inspect(other).changes == {"books": ()}
    assert db.execute('SELECT "shelf_id" FROM "ex_books"') == [(spare.id,)]
    assert db.execute('SELECT "tag_id" FROM "ex_shelf_tags"') == [(1,)]
    with pytest.raises(IntegrityError, match="ExBook.shelf is not nullable"):
        with db.session():                        # its flush at the end raises
            loaded = ExShelf.query().filter(id=spare.id).join_with("books").find_one()
            loaded.books = []                     # assigning a new list is a change too
    assert db.execute('SELECT "shelf_id" FROM "ex_books"') == [(spare.id,)]


def test_a_one_to_one_assignment_inside_a_session_is_flushed(make_db):
    db = make_db([ExAccount, ExProfile, ExPost])
    ada, bob = ExAccount(name="ada").persist(), ExAccount(name="bob").persist()
    ExProfile(account=ada, bio="x").persist()
    with db.session():
        loaded_bob = ExAccount.query().filter(name="bob").join_with("profile").find_one()
        assert loaded_bob.profile is None
        profile = ExProfile.query().find_one()
        loaded_bob.profile = profile                    # the profile moves to bob
        assert inspect(loaded_bob).is_dirty
    assert db.execute('SELECT "account_id" FROM "ex_profiles"') == [(bob.id,)]


class ExHandle(Model, table="ex_handles"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: Annotated[str, Unique]
    note: str = ""


def test_trailing_spaces_count_in_text_everywhere(make_db):
    db = make_db([ExHandle])
    ExHandle(name="admin", note="admin").persist()
    ExHandle(name="admin ", note="admin ").persist()         # unique: a different name
    assert [h.name for h in ExHandle.query().filter(name="admin ").find()] == ["admin "]
    assert [h.note for h in ExHandle.query().filter(note="admin").find()] == ["admin"]
    assert db.execute('SELECT COUNT(*) FROM "ex_handles"') == [(2,)]


# --------------------------------------------------------------------------
# a delete plan: what delete() would do, without writing


def test_plan_delete_shows_what_a_delete_would_do_and_writes_nothing(db, sql_log):
    from tests.models import Comment, Post, User
    ada, bob = User(username="ada").persist(), User(username="bob").persist()
    hello = Post(author=ada, title="hello", reviewer=bob).persist()
    Post(author=bob, title="bob's", reviewer=ada).persist()
    Comment(post=hello, author=bob, text="nice").persist()
    sql_log.clear()
    plan = db.plan_delete(bob)
    sent = {s.split()[0] for s in sql_log.statements}
    assert sent - {"BEGIN"} == {"SELECT", "COMMIT"}  # (MySQL sends no BEGIN)
    assert plan.allowed is True
    assert plan.deleted == {"Comment": [1], "Post": [2], "User": [bob.id]}
    assert plan.nulled == {"Post.reviewer": [1]}
    assert plan.refused_by == {} and plan.defaulted == {}
    assert str(plan).splitlines()[0] == "delete Comment: 1 row(s)"
    assert db.execute('SELECT COUNT(*) FROM "users"') == [(2,)]


def test_plan_delete_names_the_reference_that_would_refuse(make_db):
    db = make_db([ExParent, ExChild])
    parent = ExParent(id=1).persist()
    ExChild(id=10, keeper=parent).persist()
    plan = db.plan_delete(parent)
    assert (plan.allowed, plan.refused_by, plan.deleted) == (False, {"ExChild.keeper": [10]},
                                                             {"ExParent": [1]})


# --------------------------------------------------------------------------
# JSON values changed in place


class ExMember(Model, table="ex_members"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    prefs: dict = field(default_factory=dict)
    tags: list = field(default_factory=list)


def test_json_values_changed_in_place_are_saved(make_db, sql_log):
    db = make_db([ExMember])
    member = ExMember(prefs={"lang": "en"}, tags=["a"]).persist()
    with db.session():
        loaded = ExMember.get(member.id)
        loaded.prefs["lang"] = "fr"                     # no assignment: in place
        loaded.tags.append("b")
    with db.session():
        assert (ExMember.get(member.id).prefs, ExMember.get(member.id).tags) == ({"lang": "fr"},
                                                                                ["a", "b"])
    member.prefs["theme"] = "dark"                     # the object of the first session
    assert inspect(member).is_dirty is False           # (noticed when it is flushed)
    member.persist()
    with db.session():
        assert ExMember.get(member.id).prefs == {"lang": "en", "theme": "dark"}
    sql_log.clear()
    with db.session():
        ExMember.get(member.id).prefs.get("lang")      # read only: nothing to write
    assert not [s for s in sql_log.statements if s.startswith("UPDATE")]


def test_a_json_change_in_place_is_undone_with_a_failed_flush(make_db):
    db = make_db([ExMember])
    member = ExMember(prefs={"n": 1}).persist()
    with pytest.raises(RuntimeError):
        with db.session() as s:
            loaded = ExMember.get(member.id)
            loaded.prefs["n"] = 2
            s.flush()
            raise RuntimeError("abort")
    assert (loaded.prefs, inspect(loaded).changes) == ({"n": 2}, {"prefs": {"n": 1}})
    with db.session():
        assert ExMember.get(member.id).prefs == {"n": 1}


# --------------------------------------------------------------------------
# events: before and after insert, update and delete


class ExAudited(Model, table="ex_audited"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    title: str
    version_note: str = ""
    created_by: str = ""
    updated_count: int = 0

    def before_insert(self) -> None:
        self.created_by = "system"

    def before_update(self) -> None:
        self.updated_count += 1


def test_model_event_methods_and_database_listeners_run_in_the_flush(make_db):
    db = make_db([ExAudited])
    seen: list[tuple[str, Any]] = []
    db.listen("after_insert", ExAudited)(lambda obj: seen.append(("inserted", obj.id)))
    db.listen("before_delete")(lambda obj: seen.append(("deleting", obj.id)))
    db.listen("after_update", ExAudited)(lambda obj: seen.append(("updated", obj.title)))
    a = ExAudited(title="a").persist()
    assert (a.created_by, seen) == ("system", [("inserted", 1)])   # the key is there after
    a.title = "a2"
    a.persist()
    a.title = "a3"
    a.persist()
    assert db.execute('SELECT "title", "created_by", "updated_count" FROM "ex_audited"') == [
        ("a3", "system", 2)]
    a.delete()
    assert seen == [("inserted", 1), ("updated", "a2"), ("updated", "a3"), ("deleting", 1)]
    with pytest.raises(ActiverelError, match="'on_save' is not an event"):
        db.listen("on_save")(print)


def test_an_exception_in_a_handler_fails_the_flush_and_restores(make_db):
    db = make_db([ExAudited])
    a = ExAudited(title="a").persist()

    def refuse(obj: Any) -> None:
        raise ValueError(f"{obj.title} may not change")

    db.listen("before_update", ExAudited)(refuse)
    a.title = "b"
    with pytest.raises(ValueError, match="b may not change"):
        a.persist()
    # as before the flush: the title change pending, the method's increment undone
    assert (a.title, a.updated_count, inspect(a).changes) == ("b", 0, {"title": "a"})
    assert db.execute('SELECT "title", "updated_count" FROM "ex_audited"') == [("a", 0)]
    fresh = ExAudited(title="new")
    db.listen("after_insert", ExAudited)(lambda obj: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        fresh.persist()
    assert (inspect(fresh).is_new, fresh.id, fresh.created_by) == (True, 0, "")
    assert db.execute('SELECT COUNT(*) FROM "ex_audited"') == [(1,)]


def test_event_names_are_reserved_for_fields():
    with pytest.raises(ActiverelError, match="'after_update' is an active-record method name"):
        class ExBadEvent(Model, table="ex_bad_event"):
            id: Annotated[int, PrimaryKey]
            after_update: str = ""
        from activerel.mapping.mapper import mapper_of
        mapper_of(ExBadEvent)


class ExFriend(Model, table="ex_friends"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str
    friends: Annotated[list["ExFriend"], BackReference(via="ExFriendship", symmetric=True)]


class ExFriendship(Model, table="ex_friendships"):
    a: Annotated[ExFriend, PrimaryKey, Reference(on_delete="CASCADE")]
    b: Annotated[ExFriend, PrimaryKey, Reference(on_delete="CASCADE")]


def test_a_symmetric_relation_links_both_ways_with_one_row(make_db):
    db = make_db([ExFriend, ExFriendship])
    ada, bob, cyd = ExFriend(name="ada"), ExFriend(name="bob"), ExFriend(name="cyd")
    ada.friends.append(bob)
    bob.friends.append(ada)                     # the same link, made from the other side
    cyd.friends.append(ada)
    ada.persist()
    cyd.persist()
    assert db.execute('SELECT "a_id", "b_id" FROM "ex_friendships" ORDER BY "a_id", "b_id"') == [
        (1, 2), (3, 1)]

    def names(people):
        return [p.name for p in people]

    with db.session():
        people = ExFriend.query().join_with("friends").order_by("id").find()
        assert [(p.name, names(p.friends)) for p in people] == [
            ("ada", ["bob", "cyd"]), ("bob", ["ada"]), ("cyd", ["ada"])]
        loaded_ada, loaded_bob, loaded_cyd = people
        loaded_ada.friends.remove(loaded_cyd)   # stored as (cyd, ada): removed all the same
    assert db.execute('SELECT "a_id", "b_id" FROM "ex_friendships"') == [(1, 2)]
    friends_of_bob = ExFriend.query().filter(ExFriend.friends.some(ExFriend.name == "bob"))
    assert names(friends_of_bob.order_by("id").find()) == ["ada"]
    lonely = ExFriend.query().filter(ExFriend.friends.none())
    assert names(lonely.order_by("id").find()) == ["cyd"]
    with pytest.raises(QueryError, match="ExFriend.friends is symmetric"):
        ExFriend.query().use_join_with("friends").order_by("-id").end().find()


def test_a_handler_may_query_without_starting_another_flush(make_db):
    db = make_db([ExAudited])
    counts: list[int] = []
    db.listen("before_insert", ExAudited)(lambda obj: counts.append(ExAudited.query().count()))
    ExAudited(title="a").persist()
    ExAudited(title="b").persist()
    assert counts == [0, 1]


def test_assigning_an_unloaded_one_to_one_inside_a_session_is_flushed(make_db):
    db = make_db([ExAccount, ExProfile, ExPost])
    ada, bob = ExAccount(name="ada").persist(), ExAccount(name="bob").persist()
    ExProfile(account=ada, bio="x").persist()
    with db.session():
        loaded_bob = ExAccount.query().filter(name="bob").find_one()   # profile not joined
        loaded_bob.profile = ExProfile.query().find_one()
    assert db.execute('SELECT "account_id" FROM "ex_profiles"') == [(bob.id,)]
