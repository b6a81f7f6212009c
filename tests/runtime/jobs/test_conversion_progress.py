"""A batch whose files convert in parts but not together (a conversion too large for the executors, say) makes
progress instead of failing again on every run (case 3 of "Data safety, second round"): the largest part proved
good is converted, the other files are given back without an attempt counted and are claimed next in batches of
at most that part's size. Through the processor's own path, with the Spark conversion replaced by a stand-in that
fails for more than three files at once (no Spark)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

import pytest

from runtime.db.states import FileState
from runtime.db.tracking import TrackingStore
from runtime.jobs.conversion import BatchConversion
from runtime.jobs.lister import run_lister
from runtime.jobs.processor import BatchProcessor, ProcessorSettings
from runtime.layout import Layout
from runtime.storage.local import LocalStore
from tests.support.leases import one
from tests.support.sql import files_by_key

RAW = "raw-json-data/2024/week01/"
LIMIT = 3


def stand_in_conversion(monkeypatch, failure: Callable[[Sequence, bool], str | None]) -> list[tuple[int, bool]]:
    """Replace the Spark conversion: it fails with ``failure(files, written)`` when that gives a cause, else every
    file has two good records; the narrowing's probe always works. Returns the calls made: (files, written)."""
    from runtime.spark import convert as spark_convert
    from runtime.spark import write as spark_write

    calls: list[tuple[int, bool]] = []

    def convert(self, files, curated, dead_letter):
        calls.append((len(files), curated is not None))
        cause = failure(files, curated is not None)
        if cause:
            raise RuntimeError(cause)
        return spark_convert.ConversionResult({f.file_id: spark_convert.FileCounts(2, 0) for f in files},
                                              2 * len(files), 0)

    monkeypatch.setattr(BatchConversion, "_convert", convert)
    monkeypatch.setattr(spark_write, "probe_output", lambda spark, path: None)
    return calls


def raw_files(tmp_path, conn, count: int) -> tuple[LocalStore, list[str]]:
    """``count`` raw files in a local store, registered."""
    store = LocalStore(tmp_path)
    keys = [f"{RAW}f{i:02d}.jsonl" for i in range(count)]
    for key in keys:
        store.put_bytes(key, b'{"id": "1"}\n')
    run_lister(store, conn)
    return store, keys


def run(store, conn, **settings) -> BatchProcessor:
    return BatchProcessor(store, conn, lambda: object(), None, ProcessorSettings(**settings), Layout())  # type: ignore


@pytest.fixture
def too_large_together(monkeypatch):
    """Conversions of more than LIMIT files fail, as an executor running out of memory would; the calls made."""
    return stand_in_conversion(monkeypatch, lambda files, written: (
        "org.apache.spark.SparkException: Job aborted: java.lang.OutOfMemoryError" if len(files) > LIMIT else None))


def test_files_that_convert_only_in_parts_make_progress_and_the_rest_come_back_smaller(tmp_path, db_conn,
                                                                                       too_large_together):
    store, keys = raw_files(tmp_path, db_conn, 6)

    (report,) = run(store, db_conn).run_once()

    assert report.files == {"SUCCEEDED": 3, "PENDING": 3}
    # one conversion of all six, two dry runs (both halves convert), then the first half for real: no re-run of all
    assert too_large_together == [(6, True), (3, False), (3, False), (3, True)]
    rows = files_by_key(db_conn, "processing_status, retry_count, claim_limit, error_message")
    assert [rows[k][:3] for k in keys[:3]] == [("SUCCEEDED", 1, None)] * 3
    assert [rows[k][:3] for k in keys[3:]] == [("PENDING", 0, LIMIT)] * 3  # uncharged, next claimed <= 3 at once
    events = one(db_conn, "SELECT array_agg(event ORDER BY file_id) FROM file_processing_history")[0]
    assert events == ["OUTCOME"] * 3 + ["UNCLAIMED"] * 3
    reason = one(db_conn, "SELECT reason FROM file_processing_history WHERE event = 'UNCLAIMED' LIMIT 1")[0]
    assert reason.startswith("given back uncharged: its batch does not convert together")
    claimed = TrackingStore(db_conn).claim(str(uuid.uuid4()), "next-run", 1000, 600)
    assert sorted(f.key for f in claimed) == keys[3:]  # the next batch holds at most the limit


def test_a_file_given_back_that_had_failed_before_keeps_its_attempts_and_error(tmp_path, db_conn,
                                                                               too_large_together):
    store, keys = raw_files(tmp_path, db_conn, 5)
    with db_conn.cursor() as cur:  # the first file failed once before (vanished for a while)
        cur.execute("UPDATE file_processing_status SET processing_status = 'FAILED', retry_count = 1, "
                    "error_message = 'object vanished after listing (deleted or moved)' WHERE s3_key = %s",
                    (keys[0],))
    db_conn.commit()
    (report,) = run(store, db_conn).run_once()
    assert report.files == {FileState.SUCCEEDED: 3, FileState.PENDING: 2}  # halves of 2 and 3: the 3 converted
    rows = files_by_key(db_conn, "processing_status, retry_count, error_message")
    assert rows[keys[0]] == ("FAILED", 1, "object vanished after listing (deleted or moved)")
    assert rows[keys[1]] == ("PENDING", 0, None)


def test_a_file_that_converts_in_dry_runs_but_fails_when_written_is_found_alone_and_charged(tmp_path, db_conn,
                                                                                           monkeypatch):
    """A failure only the real write shows (a date Parquet refuses to write, say) used to stop the run with every
    file given back as it was: the same batch failed again on every run, for ever. Now the files are given back in
    halves, across runs, down to the file alone, which is charged; every other file converts."""
    store, keys = raw_files(tmp_path, db_conn, 4)
    stand_in_conversion(monkeypatch, lambda files, written: (
        "org.apache.spark.SparkUpgradeException: writing dates before 1582-10-15"
        if written and any(f.key == keys[1] for f in files) else None))
    runs = [[r.files for r in run(store, db_conn).drain()] for _ in range(6)]
    assert runs[0][0] == {"PENDING": 4}  # first run: nothing converts for real, nothing charged, all smaller
    rows = files_by_key(db_conn, "processing_status, retry_count, claim_limit, error_message")
    assert {k: rows[k][0] for k in keys} == {keys[0]: "SUCCEEDED", keys[1]: "FAILED", keys[2]: "SUCCEEDED",
                                             keys[3]: "SUCCEEDED"}
    _state, attempts, limit, error = rows[keys[1]]
    assert (attempts, limit) == (1, 1) and error.startswith("conversion fails on this file alone: ")
    assert all(rows[k][1] == 1 for k in (keys[0], keys[2], keys[3]))  # each converted at its first attempt


def test_culprits_are_retried_alone_and_quarantined_after_the_last_attempt(tmp_path, db_conn, monkeypatch):
    """Three files failing alone with the same cause were charged once, then, claimed again together with no file
    left to compare with, made every later run stop ("every file tried fails the same way"): never charged again,
    never quarantined. Culprits are now retried alone."""
    store, keys = raw_files(tmp_path, db_conn, 16)
    stand_in_conversion(monkeypatch, lambda files, written: (
        "org.apache.spark.api.python.PythonException: the transform hook produced a null 'mode' in row 17"
        if any(f.key in keys[:3] for f in files) else None))
    (first,) = run(store, db_conn, max_attempts=3, backoff_base_seconds=0).run_once()
    assert first.files == {"FAILED": 3, "SUCCEEDED": 13}
    later = run(store, db_conn, max_attempts=3, backoff_base_seconds=0).drain()
    assert all(sum(r.files.values()) == 1 for r in later)  # each culprit claimed alone
    rows = files_by_key(db_conn, "processing_status, retry_count")
    assert [rows[k] for k in keys[:3]] == [("QUARANTINED", 3)] * 3
