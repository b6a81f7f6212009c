"""Folder objects (keys ending in ``/``: the S3 console's "Create folder" writes a zero-byte object, and sends an
"Object Created" event for it) are never files: the stores' listings skip them, and the inventory and event paths
refuse them through the lister's key filter (:data:`runtime.jobs.lister.FOLDER_MARKER`), counted like every other
ignored key. Before, they were registered, claimed and quarantined as zero-byte files (review-s3's finding)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from runtime.jobs.events import drain_queue
from runtime.jobs.inventory import register_inventory
from runtime.jobs.lister import FOLDER_MARKER, KeyFilter, run_lister
from runtime.layout import Layout
from tests.support.inventory import Row, rows_of, write_local_report
from tests.support.s3 import BUCKET
from tests.support.s3_events import create_queue, object_created, send
from tests.support.sql import files_by_key

FOLDER = "raw-json-data/2026/week49/"


def test_the_key_filter_counts_a_folder_marker_under_its_own_reason():
    keep = KeyFilter(Layout(), default_folders_only=False)
    assert keep.reason(FOLDER) == FOLDER_MARKER
    assert keep.reason("raw-json-data/all_historical_files/") == FOLDER_MARKER
    assert keep.reason(FOLDER + "a.json") is None
    assert [keep(FOLDER), keep(FOLDER + "a.json")] == [False, True]
    assert (keep.ignored, keep.examples) == ({FOLDER_MARKER: 1}, {FOLDER_MARKER: [FOLDER]})


@pytest.mark.parametrize("marker", [FOLDER, "raw-json-data/all_historical_files/"])
def test_an_inventory_row_of_a_folder_marker_is_not_registered(local_store, db_conn, tmp_path, marker):
    """Both inventory paths: a weekly folder goes through the per-key filter, the historical folder's rows through
    the vectorized fast path, which must send a key ending in ``/`` to the filter too."""
    local_store.put_bytes(FOLDER + "a.json", b'{"id": 1}\n')
    listed = rows_of(local_store.list("raw-json-data/"))
    run_lister(local_store, db_conn, show_progress=False)
    assert set(files_by_key(db_conn, "etag")) == {FOLDER + "a.json"}
    # what S3 Inventory reports for a bucket where the console created the folder: the marker is an object
    row = Row(marker, 0, listed[0].last_modified, "d41d8cd98f00b204e9800998ecf8427e")
    summary, _ = register_inventory(local_store, db_conn,
                                    str(write_local_report(tmp_path / "r", [*listed, row], files=1)),
                                    show_progress=False)
    assert set(files_by_key(db_conn, "etag")) == {FOLDER + "a.json"}, "the folder marker was registered as a file"
    assert summary.ignored == {FOLDER_MARKER: 1}
    assert summary.ignored_examples == {FOLDER_MARKER: [marker]}


@pytest.fixture
def sqs(s3_client: Any) -> Any:
    return boto3.client("sqs", region_name="us-east-1")


def test_an_object_created_event_of_a_folder_marker_is_not_registered(s3_client, s3_store, sqs, db_conn):
    url, _ = create_queue(sqs, visibility_timeout=0, max_receive_count=2)
    s3_client.put_object(Bucket=BUCKET, Key=FOLDER, Body=b"")  # the console's "Create folder"
    s3_client.put_object(Bucket=BUCKET, Key=FOLDER + "a.json", Body=b'{"id": 1}\n')
    run_lister(s3_store, db_conn, show_progress=False)
    assert set(files_by_key(db_conn, "etag")) == {FOLDER + "a.json"}  # the listing skips the marker
    send(sqs, url, object_created(FOLDER, "01"), object_created(FOLDER + "a.json", "02"))
    summary = drain_queue(sqs, url, s3_store, db_conn, bucket=BUCKET, poll_seconds=0)
    assert set(files_by_key(db_conn, "etag")) == {FOLDER + "a.json"}, "the folder marker was registered as a file"
    assert summary.ignored.get(FOLDER_MARKER) == 1
    assert summary.deleted == 2  # the marker's message is settled, not left to the dead-letter queue
