"""The Iceberg table format end to end (real PostgreSQL, local Spark, local store): a crash at every checkpoint
of an Iceberg batch, then a normal run, leaves every good record in the table exactly once; a new version of a
key retracts the rows of the earlier one in the same commit, with or without a crash in between."""

from __future__ import annotations

from collections import Counter

import pytest

from platform_contract.table import BATCH_ID_PROPERTY
from runtime.jobs.checkpoints import ICEBERG_CHECKPOINTS, Checkpoint
from runtime.jobs.lister import run_lister
from runtime.sample_data import generate_sample
from runtime.storage.local import LocalStore
from tests.support.iceberg import iceberg_processor, iceberg_table, rows_per_source, table_rows
from tests.support.pipeline import LAYOUT, SimulatedCrash, crash_at, dead_letter_rows, states

pytestmark = pytest.mark.spark


def assert_in_table_exactly_once(root, conn, db_url, expected) -> None:
    """Every file terminal as expected; each good record once in the table (nothing loose under the curated
    prefix); each bad record once in the dead-letter prefix; each batch committed to the table once."""
    assert states(conn) == expected.files
    table = iceberg_table(LocalStore(root), db_url)
    rows = table_rows(table)
    assert len(rows) == len(set(rows)), "a row is in the table twice"
    assert dict(rows_per_source(rows, root)) == {k: v for k, v in expected.good_by_file.items() if v}
    dead = Counter(r["source_s3_path"].split(str(root).rstrip("/") + "/")[-1] for r in dead_letter_rows(root))
    assert dict(dead) == {k: v for k, v in expected.bad_by_file.items() if v}
    assert not (root / LAYOUT.curated_prefix).exists() or not list((root / LAYOUT.curated_prefix).rglob("*.parquet"))
    committed = [s.summary.additional_properties.get(BATCH_ID_PROPERTY) for s in table.load().snapshots()]
    with conn.cursor() as cur:
        cur.execute("SELECT batch_id::text FROM processing_batches WHERE state = 'COMMITTED'")
        assert sorted(committed) == sorted(row[0] for row in cur.fetchall())
    conn.commit()
    assert not list((root / LAYOUT.staging_prefix).rglob("*.parquet")), "staging left behind"


#: From the manifest to the tracking commit: a crash there leaves a batch the next run rolls forward (no new
#: conversion), through the same steps as a first run's finish.
ROLLED_FORWARD = ICEBERG_CHECKPOINTS[ICEBERG_CHECKPOINTS.index(Checkpoint.AFTER_COMPLETION_MARKER):
                                     ICEBERG_CHECKPOINTS.index(Checkpoint.AFTER_COMMIT) + 1]
#: Before the manifest (the batch is abandoned, its files given back) and after the tracking commit (only the
#: archive is left): nothing of the table happens there, so each is as in the Parquet format, whose crash matrix
#: (tests/runtime/jobs/test_processor.py) covers each alone; here they are covered once, one per batch of one run.
AS_IN_PARQUET = (Checkpoint.AFTER_STAGING_WRITE, Checkpoint.MID_ARCHIVE, Checkpoint.AFTER_ARCHIVE)
#: Before the conversion: the Iceberg batch has done nothing the Parquet one has not (the Parquet matrix's alone).
PARQUET_MATRIX_ONLY = (Checkpoint.AFTER_CLAIM, Checkpoint.AFTER_PRECHECK)


def test_every_checkpoint_of_an_iceberg_batch_is_crashed_at_here_or_in_the_parquet_matrix():
    assert sorted(ROLLED_FORWARD + AS_IN_PARQUET + PARQUET_MATRIX_ONLY) == sorted(ICEBERG_CHECKPOINTS)


def test_a_crash_at_every_step_from_the_manifest_on_each_recovered_by_a_run_that_crashes_at_the_next(
        tmp_path, db_conn, db_url, spark):
    """One conversion, then a crash at each checkpoint from the manifest on, in order: the run that rolls the
    batch forward after a crash at one checkpoint is the one that crashes at the next (so it passed the first),
    and a normal run ends it. Every roll-forward goes through the same steps as a first run's finish, so each
    checkpoint is proven recovered, and the table gets the batch exactly once (after the Iceberg commit, the
    replays find its batch id)."""
    store = LocalStore(tmp_path)
    expected = generate_sample(store, files=2, records_per_file=8,
                               include_bad_inputs=["malformed-line-among-good.jsonl"])
    run_lister(store, db_conn)
    passed = []
    for point in ROLLED_FORWARD:
        crashing = iceberg_processor(store, db_conn, spark, db_url, batch_size=100, checkpoint=crash_at(point))
        with pytest.raises(SimulatedCrash):
            crashing.run_once()
        passed.append(point)
    assert passed == list(ROLLED_FORWARD)
    iceberg_processor(store, db_conn, spark, db_url, batch_size=100, backoff_base_seconds=0).drain()
    assert_in_table_exactly_once(tmp_path, db_conn, db_url, expected)
    table = iceberg_table(store, db_url)
    assert len(table.load().snapshots()) == 1, "the batch was committed to the table more than once"


def test_a_crash_before_the_manifest_and_after_the_tracking_commit_each_then_the_next_runs_commit_exactly_once(
        tmp_path, db_conn, db_url, spark):
    """The checkpoints of :data:`AS_IN_PARQUET`, one per batch: a crash after the staging (the staged files of a
    table keep their partition columns) abandons the batch of two files, which are then claimed one per batch; the
    first of those crashes mid-archive, the second after its archive; a normal run ends it all."""
    store = LocalStore(tmp_path)
    expected = generate_sample(store, files=1, records_per_file=8,
                               include_bad_inputs=["malformed-line-among-good.jsonl"])
    run_lister(store, db_conn)
    for point in AS_IN_PARQUET:
        crashing = iceberg_processor(store, db_conn, spark, db_url, batch_size=100, backoff_base_seconds=0,
                                     checkpoint=crash_at(point))
        with pytest.raises(SimulatedCrash):
            crashing.run_once()
    iceberg_processor(store, db_conn, spark, db_url, batch_size=100, backoff_base_seconds=0).drain()
    assert_in_table_exactly_once(tmp_path, db_conn, db_url, expected)


@pytest.mark.parametrize("crashes", [(), ("mid_publish", "after_table_commit")], ids=["no-crash", "crashes"])
def test_a_new_version_of_a_key_replaces_the_rows_of_the_earlier_one(crashes, tmp_path, db_conn, db_url, spark):
    """Without a crash, and with a crash mid-publish then one after the Iceberg commit (the run rolling the
    first forward is the one that crashes at the second) before the run that ends the batch."""
    store = LocalStore(tmp_path)
    expected = generate_sample(store, files=2, records_per_file=5, include_bad_inputs=False)
    key, other = sorted(expected.files)
    run_lister(store, db_conn)
    iceberg_processor(store, db_conn, spark, db_url).drain()
    table = iceberg_table(store, db_url)
    before = table_rows(table)
    store.put_bytes(key, b'{"id": "v2-1", "DATE": "2024-03-01", "MODE": "train"}\n'
                         b'{"id": "v2-2", "DATE": "2024-03-02", "MODE": "test"}\n')  # a corrected file
    assert run_lister(store, db_conn).as_dict()["changed"] == 1
    for crash in crashes:
        with pytest.raises(SimulatedCrash):
            iceberg_processor(store, db_conn, spark, db_url, checkpoint=crash_at(crash)).run_once()
    iceberg_processor(store, db_conn, spark, db_url).drain()
    rows = table_rows(table)
    source = f"{tmp_path}/{key}"
    assert sorted(r for r in rows if r[1] == source) == [("v2-1", source, 2, "train"), ("v2-2", source, 2, "test")]
    assert [r for r in rows if r[1] != source] == [r for r in before if r[1] != source]  # the other key untouched
    assert states(db_conn) == dict.fromkeys([key, other], "SUCCEEDED")


def test_a_commit_that_keeps_conflicting_stops_the_run_with_3_charges_no_file_and_the_next_run_commits_it(
        tmp_path, db_url, db_conn, spark, monkeypatch, caplog):
    from pyiceberg.exceptions import CommitFailedException
    from pyiceberg.table import Table

    from runtime.cli import main
    from runtime.table import commit

    store = LocalStore(tmp_path)
    expected = generate_sample(store, files=2, records_per_file=4, include_bad_inputs=False)
    run_lister(store, db_conn)
    monkeypatch.setattr("runtime.spark.session.get_spark", lambda *a, **k: spark)
    monkeypatch.setattr(commit, "RETRY_WAIT_SECONDS", 0)
    real = Table._do_commit

    def conflicting(self, updates, requirements):
        if any(type(u).__name__ == "AddSnapshotUpdate" for u in updates):
            raise CommitFailedException("the Glue optimizer committed first")
        return real(self, updates, requirements)

    monkeypatch.setattr(Table, "_do_commit", conflicting)
    monkeypatch.setattr("pyiceberg.table.TableProperties.COMMIT_MIN_RETRY_WAIT_MS_DEFAULT", 0)
    argv = ["process", "--store", str(tmp_path), "--db", db_url, "--table-format", "iceberg", "--no-metrics"]
    caplog.set_level("INFO", logger="mldp.metrics")
    assert main(argv) == 3
    assert '"IcebergCommitFailures": 1' in caplog.text
    with db_conn.cursor() as cur:  # no file charged: the batch is handed back past its manifest
        cur.execute("SELECT DISTINCT processing_status, retry_count FROM file_processing_status")
        assert cur.fetchall() == [("PROCESSING", 1)]
    db_conn.commit()
    assert table_rows(iceberg_table(store, db_url)) == []
    monkeypatch.setattr(Table, "_do_commit", real)
    caplog.clear()
    assert main([*argv, "--drain"]) == 0
    assert '"IcebergCommitFailures": 0' in caplog.text
    assert_in_table_exactly_once(tmp_path, db_conn, db_url, expected)
