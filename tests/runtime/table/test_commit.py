"""One batch = one Iceberg commit, exactly once (:mod:`runtime.table.commit`), without Spark: files written with
pyarrow as Spark stages them (partition columns kept, one partition per file), a SqlCatalog in the test's
database."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from platform_contract.table import BATCH_ID_PROPERTY
from runtime.db.iceberg_catalog import advisory_lock
from runtime.storage.local import LocalStore
from runtime.table.commit import BatchFiles, TableCommitFailed, lock_key
from tests.support.iceberg import iceberg_table, table_rows, write_file


def prepared(tmp_path: Path, db_url: str, **options):
    store = LocalStore(tmp_path)
    first = write_file(store, "staged/a.parquet", "s3://b/a.jsonl", 1, ["1", "2", "3"])
    table = iceberg_table(store, db_url, **options)
    prefix = table.data_key_prefix(store, "staged/a.parquet")
    return store, table, prefix, first


def no_lock():
    import contextlib

    return contextlib.nullcontext()


def test_a_batch_is_committed_once_with_its_id_and_a_replay_commits_nothing(tmp_path, db_url):
    _store, table, prefix, first = prepared(tmp_path, db_url)
    assert prefix.startswith("curated-data-lake/iceberg/mldp.db/json_parsed/data/")
    batch = BatchFiles("b-1", [first])
    snapshot = table.commit_batch(batch, no_lock)
    assert table.commit_batch(batch, no_lock) == snapshot  # the replay finds its batch id
    loaded = table.load()
    assert [s.summary.additional_properties[BATCH_ID_PROPERTY] for s in loaded.snapshots()] == ["b-1"]
    assert len(table_rows(table)) == 3
    assert (table.counts.committed, table.counts.already_committed) == (1, 1)


def test_a_new_version_retracts_the_rows_of_the_earlier_one_in_the_same_commit(tmp_path, db_url):
    store, table, _prefix, first = prepared(tmp_path, db_url)
    other = write_file(store, "staged/o.parquet", "s3://b/other.jsonl", 1, ["9"], day=6)
    table.commit_batch(BatchFiles("b-1", [first, other]), no_lock)
    second = write_file(store, "staged/a2.parquet", "s3://b/a.jsonl", 2, ["1", "4"])
    table.commit_batch(BatchFiles("b-2", [second], {"s3://b/a.jsonl": 2}), no_lock)
    assert table_rows(table) == [("1", "s3://b/a.jsonl", 2, "train"), ("4", "s3://b/a.jsonl", 2, "train"),
                                 ("9", "s3://b/other.jsonl", 1, "train")]
    loaded = table.load()
    last_two = loaded.snapshots()[-2:]  # the delete and the append: one catalog commit, both carry the batch id
    assert {s.summary.additional_properties[BATCH_ID_PROPERTY] for s in last_two} == {"b-2"}
    assert table.commit_batch(BatchFiles("b-2", [second], {"s3://b/a.jsonl": 2}), no_lock) == \
        loaded.current_snapshot().snapshot_id


def test_new_columns_of_the_staged_files_are_added_to_the_table(tmp_path, db_url):
    store, table, _prefix, first = prepared(tmp_path, db_url)
    table.commit_batch(BatchFiles("b-1", [first]), no_lock)
    rescued = write_file(store, "staged/r.parquet", "s3://b/r.jsonl", 1, ["7"],
                         extra={"_rescued_data": ['{"new_field": 1}']})
    table.commit_batch(BatchFiles("b-2", [rescued]), no_lock)
    arrow = table.load().scan().to_arrow()
    assert "_rescued_data" in arrow.schema.names
    assert sorted(arrow["_rescued_data"].to_pylist(), key=str) == [None, None, None, '{"new_field": 1}']


def test_a_conflict_is_retried_on_fresh_metadata_then_the_run_stops_without_committing(tmp_path, db_url,
                                                                                          monkeypatch):
    from pyiceberg.exceptions import CommitFailedException
    from pyiceberg.table import Table

    _store, table, _prefix, first = prepared(tmp_path, db_url, retry_wait=0)
    monkeypatch.setattr(Table, "_do_commit", lambda self, *a, **k: (_ for _ in ()).throw(
        CommitFailedException("another writer committed first")))
    with pytest.raises(TableCommitFailed) as failed:
        table.commit_batch(BatchFiles("b-1", [first]), no_lock)
    assert failed.value.exit_status == 3
    assert (table.counts.conflicts, table.counts.failures) == (3, 1)
    monkeypatch.undo()
    assert table_rows(table) == []
    table.commit_batch(BatchFiles("b-1", [first]), no_lock)  # the replay of the next run
    assert len(table_rows(table)) == 3


def test_a_conflict_that_clears_is_retried_and_committed_once(tmp_path, db_url, monkeypatch):
    from pyiceberg.exceptions import CommitFailedException
    from pyiceberg.table import Table

    _store, table, _prefix, first = prepared(tmp_path, db_url, retry_wait=0)
    real, calls = Table._do_commit, []

    def flaky(self, *args, **kwargs):
        calls.append(1)
        if len(calls) <= 5:  # pyiceberg's own 4 retries, then one of ours
            raise CommitFailedException("the optimizer committed first")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Table, "_do_commit", flaky)
    table.commit_batch(BatchFiles("b-1", [first]), no_lock)
    assert table.counts.conflicts == 1 and table.counts.failures == 0
    assert len(table_rows(table)) == 3


def test_the_projects_commits_are_serialized_by_an_advisory_lock(tmp_path, db_url):
    import psycopg2

    _store, table, _prefix, _first = prepared(tmp_path, db_url)
    key = lock_key(table.location)
    holder, waiter = psycopg2.connect(db_url), psycopg2.connect(db_url)
    order: list[str] = []
    try:
        with advisory_lock(holder, key):
            thread = threading.Thread(target=lambda: _take(waiter, key, order))
            thread.start()
            thread.join(0.5)
            order.append("holder releases")
        thread.join(30)
        assert order == ["holder releases", "waiter holds"]
    finally:
        holder.close()
        waiter.close()


def _take(conn, key: int, order: list[str]) -> None:
    with advisory_lock(conn, key):
        order.append("waiter holds")
