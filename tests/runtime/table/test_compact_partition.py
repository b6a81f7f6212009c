"""``mldp compact --partition`` selects partitions on whole path segments.

Defect (review-s3): the partition was matched as a plain string prefix, so ``year=2024/month=1`` also rewrote
``month=10``..``month=12`` (and ``day=1`` took ``day=10``..``day=19``); :func:`runtime.table.compact.in_partition`
matches whole segments."""

from __future__ import annotations

import contextlib

import pyarrow as pa

from runtime.storage.local import LocalStore
from runtime.table.commit import BatchFiles
from runtime.table.compact import compact, in_partition
from tests.support.iceberg import iceberg_table, write_file


def test_compacting_month_1_leaves_month_10_alone(tmp_path, db_url):
    store = LocalStore(tmp_path)
    table = iceberg_table(store, db_url)
    first = write_file(store, "staged/0.parquet", "s3://b/0.jsonl", 1, ["0"])
    table.data_key_prefix(store, "staged/0.parquet")
    files = [first]
    for n, month in enumerate([1, 10, 10], start=1):
        files.append(write_file(store, f"staged/{n}.parquet", f"s3://b/{n}.jsonl", 1, [str(n)],
                                extra={"month": pa.array([month], pa.int32())}))
    for n, path in enumerate(files):
        table.commit_batch(BatchFiles(f"b-{n}", [path]), contextlib.nullcontext)
    report = compact(table, partition="year=2024/month=1")
    assert all("month=1/" in p for p in report.before), f"compacted beyond month=1: {sorted(report.before)}"


def test_a_partition_matches_whole_segments():
    assert in_partition("year=2024/month=1/day=5/mode=train", "year=2024/month=1/")
    assert in_partition("year=2024/month=1", "year=2024/month=1")
    assert not in_partition("year=2024/month=10/day=5/mode=train", "year=2024/month=1")
    assert not in_partition("year=2024/month=1/day=15", "year=2024/month=1/day=1")
