"""Rows registered without an ETag (the reference schema's rows) are converted once and archived only as the version
processed (case 1 of "Data safety, second round"):

* the processor records the ETag (and size) its pre-check read on the row, so the lister never takes the same
  object for a newer version (it used to: the file was converted twice, or QUARANTINED as vanished when a lister
  ran between a batch's commit and its archive);
* the lister takes the listed ETag of a row that still has none as the row's own version (no new version), unless
  the object was modified after the row's last outcome, when it is a new version;
* the archive of such a row never moves unconditionally: the object in place is moved, conditionally on its ETag,
  only if it was not modified after the file was processed.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from runtime.db.records import FileOutcome
from runtime.db.registration import register_page
from runtime.db.states import BatchState, FileState
from runtime.db.tracking import TrackingStore
from runtime.jobs.archive import Archiver
from runtime.jobs.lister import run_lister
from runtime.jobs.retry import RetryPolicy
from runtime.layout import Layout
from runtime.sample_data import generate_sample
from runtime.storage.base import ObjectInfo
from runtime.storage.local import LocalStore
from tests.support.leases import one
from tests.support.pipeline import SimulatedCrash, crash_at, curated_rows, per_source, processor
from tests.support.sql import files_by_key

KEY = "raw-json-data/2024/week01/reference.jsonl"
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def reference_row(conn, key: str = KEY, state: str = "PENDING", processed_at: datetime | None = None) -> None:
    """A row as the reference design's lister wrote it: key, size and last-modified time, no ETag."""
    with conn.cursor() as cur:
        cur.execute("INSERT INTO file_processing_status (s3_key, file_size_bytes, last_modified_timestamp, "
                    "processing_status, processed_at) VALUES (%s, 10, %s, %s, %s)", (key, T0, state, processed_at))
    conn.commit()


def listed(etag: str, modified: datetime, key: str = KEY) -> list[ObjectInfo]:
    return [ObjectInfo(key, 12, modified, etag)]


# --- the processor records the version processed -----------------------------------------------------------------

def test_the_outcome_records_the_etag_the_precheck_read_on_a_row_that_had_none(db_conn):
    reference_row(db_conn)
    reference_row(db_conn, KEY + ".2")
    with db_conn.cursor() as cur:
        cur.execute("UPDATE file_processing_status SET etag = 'registered' WHERE s3_key = %s", (KEY + ".2",))
    db_conn.commit()
    store, batch = TrackingStore(db_conn), str(uuid.uuid4())
    claimed = {f.key: f for f in store.claim(batch, "run-1", 10, 600)}
    outcomes = [FileOutcome(claimed[KEY].file_id, KEY, FileState.SUCCEEDED, None, 3, 0, size=12, etag="read"),
                FileOutcome(claimed[KEY + ".2"].file_id, KEY + ".2", FileState.SUCCEEDED, None, 3, 0, size=99,
                            etag="registered")]
    store.record_outcomes(batch, "run-1", outcomes, BatchState.COMMITTED, RetryPolicy())
    rows = files_by_key(db_conn, "etag, file_size_bytes, version")
    assert rows == {KEY: ("read", 12, 1), KEY + ".2": ("registered", 10, 1)}  # a known ETag is never replaced
    # filling in the ETag is not a new version: no NEW_VERSION history row
    assert one(db_conn, "SELECT count(*) FROM file_processing_history WHERE event = 'NEW_VERSION'")[0] == 0


# --- the lister's rule for rows without an ETag --------------------------------------------------------------------

def test_the_lister_adopts_the_listed_etag_of_a_row_that_has_none(db_conn):
    reference_row(db_conn)
    counts = register_page(db_conn, listed("e1", T0 + timedelta(hours=1)))
    assert (counts.new, counts.changed, counts.unchanged, counts.stale, counts.deferred) == (0, 0, 1, 0, 0)
    assert files_by_key(db_conn, "etag, file_size_bytes, version, processing_status")[KEY] == ("e1", 12, 1, "PENDING")
    assert register_page(db_conn, listed("e1", T0 + timedelta(hours=1))).unchanged == 1  # and is stable


def test_a_processed_row_without_an_etag_is_a_new_version_only_if_modified_after_its_outcome(db_conn):
    processed = T0 + timedelta(days=1)
    reference_row(db_conn, KEY, "SUCCEEDED", processed)
    reference_row(db_conn, KEY + ".later", "SUCCEEDED", processed)
    page = listed("same", processed - timedelta(minutes=5)) + listed("new", processed + timedelta(minutes=5),
                                                                      KEY + ".later")
    counts = register_page(db_conn, page)
    assert (counts.changed, counts.unchanged) == (1, 1)
    rows = files_by_key(db_conn, "etag, version, processing_status")
    assert rows[KEY] == ("same", 1, "SUCCEEDED")  # the version that was processed: never converted again
    assert rows[KEY + ".later"] == ("new", 2, "PENDING")  # uploaded after it was processed: a new version
    assert one(db_conn, "SELECT count(*) FROM file_processing_history WHERE event = 'NEW_VERSION'")[0] == 1


def test_an_object_older_than_the_recorded_time_is_stale_for_a_row_without_an_etag(db_conn):
    reference_row(db_conn)
    assert register_page(db_conn, listed("old", T0 - timedelta(days=1))).stale == 1
    assert files_by_key(db_conn, "etag")[KEY] == (None,)


def test_a_row_being_processed_is_left_for_the_next_listing(db_conn):
    reference_row(db_conn)
    TrackingStore(db_conn).claim(str(uuid.uuid4()), "run-1", 10, 600)
    assert register_page(db_conn, listed("e1", T0 + timedelta(hours=1))).deferred == 1
    assert files_by_key(db_conn, "etag, processing_status")[KEY] == (None, "PROCESSING")


# --- the archive of a row processed without a recorded ETag --------------------------------------------------------

def test_the_archive_moves_a_row_without_an_etag_only_if_not_modified_after_it_was_processed(tmp_path, db_conn):
    store = LocalStore(tmp_path)
    store.put_bytes(KEY, b'{"v": 1}\n')
    store.put_bytes(KEY + ".newer", b'{"v": 2}\n')
    now = datetime.now(UTC)
    reference_row(db_conn, KEY, "SUCCEEDED", now + timedelta(minutes=1))  # processed after its file was written
    reference_row(db_conn, KEY + ".newer", "SUCCEEDED", now - timedelta(minutes=30))  # file written afterwards
    tracking = TrackingStore(db_conn)
    items = tracking.unarchived(10)
    assert [item.etag for item in items] == [None, None]
    assert Archiver(store, tracking, Layout(), io_workers=4).archive(items) == 1
    archived = files_by_key(db_conn, "archived_key")
    assert archived[KEY] == (Layout().archived_key(KEY),) and not store.exists(KEY)
    assert archived[KEY + ".newer"] == (None,) and store.exists(KEY + ".newer")  # left for the lister


# --- end to end: a lister between the commit and the archive, a crash there ----------------------------------------

def _reference_rows_for_a_sample(store, conn) -> dict:
    """The sample's files registered the way the reference design did: no ETag."""
    expected = generate_sample(store, files=3, records_per_file=6, include_bad_inputs=False)
    for key in sorted(expected.files):
        info = store.head(key)
        with conn.cursor() as cur:
            cur.execute("INSERT INTO file_processing_status (s3_key, file_size_bytes, last_modified_timestamp) "
                        "VALUES (%s, %s, %s)", (key, info.size, info.last_modified))
    conn.commit()
    return expected


def _assert_converted_once_and_archived(tmp_path, conn, expected) -> None:
    rows = files_by_key(conn, "processing_status, version, etag IS NOT NULL, archived_key IS NOT NULL")
    assert rows == dict.fromkeys(expected.files, ("SUCCEEDED", 1, True, True))
    converted = curated_rows(tmp_path)
    assert len(converted) == len(set(converted))
    assert dict(per_source(converted, tmp_path)) == {k: v for k, v in expected.good_by_file.items() if v}


def test_a_lister_between_the_commit_and_the_archive_changes_nothing(tmp_path, db_conn, spark):
    store = LocalStore(tmp_path)
    expected = _reference_rows_for_a_sample(store, db_conn)
    listings = []

    def list_after_the_commit(name: str) -> None:
        if name == "after_commit":
            listings.append(run_lister(store, db_conn, show_progress=False).counts)

    processor(store, db_conn, spark, checkpoint=list_after_the_commit).drain()
    assert [(c.changed, c.unchanged) for c in listings] == [(0, 3)]
    _assert_converted_once_and_archived(tmp_path, db_conn, expected)


def test_a_crash_after_the_commit_then_a_lister_then_a_run_converts_each_file_once(tmp_path, db_conn, spark):
    store = LocalStore(tmp_path)
    expected = _reference_rows_for_a_sample(store, db_conn)
    with pytest.raises(SimulatedCrash):
        processor(store, db_conn, spark, checkpoint=crash_at("after_commit")).run_once()
    counts = run_lister(store, db_conn, show_progress=False).counts
    assert (counts.changed, counts.unchanged) == (0, 3)
    processor(store, db_conn, spark).drain()  # archives what the crash left unarchived, converts nothing again
    _assert_converted_once_and_archived(tmp_path, db_conn, expected)
