"""Two guarantees of the batch protocol, each through the processor's own path (``BatchProcessor.run_once``), with
the Spark conversion replaced by a stand-in so that no Spark is needed and nothing depends on timing:

* a run whose batch was taken over after its manifest (``mldp recover --force`` at ``after_completion_marker``)
  stops before publishing anything (README "Exactly once", step 5);
* a stop requested while the conversion fails gives the batch back: no file charged an attempt, no narrowing, no
  re-conversion (README "Clean stops").

Both fail when the guarantee is broken (the mutation check, ``make mutation-check``, proves it)."""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence
from pathlib import Path

import pytest

from runtime.db.records import FileOutcome
from runtime.db.states import FileState
from runtime.db.tracking import LeaseLost
from runtime.jobs import publish as pub
from runtime.jobs.batch import BatchProtocol
from runtime.jobs.conversion import BatchConversion
from runtime.jobs.lister import run_lister
from runtime.jobs.precheck import PrecheckResult
from runtime.jobs.processor import BatchProcessor, ProcessorSettings
from runtime.layout import Layout
from runtime.operator.recover import recover
from runtime.storage.local import LocalStore
from tests.support.leases import one
from tests.support.sql import files_by_key

LAYOUT = Layout()
RAW = "raw-json-data/2024/week01/"


def no_spark():
    raise AssertionError("Spark was started")


def raw_store(tmp_path: Path, *names: str) -> LocalStore:
    store = LocalStore(tmp_path)
    for name in names:
        store.put_bytes(RAW + name, b'{"id": 1, "DATE": "2024-01-01", "MODE": "train"}\n')
    return store


def test_a_run_whose_batch_is_taken_over_after_its_manifest_publishes_nothing(tmp_path, db_conn, db_url,
                                                                              monkeypatch):
    store = raw_store(tmp_path, "a.jsonl")
    run_lister(store, db_conn)
    staged = "year=2024/month=1/day=1/mode=train/part-0.parquet"

    def stand_in_conversion(self: BatchProtocol, batch_id: str, readable: Sequence[PrecheckResult]) -> dict:
        """One staged object, and the file SUCCEEDED: what a real conversion of one good file leaves."""
        store.put_bytes(pub.curated_staging(LAYOUT, batch_id) + staged, b"PAR1 staged rows PAR1")
        return {c.file.file_id: FileOutcome(c.file.file_id, c.file.key, FileState.SUCCEEDED, None, 1, 0,
                                            size=c.size, etag=c.processed.etag) for c in readable}

    monkeypatch.setattr(BatchProtocol, "convert", stand_in_conversion)

    def take_over_after_the_manifest(name: str) -> None:
        if name == "after_completion_marker":  # an operator forces the batch away from this (live) run
            [batch_id] = one(db_conn, "SELECT array_agg(batch_id::text) FROM processing_batches")[0]
            import psycopg2

            operator = psycopg2.connect(db_url)
            try:
                result = recover(operator, batch_id, "host looks lost", actor="ops", force=True)
            finally:
                operator.close()
            assert result.forced and result.action == "handed back"

    run = BatchProcessor(store, db_conn, no_spark, None, ProcessorSettings(), LAYOUT,  # type: ignore[arg-type]
                         checkpoint=take_over_after_the_manifest)
    with pytest.raises(LeaseLost):
        run.run_once()
    assert not list(store.list(LAYOUT.curated_prefix)), "a run whose batch was taken over published"
    assert list(store.list(LAYOUT.staging_prefix))  # its staging is left to the batch's new owner
    assert files_by_key(db_conn, "processing_status")[RAW + "a.jsonl"] == ("PROCESSING",)


def test_a_stop_requested_during_a_failing_conversion_charges_no_attempt(tmp_path, db_conn, monkeypatch):
    store = raw_store(tmp_path, "a.jsonl", "b.jsonl")
    run_lister(store, db_conn)
    conversions: list[int] = []
    spark_started: list[bool] = []

    def cancelled_conversion(self: BatchConversion, files, curated, dead_letter):
        """What a conversion does when SIGINT arrives mid-job: the handler asks Spark to cancel, the job fails."""
        conversions.append(len(files))
        if len(conversions) == 1:
            os.kill(os.getpid(), signal.SIGINT)
        raise RuntimeError("org.apache.spark.SparkException: Job 3 cancelled because SparkContext was shut down")

    monkeypatch.setattr(BatchConversion, "_convert", cancelled_conversion)

    def spark():
        spark_started.append(True)
        raise RuntimeError("the narrowing probe must not run after a stop")

    run = BatchProcessor(store, db_conn, spark, None, ProcessorSettings(), LAYOUT,  # type: ignore[arg-type]
                         handle_signals=True)
    assert run.run_once() == []
    assert run.exit_status == 130
    assert conversions == [2] and not spark_started  # no narrowing (its probe starts Spark), no re-conversion
    assert files_by_key(db_conn, "processing_status, retry_count") == {
        RAW + "a.jsonl": ("PENDING", 0), RAW + "b.jsonl": ("PENDING", 0)}
    assert one(db_conn, "SELECT state, error_message FROM processing_batches")[0] == "ABANDONED"
    assert one(db_conn, "SELECT count(*) FROM file_processing_history WHERE event = 'OUTCOME'")[0] == 0
