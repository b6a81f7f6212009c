"""Registration from an S3 Inventory report (``mldp list --from-inventory s3://…/manifest.json`` or a local path).

An inventory report is a ``manifest.json`` (``sourceBucket``, ``destinationBucket``, ``fileFormat``, ``fileSchema``,
``files`` with each data file's ``key``, ``size`` and ``MD5checksum``) and Parquet data files with the columns
``bucket, key, version_id, is_latest, is_delete_marker, size, last_modified_date, e_tag, ...`` (keys are plain in
Parquet; only CSV reports URL-encode them). Only Parquet reports are read.

Each data file is checked (size, MD5, the columns the manifest's ``fileSchema`` promises) and streamed with
``pyarrow`` (``iter_batches`` of ``chunk_size`` rows): memory holds one batch. Delete markers and non-latest versions
are skipped; keys outside the prefixes the listing would list (the raw prefix, or ``--prefix``) are out of scope, and
the report's own prefix is the pipeline's (never registered). Every other row is registered as a listing would:
size, last-modified and ETag into the same chunked registration (:func:`runtime.jobs.lister.register_discovered`),
so an inventory older than a registered version is stale (never rolls it back: a row older than the registered
version with an ETag the key never had is checked with one ``HeadObject``), and a listing after it finds every key
unchanged. The common rows (under the historical folder, or any requested prefix) are turned into the COPY
input by ``pyarrow`` itself; the others go through the lister's key filter one by one and are counted by reason.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from runtime.db.discovery import report_folder_time
from runtime.db.registration import PreparedPage, _csv_rows, current_object
from runtime.errors import MldpError
from runtime.jobs.lister import DEFAULT_CHUNK_SIZE, KeyFilter, ListingSummary, register_discovered
from runtime.layout import HISTORICAL_FOLDER, MAX_KEY_BYTES, Layout
from runtime.storage.base import ObjectInfo, ObjectStore

if TYPE_CHECKING:
    from psycopg2.extensions import connection as Connection

__all__ = ["REQUIRED_COLUMNS", "InventoryError", "InventoryFile", "InventoryStats", "Manifest", "inventory_pages",
           "open_inventory", "parse_manifest", "register_inventory"]

#: Columns a report must have (``fileSchema`` and every data file).
REQUIRED_COLUMNS = ("bucket", "key", "size", "last_modified_date", "e_tag")
#: Columns read when the report has them (a report of current versions only has neither).
VERSION_COLUMNS = ("is_latest", "is_delete_marker")
_SCHEMA_FIELD = re.compile(r"\b(?:required|optional|repeated)\s+\w+\s+(\w+)")
_COPY_OPTIONS = pacsv.WriteOptions(include_header=False, quoting_style="needed")
#: Connections that register a report's chunks at once (:func:`runtime.db.registration.register_pages`): a report
#: lists each key once (latest versions only), so its chunks are disjoint. The bulk statement's CPU in the backend
#: is the bound of a report's registration (~6.5 µs a new key, against ~1 µs of pyarrow and Python in this
#: process); a second backend is a second process on another core: 0.9-1.6x (median 1.12x) in 7 alternating runs
#: of 1,000,000 keys on a 2-core machine at a load of 4-6, 1.6x when the other core is free (BENCHMARKS.md, issue
#: 21). More writers than cores add contention on the same index pages (the file_id and claim indexes grow at
#: their right end), not throughput.
WRITERS = 2


class InventoryError(MldpError):
    """The inventory report cannot be used (manifest, format, schema or checksum): nothing more is registered."""


@dataclass(frozen=True)
class InventoryFile:
    """One data file of a report, as the manifest lists it."""

    key: str
    size: int
    md5: str


@dataclass
class Manifest:
    """A parsed, checked ``manifest.json``."""

    source_bucket: str
    destination_bucket: str
    file_format: str
    columns: list[str]
    files: list[InventoryFile]
    created: datetime | None = None

    @property
    def report_prefix(self) -> str:
        """The prefix the report's files live under (``destination-prefix/source-bucket/config-ID/``)."""
        return self.files[0].key.rsplit("data/", 1)[0] if self.files else ""


@dataclass
class InventoryStats:
    """Rows of a report that were not candidates for registration at all."""

    rows: int = 0
    delete_markers: int = 0
    not_latest: int = 0
    out_of_scope: int = 0
    files: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, int]:
        """JSON-ready counts."""
        return {"inventory_rows": self.rows, "inventory_files": self.files, "delete_markers": self.delete_markers,
                "not_latest": self.not_latest, "out_of_scope": self.out_of_scope}


def parse_manifest(data: bytes) -> Manifest:
    """Check and parse a ``manifest.json``: :class:`InventoryError` for anything but a usable Parquet report."""
    try:
        doc = json.loads(data)
        files = [InventoryFile(str(f["key"]), int(f["size"]), str(f["MD5checksum"]).lower()) for f in doc["files"]]
        source, destination = str(doc["sourceBucket"]), str(doc["destinationBucket"])
        file_format, schema = str(doc["fileFormat"]), str(doc["fileSchema"])
    except (ValueError, KeyError, TypeError) as err:
        raise InventoryError(f"not an S3 Inventory manifest: {err!r} missing or malformed") from err
    if file_format.lower() != "parquet":
        raise InventoryError(f"inventory fileFormat {file_format!r}: only Parquet reports are read (configure the "
                             "inventory with Parquet output)")
    columns = _SCHEMA_FIELD.findall(schema)
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise InventoryError(f"inventory fileSchema lacks {', '.join(missing)}: add them to the inventory's "
                             "optional fields (Size, LastModifiedDate, ETag)")
    created = doc.get("creationTimestamp")
    when = datetime.fromtimestamp(int(created) / 1000, timezone.utc) if str(created or "").isdigit() else None
    return Manifest(source, destination.rsplit(":", 1)[-1], file_format, columns, files, when)


def _md5_copy(source: Any, target: Any) -> tuple[str, int]:
    digest, size = hashlib.md5(usedforsecurity=False), 0
    while chunk := source.read(1 << 20):
        digest.update(chunk)
        size += len(chunk)
        if target is not None:
            target.write(chunk)
    return digest.hexdigest(), size


@contextmanager
def _checked_file(reader: Any, file: InventoryFile, local: Path | None) -> Iterator[str]:
    """A local path of ``file`` whose size and MD5 match the manifest (S3: downloaded to a temporary file)."""
    if local is not None:
        with open(local, "rb") as source:
            md5, size = _md5_copy(source, None)
        path, temp = str(local), None
    else:
        temp = tempfile.NamedTemporaryFile(prefix="mldp-inventory-", suffix=".parquet", delete=False)  # noqa: SIM115
        with reader(file.key) as source, temp:
            md5, size = _md5_copy(source, temp)
        path = temp.name
    try:
        if (md5, size) != (file.md5, file.size):
            raise InventoryError(f"inventory data file {file.key}: MD5 {md5} and size {size:,} do not match the "
                                 f"manifest's {file.md5} and {file.size:,} (incomplete or altered): nothing more "
                                 "registered")
        yield path
    finally:
        if temp is not None:
            os.unlink(temp.name)


def _scope_masks(keys: pa.Array, scope: Sequence[str], fast: Sequence[str], slow_prefixes: Sequence[str]
                 ) -> tuple[pa.Array, pa.Array]:
    """Which rows are in scope, and which of them can skip the per-key filter (surely registrable)."""
    in_scope = pc.or_(*[pc.starts_with(keys, p) for p in scope]) if len(scope) > 1 else pc.starts_with(keys, scope[0])
    sure = pc.or_(*[pc.starts_with(keys, p) for p in fast]) if len(fast) > 1 else pc.starts_with(keys, fast[0])
    for prefix in slow_prefixes:
        sure = pc.and_(sure, pc.invert(pc.starts_with(keys, prefix)))
    sure = pc.and_(sure, pc.less_equal(pc.binary_length(keys), MAX_KEY_BYTES))
    sure = pc.and_(sure, pc.invert(pc.match_substring(keys, "\x00")))
    sure = pc.and_(sure, pc.invert(pc.ends_with(keys, "/")))  # a folder object: the key filter counts it
    return pc.fill_null(in_scope, False), pc.fill_null(sure, False)


def inventory_pages(path: str, keep: KeyFilter, scope: Sequence[str], stats: InventoryStats,
                    chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[PreparedPage]:
    """The registration pages of one checked data file: latest versions only, in scope, filtered."""
    parquet = pq.ParquetFile(path)
    names = parquet.schema_arrow.names
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise InventoryError(f"inventory data file {path} lacks the column(s) {', '.join(missing)} of its fileSchema")
    layout = keep.layout
    fast = list(scope) if not keep.default_folders_only else [layout.raw_prefix + HISTORICAL_FOLDER]
    slow_prefixes = [*layout.pipeline_prefixes.values(), *keep.excluded_prefixes]
    columns = ["key", "size", "last_modified_date", "e_tag", *[c for c in VERSION_COLUMNS if c in names]]
    for batch in parquet.iter_batches(batch_size=chunk_size, columns=columns):
        stats.rows += batch.num_rows
        if "is_delete_marker" in names:
            marker = pc.fill_null(batch.column("is_delete_marker"), False)
            stats.delete_markers += pc.sum(marker).as_py() or 0
            batch = batch.filter(pc.invert(marker))
        if "is_latest" in names:
            latest = pc.fill_null(batch.column("is_latest"), True)
            stats.not_latest += batch.num_rows - (pc.sum(latest).as_py() or 0)
            batch = batch.filter(latest)
        in_scope, sure = _scope_masks(batch.column("key"), scope, fast, slow_prefixes)
        stats.out_of_scope += batch.num_rows - (pc.sum(in_scope).as_py() or 0)
        yield _page(batch.filter(sure), batch.filter(pc.and_(in_scope, pc.invert(sure))), keep)


def _utc(value: datetime) -> datetime:
    return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _page(sure: pa.RecordBatch, others: pa.RecordBatch, keep: KeyFilter) -> PreparedPage:
    """The COPY input of a batch: the sure rows written by pyarrow, the others through ``keep`` one by one."""
    stamps = pc.divide(pc.cast(pc.cast(sure.column("last_modified_date"), pa.timestamp("ms")), pa.int64()), 1000.0)
    table = pa.table({"k": sure.column("key"), "s": sure.column("size"), "t": stamps,
                      "e": pc.utf8_trim(sure.column("e_tag"), '"')})
    sink = io.BytesIO()
    pacsv.write_csv(table, sink, _COPY_OPTIONS)
    text = sink.getvalue().decode("utf-8")
    count = sure.num_rows
    kept = [ObjectInfo(row["key"], int(row["size"] or 0), _utc(row["last_modified_date"]),
                       (row["e_tag"] or "").strip('"'))
            for row in others.to_pylist() if keep(row["key"])]
    if kept:
        text += _csv_rows(kept).getvalue()
        count += len(kept)
    return PreparedPage(count, io.StringIO(text))


class _Report:
    """Where a report's manifest and data files are read from: a local directory or an S3 bucket."""

    def __init__(self, location: str, s3_client: Any = None) -> None:
        self.location = location
        parts = urlsplit(location)
        self.bucket: str | None = parts.netloc if parts.scheme == "s3" else None
        self.client = s3_client
        if self.bucket is not None and self.client is None:
            import boto3

            self.client = boto3.client("s3")
        self.manifest_key = parts.path.lstrip("/") if self.bucket else None

    def manifest_bytes(self) -> bytes:
        if self.bucket is None:
            try:
                return Path(self.location).read_bytes()
            except OSError as err:
                raise InventoryError(f"cannot read the inventory manifest {self.location}: {err}") from err
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self.manifest_key)["Body"].read()
        except Exception as err:
            raise InventoryError(f"cannot read the inventory manifest {self.location}: {err}") from err

    def local_path(self, key: str) -> Path | None:
        """A local report's data file: under the first ancestor of the manifest that holds ``key``."""
        if self.bucket is not None:
            return None
        for ancestor in Path(self.location).resolve().parents:
            if (ancestor / key).is_file():
                return ancestor / key
        raise InventoryError(f"inventory data file {key} not found under any folder above {self.location}")

    def open(self, key: str) -> Any:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"]


def open_inventory(location: str, s3_client: Any = None) -> tuple[Manifest, _Report]:
    """The checked manifest at ``location`` (``s3://bucket/key`` or a local path) and its reader."""
    report = _Report(location, s3_client)
    return parse_manifest(report.manifest_bytes()), report


def register_inventory(store: ObjectStore, conn: Connection, location: str, prefixes: Sequence[str] | None = None,
                       chunk_size: int = DEFAULT_CHUNK_SIZE, layout: Layout | None = None, wait_seconds: float = 0.0,
                       show_progress: bool = True, s3_client: Any = None,
                       connect: Callable[[], Connection] | None = None) -> tuple[ListingSummary, InventoryStats]:
    """Register the report at ``location`` (module docstring) for ``store`` (an S3 store must be the report's
    source bucket), with the listing's prefixes (``None``: the reference folders) and its rules. With ``connect``
    (a new connection to the same database), :data:`WRITERS` connections register its chunks at once."""
    from runtime.jobs.lister import check_prefixes

    layout = layout or Layout()
    checked = check_prefixes(prefixes, layout)
    manifest, report = open_inventory(location, s3_client)
    bucket = getattr(store, "bucket", None)
    if bucket is not None and bucket != manifest.source_bucket:
        raise InventoryError(f"the inventory is of bucket {manifest.source_bucket!r}, not of {store.url}")
    own = (manifest.report_prefix,) if manifest.destination_bucket in (bucket, manifest.source_bucket) else ()
    keep = KeyFilter(layout, default_folders_only=not checked, excluded_prefixes=tuple(p for p in own if p))
    stats = InventoryStats(files=len(manifest.files))
    scope = checked or [layout.raw_prefix]

    def pages() -> Iterator[PreparedPage]:
        for file in manifest.files:
            with _checked_file(report.open, file, report.local_path(file.key)) as path:
                yield from inventory_pages(path, keep, scope, stats, chunk_size)

    # the report's time (recorded: the scheduled lister registers a report only once): its folder's, else the manifest's
    when = report_folder_time(location.rsplit("/", 2)[-2] if location.count("/") >= 2 else "") or manifest.created
    details = {"manifest": location, "report_time": when.isoformat() if when else None}
    summary = register_discovered(conn, pages(), keep=keep, chunk_size=chunk_size, show_progress=show_progress,
                                  wait_seconds=wait_seconds, prefixes=checked, source="inventory", prepared=True,
                                  details=details, head=current_object(store), connect=connect, writers=WRITERS)
    return summary, stats

