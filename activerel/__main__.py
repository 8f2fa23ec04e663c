"""Command line entry point: ``python -m activerel COMMAND`` (see
:mod:`activerel.cli` for the commands).

Run by ``python -m activerel``; imports :mod:`activerel.cli`."""
from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
