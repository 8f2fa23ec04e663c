"""Command line entry point: ``python -m activerel demo [--db PATH]``.

Without a command, or with one it does not know, it prints its usage and
exits with status 2.

Run by ``python -m activerel``; imports the demo only when asked for it."""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

DEFAULT_DB = "activerel-demo.db"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m activerel",
        description="activerel command line tools.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="build a small blog database on SQLite and walk through the API",
        description=(
            "Declare a blog schema, create it in an SQLite file, persist an "
            "object graph with one call, then query, update and delete it, "
            "printing each step and the SQL statements it sent."
        ),
    )
    demo.add_argument(
        "--db",
        metavar="PATH",
        default=DEFAULT_DB,
        help=f"SQLite file to (re)create (default: ./{DEFAULT_DB}); "
             "an existing file there is removed first",
    )
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 on an unknown command
    if args.command == "demo":
        from activerel.demo import run_demo

        return run_demo(args.db)
    parser.print_usage(sys.stderr)
    print(f"{parser.prog}: error: a command is required (try 'demo')", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
