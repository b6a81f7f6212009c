"""Schema evolution of the Iceberg table (docs/iceberg.md, "Schema evolution"): what a batch's curated files may
change in the table's schema, checked before the batch's manifest (so a refused batch is given back uncharged and
its staging cleaned) and again in its commit.

* **Added columns** (a spec that reads a new field, ``_rescued_data`` on a table created before it) are added by
  ``union_by_name``, in the batch's commit: rows committed before read null in them until reprocessed.
* **Widened types** that Iceberg promotes (``int`` -> ``long``, ``float`` -> ``double``, a wider decimal) are
  evolved the same way; a file of a narrower type than the table's (``int`` into ``long``) is read promoted.
* **Retyped columns** (any other type change, e.g. ``string`` -> ``long``) and **dropped columns** (a table column
  the batch's files lack) are refused with :class:`TableSchemaRefused`: the run stops (exit status 3) and no file
  is charged; the table is never changed. The spec cannot say how to retype or drop a column in place: the change
  is made under a new column name (``mldp schema diff OLD NEW`` explains). ``_rescued_data`` may be absent
  (``schema_policy: ignore`` writes none): it reads null.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runtime.errors import RunStopped
from runtime.transforms.names import RESCUED_DATA_COLUMN

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.table import Table, Transaction

#: Table columns a batch's files may lack (they read null there).
MAY_BE_ABSENT = frozenset({RESCUED_DATA_COLUMN})


class TableSchemaRefused(RunStopped):
    """A batch's files would retype or drop a column of the Iceberg table: the run stops before committing (exit
    status 3), no file is charged and the table is unchanged."""


def _refusal(table_name: str, what: str) -> TableSchemaRefused:
    return TableSchemaRefused(
        f"the Iceberg table {table_name} refuses this batch: {what}. Existing rows and new rows would disagree in "
        "that column; the table is unchanged and no file was charged. Put the new shape under a new column name "
        "instead (mldp schema diff OLD NEW explains), or go back to the spec the table was written with")


def check_evolution(table: Table, schema: pa.Schema) -> None:
    """Raise :class:`TableSchemaRefused` when files of ``schema`` (a staged file's arrow schema) would drop or
    retype a column of ``table``; nothing is changed."""
    _union(table, table.transaction(), schema)


def evolve(table: Table, transaction: Transaction, schema: pa.Schema) -> None:
    """In ``transaction``, add ``schema``'s new columns and Iceberg's type promotions to ``table``'s schema
    (``union_by_name``; nothing when nothing changes), or raise :class:`TableSchemaRefused`."""
    update = _union(table, transaction, schema)
    update.commit()


def _union(table: Table, transaction: Transaction, schema: pa.Schema):
    from pyiceberg.exceptions import ResolveError, ValidationError

    name = ".".join(table.name()[-2:])
    dropped = [f.name for f in table.schema().fields if f.name not in schema.names and f.name not in MAY_BE_ABSENT]
    if dropped:
        raise _refusal(name, f"column(s) {', '.join(dropped)} are missing from its files (dropped from the spec)")
    update = transaction.update_schema()
    try:
        update.union_by_name(schema)
        update._apply()
    except (ValidationError, ResolveError, ValueError, TypeError) as exc:
        raise _refusal(name, f"a column would change type ({exc})") from None
    return update
