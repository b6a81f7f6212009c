"""Helpers for tests of the Iceberg table format: a processor committing to a local table (a ``SqlCatalog`` in the
test's database, the warehouse in the test's store) and the table's rows."""

from __future__ import annotations

import datetime
import io
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from runtime.jobs.processor import BatchProcessor, ProcessorSettings
from runtime.table.catalog import local_location
from runtime.table.commit import IcebergTable
from runtime.transforms.spec import load_spec
from tests.support.pipeline import LAYOUT


def iceberg_table(store: Any, db_url: str, **options: Any) -> IcebergTable:
    """The local Iceberg table of ``store``, its catalog in the database at ``db_url``."""
    return IcebergTable(local_location(store, db_url), load_spec(None).partition_names, **options)


def iceberg_processor(store: Any, conn: Any, spark: Any, db_url: str, table: IcebergTable | None = None,
                      **settings: Any) -> BatchProcessor:
    """A processor of ``store`` committing to its local Iceberg table (``checkpoint=``: a crash hook; ``spec=``: a
    transform spec, the default one when not given)."""
    checkpoint = settings.pop("checkpoint", lambda name: None)
    spec = settings.pop("spec", None) or load_spec(None)
    return BatchProcessor(store, conn, lambda: spark, spec, ProcessorSettings(**settings), LAYOUT,
                          checkpoint=checkpoint, table=table or iceberg_table(store, db_url))


def table_rows(table: IcebergTable, snapshot_id: int | None = None) -> list[tuple]:
    """(id, source_s3_path, source_version, mode) of every row of the table (at ``snapshot_id``), sorted."""
    loaded = table.load()
    if loaded is None or loaded.current_snapshot() is None:
        return []
    arrow = loaded.scan(snapshot_id=snapshot_id).to_arrow()
    columns = [arrow[name].to_pylist() for name in ("id", "source_s3_path", "source_version", "mode")]
    return sorted(zip(*columns, strict=True))


def rows_per_source(rows: list[tuple], root: Path) -> Counter:
    """Count of table rows by source key (relative to the store root)."""
    prefix = str(root).rstrip("/") + "/"
    return Counter(r[1][len(prefix):] if r[1].startswith(prefix) else r[1] for r in rows)


def write_file(store: Any, key: str, source: str, version: int, ids: list[str], day: int = 5,
               extra: dict | None = None) -> str:
    """A curated file as an Iceberg batch stages it (one partition, the partition columns kept), written through
    ``store`` (local or S3); its Spark path."""
    n = len(ids)
    columns = {"id": ids, "event_date": [datetime.date(2024, 1, day)] * n, "event_mode": ["train"] * n,
               "source_s3_path": [source] * n, "source_version": pa.array([version] * n, pa.int32()),
               "year": pa.array([2024] * n, pa.int32()), "month": pa.array([1] * n, pa.int32()),
               "day": pa.array([day] * n, pa.int32()), "mode": ["train"] * n, **(extra or {})}
    sink = io.BytesIO()
    pq.write_table(pa.table(columns), sink)
    store.put_bytes(key, sink.getvalue())
    return store.spark_path(key)
