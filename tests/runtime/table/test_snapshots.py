"""Pinned training snapshots (:mod:`runtime.table.snapshots`, ``mldp snapshot``): a tag reads the same rows after
more batches and a retracted version; which snapshot first holds a batch's rows."""

from __future__ import annotations

import contextlib
import json

import pytest

from runtime.cli import main
from runtime.errors import UsageError
from runtime.storage.local import LocalStore
from runtime.table.commit import BatchFiles
from runtime.table.snapshots import create_tag, first_snapshots, list_tags, show_tag
from tests.support.iceberg import iceberg_table, table_rows, write_file


def no_lock():
    return contextlib.nullcontext()


def test_a_tag_reads_the_same_rows_after_more_batches_and_a_retracted_version(tmp_path, db_url):
    store = LocalStore(tmp_path)
    first = write_file(store, "staged/a.parquet", "s3://b/a.jsonl", 1, ["1", "2"])
    table = iceberg_table(store, db_url)
    table.data_key_prefix(store, "staged/a.parquet")
    table.commit_batch(BatchFiles("b-1", [first]), no_lock)
    pinned = create_tag(table, "training-1", retain_days=30)
    rows_at_tag = table_rows(table)

    second = write_file(store, "staged/a2.parquet", "s3://b/a.jsonl", 2, ["1-new"])  # the key's next version
    more = write_file(store, "staged/c.parquet", "s3://b/c.jsonl", 1, ["3"], day=7)
    table.commit_batch(BatchFiles("b-2", [second, more], {"s3://b/a.jsonl": 2}), no_lock)

    assert table_rows(table) != rows_at_tag
    assert table_rows(table, pinned["snapshot_id"]) == rows_at_tag == [
        ("1", "s3://b/a.jsonl", 1, "train"), ("2", "s3://b/a.jsonl", 1, "train")]
    [listed] = list_tags(table)
    assert (listed["name"], listed["rows"], listed["files"], listed["batch_ids"], listed["retain_days"]) == (
        "training-1", 2, 1, ["b-1"], 30)
    shown = show_tag(table, "training-1")
    assert f"snapshot_id={pinned['snapshot_id']}" in shown["read"]["pyiceberg"]
    assert f"VERSION AS OF {pinned['snapshot_id']}" in shown["read"]["spark_sql"]
    with pytest.raises(UsageError, match="exists already"):
        create_tag(table, "training-1")
    found = first_snapshots(table, ["b-1", "b-2", "b-3"])
    assert [f["snapshot_id"] is not None for f in found] == [True, True, False]
    assert found[0]["snapshot_id"] == pinned["snapshot_id"]


def test_the_snapshot_command_creates_lists_and_shows_a_tag(tmp_path, db_url, capsys):
    store = LocalStore(tmp_path)
    first = write_file(store, "staged/a.parquet", "s3://b/a.jsonl", 1, ["1", "2"])
    table = iceberg_table(store, db_url)
    table.data_key_prefix(store, "staged/a.parquet")
    table.commit_batch(BatchFiles("b-1", [first]), no_lock)
    assert main(["snapshot", "create", "pinned", "--db", db_url]) == 0
    assert "tagged snapshot" in capsys.readouterr().out
    assert main(["snapshot", "list", "--db", db_url, "--json"]) == 0
    [tag] = json.loads(capsys.readouterr().out)
    assert (tag["name"], tag["rows"], tag["batches"]) == ("pinned", 2, 1)
    assert main(["snapshot", "show", "pinned", "--db", db_url]) == 0
    out = capsys.readouterr().out
    assert "# pyiceberg" in out and "# athena" in out and str(tag["snapshot_id"]) in out
    assert main(["snapshot", "show", "missing", "--db", db_url]) == 2
