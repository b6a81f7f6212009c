"""``mldp status`` shows the Iceberg table (:mod:`runtime.operator.table_status`): current snapshot, rows, data
files, files per partition (median and worst), the last commit; nothing when the database holds no table."""

from __future__ import annotations

import contextlib
import json

from runtime.cli import main
from runtime.storage.local import LocalStore
from runtime.table.commit import BatchFiles
from tests.support.iceberg import iceberg_table, write_file


def test_status_shows_the_table_after_its_commits_and_nothing_without_one(tmp_path, db_url, capsys):
    assert main(["status", "--db", db_url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["iceberg"] is None
    store = LocalStore(tmp_path)
    table = iceberg_table(store, db_url)
    for n, day in enumerate((5, 5, 5, 6)):
        path = write_file(store, f"staged/{n}.parquet", f"s3://b/{n}.jsonl", 1, [f"{n}-a", f"{n}-b"], day=day)
        if n == 0:
            table.data_key_prefix(store, "staged/0.parquet")
        table.commit_batch(BatchFiles(f"b-{n}", [path]), contextlib.nullcontext)
    assert main(["status", "--db", db_url, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)["iceberg"]
    assert (shown["rows"], shown["data_files"], shown["partitions"]) == (8, 4, 2)
    assert (shown["files_per_partition_median"], shown["files_per_partition_worst"]) == (2, 3)
    assert shown["worst_partition"] == "year=2024/month=1/day=5/mode=train"
    assert shown["last_commit"]["batch_id"] == "b-3"
    assert shown["snapshot_id"] == table.load().current_snapshot().snapshot_id
    assert main(["status", "--db", db_url]) == 0
    text = capsys.readouterr().out
    assert "iceberg table mldp.json_parsed" in text and "worst 3" in text and "mldp compact" in text
