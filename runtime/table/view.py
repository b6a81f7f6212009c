"""What the operator sees of the Iceberg table: its state for ``mldp status`` (:func:`table_summary`) and how to read
it, or one snapshot of it, from pyiceberg, Spark on Glue, Athena and DuckDB, ready to paste (:func:`reading_guide`).
"""

from __future__ import annotations

import datetime
import statistics
from collections import Counter
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from platform_contract.table import BATCH_ID_PROPERTY
from runtime.table.catalog import TableLocation

if TYPE_CHECKING:
    from pyiceberg.table import Table


def when(timestamp_ms: int | None) -> str | None:
    """A snapshot's time as ISO-8601 UTC."""
    if timestamp_ms is None:
        return None
    return datetime.datetime.fromtimestamp(timestamp_ms / 1000, tz=datetime.timezone.utc).isoformat(
        timespec="seconds")


def files_per_partition(table: Table, snapshot_id: int | None = None) -> Counter:
    """Data files of each partition (``year=2024/month=1/...``) in the current snapshot (or ``snapshot_id``)."""
    counts: Counter = Counter()
    for task in table.scan(snapshot_id=snapshot_id).plan_files():
        counts[table.spec().partition_to_path(task.file.partition, table.schema())] += 1
    return counts


def table_summary(table: Table, location: TableLocation) -> dict[str, Any]:
    """The table for ``mldp status``: current snapshot, rows, data files, files per partition (median and worst),
    the last commit (its batch id) and the tags."""
    snapshot = table.current_snapshot()
    summary: dict[str, Any] = {"table": location.name, "location": table.location(), "snapshot_id": None,
                               "rows": 0, "data_files": 0, "partitions": 0, "files_per_partition_median": 0,
                               "files_per_partition_worst": 0, "worst_partition": None, "last_commit": None,
                               "tags": sorted(name for name, ref in table.metadata.refs.items()
                                              if ref.snapshot_ref_type == "tag")}
    if snapshot is None:
        return summary
    props = snapshot.summary.additional_properties if snapshot.summary is not None else {}
    per_partition = files_per_partition(table)
    worst = per_partition.most_common(1)[0] if per_partition else (None, 0)
    summary.update({
        "snapshot_id": snapshot.snapshot_id, "rows": int(props.get("total-records", 0)),
        "data_files": int(props.get("total-data-files", 0)), "partitions": len(per_partition),
        "files_per_partition_median": statistics.median(per_partition.values()) if per_partition else 0,
        "files_per_partition_worst": worst[1], "worst_partition": worst[0],
        "last_commit": {"at": when(snapshot.timestamp_ms),
                        "operation": str(snapshot.summary.operation.value) if snapshot.summary else None,
                        "batch_id": props.get(BATCH_ID_PROPERTY)},
    })
    return summary


def render_table_summary(summary: dict[str, Any]) -> str:
    """The table's lines of ``mldp status``."""
    if summary.get("snapshot_id") is None:
        return f"iceberg table {summary['table']}: no snapshot yet"
    last = summary["last_commit"] or {}
    lines = [
        f"iceberg table {summary['table']}: snapshot {summary['snapshot_id']}, {summary['rows']:,} rows, "
        f"{summary['data_files']:,} data files in {summary['partitions']:,} partitions",
        f"  files per partition: median {summary['files_per_partition_median']:g}, worst "
        f"{summary['files_per_partition_worst']} ({summary['worst_partition']})"
        + ("  -> mldp compact" if summary["files_per_partition_worst"] > 1 else ""),
        f"  last commit: {last.get('at')} {last.get('operation')}"
        + (f" (batch {last['batch_id']})" if last.get("batch_id") else ""),
    ]
    if summary["tags"]:
        lines.append(f"  tags: {', '.join(summary['tags'])}  (mldp snapshot list)")
    return "\n".join(lines)


def without_password(url: str) -> str:
    """``url`` with its password, if any, replaced by ``PASSWORD``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":PASSWORD@", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def reading_guide(location: TableLocation, snapshot_id: int | None = None, tag: str | None = None,
                  metadata_location: str | None = None) -> dict[str, str]:
    """How to read the table (or exactly one snapshot of it), by tool, ready to paste."""
    name = location.name
    pinned = f"snapshot_id={snapshot_id}" if snapshot_id is not None else ""
    if location.glue:
        catalog = (f'from pyiceberg.catalog.glue import GlueCatalog\n'
                   f'table = GlueCatalog("glue").load_table("{name}")')
    else:
        catalog = ('from pyiceberg.catalog.sql import SqlCatalog\n'
                   f'table = SqlCatalog("mldp", uri="{without_password(location.sql_uri or "")}")'
                   f'.load_table("{name}")')
    guide = {"pyiceberg": f"{catalog}\nframe = table.scan({pinned}).to_pandas()"}
    version = f" VERSION AS OF {snapshot_id}" if snapshot_id is not None else ""
    glue_name = f"glue_catalog.{name}"
    guide["spark_on_glue"] = (
        "# job parameter --datalake-formats iceberg, and --conf spark.sql.catalog.glue_catalog="
        "org.apache.iceberg.spark.SparkCatalog --conf spark.sql.catalog.glue_catalog.catalog-impl="
        "org.apache.iceberg.aws.glue.GlueCatalog\n"
        + (f'spark.read.option("snapshot-id", {snapshot_id}).table("{glue_name}")' if snapshot_id is not None
           else f'spark.table("{glue_name}")'))
    if tag is not None:
        guide["spark_on_glue"] += f'\n# or by the tag: spark.sql("SELECT * FROM {glue_name}.tag_{tag}")'
    guide["athena"] = f'-- Athena\nSELECT * FROM "{location.namespace}"."{location.table}"' + (
        f" FOR VERSION AS OF {snapshot_id}" if snapshot_id is not None else "")
    if not location.glue:
        guide["athena"] = "(the table is in the local SqlCatalog; Athena reads the Glue Data Catalog's tables)"
    if metadata_location:
        pin = f", snapshot_from_id => {snapshot_id}" if snapshot_id is not None else ""
        guide["duckdb"] = ("INSTALL iceberg; LOAD iceberg;\n"
                           f"SELECT * FROM iceberg_scan('{metadata_location}'{pin});")
    guide["spark_sql"] = f"-- Spark SQL on Glue\nSELECT * FROM {glue_name}{version}"
    return guide
