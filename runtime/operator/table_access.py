"""How the operator commands (``mldp snapshot``, ``compact``, ``status``, ``inspect``) reach the Iceberg table:
the local ``SqlCatalog`` of the tracking database, or the Glue Data Catalog with ``--iceberg-database``. Python
3.9-compatible; pyiceberg is imported only when a table is opened."""

from __future__ import annotations

import argparse
from typing import Any

from runtime.db.credentials import resolve_credentials


def open_operator_table(args: argparse.Namespace, required: bool = True) -> Any:
    """The :class:`runtime.table.commit.IcebergTable` the command's ``--db`` / ``--iceberg-database`` /
    ``--iceberg-table`` name; ``None`` when there is none and ``required`` is false (else a one-line error)."""
    from runtime.errors import UsageError
    from runtime.table.catalog import operator_location
    from runtime.table.commit import IcebergTable

    database = getattr(args, "iceberg_database", None)
    url = None if database else resolve_credentials(getattr(args, "db", None), None).connection_url()
    location = operator_location(url, database, getattr(args, "iceberg_table", None))
    table = IcebergTable(location, ()) if location is not None else None
    if table is not None and table.load() is None:
        table = None
    if table is None and required:
        raise UsageError("no Iceberg table in this tracking database's catalog (write one with mldp process "
                         "--table-format iceberg), or give --iceberg-database for the Glue Data Catalog")
    return table
