"""The models of docs/relations.md and docs/querying.md, declared as the docs
declare them (docs/typing.md): checked by mypy and pyright (basic and
strict) with no error expected, and imported by ``queries.py``, which runs.

Not collected by pytest: tests/test_typing.py checks and runs this directory."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Optional

from activerel import (AutoIncrement, BackReference, Field, Index, Model, PrimaryKey, Reference,
                       Unique, Version, field)


class User(Model, table="users"):
    id: Annotated[Field[int], PrimaryKey, AutoIncrement] = field(default=0)
    username: Annotated[Field[str], Unique]
    email: Annotated[Field[Optional[str]], Index] = field(default=None)
    bio: Field[str] = field(default="")
    created: Field[datetime] = field(default_factory=datetime.now)
    posts: BackReference[list[Post]] = BackReference(mapped_by="author")
    reviewed: BackReference[list[Post]] = BackReference(mapped_by="reviewer")
    groups: BackReference[list[Group]] = BackReference(via="Membership")
    memberships: BackReference[list[Membership]] = BackReference()
    profile: BackReference[Optional[Profile]] = BackReference()
    following: BackReference[list[User]] = BackReference(via="Follow", mapped_by="follower")
    followers: BackReference[list[User]] = BackReference(via="Follow", mapped_by="followee")


class Profile(Model, table="profiles"):          # one-to-one: its key is the user's
    user: Annotated[Reference[User], PrimaryKey] = Reference(on_delete="CASCADE")
    website: Field[str] = field(default="")


class Follow(Model, table="follows"):            # a pivot from User to User
    follower: Annotated[Reference[User], PrimaryKey] = Reference(on_delete="CASCADE")
    followee: Annotated[Reference[User], PrimaryKey] = Reference(on_delete="CASCADE")


class Post(Model, table="posts"):
    id: Annotated[Field[int], PrimaryKey, AutoIncrement] = field(default=0)
    author: Reference[User] = Reference(on_delete="CASCADE")
    reviewer: Reference[Optional[User]] = Reference(on_delete="SET NULL", default=None)
    title: Field[str]
    published: Field[bool] = field(default=False)
    views: Field[int] = field(default=0)
    price: Field[Decimal] = field(default=Decimal("0"))
    version: Annotated[Field[int], Version] = field(default=0)
    comments: BackReference[list[Comment]] = BackReference()


class Comment(Model, table="comments"):
    id: Annotated[Field[int], PrimaryKey, AutoIncrement] = field(default=0)
    post: Reference[Post] = Reference(on_delete="CASCADE")
    author: Reference[User] = Reference(on_delete="CASCADE")
    text: Field[str]


class Group(Model, table="groups"):
    id: Annotated[Field[int], PrimaryKey, AutoIncrement] = field(default=0)
    name: Field[str] = field(max_length=80)
    users: BackReference[list[User]] = BackReference(via="Membership")


class Membership(Model, table="memberships"):    # the pivot, with a column of its own
    id: Annotated[Field[int], PrimaryKey, AutoIncrement] = field(default=0)
    user: Reference[User] = Reference(on_delete="CASCADE")
    group: Reference[Group] = Reference(on_delete="CASCADE")
    role: Field[str] = field(default="member")


class Category(Model, table="categories"):      # a tree: a reference to itself
    id: Annotated[Field[int], PrimaryKey, AutoIncrement] = field(default=0)
    name: Field[str]
    parent: Reference[Optional[Category]] = Reference(on_delete="CASCADE", default=None)
    children: BackReference[list[Category]] = BackReference(mapped_by="parent")


class Course(Model, table="courses"):
    code: Annotated[Field[str], PrimaryKey]
    title: Field[str]


class Enrollment(Model, table="enrollments"):      # a composite primary key
    student: Annotated[Reference[User], PrimaryKey] = Reference(on_delete="CASCADE")
    course: Annotated[Reference[Course], PrimaryKey] = Reference(on_delete="CASCADE")
    grade: Field[Optional[str]] = field(default=None)


class Pal(Model, table="pals"):                  # a symmetric many-to-many
    id: Annotated[Field[int], PrimaryKey, AutoIncrement] = field(default=0)
    name: Field[str]
    friends: BackReference[list[Pal]] = BackReference(via="Friendship", symmetric=True)


class Friendship(Model, table="friendships"):
    a: Annotated[Reference[Pal], PrimaryKey] = Reference(on_delete="CASCADE")
    b: Annotated[Reference[Pal], PrimaryKey] = Reference(on_delete="CASCADE")


MODELS = [User, Profile, Follow, Post, Comment, Group, Membership, Category, Course,
          Enrollment, Pal, Friendship]
