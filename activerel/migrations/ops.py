"""The names a migration file uses: the operations and the parts of a
table's description, under the short names their source is written with
(``Table``, ``Column``, ``Index``, ``ForeignKey``, ``Check``, ``Sql``).

``from activerel.migrations.ops import AddColumn, Column`` in a migration
file; also used by the writer, which imports exactly the names a file
needs. Imports :mod:`activerel.schema`."""
from __future__ import annotations

from ..mapping.markers import Sql
from ..schema.operations import (OPERATIONS, AddCheck, AddColumn, AddForeignKey, AlterColumn,
                                 CreateIndex, CreateTable, DropCheck, DropColumn, DropForeignKey,
                                 DropIndex, DropTable, RenameColumn, RenameTable, RunPython, RunSQL)
from ..schema.tables import CheckDef as Check
from ..schema.tables import ColumnDef as Column
from ..schema.tables import ForeignKeyDef as ForeignKey
from ..schema.tables import IndexDef as Index
from ..schema.tables import TableDef as Table

#: every name a migration file may import from here
NAMES = ("Table", "Column", "Index", "ForeignKey", "Check", "Sql", *OPERATIONS)

__all__ = [
    "AddCheck", "AddColumn", "AddForeignKey", "AlterColumn", "Check", "Column", "CreateIndex",
    "CreateTable", "DropCheck", "DropColumn", "DropForeignKey", "DropIndex", "DropTable",
    "ForeignKey", "Index", "NAMES", "RenameColumn", "RenameTable", "RunPython", "RunSQL", "Sql",
    "Table",
]
