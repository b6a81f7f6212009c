"""A batch's commit is recognised after its snapshot expired.

Defect (review-s3): "was this batch committed?" was answered from the snapshot history alone, which snapshot expiry
(the Glue retention optimizer, ``expire_snapshots``) trims. A replay of a committed batch whose tracking commit was
missing then committed it again (every row doubled), and the staging-lost path deleted data files the current
snapshot still referenced. :func:`runtime.table.commit.holds_batch_files` now also reads the current snapshot's
data files (the batch's ``batch-<id>-`` names, or the exact files) once the history is truncated."""

from __future__ import annotations

import contextlib

from runtime.storage.local import LocalStore
from tests.support.iceberg import iceberg_table, table_rows, write_file


def test_a_replay_after_snapshot_expiry_does_not_commit_the_batch_twice(tmp_path, db_url):
    store = LocalStore(tmp_path)
    first = write_file(store, "staged/a.parquet", "s3://b/a.jsonl", 1, ["1", "2", "3"])
    table = iceberg_table(store, db_url)
    table.data_key_prefix(store, "staged/a.parquet")
    from runtime.table.commit import BatchFiles

    batch = BatchFiles("b-1", [first])
    table.commit_batch(batch, contextlib.nullcontext)  # committed; the run dies before its tracking commit
    later = write_file(store, "staged/b.parquet", "s3://b/b.jsonl", 1, ["9"])
    table.commit_batch(BatchFiles("b-2", [later]), contextlib.nullcontext)  # other batches go on
    loaded = table.load()
    # the retention optimizer expires every snapshot but the current one (Glue's default keeps 1 snapshot, 5 days)
    old = [s.snapshot_id for s in loaded.snapshots() if s.snapshot_id != loaded.current_snapshot().snapshot_id]
    loaded.maintenance.expire_snapshots().by_ids(old).commit()
    assert len(table_rows(table)) == 4
    table.commit_batch(batch, contextlib.nullcontext)  # the roll-forward of batch b-1 (its tracking commit missing)
    rows = table_rows(table)
    assert len(rows) == len(set(rows)) == 4, f"batch b-1 committed twice: {rows}"


def test_a_committed_batch_whose_snapshot_expired_is_not_retracted_from_under_the_table(tmp_path, db_url):
    """Staging lost after the table commit (recovery's RETRACT path): a batch the table holds must be refused
    (:class:`BatchCommitted`). Once its snapshot expired, recovery takes it for uncommitted and deletes its data
    files, which the current snapshot still references: every scan of the table then fails (file not found), and
    its files, given back, are converted and committed again."""
    import pytest

    from runtime.table.commit import BatchCommitted, BatchFiles

    store = LocalStore(tmp_path)
    staged = write_file(store, "staged/a.parquet", "s3://b/a.jsonl", 1, ["1", "2", "3"])
    table = iceberg_table(store, db_url)
    prefix = table.data_key_prefix(store, "staged/a.parquet")
    final = f"{prefix}year=2024/month=1/day=5/mode=train/batch-b-1-0000.snappy.parquet"
    store.copy("staged/a.parquet", final)  # published into the data location, as the batch protocol does
    del staged
    table.commit_batch(BatchFiles("b-1", [store.spark_path(final)]), contextlib.nullcontext)
    other = write_file(store, "staged/b.parquet", "s3://b/b.jsonl", 1, ["9"])
    table.commit_batch(BatchFiles("b-2", [other]), contextlib.nullcontext)
    loaded = table.load()
    old = [s.snapshot_id for s in loaded.snapshots() if s.snapshot_id != loaded.current_snapshot().snapshot_id]
    loaded.maintenance.expire_snapshots().by_ids(old).commit()
    with pytest.raises(BatchCommitted):
        table.uncommitted_data_key_prefix(store, "b-1")
