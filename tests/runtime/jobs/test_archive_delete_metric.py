"""A raw file the archive copied but could not delete is a counted outcome of the run, published as the
``ArchiveDeleteFailures`` metric (moto CloudWatch) that the ``ArchiveDeleteFailures`` alarm watches (issue 18,
item 4); a source kept because a newer version replaced it (S3's 412 to the conditional delete) is not one."""

from __future__ import annotations

import datetime as dt
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from platform_contract import metrics as names
from runtime.jobs.archive import ArchiveCounts
from runtime.jobs.lister import run_lister
from runtime.metrics import MetricsPublisher, archive_figures
from runtime.storage.base import StoragePermissionError
from runtime.storage.mover import Move, move_objects
from runtime.storage.s3 import S3Store
from tests.support.leases import processor
from tests.support.pipeline import LAYOUT
from tests.support.real_s3_semantics import RealS3Semantics

RAW = "raw-json-data/2024/week01/"


def succeeded(conn) -> None:
    with conn.cursor() as cur:
        cur.execute("UPDATE file_processing_status SET processing_status = 'SUCCEEDED', processed_at = now()")
    conn.commit()


def published_sum(cloudwatch: Any, name: str) -> float:
    now = dt.datetime.now(dt.UTC)
    points = cloudwatch.get_metric_statistics(
        Namespace=names.DEFAULT_NAMESPACE, MetricName=name,
        Dimensions=[{"Name": names.ENVIRONMENT_DIMENSION, "Value": "test"}],
        StartTime=now - dt.timedelta(hours=1), EndTime=now + dt.timedelta(minutes=5), Period=3600,
        Statistics=["Sum"], Unit=names.UNITS[name])["Datapoints"]
    return sum(point["Sum"] for point in points)


@pytest.fixture
def cloudwatch(s3_client: Any) -> Any:
    """moto CloudWatch in the same mock as the S3 fixtures."""
    return boto3.client("cloudwatch", region_name="us-east-1")


def test_a_failed_delete_is_counted_and_published(s3_client: Any, s3_store: S3Store, db_conn, cloudwatch) -> None:
    for i in range(3):
        s3_client.put_object(Bucket=s3_store.bucket, Key=f"{RAW}done-{i}.jsonl", Body=b'{"id": "1"}\n')
    run_lister(s3_store, db_conn)
    succeeded(db_conn)
    RealS3Semantics().deny("s3:DeleteObject", f"{RAW}done-1").install(s3_client)
    run = processor(s3_store, db_conn)
    assert run.archive_leftovers() == 2
    assert run.run_once() == []  # its refusal alone stops its archive (logged), and is counted in the same tally
    assert run.archive_counts == ArchiveCounts(delete_failures=2, failures=2)

    MetricsPublisher(environment="test", client=cloudwatch).publish(archive_figures(run.archive_counts))
    assert published_sum(cloudwatch, names.ARCHIVE_DELETE_FAILURES) == 2


def test_a_run_without_failures_publishes_zero(s3_client: Any, s3_store: S3Store, db_conn, cloudwatch) -> None:
    run = processor(s3_store, db_conn)
    run.archive_leftovers()
    MetricsPublisher(environment="test", client=cloudwatch).publish(archive_figures(run.archive_counts))
    assert published_sum(cloudwatch, names.ARCHIVE_DELETE_FAILURES) == 0
    assert names.ARCHIVE_DELETE_FAILURES in {m["MetricName"] for m in cloudwatch.list_metrics()["Metrics"]}


def test_a_source_replaced_by_a_newer_upload_is_kept_but_not_a_delete_failure(s3_client: Any,
                                                                               s3_store: S3Store) -> None:
    key = f"{RAW}changing.jsonl"
    etag = s3_client.put_object(Bucket=s3_store.bucket, Key=key, Body=b"{}\n")["ETag"].strip('"')
    RealS3Semantics().install(s3_client)  # S3's 412 to a stale conditional delete (moto deletes regardless)

    class UploadAfterCopy:
        """The store, with a newer upload landing between the copy and the delete."""

        def __init__(self, store: S3Store) -> None:
            self.store = store

        def __getattr__(self, name: str) -> Any:
            return getattr(self.store, name)

        def delete_many(self, keys, if_match=None):
            s3_client.put_object(Bucket=s3_store.bucket, Key=key, Body=b'{"new": 1}\n')
            return self.store.delete_many(keys, if_match=if_match)

    report = move_objects(UploadAfterCopy(s3_store), [Move(key, LAYOUT.archived_key(key), 3, etag)])  # type: ignore[arg-type]
    assert key in report.failed and "newer version is kept" in report.failed[key]
    assert report.not_deleted == []


def seed_succeeded(s3_client: Any, s3_store: S3Store, db_conn, count: int) -> None:
    for i in range(count):
        s3_client.put_object(Bucket=s3_store.bucket, Key=f"{RAW}done-{i}.jsonl", Body=b'{"id": "1"}\n')
    run_lister(s3_store, db_conn)
    succeeded(db_conn)


def test_a_refusal_of_every_key_over_several_requests_is_counted_exactly(s3_client: Any, s3_store: S3Store,
                                                                        db_conn, monkeypatch) -> None:
    """DeleteObjects takes 1,000 keys a request: a refusal of all of them counts every key, not the first
    request's (simulated with 2 keys a request)."""
    monkeypatch.setattr("runtime.storage.s3.DELETE_BATCH", 2)
    seed_succeeded(s3_client, s3_store, db_conn, 6)
    RealS3Semantics().deny("s3:DeleteObject", RAW).install(s3_client)
    run = processor(s3_store, db_conn)
    with pytest.raises(StoragePermissionError) as refused:
        run.archiver().archive(run.tracking.unarchived(100))
    assert len(refused.value.keys) == 3  # the first half of 6, in two requests (2 + 1), all refused
    assert run.archive_counts == ArchiveCounts(delete_failures=3, failures=3)


def test_a_delete_request_refused_as_a_whole_counts_only_the_copied_sources(s3_client: Any, s3_store: S3Store,
                                                                           db_conn) -> None:
    """A source already gone (its copy fails) was never sent to DeleteObjects: it is a failed move, not a failed
    delete, whatever happens to the request."""
    seed_succeeded(s3_client, s3_store, db_conn, 4)
    s3_client.delete_object(Bucket=s3_store.bucket, Key=f"{RAW}done-0.jsonl")  # gone by hand: its move fails

    def refuse(**kwargs: Any) -> None:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"},
                           "ResponseMetadata": {"HTTPStatusCode": 403}}, "DeleteObjects")

    s3_client.meta.events.register("before-call.s3.DeleteObjects", refuse)
    run = processor(s3_store, db_conn)
    with pytest.raises(StoragePermissionError) as refused:
        run.archiver().archive(run.tracking.unarchived(100))
    assert sorted(refused.value.keys) == [f"{RAW}done-1.jsonl"]  # first half: done-0 (gone) and done-1 (copied)
    assert list(refused.value.failed_moves) == [f"{RAW}done-0.jsonl"]
    assert run.archive_counts == ArchiveCounts(delete_failures=1, failures=2)
