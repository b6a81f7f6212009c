"""The lister, the inventory and the event consumer register a multipart overwrite that looks older than the version
it replaced (review-s3's finding; the SQL in ``tests/runtime/db/test_registration_multipart.py``). S3 gives an object
written by a multipart upload the LastModified of the upload's start; moto gives it the completion time, so the
replaced version A is made to look later by moving its registered last-modified time an hour ahead (what a single
PUT completed while B's upload was under way looks like). The HEAD of the key confirms B."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3
import pytest

from runtime.jobs.events import drain_queue
from runtime.jobs.inventory import register_inventory
from runtime.jobs.lister import run_lister
from tests.support.inventory import Row, rows_of, write_local_report
from tests.support.s3 import BUCKET
from tests.support.s3_events import create_queue, object_created, send
from tests.support.sql import files_by_key

KEY = "raw-json-data/2024/week07/big.jsonl"


def _make_a_look_later(db_conn: Any) -> Any:
    """Move the registered version's last-modified time an hour ahead; return it."""
    with db_conn.cursor() as cur:
        cur.execute("UPDATE file_processing_status SET last_modified_timestamp = now() + interval '1 hour' "
                    "RETURNING last_modified_timestamp")
        (later,) = cur.fetchone()
    db_conn.commit()
    return later


def _multipart_put(s3_client: Any, body: bytes) -> str:
    upload = s3_client.create_multipart_upload(Bucket=BUCKET, Key=KEY)["UploadId"]
    part = s3_client.upload_part(Bucket=BUCKET, Key=KEY, UploadId=upload, PartNumber=1, Body=body)
    s3_client.complete_multipart_upload(Bucket=BUCKET, Key=KEY, UploadId=upload,
                                        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]})
    return s3_client.head_object(Bucket=BUCKET, Key=KEY)["ETag"].strip('"')


def test_a_listing_registers_a_multipart_overwrite_that_looks_older(s3_client, s3_store, db_conn):
    s3_client.put_object(Bucket=BUCKET, Key=KEY, Body=b'{"id": "A"}\n')
    run_lister(s3_store, db_conn, show_progress=False)
    _make_a_look_later(db_conn)
    etag_b = _multipart_put(s3_client, b'{"id": "B"}\n' * 10)

    summary = run_lister(s3_store, db_conn, show_progress=False)
    assert (summary.counts.changed, summary.counts.stale) == (1, 0), "B, the current object, was dropped as stale"
    assert files_by_key(db_conn, "etag, version, processing_status")[KEY] == (etag_b, 2, "PENDING")
    summary = run_lister(s3_store, db_conn, show_progress=False)
    assert (summary.counts.unchanged, summary.counts.stale) == (1, 0)


def test_an_inventory_registers_it_and_an_older_report_never_rolls_it_back(local_store, db_conn, tmp_path):
    local_store.put_bytes(KEY, b'{"id": "A"}\n')
    listed_a = rows_of(local_store.list("raw-json-data/"))
    run_lister(local_store, db_conn, show_progress=False)
    later = _make_a_look_later(db_conn)
    local_store.put_bytes(KEY, b'{"id": "B"}\n' * 10)
    listed_b = rows_of(local_store.list("raw-json-data/"))

    summary, _ = register_inventory(local_store, db_conn, str(write_local_report(tmp_path / "b", listed_b, files=1)),
                                    show_progress=False)
    assert summary.counts.changed == 1
    assert files_by_key(db_conn, "etag, version")[KEY] == (listed_b[0].e_tag, 2)
    # a report made while A was current (A at the time it seemed to have): stale, B stays
    old = [Row(KEY, listed_a[0].size, later, listed_a[0].e_tag)]
    summary, _ = register_inventory(local_store, db_conn, str(write_local_report(tmp_path / "a", old, files=1)),
                                    show_progress=False)
    assert (summary.counts.stale, summary.counts.changed) == (1, 0)
    assert files_by_key(db_conn, "etag, version")[KEY] == (listed_b[0].e_tag, 2)


def test_an_older_report_row_the_key_no_longer_holds_stays_stale(local_store, db_conn, tmp_path):
    """A row older than the registered version, of an ETag the key never had and does not hold: HEAD says no."""
    local_store.put_bytes(KEY, b'{"id": "A"}\n')
    listed = rows_of(local_store.list("raw-json-data/"))
    run_lister(local_store, db_conn, show_progress=False)
    gone = [Row(KEY, 3, listed[0].last_modified - timedelta(hours=1), "0123456789abcdef0123456789abcdef")]
    summary, _ = register_inventory(local_store, db_conn, str(write_local_report(tmp_path / "r", gone, files=1)),
                                    show_progress=False)
    assert (summary.counts.stale, summary.counts.changed) == (1, 0)
    assert files_by_key(db_conn, "etag, version")[KEY] == (listed[0].e_tag, 1)


@pytest.fixture
def sqs(s3_client: Any) -> Any:
    return boto3.client("sqs", region_name="us-east-1")


def test_an_event_of_a_multipart_overwrite_that_looks_older_registers_it(s3_client, s3_store, sqs, db_conn):
    url, _ = create_queue(sqs, visibility_timeout=0, max_receive_count=2)
    s3_client.put_object(Bucket=BUCKET, Key=KEY, Body=b'{"id": "A"}\n')
    run_lister(s3_store, db_conn, show_progress=False)
    _make_a_look_later(db_conn)
    etag_b = _multipart_put(s3_client, b'{"id": "B"}\n' * 10)
    send(sqs, url, object_created(KEY, "0A"))
    summary = drain_queue(sqs, url, s3_store, db_conn, bucket=BUCKET, poll_seconds=0)
    assert (summary.counts.changed, summary.deleted) == (1, 1)
    assert files_by_key(db_conn, "etag, version")[KEY] == (etag_b, 2)
