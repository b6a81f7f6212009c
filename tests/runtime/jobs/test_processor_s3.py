"""The processor's S3 operations under moto: the whole protocol against an S3 bucket (local Spark works through a
local mirror), crash recovery on S3, the S3 call count of archiving, and the over-5-GB copy path."""

from __future__ import annotations

import io
from collections import Counter

import pyarrow.parquet as pq
import pytest

from bench.call_counter import CallCounter
from runtime.jobs.lister import run_lister
from runtime.jobs.processor import BatchProcessor, ProcessorSettings
from runtime.sample_data import generate_sample
from runtime.storage.s3 import S3Store
from runtime.transforms.spec import load_spec
from tests.support.pipeline import LAYOUT, SimulatedCrash, crash_at, states
from tests.support.s3 import BUCKET

pytestmark = pytest.mark.spark
BAD = ["malformed-line-among-good.jsonl", "zero-byte.jsonl", "broken.jsonl.gz", "unsafe-modes.jsonl"]


def s3_processor(store, conn, spark, **settings) -> BatchProcessor:
    checkpoint = settings.pop("checkpoint", lambda name: None)
    return BatchProcessor(store, conn, lambda: spark, load_spec(None), ProcessorSettings(**settings), LAYOUT,
                          checkpoint=checkpoint)


def curated_on_s3(client) -> list:
    rows = []
    for key in keys_under(client, LAYOUT.curated_prefix):
        body = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        table = pq.read_table(io.BytesIO(body))
        rows += list(zip(table["id"].to_pylist(), table["source_s3_path"].to_pylist(), strict=True))
    return rows


def keys_under(client, prefix: str) -> list:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return [obj["Key"] for page in pages for obj in page.get("Contents", [])]


def dead_letters_on_s3(client) -> Counter:
    import json

    counts: Counter = Counter()
    for key in keys_under(client, LAYOUT.dead_letter_prefix):
        for line in client.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode().splitlines():
            if line.strip():
                counts[json.loads(line)["source_s3_path"]] += 1
    return counts


def assert_exactly_once_on_s3(client, conn, expected) -> None:
    assert states(conn) == expected.files
    rows = curated_on_s3(client)
    assert len(rows) == len(set(rows))
    by_source = Counter(source for _id, source in rows)
    assert dict(by_source) == {f"s3://{BUCKET}/{k}": v for k, v in expected.good_by_file.items() if v}
    assert dict(dead_letters_on_s3(client)) == {f"s3://{BUCKET}/{k}": v for k, v in expected.bad_by_file.items()
                                               if v}
    for key, state in expected.files.items():
        archived = bool(keys_under(client, LAYOUT.archived_key(key)))
        assert archived == (state == "SUCCEEDED")
    assert keys_under(client, LAYOUT.staging_prefix) == []


def test_whole_protocol_on_s3(s3_store, s3_client, db_conn, spark):
    expected = generate_sample(s3_store, files=3, records_per_file=10, include_bad_inputs=BAD)
    run_lister(s3_store, db_conn)
    reports = s3_processor(s3_store, db_conn, spark, batch_size=50).drain()
    assert len(reports) == 1
    assert_exactly_once_on_s3(s3_client, db_conn, expected)
    with db_conn.cursor() as cur:
        cur.execute("SELECT dead_letter_path FROM file_processing_status WHERE s3_key LIKE '%malformed-line%'")
        (path,) = cur.fetchone()
    assert path.startswith(LAYOUT.dead_letter_prefix + "batch_id=") and keys_under(s3_client, path)


@pytest.mark.parametrize("point", ["after_completion_marker", "mid_publish", "after_commit", "mid_archive"])
def test_crash_on_s3_then_recovery_finishes_exactly_once(point, s3_store, s3_client, db_conn, spark):
    expected = generate_sample(s3_store, files=3, records_per_file=8, include_bad_inputs=BAD[:1])
    run_lister(s3_store, db_conn)
    with pytest.raises(SimulatedCrash):
        s3_processor(s3_store, db_conn, spark, checkpoint=crash_at(point)).run_once()
    s3_processor(s3_store, db_conn, spark, backoff_base_seconds=0).drain()
    assert_exactly_once_on_s3(s3_client, db_conn, expected)


def test_archive_costs_one_copy_per_file_plus_one_delete_per_thousand(s3_store, s3_client, db_conn):
    keys = [f"raw-json-data/2024/week03/f{i:04d}.json" for i in range(300)]
    for key in keys:
        s3_client.put_object(Bucket=BUCKET, Key=key, Body=b'{"id": "1"}\n')
    run_lister(s3_store, db_conn)
    with db_conn.cursor() as cur:
        cur.execute("UPDATE file_processing_status SET processing_status = 'SUCCEEDED'")
    db_conn.commit()
    counter = CallCounter(s3_client)
    archived = s3_processor(s3_store, db_conn, None).archive_leftovers()
    assert archived == 300
    # archived in two halves (so an interrupted archive has recorded its first half): 2 DeleteObjects calls
    assert counter.ops == Counter({"CopyObject": 300, "DeleteObjects": 2})
    assert counter.total / 300 <= 1 + 2 / 300
    assert keys_under(s3_client, "raw-json-data/") == []
    with db_conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM file_processing_status WHERE archived_key LIKE 'raw-json-data-processed/%'")
        assert cur.fetchone()[0] == 300


def test_archive_takes_the_multipart_copy_path_for_objects_over_the_single_copy_limit(s3_client, s3_bucket, db_conn):
    store = S3Store(BUCKET, client=s3_client, single_copy_limit=5 * 1024 * 1024, copy_chunk_size=5 * 1024 * 1024)
    key = "raw-json-data/all_historical_files/huge.json"
    body = b'{"id": "1"}\n' * (1024 * 1024)  # 12 MiB stands in for > 5 GB with a 5 MiB limit
    s3_client.put_object(Bucket=BUCKET, Key=key, Body=body)
    run_lister(store, db_conn)
    with db_conn.cursor() as cur:
        cur.execute("UPDATE file_processing_status SET processing_status = 'SUCCEEDED'")
    db_conn.commit()
    counter = CallCounter(s3_client)
    assert s3_processor(store, db_conn, None).archive_leftovers() == 1
    assert counter.ops["UploadPartCopy"] >= 2 and counter.ops["CopyObject"] == 0
    archived = s3_client.get_object(Bucket=BUCKET, Key=LAYOUT.archived_key(key))["Body"].read()
    assert archived == body and keys_under(s3_client, key) == []


def test_keys_no_local_file_system_could_hold_convert_through_the_mirror(s3_store, s3_client, db_conn, spark):
    """Case 4 of "Data safety, second round": the mirror named its downloads after the keys, so a key holding '//',
    a segment over 255 bytes, or a key that is also another key's folder failed the download, and every batch-mate
    was charged "batch conversion failed" (QUARANTINED after three runs)."""
    week = "raw-json-data/2024/week01/"
    odd = [week + "/double-slash.jsonl", week + "x" * 300 + ".jsonl", week + "a.jsonl", week + "a.jsonl/child.jsonl"]
    plain = [week + f"plain-{i}.jsonl" for i in range(2)]
    for index, key in enumerate(odd + plain):
        s3_client.put_object(Bucket=BUCKET, Key=key, Body=(
            f'{{"id": "{index}", "DATE": "2024-01-0{index % 9 + 1}", "MODE": "train"}}\n').encode())
    assert run_lister(s3_store, db_conn).counts.new == 6
    (report,) = s3_processor(s3_store, db_conn, spark).drain()
    assert report.files == {"SUCCEEDED": 6}
    assert states(db_conn) == dict.fromkeys(odd + plain, "SUCCEEDED")
    assert sorted(source for _id, source in curated_on_s3(s3_client)) == sorted(
        f"s3://{BUCKET}/{key}" for key in odd + plain)


def test_a_file_that_vanishes_before_the_mirror_downloads_it_fails_alone(s3_store, s3_client, db_conn, spark):
    expected = generate_sample(s3_store, files=3, records_per_file=4, include_bad_inputs=False)
    run_lister(s3_store, db_conn)
    gone = sorted(expected.files)[1]
    processor = s3_processor(s3_store, db_conn, spark, max_attempts=3)

    def delete_after_the_precheck(name: str) -> None:
        if name == "after_precheck":
            s3_client.delete_object(Bucket=BUCKET, Key=gone)

    processor.checkpoint = delete_after_the_precheck
    (report,) = processor.run_once()
    assert report.files == {"SUCCEEDED": 2, "FAILED": 1}
    with db_conn.cursor() as cur:
        cur.execute("SELECT processing_status, retry_count, error_message FROM file_processing_status "
                    "WHERE s3_key = %s", (gone,))
        assert cur.fetchone() == ("FAILED", 1, "object vanished while being read")
    db_conn.commit()
