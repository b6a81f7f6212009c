"""S3 Inventory reports built in the documented format (moto configures inventories but never writes a report):
``destination-prefix/source-bucket/config-ID/YYYY-MM-DDTHH-MMZ/manifest.json`` (with ``manifest.checksum``) and
Parquet data files under ``destination-prefix/source-bucket/config-ID/data/``, with the columns and types of a
Parquet inventory (keys plain, not URL-encoded: only CSV reports encode them)."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

#: The ``fileSchema`` of a Parquet report with these fields (as S3 writes it: a Parquet message type).
FILE_SCHEMA = ("message s3.inventory { required binary bucket (STRING); required binary key (STRING); "
               "optional binary version_id (STRING); optional boolean is_latest; optional boolean is_delete_marker; "
               "optional int64 size; optional int64 last_modified_date (TIMESTAMP(MILLIS,true)); "
               "optional binary e_tag (STRING); optional binary storage_class (STRING);}")
ARROW_SCHEMA = pa.schema([
    ("bucket", pa.string()), ("key", pa.string()), ("version_id", pa.string()), ("is_latest", pa.bool_()),
    ("is_delete_marker", pa.bool_()), ("size", pa.int64()), ("last_modified_date", pa.timestamp("ms", tz="UTC")),
    ("e_tag", pa.string()), ("storage_class", pa.string()),
])


@dataclass
class Row:
    """One inventory row."""

    key: str
    size: int | None
    last_modified: datetime
    e_tag: str | None
    is_latest: bool = True
    is_delete_marker: bool = False
    version_id: str | None = None


def rows_of(objects: Sequence[Any]) -> list[Row]:
    """Rows for listed objects (:class:`~runtime.storage.base.ObjectInfo`): what a report of them says."""
    return [Row(o.key, o.size, o.last_modified, o.etag) for o in objects]


def parquet_bytes(bucket: str, rows: Sequence[Row]) -> bytes:
    """One Parquet data file of ``rows``."""
    table = pa.table({
        "bucket": [bucket] * len(rows), "key": [r.key for r in rows], "version_id": [r.version_id for r in rows],
        "is_latest": [r.is_latest for r in rows], "is_delete_marker": [r.is_delete_marker for r in rows],
        "size": [r.size for r in rows], "last_modified_date": [r.last_modified.astimezone(UTC) for r in rows],
        "e_tag": [r.e_tag for r in rows], "storage_class": ["STANDARD"] * len(rows),
    }, schema=ARROW_SCHEMA)
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


#: The default report's time (its folder ``2026-12-06T00-00Z``).
REPORT_TIME = datetime(2026, 12, 6, tzinfo=UTC)


def build_report(rows: Sequence[Row], source_bucket: str, *, files: int = 2, prefix: str = "inventory/",
                 config: str = "raw-daily", file_format: str = "Parquet", schema: str = FILE_SCHEMA,
                 destination_bucket: str = "inventory-bucket", created: datetime = REPORT_TIME,
                 complete: bool = True) -> tuple[str, dict[str, bytes]]:
    """The manifest's key and every object of a report (manifest, checksum, data files) by key: the report of
    ``created`` (its folder ``YYYY-MM-DDTHH-MMZ``, minutes precision), without ``manifest.checksum`` unless
    ``complete`` (a report S3 is still writing)."""
    folder = created.astimezone(UTC).strftime("%Y-%m-%dT%H-%MZ")
    base = f"{prefix}{source_bucket}/{config}/"
    objects: dict[str, bytes] = {}
    entries = []
    per_file = max(1, -(-len(rows) // files))
    for index in range(files):
        data = parquet_bytes(source_bucket, rows[index * per_file:(index + 1) * per_file])
        key = f"{base}data/{index:04d}-{folder}.parquet"
        objects[key] = data
        entries.append({"key": key, "size": len(data), "MD5checksum": hashlib.md5(data).hexdigest()})
    manifest = json.dumps({
        "sourceBucket": source_bucket, "destinationBucket": f"arn:aws:s3:::{destination_bucket}",
        "version": "2016-11-30",
        "creationTimestamp": str(int(created.timestamp() * 1000)), "fileFormat": file_format,
        "fileSchema": schema, "files": entries,
    }).encode()
    manifest_key = f"{base}{folder}/manifest.json"
    objects[manifest_key] = manifest
    if complete:
        objects[f"{base}{folder}/manifest.checksum"] = hashlib.md5(manifest).hexdigest().encode()
    return manifest_key, objects


def write_local_report(root: Path, rows: Sequence[Row], source_bucket: str = "local", **kwargs: Any) -> Path:
    """A report under the directory ``root``; returns the manifest's path."""
    manifest_key, objects = build_report(rows, source_bucket, **kwargs)
    for key, data in objects.items():
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(data)
    return root / manifest_key


def put_s3_report(client: Any, bucket: str, rows: Sequence[Row], source_bucket: str, **kwargs: Any) -> str:
    """A report in the S3 bucket ``bucket``; returns the manifest's ``s3://`` URL."""
    manifest_key, objects = build_report(rows, source_bucket, destination_bucket=bucket, **kwargs)
    for key, data in objects.items():
        client.put_object(Bucket=bucket, Key=key, Body=data)
    return f"s3://{bucket}/{manifest_key}"
