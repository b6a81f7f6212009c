"""The smoke check of a deployed stack in the Iceberg format (``workflow.table_format=iceberg``): the committed rows
are readable through the catalog.

The stack's outputs :data:`platform_contract.outputs.ICEBERG_TABLE` (``database.table``) and
:data:`platform_contract.outputs.ICEBERG_WAREHOUSE` name the table; :class:`SmokeTable` opens it in the Glue Data
Catalog with pyiceberg (``GlueCatalog``, as the processor commits to it), scans it filtered on the smoke run's own
source keys (``source_s3_path``), and counts the rows of each. The data files that hold them are named
``batch-<batch id>-NNNN...parquet``, which gives the batches (for the dead-letter and staging checks). Clean-up
deletes the run's rows in one table commit (never a data file by hand: the table's metadata lists them).
"""

from __future__ import annotations

import posixpath
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from runtime.errors import UsageError

#: The lineage column the scan filters on.
SOURCE_COLUMN = "source_s3_path"


@dataclass
class TableRows:
    """What the table shows for the smoke run: rows per source, the data files holding them, and an error (the
    table could not be read)."""

    rows_by_source: Counter = field(default_factory=Counter)
    data_files: list[str] = field(default_factory=list)
    error: str | None = None


class SmokeTable:
    """The curated Iceberg table of the stack under test (``name``: ``database.table``), its catalog opened by
    ``catalog_factory`` (default: the Glue Data Catalog of the AWS configuration, ``region`` if given)."""

    def __init__(self, name: str, warehouse: str = "", region: str | None = None,
                 catalog_factory: Callable[[], Any] | None = None) -> None:
        database, _, table = name.partition(".")
        if not database or not table:
            raise UsageError(f"--iceberg-table must be database.table, not {name!r}")
        self.identifier = (database, table)
        self.name = name
        self.warehouse = warehouse
        self.region = region
        self._catalog_factory = catalog_factory or self._glue_catalog

    def _glue_catalog(self) -> Any:
        from runtime.table.catalog import TableLocation, open_catalog

        properties = (("glue.region", self.region), ("s3.region", self.region)) if self.region else ()
        return open_catalog(TableLocation(self.identifier[0], self.identifier[1], self.warehouse.rstrip("/"),
                                          glue=True, properties=properties))

    def _load(self) -> Any:
        return self._catalog_factory().load_table(self.identifier)

    def observe(self, sources: Sequence[str]) -> TableRows:
        """The rows of the current snapshot whose ``source_s3_path`` is one of ``sources``, counted per source,
        and the data files that hold them (a failure to read is :attr:`TableRows.error`, not an exception)."""
        from pyiceberg.expressions import In

        seen = TableRows()
        if not sources:
            return seen
        try:
            table = self._load()
            scan = table.scan(row_filter=In(SOURCE_COLUMN, sorted(sources)), selected_fields=(SOURCE_COLUMN,))
            seen.data_files = sorted({task.file.file_path for task in scan.plan_files()})
            seen.rows_by_source = Counter(str(v) for v in scan.to_arrow()[SOURCE_COLUMN].to_pylist())
        except Exception as exc:  # a missing table, a denied GetTable or GetObject: the check says which
            seen.error = f"{type(exc).__name__}: {exc}"
        return seen

    def delete_rows(self, sources: Sequence[str]) -> int:
        """Delete the rows of ``sources`` in one table commit (the clean-up); the number of rows deleted."""
        from pyiceberg.expressions import In

        if not sources:
            return 0
        before = self.observe(sources)
        if before.error is not None or not before.rows_by_source:
            return 0
        self._load().delete(In(SOURCE_COLUMN, sorted(sources)), snapshot_properties={"mldp.smoke-cleanup": "true"})
        return sum(before.rows_by_source.values())


def batch_of(data_file: str, pattern: Any) -> str | None:
    """The batch id in a data file's name (``pattern``: the curated name pattern with a ``batch`` group)."""
    match = pattern.match(posixpath.basename(data_file))
    return match.group("batch") if match else None
