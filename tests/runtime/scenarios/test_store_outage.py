"""A store that cannot be read at all (an outage, a network cut) is the run's failure, not each file's: every file
of a batch failing to be read used to be charged an attempt (FAILED, quarantined after the last), as if each were
at fault. Now the run stops and gives the batch back uncharged; a read error of some files only is still theirs
(transient: retried with backoff), and so is an object a GET can never read while the store answers its HEAD
(archived to Glacier). Found by reviews of the second data-safety round."""

from __future__ import annotations

import pytest

from runtime.db.states import FileState
from runtime.jobs.lister import run_lister
from runtime.jobs.precheck import check_files
from runtime.jobs.spark_staging import SparkInput, spark_paths
from runtime.storage.base import ObjectStoreError
from runtime.storage.local import LocalStore
from tests.support.leases import one, processor
from tests.support.sql import files_by_key

RAW = "raw-json-data/2024/week01/"


class FlakyStore(LocalStore):
    """Reads of the keys in ``down`` fail as an unreachable S3 endpoint does."""

    down: frozenset[str] = frozenset()

    def read_head(self, key, length=65536):
        if key in self.down:
            raise ObjectStoreError(f"S3 get {key} in bucket 'b' failed: Could not connect to the endpoint URL")
        return super().read_head(key, length)

    def open_stream(self, key):
        if key in self.down:
            raise ObjectStoreError(f"S3 get {key} in bucket 'b' failed: Could not connect to the endpoint URL")
        return super().open_stream(key)

    def head(self, key):
        if key in self.down:
            raise ObjectStoreError(f"S3 head {key} in bucket 'b' failed: Could not connect to the endpoint URL")
        return super().head(key)


class ColdStore(LocalStore):
    """GETs of ``cold`` keys fail as S3 answers for an object archived to Glacier (403 InvalidObjectState: not a
    refusal, a read error); their HEADs are answered."""

    cold: frozenset[str] = frozenset()

    def read_head(self, key, length=65536):
        if key in self.cold:
            raise ObjectStoreError(f"S3 get {key} in bucket 'b' failed: An error occurred (InvalidObjectState) when "
                                   "calling the GetObject operation: The operation is not valid for the object's "
                                   "storage class")
        return super().read_head(key, length)


def flaky_store(tmp_path, count: int) -> tuple[FlakyStore, list[str]]:
    store = FlakyStore(tmp_path)
    keys = [f"{RAW}f{i}.jsonl" for i in range(count)]
    for key in keys:
        store.put_bytes(key, b'{"id": "1"}\n')
    return store, keys


def test_an_outage_during_the_precheck_stops_the_run_and_charges_no_file(tmp_path, db_conn):
    store, keys = flaky_store(tmp_path, 5)
    run_lister(store, db_conn)
    store.down = frozenset(keys)
    with pytest.raises(ObjectStoreError, match="the store could not be read: each of the 5 files"):
        processor(store, db_conn).run_once()
    assert set(files_by_key(db_conn, "processing_status, retry_count").values()) == {("PENDING", 0)}
    assert one(db_conn, "SELECT state FROM processing_batches")[0] == "ABANDONED"


def test_a_read_error_of_some_files_only_is_theirs(tmp_path, db_conn):
    store, keys = flaky_store(tmp_path, 3)
    run_lister(store, db_conn)
    store.down = frozenset(keys[:1])
    from runtime.db.tracking import TrackingStore

    claimed = TrackingStore(db_conn).claim("00000000-0000-0000-0000-000000000001", "run", 10, 600)
    results = {r.file.key: r for r in check_files(store, claimed)}
    assert results[keys[0]].status == FileState.FAILED
    assert results[keys[0]].reason.startswith("could not read the object: ObjectStoreError")
    assert results[keys[1]].readable and results[keys[2]].readable


def test_a_single_file_that_cannot_be_read_is_charged_as_a_transient_failure(tmp_path, db_conn):
    store, keys = flaky_store(tmp_path, 1)
    run_lister(store, db_conn)
    store.down = frozenset(keys)
    (report,) = processor(store, db_conn).run_once()  # one file cannot tell the store from the file: its failure
    assert report.files == {"FAILED": 1}


def test_objects_that_can_never_be_read_while_the_store_answers_are_their_files_failures(tmp_path, db_conn):
    """A batch made only of objects archived to Glacier used to stop every run uncharged, for ever (a review's
    finding): the store answers their HEADs, so each failure is the file's, retried and quarantined."""
    store = ColdStore(tmp_path)
    keys = [f"{RAW}cold{i}.jsonl" for i in range(3)]
    for key in keys:
        store.put_bytes(key, b'{"id": "1"}\n')
    run_lister(store, db_conn)
    store.cold = frozenset(keys)
    (report,) = processor(store, db_conn).run_once()
    assert report.files == {"FAILED": 3}
    assert all(error.startswith("could not read the object: ObjectStoreError") and "InvalidObjectState" in error
               for (error,) in files_by_key(db_conn, "error_message").values())


def test_downloads_that_all_fail_are_the_stores_failure(s3_store):
    keys = [f"{RAW}f{i}.jsonl" for i in range(3)]  # never written: every download fails

    class Down(type(s3_store)):
        def open_stream(self, key):
            raise ObjectStoreError("S3 get failed: Read timeout on endpoint URL")

        def head(self, key):
            raise ObjectStoreError("S3 head failed: Read timeout on endpoint URL")

    down = Down(s3_store.bucket, client=s3_store.client)
    with pytest.raises(ObjectStoreError, match="downloading it"), spark_paths(
            down, [SparkInput(key, i) for i, key in enumerate(keys)], "s/curated/", "s/dead_letter/"):
        pass
