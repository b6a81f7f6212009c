"""The dead letters of a file ``mldp reprocess`` converted again, on S3 (a moto server: the Iceberg table's warehouse
is written through pyarrow's S3 client, as in ``tests/runtime/table/test_s3_store.py``; real PostgreSQL, local
Spark): a crash after the tracking commit, before the removal, then the next run: the dead-letter prefix holds the
file's bad records once, from its latest batch."""

from __future__ import annotations

from collections import Counter

import boto3
import pytest

from runtime.jobs import publish as pub
from runtime.jobs.lister import run_lister
from runtime.storage.factory import open_store
from tests.runtime.jobs.test_dead_letters import (
    BAD_DATE,
    GOOD,
    KEY,
    MISMATCH,
    dead_letters_by_folder,
    folder_of,
    jsonl,
    reprocess_all,
    staged,
    tracked,
)
from tests.runtime.table.test_commit_reprocess import spec_with_device
from tests.support.iceberg import iceberg_processor
from tests.support.pipeline import LAYOUT, SimulatedCrash, crash_at

pytestmark = pytest.mark.spark
#: A bucket of its own: moto's state outlives its server.
BUCKET = "dead-letters-s3"


def test_on_s3_a_crash_after_the_tracking_commit_then_a_run_leaves_the_bad_records_once_from_the_latest_batch(
        moto_endpoint, monkeypatch, db_conn, db_url, spark):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)  # boto3 and pyarrow's S3 client both read it
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    store = open_store(f"s3://{BUCKET}", s3_client=s3)
    store.put_bytes(KEY, jsonl([*GOOD, BAD_DATE, MISMATCH]))
    run_lister(store, db_conn)
    iceberg_processor(store, db_conn, spark, db_url).drain()
    file_id, first_batch, first_path, _, _ = tracked(db_conn)
    both = Counter({"b-date": 1, "m-list": 1})
    assert dead_letters_by_folder(store) == {folder_of(first_path): both}

    reprocess_all(db_conn, store)
    v2 = spec_with_device()
    with pytest.raises(SimulatedCrash):
        iceberg_processor(store, db_conn, spark, db_url, spec=v2, checkpoint=crash_at("after_commit")).run_once()
    _, crashed_batch, crashed_path, _, _ = tracked(db_conn)
    assert crashed_batch != first_batch  # committed: the new outcome is recorded, the removal not yet done
    assert dead_letters_by_folder(store) == {folder_of(first_path): both, folder_of(crashed_path): both}
    iceberg_processor(store, db_conn, spark, db_url, spec=v2).drain()  # nothing to claim: the recovery finishes it

    _, latest_batch, latest_path, _, _ = tracked(db_conn)
    assert latest_batch == crashed_batch and latest_path == pub.dead_letter_folder(LAYOUT, latest_batch, file_id)
    assert dead_letters_by_folder(store) == {folder_of(latest_path): both}
    assert not staged(store)
