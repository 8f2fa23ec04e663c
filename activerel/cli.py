"""The command line, ``python -m activerel COMMAND``: ``demo``, the
schema commands ``makemigrations``, ``migrate``, ``showmigrations``, ``sql``
and ``inspect``, and ``diagram`` (an ER diagram of the models, drawn by
:mod:`activerel.diagram`). Each command resolves its settings (options,
environment, ``[tool.activerel]`` in pyproject.toml), does its work through
the public API and :mod:`activerel.migrations`, and returns an exit status:
0 done, 1 changes found by ``makemigrations --check``, 2 a usage or schema
error.

The top layer: run by :mod:`activerel.__main__`; imports everything below."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable, Optional, Sequence

from .database import Database
from .demo import DEMO_MODELS, run_demo
from .diagram import FORMATS, build, output_format
from .errors import ActiverelError
from .mapping.catalog import Catalog
from .migrations.config import URL_VARIABLE, Settings, resolve
from .migrations.files import load, state, write
from .migrations.inspect import models_source
from .migrations.runner import Migrator
from .schema.declared import declared_schema
from .schema.diff import diff
from .schema.tables import Schema

DEFAULT_DB = "activerel-demo.db"

_COMMON = argparse.ArgumentParser(add_help=False)
_COMMON.add_argument("--models", metavar="MODULE",
                     help="importable module that defines the models (default: models in "
                          "[tool.activerel] of pyproject.toml)")
_COMMON.add_argument("--url", metavar="URL",
                     help=f"database URL (default: ${URL_VARIABLE}, then url in "
                          "[tool.activerel])")
_COMMON.add_argument("--migrations", metavar="DIR",
                     help="directory of the migration files (default: migrations in "
                          "[tool.activerel], else migrations/ beside pyproject.toml, else "
                          "./migrations)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m activerel",
                                     description="activerel command line tools.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo", help="build a small blog database on SQLite and walk through the API",
        description="Declare a blog schema, create it in an SQLite file, persist an object "
                    "graph with one call, then query, update and delete it, printing each "
                    "step and the SQL statements it sent.")
    demo.add_argument("--db", metavar="PATH", default=DEFAULT_DB,
                      help=f"SQLite file to (re)create (default: ./{DEFAULT_DB}); an existing "
                           "file there is removed first")
    make = commands.add_parser(
        "makemigrations", parents=[_COMMON],
        help="write a migration file for what the models changed",
        description="Compare the models with the schema the migration files lead to (or, "
                    "with --from-db, with the database) and write the difference as the "
                    "next migration file: readable Python that runs forward and backward. "
                    "Renames are never guessed: name them with --rename, or the file drops "
                    "and adds, with a WARNING comment on the drop.")
    make.add_argument("--name", help="the file's name after its number (default: from what "
                                     "it does)")
    make.add_argument("--rename", action="append", default=[], metavar="OLD=NEW",
                      help="a renamed table (old=new) or column (table.old=new); repeatable")
    make.add_argument("--empty", action="store_true",
                      help="write a migration with no operations, for a data migration")
    make.add_argument("--check", action="store_true",
                      help="write nothing; exit 1 when the models have changes without a "
                           "migration (for CI)")
    make.add_argument("--from-db", action="store_true",
                      help="compare with the database instead of the migration files")
    mig = commands.add_parser(
        "migrate", parents=[_COMMON], help="apply (or undo) migrations up to a target",
        description="Apply the migration files not applied yet, in order, each in one "
                    "transaction with its row in the activerel_migrations table (MySQL and "
                    "MariaDB commit each DDL statement: a failure there says which ran). "
                    "With a TARGET older than the newest applied, undo the migrations after "
                    "it, newest first.")
    mig.add_argument("target", nargs="?",
                     help="migration name or number to end at; 'zero' undoes every one "
                          "(default: the newest)")
    mig.add_argument("--fake", action="store_true",
                     help="record the migrations as applied without running them (a "
                          "database that already has their schema)")
    show = commands.add_parser(
        "showmigrations", parents=[_COMMON], help="list the migrations and which are applied",
        description="List every migration file, [X] when the database has applied it, with "
                    "what each does.")
    show.add_argument("--quiet", "-q", action="store_true", help="names only")
    sql = commands.add_parser(
        "sql", parents=[_COMMON], help="print the DDL a migration or the whole schema runs",
        description="Print, without running anything, the statements one migration runs on "
                    "the database's backend (--backward: undoing it), or without TARGET the "
                    "whole schema of the models as CREATE statements.")
    sql.add_argument("target", nargs="?", help="migration name or number")
    sql.add_argument("--backward", action="store_true", help="the statements that undo it")
    ins = commands.add_parser(
        "inspect", parents=[_COMMON], help="write model classes from an existing database",
        description="Read the database's tables and write a Python module of activerel "
                    "models for them, with references, back references, pivots, keys, "
                    "indexes, defaults and checks: the way in for a database that exists.")
    ins.add_argument("--output", "-o", metavar="FILE", help="write here (default: stdout)")
    ins.add_argument("--table", action="append", default=[], metavar="NAME",
                     help="only this table (repeatable; default: every table)")
    dia = commands.add_parser(
        "diagram", help="write an ER diagram of the models (Mermaid, DOT or SVG)",
        description="Draw the models' tables, columns with types and keys (PK, FK, UK), and "
                    "references with their ON DELETE actions and crow's-foot cardinality, "
                    "named with the back references that see them; pivots are marked. As "
                    "Mermaid erDiagram text, as Graphviz DOT, or as SVG drawn by Graphviz's "
                    "dot program.")
    which = dia.add_mutually_exclusive_group()
    which.add_argument("--models", metavar="MODULE",
                       help="importable module that defines the models (default: models in "
                            "[tool.activerel] of pyproject.toml)")
    which.add_argument("--demo", action="store_true",
                       help="the models of python -m activerel demo")
    dia.add_argument("--format", "-f", choices=FORMATS,
                     help="mermaid, dot or svg (needs Graphviz); default: from the output "
                          "file's suffix (.svg, .dot, .gv), else mermaid")
    dia.add_argument("--output", "-o", metavar="FILE",
                     help="write here (default: stdout); a .md file gets a fenced block")
    dia.set_defaults(url=None, migrations=None)
    return parser


def _renames(pairs: Sequence[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old or not new:
            raise ActiverelError(f"--rename takes OLD=NEW (table) or TABLE.OLD=NEW (column), "
                                 f"not {pair!r}")
        out[old.strip()] = new.strip()
    return out


def makemigrations(args: argparse.Namespace, cfg: Settings) -> int:
    models = cfg.import_models()
    existing = load(cfg.migrations)
    declared = declared_schema(Catalog(models, cfg.models or "the models").mappers)
    if args.from_db:
        with Database(cfg.require_url("makemigrations --from-db"), models=models) as db:
            declared = db.declared_schema()
            base = db.live_schema(declared.tables)
            ops = diff(base, declared, renames=_renames(args.rename),
                       same_type=db.dialect.same_type, compare_check_sql=False, droppable=(), live=True)
        against = "the database"
    else:
        base = state(existing)
        ops = diff(base, declared, renames=_renames(args.rename))
        against = f"the migrations in {cfg.migrations}" if existing else "an empty database"
    if args.check:
        if not ops:
            print(f"No changes: the models match {against}.")
            return 0
        print(f"The models differ from {against}:")
        for op in ops:
            print(f"  - {op.describe()}")
        return 1
    if args.empty:
        ops = []
    elif not ops:
        print(f"No changes: the models match {against}.")
        return 0
    path = write(cfg.migrations, ops, existing, args.name)
    print(f"Wrote {path}:")
    for op in ops:
        note = getattr(op, "note", "")
        print(f"  - {op.describe()}" + (f"  ({note})" if note.startswith("WARNING") else ""))
    return 0


def migrate(args: argparse.Namespace, cfg: Settings) -> int:
    if cfg.models:
        cfg.import_models()
    with Database(cfg.require_url("migrate"), models=[]) as db:
        direction, todo = Migrator(db, cfg.migrations).migrate(args.target, fake=args.fake,
                                                               report=print)
    if not todo:
        print("Nothing to migrate: the database is at the target.")
    return 0


def showmigrations(args: argparse.Namespace, cfg: Settings) -> int:
    with Database(cfg.require_url("showmigrations"), models=[]) as db:
        status = Migrator(db, cfg.migrations).status()
    if not status:
        print(f"No migrations in {cfg.migrations}.")
    for m, applied in status:
        print(f"[{'X' if applied else ' '}] {m.name}")
        if not args.quiet:
            for line in m.describe():
                print(f"      {line}")
    return 0


def sql(args: argparse.Namespace, cfg: Settings) -> int:
    url = cfg.require_url("sql")
    if args.target is None:
        with Database(url, models=cfg.import_models()) as db:
            statements = db.schema_sql()
    else:
        with Database(url, models=[]) as db:
            statements = Migrator(db, cfg.migrations).sql(args.target, backward=args.backward)
    for statement in statements:
        print(statement if statement.startswith("--") else f"{statement};")
    return 0


def inspect(args: argparse.Namespace, cfg: Settings) -> int:
    url = cfg.require_url("inspect")
    with Database(url, models=[]) as db:
        schema: Schema = db.live_schema(args.table or None)
    text = models_source(schema, header=f"Database: {db.url.safe}")
    if args.output:
        Path(args.output).write_text(text)
        print(f"Wrote {len(schema.tables)} model(s) to {args.output}.")
    else:
        sys.stdout.write(text)
    return 0


def diagram(args: argparse.Namespace, cfg: Settings) -> int:
    drawing = build(DEMO_MODELS if args.demo else cfg.import_models())
    fmt = output_format(args.format, args.output)
    text = drawing.render(fmt, markdown=bool(args.output) and args.output.endswith(".md"))
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"Wrote the diagram of {len(drawing.entities)} table(s) ({fmt}) to {args.output}.")
    else:
        sys.stdout.write(text)
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "makemigrations": makemigrations, "migrate": migrate, "showmigrations": showmigrations,
    "sql": sql, "inspect": inspect, "diagram": diagram,
}


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 on an unknown command
    if args.command == "demo":
        return run_demo(args.db)
    command = COMMANDS.get(args.command or "")
    if command is None:
        parser.print_usage(sys.stderr)
        print(f"{parser.prog}: error: a command is required ({', '.join(['demo', *COMMANDS])})",
              file=sys.stderr)
        return 2
    try:
        return command(args, resolve(args.models, args.url, args.migrations))
    except ActiverelError as exc:
        print(f"{parser.prog} {args.command}: error: {exc}", file=sys.stderr)
        return 2
