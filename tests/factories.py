"""factory-boy factories for the shared test models.

``Factory.build()`` makes unsaved objects; ``Factory.create()`` (or calling the
factory) persists the object and everything it reaches in one flush."""
from __future__ import annotations

import factory

from activerel.factory import ActiverelFactory
from tests import models as m


class UserFactory(ActiverelFactory):
    class Meta:
        model = m.User

    username = factory.Sequence(lambda n: f"user{n}")


class PostFactory(ActiverelFactory):
    class Meta:
        model = m.Post

    author = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"post {n}")


class CommentFactory(ActiverelFactory):
    class Meta:
        model = m.Comment

    post = factory.SubFactory(PostFactory)
    author = factory.SubFactory(UserFactory)
    text = factory.Sequence(lambda n: f"comment {n}")


class GroupFactory(ActiverelFactory):
    class Meta:
        model = m.Group

    name = factory.Sequence(lambda n: f"group{n}")


class CategoryFactory(ActiverelFactory):
    class Meta:
        model = m.Category

    name = factory.Sequence(lambda n: f"category{n}")


class WarehouseFactory(ActiverelFactory):
    class Meta:
        model = m.Warehouse

    name = factory.Sequence(lambda n: f"warehouse{n}")


class ItemFactory(ActiverelFactory):
    class Meta:
        model = m.Item

    name = factory.Sequence(lambda n: f"item{n}")
    warehouse = factory.SubFactory(WarehouseFactory)


class StudentFactory(ActiverelFactory):
    class Meta:
        model = m.Student

    name = factory.Sequence(lambda n: f"student{n}")


class CourseFactory(ActiverelFactory):
    class Meta:
        model = m.Course

    code = factory.Sequence(lambda n: f"C{n:03d}")
    title = factory.Sequence(lambda n: f"course {n}")


ALL_FACTORIES = [UserFactory, PostFactory, CommentFactory, GroupFactory, CategoryFactory,
                 WarehouseFactory, ItemFactory, StudentFactory, CourseFactory]
