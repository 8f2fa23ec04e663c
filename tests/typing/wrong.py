"""Wrong application code: each wrong line ends with the errors it must
raise, ``# E: mypy[code,...] pyright[rule,...]`` (and ``strict[rule,...]``,
errors pyright's strict mode may add on that line). tests/test_typing.py
fails when a marked line is not reported (by mypy, or by pyright in basic
or strict mode), is reported with another error, or when any unmarked line
is reported.

Checked only, never run."""
from __future__ import annotations

from tests.typing.blog import Group, Post, User
from tests.typing.spec_forms import Author

admins = Group(name="admins")
ada = User(username="ada")
hello = Post(author=ada, title="Hello")

# -- constructors ----------------------------------------------------------------------
User(username="ada", nick="a")  # E: mypy[call-arg] pyright[reportCallIssue]
User()  # E: mypy[call-arg] pyright[reportCallIssue]
Post(title="no author")  # E: mypy[call-arg] pyright[reportCallIssue]
User(username=42)  # E: mypy[arg-type] pyright[reportArgumentType]
User(username="ada", created="yesterday")  # E: mypy[arg-type] pyright[reportArgumentType]
Post(author=admins, title="wrong model")  # E: mypy[arg-type] pyright[reportArgumentType]
Post(author=None, title="not Optional")  # E: mypy[arg-type] pyright[reportArgumentType]
User(username="ada", posts=[admins])  # E: mypy[list-item] pyright[reportArgumentType]
User(username="ada", profile=admins)  # E: mypy[arg-type] pyright[reportArgumentType]
User("ada")  # E: mypy[call-arg,arg-type] pyright[reportCallIssue]
# a back reference without a value (the SPEC's short form) is required, for a checker
Author(name="Le Guin")  # E: mypy[call-arg] pyright[reportCallIssue]

# -- assignments -----------------------------------------------------------------------
ada.username = 42  # E: mypy[assignment] pyright[reportAttributeAccessIssue]
ada.nick = "a"  # E: mypy[attr-defined] pyright[reportAttributeAccessIssue]
hello.author = admins  # E: mypy[assignment] pyright[reportAttributeAccessIssue]
hello.author = None  # E: mypy[assignment] pyright[reportAttributeAccessIssue]
ada.posts.append(admins)  # E: mypy[arg-type] pyright[reportArgumentType]
ada.posts = [admins]  # E: mypy[list-item] pyright[reportAttributeAccessIssue]
count: int = User.id  # E: mypy[assignment] pyright[reportAssignmentType]
title: str = hello.reviewer  # E: mypy[assignment] pyright[reportAssignmentType]

# -- queries ---------------------------------------------------------------------------
User.query().fitler(username="ada")  # E: mypy[attr-defined] pyright[reportAttributeAccessIssue] strict[reportUnknownMemberType]
User.query().use_join_with("posts").fitler()  # E: mypy[attr-defined] pyright[reportAttributeAccessIssue] strict[reportUnknownMemberType]
User.query().use_join_with("posts").end().end()  # E: mypy[attr-defined] pyright[reportAttributeAccessIssue] strict[reportUnknownMemberType]
User.query().find().username  # E: mypy[attr-defined] pyright[reportAttributeAccessIssue] strict[reportUnknownMemberType]
User.query().first().username  # E: mypy[union-attr] pyright[reportOptionalMemberAccess]
User.get(1).nick  # E: mypy[attr-defined] pyright[reportAttributeAccessIssue] strict[reportUnknownMemberType]
User.query().filter("username")  # E: mypy[arg-type] pyright[reportArgumentType]
User.query().filter(Author.name == "Le Guin")  # E: mypy[arg-type] pyright[reportArgumentType]
User.query().limit("10")  # E: mypy[arg-type] pyright[reportArgumentType]
User.query().order_by(3)  # E: mypy[arg-type] pyright[reportArgumentType]
User.query().join_with(User.posts)  # E: mypy[arg-type] pyright[reportArgumentType]
name: str = User.query().find_one()  # E: mypy[assignment] pyright[reportAssignmentType]

# -- expressions -----------------------------------------------------------------------
User.username.lik("a%")  # E: mypy[attr-defined] pyright[reportAttributeAccessIssue] strict[reportUnknownMemberType]
User.username.like(3)  # E: mypy[arg-type] pyright[reportArgumentType]
User.posts.like("a%")  # E: mypy[attr-defined] pyright[reportAttributeAccessIssue] strict[reportUnknownMemberType]
User.posts.some(True)  # E: mypy[arg-type] pyright[reportArgumentType]
Post.author.is_(True)  # E: mypy[arg-type] pyright[reportArgumentType]
