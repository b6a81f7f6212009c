"""The Iceberg part of ``mldp demo --table-format iceberg``: a fresh demo table (the earlier demo's dropped from
the local catalog: its warehouse went with its store folder), then what the table holds, how to read it and how to
pin a snapshot."""

from __future__ import annotations

import contextlib
from typing import Any


def demo_table(store: Any, url: str, partition_names: Any) -> Any:
    """The demo's Iceberg table in the demo database's local catalog, the earlier demo's entry dropped first."""
    from pyiceberg.exceptions import NoSuchTableError

    from runtime.table.catalog import local_location
    from runtime.table.commit import IcebergTable

    table = IcebergTable(local_location(store, url), partition_names)
    with contextlib.suppress(NoSuchTableError):
        table.catalog.drop_table(table.location.identifier)
    return table


def table_result(table: Any, program: str, db_option: str) -> dict:
    """What the demo's table holds, how to read it and the commands that pin and show a snapshot."""
    from runtime.table.view import reading_guide, table_summary

    loaded = table.load()
    summary = table_summary(loaded, table.location)
    rows = loaded.scan().to_arrow().num_rows if loaded.current_snapshot() is not None else 0
    return {
        "summary": summary, "rows_read": rows,
        "read": reading_guide(table.location, metadata_location=loaded.metadata_location),
        "pin": [f"{program} snapshot create demo-training-set --retain-days 30{db_option}",
                f"{program} snapshot list{db_option}",
                f"{program} snapshot show demo-training-set{db_option}"],
    }


def render_table_result(result: dict) -> str:
    """The demo's table, as text."""
    from runtime.table.view import render_table_summary

    lines = [render_table_summary(result["summary"]), f"rows read back through the catalog: {result['rows_read']:,}",
             "read it with pyiceberg:"]
    lines += ["  " + line for line in result["read"]["pyiceberg"].splitlines()]
    if "duckdb" in result["read"]:
        lines.append("or with DuckDB:")
        lines += ["  " + line for line in result["read"]["duckdb"].splitlines()]
    lines.append("pin this data as a training set, then read exactly it again later:")
    lines += [f"  {command}" for command in result["pin"]]
    return "\n".join(lines)


