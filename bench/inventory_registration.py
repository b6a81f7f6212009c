"""Registration from an S3 Inventory report, end to end into the real PostgreSQL: ``mldp list --from-inventory`` on a
generated Parquet report of N keys (default 10,000,000), in a child process (its peak RSS is its own), against the
naive reading of the same report in the same run (every row made an object and registered through the listing's
per-object path, as a listing's pages are), and against one writer connection instead of the CLI's
:data:`~runtime.jobs.inventory.WRITERS` on the smaller report, on a fresh database each.

The report is generated in the documented format (``manifest.json`` with ``fileSchema`` and MD5 checksums, Parquet
files of 1,000,000 rows with the inventory's columns; one key in 50 is a delete marker or an older version, which
are read and skipped), so the figure includes the checksum pass over every file.

    python -m bench.inventory_registration [--keys 10000000] [--reference-keys 1000000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

from bench.memory import peak_rss_mb
from runtime.jobs.inventory import WRITERS

ROOT = Path(__file__).resolve().parents[1]


ROWS_PER_FILE = 1_000_000
SOURCE_BUCKET = "bench-source"


def make_report(root: Path, keys: int) -> Path:
    """A report of ``keys`` current keys under the historical folder (plus skipped rows), reused when present."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    base = root / "inventory" / SOURCE_BUCKET / "raw-daily"
    manifest = base / "2026-12-06T00-00Z" / "manifest.json"
    if manifest.exists():
        return manifest
    from tests.support.inventory import ARROW_SCHEMA, FILE_SCHEMA

    (base / "data").mkdir(parents=True, exist_ok=True)
    entries = []
    stamp = pa.scalar(1_764_547_200_000, pa.int64())
    for number, start in enumerate(range(0, keys, ROWS_PER_FILE)):
        count = min(ROWS_PER_FILE, keys - start)
        index = pa.array(range(start, start + count), pa.int64())
        names = pc.binary_join_element_wise(
            "raw-json-data/all_historical_files/", pc.utf8_lpad(pc.cast(pc.divide(index, 1000), pa.string()), 5, "0"),
            "/part-", pc.utf8_lpad(pc.cast(index, pa.string()), 9, "0"), ".json", "")
        skipped = pc.equal(pc.bit_wise_and(index, 63), 7)  # a delete marker now and then
        table = pa.table({
            "bucket": pa.array([SOURCE_BUCKET] * count), "key": names, "version_id": pa.nulls(count, pa.string()),
            "is_latest": pc.invert(skipped), "is_delete_marker": skipped,
            "size": pc.add(pc.bit_wise_and(index, 4095), 204_800),
            "last_modified_date": pc.cast(pc.add(stamp, pc.multiply(index, 1000)), pa.timestamp("ms", tz="UTC")),
            "e_tag": pc.utf8_lpad(pc.cast(index, pa.string()), 32, "a"),
            "storage_class": pa.array(["STANDARD"] * count),
        }, schema=ARROW_SCHEMA)
        key = f"inventory/{SOURCE_BUCKET}/raw-daily/data/{number:05d}.parquet"
        pq.write_table(table, root / key, compression="snappy")
        data = (root / key).read_bytes()
        entries.append({"key": key, "size": len(data), "MD5checksum": hashlib.md5(data).hexdigest()})
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps({
        "sourceBucket": SOURCE_BUCKET, "destinationBucket": "arn:aws:s3:::bench-inventory", "version": "2016-11-30",
        "creationTimestamp": "1765065600000", "fileFormat": "Parquet", "fileSchema": FILE_SCHEMA, "files": entries}))
    return manifest


def naive(manifest: str, db: str) -> dict:
    """In this process: every row an object, registered through the listing's per-object path."""
    from datetime import UTC

    import psycopg2
    import pyarrow.parquet as pq

    from runtime.jobs.inventory import open_inventory
    from runtime.jobs.lister import KeyFilter, register_discovered
    from runtime.layout import Layout
    from runtime.storage.base import ObjectInfo

    parsed, report = open_inventory(manifest)
    conn = psycopg2.connect(db)
    started = time.perf_counter()

    def pages():
        for file in parsed.files:
            for batch in pq.ParquetFile(report.local_path(file.key)).iter_batches(batch_size=20_000):
                yield [ObjectInfo(r["key"], r["size"], r["last_modified_date"].astimezone(UTC), r["e_tag"])
                       for r in batch.to_pylist() if r["is_latest"] and not r["is_delete_marker"]]

    summary = register_discovered(conn, pages(), keep=KeyFilter(Layout(), True), show_progress=False)
    seconds = time.perf_counter() - started
    conn.close()
    return {"new": summary.counts.new, "seconds": seconds,
            "peak_rss_mb": peak_rss_mb()}


def _ours(manifest: Path, db: str, store: Path, writers: int | None = None) -> dict:
    started = time.perf_counter()
    more = ["--writers", str(writers)] if writers else []
    result = subprocess.run([sys.executable, "-m", "bench.inventory_registration", "--child-ours", str(manifest),
                             "--db", db, "--store", str(store), *more], capture_output=True, text=True, check=True,
                            cwd=ROOT)
    seconds = time.perf_counter() - started
    child = json.loads(result.stdout.strip().splitlines()[-1])
    return {"new": child["new"], "seconds": seconds, "in_process_seconds": child["in_process_seconds"],
            "peak_rss_mb": child["peak_rss_mb"],
            "rows": child["inventory_rows"], "skipped": child["delete_markers"] + child["not_latest"]}


def ours_child(manifest: str, db: str, store: str, writers: int | None = None) -> dict:
    """In this process: ``mldp list --from-inventory`` (the CLI's own code path; ``writers``: instead of
    :data:`runtime.jobs.inventory.WRITERS` connections), and this process's peak RSS."""
    import contextlib
    import io

    from runtime.cli import main as cli
    from runtime.jobs import inventory

    if writers:
        inventory.WRITERS = writers

    out = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(out):
        cli(["list", "--store", store, "--db", db, "--from-inventory", manifest, "--json", "--no-metrics"])
    report = json.loads(out.getvalue().strip().splitlines()[-1])
    report["in_process_seconds"] = time.perf_counter() - started
    report["peak_rss_mb"] = peak_rss_mb()
    return report


def _naive_child(manifest: Path, db: str) -> dict:
    result = subprocess.run([sys.executable, "-m", "bench.inventory_registration", "--child-naive", str(manifest),
                             "--db", db], capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(result.stdout.strip().splitlines()[-1])


def run(keys: int = 10_000_000, reference_keys: int = 1_000_000) -> dict:
    """Ours on ``keys`` and on ``reference_keys``, the naive path on ``reference_keys``; fresh databases."""
    from bench.pg import bench_server, fresh_database

    work = ROOT / ".mldp" / "bench-inventory"
    store = work / "store"
    store.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    small = make_report(work / f"report-{reference_keys}", reference_keys)
    large = make_report(work / f"report-{keys}", keys)
    setup = time.perf_counter() - started
    with bench_server() as admin:
        with fresh_database(admin) as url:
            naive_small = _naive_child(small, url)
        with fresh_database(admin) as url:
            ours_small = _ours(small, url, store)
        with fresh_database(admin) as url:
            one_writer_small = _ours(small, url, store, writers=1)
        with fresh_database(admin) as url:
            ours_large = _ours(large, url, store)
    rate = ours_large["new"] / ours_large["seconds"]
    # in-process time on both sides (the naive path runs in its child without the interpreter start either)
    small_rate = ours_small["new"] / ours_small["in_process_seconds"]
    naive_rate = naive_small["new"] / naive_small["seconds"]
    one_rate = one_writer_small["new"] / one_writer_small["in_process_seconds"]
    rows = [
        {"figure": f"keys registered per second from an inventory of {keys:,} keys, end to end (child process)",
         "ours": round(rate), "reference": None, "unit": "keys/s", "higher_is_better": True,
         "target": "≥ 100,000 keys/s", "met": rate >= 100_000},
        {"figure": f"peak RSS registering {keys:,} inventory keys", "ours": round(ours_large["peak_rss_mb"], 1),
         "reference": None, "unit": "MB", "higher_is_better": False, "target": "< 500 MB",
         "met": ours_large["peak_rss_mb"] < 500},
        {"figure": f"keys/s at {reference_keys:,} keys (reference: every row an object, the listing's path)",
         "ours": round(small_rate), "reference": round(naive_rate), "unit": "keys/s", "higher_is_better": True,
         "target": "faster than reference", "met": small_rate > naive_rate},
        {"figure": f"keys/s at {reference_keys:,} keys, {WRITERS} writer connections (reference: one)",
         "ours": round(small_rate), "reference": round(one_rate), "unit": "keys/s", "higher_is_better": True,
         "target": "-", "met": None},
    ]
    return {"benchmark": "inventory_registration", "keys": keys, "reference_keys": reference_keys,
            "ours": ours_large, "ours_small": ours_small, "one_writer_small": one_writer_small,
            "naive_small": naive_small,
            "setup_seconds": round(setup, 1), "report_rows": rows}


def main() -> None:
    """Command line: ``--keys N``, ``--reference-keys N``; prints one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", type=int, default=10_000_000)
    parser.add_argument("--reference-keys", type=int, default=1_000_000)
    parser.add_argument("--child-ours", help=argparse.SUPPRESS)
    parser.add_argument("--child-naive", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--writers", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_ours:
        print(json.dumps(ours_child(args.child_ours, args.db, args.store, args.writers)))
    elif args.child_naive:
        print(json.dumps(naive(args.child_naive, args.db)))
    else:
        print(json.dumps(run(args.keys, args.reference_keys)))


if __name__ == "__main__":
    main()
