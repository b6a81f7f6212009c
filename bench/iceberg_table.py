"""The Iceberg table format (issue 19), in one run:

* end-to-end throughput of ``--table-format iceberg`` against ``parquet`` on the same input (the processor, with
  several batches, so several commits), on one SparkSession;
* the commit time of one batch against the table's history (1, 100 and 1,000 earlier snapshots), ours (the batch
  id looked up in the history, ``check_duplicate_files`` off) against pyiceberg's default ``add_files`` (which
  reads every manifest of the table to refuse files already in it);
* files per partition after 50 batches, before and after ``mldp compact``;
* the read time of a full scan before and after that compaction.

    python -m bench.iceberg_table [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import shutil
import statistics
import time
from pathlib import Path

import psycopg2
import pyarrow as pa
import pyarrow.parquet as pq

from bench.pg import bench_server, fresh_database
from bench.processor_throughput import generate
from runtime.storage.local import LocalStore
from runtime.table.catalog import local_location
from runtime.table.commit import BatchFiles, IcebergTable
from runtime.table.compact import compact
from runtime.table.view import files_per_partition
from runtime.transforms.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]
PARTITIONS = ("year", "month", "day", "mode")


def _file(store: LocalStore, key: str, batch: int, day: int, rows: int) -> str:
    """A curated file as an Iceberg batch stages it (one partition, its columns kept); its path."""
    ids = [f"{batch}-{day}-{i}" for i in range(rows)]
    table = pa.table({"id": ids, "event_date": [datetime.date(2024, 1, day)] * rows,
                      "source_s3_path": [f"s3://bench/{batch}.jsonl"] * rows,
                      "source_version": pa.array([1] * rows, pa.int32()),
                      "payload": [f"value {i} " * 8 for i in range(rows)],
                      "year": pa.array([2024] * rows, pa.int32()), "month": pa.array([1] * rows, pa.int32()),
                      "day": pa.array([day] * rows, pa.int32()), "mode": ["train"] * rows})
    path = Path(store.spark_path(key))
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return str(path)


def _table(store: LocalStore, url: str, first: str) -> IcebergTable:
    table = IcebergTable(local_location(store, url), PARTITIONS)
    table.data_key_prefix(store, first)
    return table


def commit_time_vs_history(url: str, work: Path, levels: tuple[int, ...], samples: int = 5) -> dict:
    """Median seconds of one batch commit at each history level, ours and pyiceberg's default add_files."""
    work.mkdir(parents=True, exist_ok=True)
    store = LocalStore(work)
    first = _file(store, "staged/0.parquet", 0, 1, 10)
    table = _table(store, url, "staged/0.parquet")
    lock = contextlib.nullcontext
    ours: dict[int, float] = {}
    reference: dict[int, float] = {}
    done = 0
    for level in levels:
        while done < level:  # fill the history with one-file batches
            path = first if done == 0 else _file(store, f"staged/{done}.parquet", done, 1 + done % 28, 10)
            table.commit_batch(BatchFiles(f"fill-{done}", [path]), lock)
            done += 1
        ours_times, reference_times = [], []
        for sample in range(samples):
            path = _file(store, f"staged/m{level}-{sample}.parquet", 10_000 + sample, 1 + sample % 28, 10)
            started = time.perf_counter()
            table.commit_batch(BatchFiles(f"m-{level}-{sample}", [path]), lock)
            ours_times.append(time.perf_counter() - started)
            path = _file(store, f"staged/r{level}-{sample}.parquet", 20_000 + sample, 1 + sample % 28, 10)
            started = time.perf_counter()
            loaded = table.load()
            transaction = loaded.transaction()
            transaction.add_files([path], snapshot_properties={"bench": "reference"})  # check_duplicate_files=True
            transaction.commit_transaction()
            reference_times.append(time.perf_counter() - started)
            done += 2
        ours[level], reference[level] = statistics.median(ours_times), statistics.median(reference_times)
    return {"ours_commit_seconds": ours, "reference_commit_seconds": reference}


def compaction(url: str, work: Path, batches: int, partitions: int, rows: int) -> dict:
    """Files per partition and full-scan seconds after ``batches`` batches, before and after ``compact``."""
    work.mkdir(parents=True, exist_ok=True)
    store = LocalStore(work)
    table = None
    for batch in range(batches):
        paths = [_file(store, f"staged/{batch}-{day}.parquet", batch, day, rows) for day in range(1, partitions + 1)]
        if table is None:
            table = _table(store, url, f"staged/{batch}-1.parquet")
        table.commit_batch(BatchFiles(f"b-{batch}", paths), contextlib.nullcontext)
    assert table is not None

    def scan_seconds() -> tuple[float, int]:
        best, count = float("inf"), 0
        for _ in range(3):
            started = time.perf_counter()
            count = table.load().scan().to_arrow().num_rows
            best = min(best, time.perf_counter() - started)
        return best, count

    before_files = files_per_partition(table.load())
    before_scan, rows_before = scan_seconds()
    report = compact(table, target_file_mb=128)
    after_files = files_per_partition(table.load())
    after_scan, rows_after = scan_seconds()
    assert rows_before == rows_after == batches * partitions * rows
    return {"files_per_partition_before": max(before_files.values()),
            "files_per_partition_after": max(after_files.values()),
            "scan_seconds_before": before_scan, "scan_seconds_after": after_scan, "rows": rows_after,
            "compaction_seconds": report.seconds}


def throughput(url_factory, work: Path, megabytes: int, files: int, batch_size: int) -> dict:
    """Seconds to list and drain the same input as Parquet and as Iceberg (best of two rounds each)."""
    from runtime.jobs.lister import run_lister
    from runtime.jobs.processor import BatchProcessor, ProcessorSettings
    from runtime.spark.session import get_spark

    spark = get_spark("bench-iceberg")
    spec = load_spec(None)
    raw_bytes = generate(work / "input", megabytes, files)
    times: dict[str, list[float]] = {"parquet": [], "iceberg": []}
    for round_ in range(3):  # round 0 warms Spark up for both
        for table_format in ("parquet", "iceberg"):
            store_dir = work / f"{table_format}-{round_}"
            shutil.copytree(work / "input", store_dir)
            store = LocalStore(store_dir)
            with url_factory() as url:
                conn = psycopg2.connect(url)
                run_lister(store, conn, show_progress=False)
                table = IcebergTable(local_location(store, url), spec.partition_names) \
                    if table_format == "iceberg" else None
                processor = BatchProcessor(store, conn, lambda: spark, spec, ProcessorSettings(batch_size=batch_size),
                                           table=table)
                started = time.perf_counter()
                reports = processor.drain()
                seconds = time.perf_counter() - started
                conn.close()
            if round_:
                times[table_format].append(seconds)
            shutil.rmtree(store_dir, ignore_errors=True)
    parquet, iceberg = min(times["parquet"]), min(times["iceberg"])
    return {"input_mb": round(raw_bytes / 1e6, 1), "files": files, "batches": len(reports),
            "parquet_mb_per_s": raw_bytes / 1e6 / parquet, "iceberg_mb_per_s": raw_bytes / 1e6 / iceberg,
            "parquet_seconds": times["parquet"], "iceberg_seconds": times["iceberg"]}


def run(quick: bool = False) -> dict:
    """Every figure of the module docstring, with report rows."""
    work = ROOT / ".mldp" / "bench-iceberg"
    shutil.rmtree(work, ignore_errors=True)
    levels = (1, 100, 300) if quick else (1, 100, 1000)
    with bench_server() as admin:
        with fresh_database(admin) as url:
            history = commit_time_vs_history(url, work / "history", levels)
        with fresh_database(admin) as url:
            compacted = compaction(url, work / "compaction", 50, 4, 200)
        speed = throughput(lambda: fresh_database(admin), work / "throughput", 10 if quick else 40,
                           8, 2)
    shutil.rmtree(work, ignore_errors=True)
    top = levels[-1]
    ours_top, ref_top = history["ours_commit_seconds"][top], history["reference_commit_seconds"][top]
    rows = [
        {"figure": f"MB/s end to end, iceberg vs parquet format ({speed['input_mb']} MB in {speed['files']} files, "
                   f"{speed['batches']} batches)", "ours": round(speed["iceberg_mb_per_s"], 1),
         "reference": round(speed["parquet_mb_per_s"], 1), "unit": "MB/s", "higher_is_better": True,
         "target": "≥ 0.9x parquet", "met": speed["iceberg_mb_per_s"] >= 0.9 * speed["parquet_mb_per_s"]},
    ]
    for level in levels:
        rows.append({"figure": f"one batch's commit with {level} earlier snapshots (reference: add_files with "
                               "check_duplicate_files)",
                     "ours": round(history["ours_commit_seconds"][level], 3),
                     "reference": round(history["reference_commit_seconds"][level], 3), "unit": "s",
                     "higher_is_better": False, "target": "-", "met": None})
    rows.append({"figure": f"commit time growth, {top} vs 1 earlier snapshots",
                 "ours": round(ours_top / history["ours_commit_seconds"][1], 1),
                 "reference": round(ref_top / history["reference_commit_seconds"][1], 1), "unit": "x",
                 "higher_is_better": False, "target": "explained (docs/iceberg.md)", "met": None})
    rows.append({"figure": "data files per partition after 50 batches, after vs before mldp compact",
                 "ours": compacted["files_per_partition_after"], "reference": compacted["files_per_partition_before"],
                 "unit": "files", "higher_is_better": False, "target": "1 per partition",
                 "met": compacted["files_per_partition_after"] == 1})
    rows.append({"figure": f"full scan of {compacted['rows']:,} rows, after vs before compaction",
                 "ours": round(compacted["scan_seconds_after"], 3),
                 "reference": round(compacted["scan_seconds_before"], 3), "unit": "s", "higher_is_better": False,
                 "target": "-", "met": None})
    return {"benchmark": "iceberg_table", "history": history, "compaction": compacted, "throughput": speed,
            "report_rows": rows}


def main() -> None:
    """Command line: ``--quick``; prints one JSON document."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(json.dumps(run(args.quick), indent=2, default=str))


if __name__ == "__main__":
    main()
