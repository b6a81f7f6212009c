"""``mldp compact`` (:mod:`runtime.table.compact`): a partition's small files become one file in one atomic commit;
a reader scanning while the compaction commits sees every row exactly once; a tag still reads its rows."""

from __future__ import annotations

import contextlib
import threading

from runtime.cli import main
from runtime.storage.local import LocalStore
from runtime.table.commit import BatchFiles
from runtime.table.compact import compact
from runtime.table.snapshots import create_tag
from runtime.table.view import files_per_partition
from tests.support.iceberg import iceberg_table, table_rows, write_file


def no_lock():
    return contextlib.nullcontext()


def table_of_small_files(tmp_path, db_url, batches: int = 6):
    """A table of ``batches`` batches of two rows each: day 5 gets a file per batch, day 6 one file."""
    store = LocalStore(tmp_path)
    table = iceberg_table(store, db_url)
    for n in range(batches):
        key = f"staged/{n}.parquet"
        path = write_file(store, key, f"s3://b/{n}.jsonl", 1, [f"{n}-a", f"{n}-b"])
        if n == 0:
            table.data_key_prefix(store, key)
            other = write_file(store, "staged/other.parquet", "s3://b/other.jsonl", 1, ["o"], day=6)
            table.commit_batch(BatchFiles(f"b-{n}", [path, other]), no_lock)
        else:
            table.commit_batch(BatchFiles(f"b-{n}", [path]), no_lock)
    return table


def test_a_partitions_small_files_become_one_file_in_one_commit_and_a_tag_still_reads_its_rows(tmp_path, db_url):
    table = table_of_small_files(tmp_path, db_url)
    rows = table_rows(table)
    tag = create_tag(table, "before-compaction")
    before_snapshots = len(table.load().snapshots())
    report = compact(table, target_file_mb=64)
    assert report.before == {"year=2024/month=1/day=5/mode=train": 6, "year=2024/month=1/day=6/mode=train": 1}
    assert report.after == {"year=2024/month=1/day=5/mode=train": 1, "year=2024/month=1/day=6/mode=train": 1}
    assert len(table.load().snapshots()) == before_snapshots + 1  # one atomic commit
    assert table_rows(table) == rows and len(rows) == 13
    assert table_rows(table, tag["snapshot_id"]) == rows
    assert dict(files_per_partition(table.load())) == report.after
    assert compact(table).snapshot_id is None  # nothing left to compact


def test_a_reader_scanning_while_compaction_commits_sees_every_row_exactly_once(tmp_path, db_url):
    table = table_of_small_files(tmp_path, db_url)
    expected = table_rows(table)
    planned = table.load().scan()
    tasks = list(planned.plan_files())  # a reader that planned before the commit reads after it
    seen: list[list[tuple]] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            seen.append(table_rows(table))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        compact(table, target_file_mb=64)
        seen.append(table_rows(table))
    finally:
        stop.set()
        thread.join(60)
    from pyiceberg.expressions import AlwaysTrue
    from pyiceberg.io.pyarrow import ArrowScan

    loaded = table.load()
    late = ArrowScan(loaded.metadata, loaded.io, loaded.schema(), AlwaysTrue()).to_table(tasks)
    assert sorted(late["id"].to_pylist()) == sorted(r[0] for r in expected)
    assert len(seen) >= 1 and all(rows == expected for rows in seen)


def test_the_compact_command_reports_files_per_partition(tmp_path, db_url, capsys):
    table_of_small_files(tmp_path, db_url, batches=3)
    assert main(["compact", "--db", db_url, "--partition", "year=2024/month=1/day=5"]) == 0
    out = capsys.readouterr().out
    assert "1 partitions: 3 data files before, 1 after" in out
    assert "year=2024/month=1/day=5/mode=train: 3 -> 1" in out
