"""The models the test suite shares: the SPEC's blog schema plus shapes that
exercise every column type and referential action."""
from __future__ import annotations

import enum
from datetime import date, datetime, time
from decimal import Decimal
from typing import Annotated, Optional
from uuid import UUID

from activerel import (AutoIncrement, BackReference, Index, Model, PrimaryKey,
                       Reference, Unique, field)


class User(Model, table="users"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    username: Annotated[str, Unique]
    created: datetime = field(default_factory=lambda: datetime(2024, 1, 1, 12, 0, 0))
    posts: Annotated[list[Post], BackReference(mapped_by="author")]
    reviewed: Annotated[list[Post], BackReference(mapped_by="reviewer")]
    comments: BackReference[list[Comment]]
    groups: Annotated[list[Group], BackReference(via="UserGroup")]
    credentials: BackReference[Optional[UserCredentials]]


class Post(Model, table="posts"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    author: Annotated[User, Reference(on_delete="CASCADE")]
    reviewer: Annotated[Optional[User], Reference(on_delete="SET NULL")] = None
    title: str
    published: bool = False
    comments: BackReference[list[Comment]]


class Comment(Model, table="comments"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    post: Annotated[Post, Reference(on_delete="CASCADE")]
    author: Annotated[User, Reference(on_delete="CASCADE")]
    text: str = ""


class Group(Model, table="groups"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str
    users: Annotated[list[User], BackReference(via="UserGroup")]


class UserGroup(Model, table="user_groups"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    user: Annotated[User, Reference(on_delete="CASCADE")]
    group: Annotated[Group, Reference(on_delete="CASCADE")]


class UserCredentials(Model, table="user_credentials"):
    user: Annotated[User, PrimaryKey, Reference(on_delete="CASCADE")]
    password: str = ""


class Category(Model, table="categories"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str
    parent: Annotated[Optional[Category], Reference(on_delete="CASCADE")] = None
    children: Annotated[list[Category], BackReference(mapped_by="parent")]


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Everything(Model, table="everything"):
    """One column of every supported type."""
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    i: int = 0
    f: float = 0.0
    b: bool = False
    s: Annotated[str, Index] = ""
    raw: bytes = b""
    dec: Decimal = Decimal("0")
    dt: datetime = datetime(2000, 1, 1)
    d: date = date(2000, 1, 1)
    t: time = time(0, 0)
    uid: Optional[UUID] = None
    color: Color = Color.RED
    priority: Priority = Priority.LOW
    data: dict = field(default_factory=dict)
    items: list = field(default_factory=list)
    maybe: Optional[str] = None


class Warehouse(Model, table="warehouses"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str
    items: Annotated[list[Item], BackReference(mapped_by="warehouse")]
    parked: Annotated[list[Item], BackReference(mapped_by="overflow")]
    archived: Annotated[list[Item], BackReference(mapped_by="archive")]


class Item(Model, table="items"):
    """RESTRICT, NO ACTION and SET DEFAULT pointing at one parent table."""
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str
    warehouse: Annotated[Warehouse, Reference(on_delete="RESTRICT")]
    overflow: Annotated[Optional[Warehouse], Reference(on_delete="NO ACTION")] = None
    archive: Annotated[Optional[Warehouse], Reference(on_delete="SET DEFAULT")] = None


class Student(Model, table="students"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str
    courses: Annotated[list[Course], BackReference(via="Enrollment")]


class Course(Model, table="courses"):
    code: Annotated[str, PrimaryKey]
    title: str = ""
    students: Annotated[list[Student], BackReference(via="Enrollment")]


class Enrollment(Model, table="enrollments"):
    """A pivot with a composite primary key of its two references and an extra column."""
    student: Annotated[Student, PrimaryKey, Reference(on_delete="CASCADE")]
    course: Annotated[Course, PrimaryKey, Reference(on_delete="CASCADE")]
    grade: Optional[str] = None


class Employee(Model, table="employees"):
    """A nullable reference cycle between two tables: resolved by INSERT then UPDATE."""
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str
    department: Annotated[Department, Reference(on_delete="CASCADE")]
    managed: BackReference[Optional[Department]]


class Department(Model, table="departments"):
    id: Annotated[int, PrimaryKey, AutoIncrement] = 0
    name: str
    manager: Annotated[Optional[Employee], Reference(on_delete="SET NULL")] = None
    staff: Annotated[list[Employee], BackReference(mapped_by="department")]


ALL_MODELS = [User, Post, Comment, Group, UserGroup, UserCredentials, Category,
              Everything, Warehouse, Item, Student, Course, Enrollment,
              Employee, Department]
