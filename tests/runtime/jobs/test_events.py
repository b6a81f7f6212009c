"""The S3 event consumer (``mldp list --from-queue``) against moto SQS and S3 and the real PostgreSQL: duplicated,
reordered and missed events, keys outside the raw prefix, a crash between the commit and the delete, malformed
messages (dead-letter queue, never lost silently)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from runtime.cli import main
from runtime.db.discovery import is_newer, sequencer_order
from runtime.db.registration import ListerBusy, lister_lock
from runtime.jobs import events
from runtime.jobs.events import (
    GONE,
    NOT_OBJECT_CREATED,
    OTHER_BUCKET,
    SUPERSEDED,
    MalformedEvent,
    drain_queue,
    parse_event,
)
from runtime.jobs.lister import OUTSIDE_LAYOUT_FOLDERS, PIPELINE_OUTPUT, run_lister
from tests.support.s3 import BUCKET
from tests.support.s3_events import create_queue, object_created, queue_depth, send
from tests.support.sql import files_by_key

HIST = "raw-json-data/all_historical_files/"
WEEK = "raw-json-data/2026/week49/"


@pytest.fixture
def sqs(s3_client: Any) -> Any:
    """A moto SQS client in the same ``mock_aws`` as the S3 fixtures."""
    return boto3.client("sqs", region_name="us-east-1")


@pytest.fixture
def queue(sqs: Any) -> tuple[str, str]:
    """(queue url, dead-letter queue url); messages come back at once when not deleted (visibility 0)."""
    return create_queue(sqs, visibility_timeout=0, max_receive_count=2)


def _put(s3: Any, key: str, body: bytes = b'{"id": 1}\n') -> str:
    return s3.put_object(Bucket=BUCKET, Key=key, Body=body)["ETag"].strip('"')


def _drain(sqs: Any, url: str, store: Any, conn: Any, **kwargs: Any) -> dict:
    return drain_queue(sqs, url, store, conn, bucket=BUCKET, poll_seconds=0, **kwargs).as_dict()


def _rows(conn: Any) -> dict:
    return files_by_key(conn, "etag, version, processing_status")


# --- the event and its sequencer -------------------------------------------------------------------------------

def test_parse_event_reads_the_documented_eventbridge_shape():
    parsed = parse_event(object_created(HIST + "a.json", "0055aed6dcd90281e5"))
    assert (parsed.bucket, parsed.key, parsed.sequencer) == (BUCKET, HIST + "a.json", "0055AED6DCD90281E5")
    assert parse_event(object_created(HIST + "a.json", "01", detail_type="Object Deleted")) == NOT_OBJECT_CREATED


@pytest.mark.parametrize("body", [
    "not json", "[]", json.dumps({"source": "aws.s3"}), json.dumps({"source": "aws.ec2", "detail": {}}),
    object_created(HIST + "a.json", "not-hex"), object_created("", "01"),
])
def test_malformed_bodies_are_refused(body):
    with pytest.raises(MalformedEvent):
        parse_event(body)


def test_sequencers_compare_as_hex_left_padded_to_equal_length():
    assert is_newer("0100", "FF")  # longer is not larger as text ("0100" < "FF"), but 0x100 > 0xFF
    assert not is_newer("FF", "0100")
    assert not is_newer("00FF", "FF")  # the same position: a duplicate
    assert is_newer("01", None)
    assert sequencer_order("ab", 4) == "00AB"


# --- registration ------------------------------------------------------------------------------------------------

def test_events_register_keys_as_a_listing_would_and_delete_their_messages(s3_client, s3_store, sqs, queue,
                                                                            db_conn):
    url, _ = queue
    etags = {key: _put(s3_client, key) for key in (HIST + "a.json", WEEK + "b.json")}
    send(sqs, url, *(object_created(key, f"0{i}") for i, key in enumerate(etags, 1)))
    summary = _drain(sqs, url, s3_store, db_conn)
    assert (summary["messages"], summary["new"], summary["deleted"], summary["malformed"]) == (2, 2, 2, 0)
    assert {k: v[0] for k, v in _rows(db_conn).items()} == etags
    assert queue_depth(sqs, url) == 0
    # the same keys found by the next listing: nothing changes
    assert run_lister(s3_store, db_conn, show_progress=False).as_dict()["unchanged"] == 2


def test_duplicated_events_register_once(s3_client, s3_store, sqs, queue, db_conn):
    url, _ = queue
    _put(s3_client, HIST + "a.json")
    body = object_created(HIST + "a.json", "0A")
    send(sqs, url, body, body)
    first = _drain(sqs, url, s3_store, db_conn)
    assert (first["new"], first["ignored"].get(SUPERSEDED), first["deleted"]) == (1, 1, 2)
    send(sqs, url, body)  # delivered once more, in a later drain
    again = _drain(sqs, url, s3_store, db_conn)
    assert (again["registered_keys"], again["ignored"], again["deleted"]) == (0, {SUPERSEDED: 1}, 1)
    assert _rows(db_conn)[HIST + "a.json"][1] == 1  # one version


def test_reordered_events_never_roll_a_newer_version_back(s3_client, s3_store, sqs, queue, db_conn):
    url, _ = queue
    key = HIST + "a.json"
    _put(s3_client, key, b'{"v": 1}\n')
    newest = _put(s3_client, key, b'{"v": 2}\n')
    send(sqs, url, object_created(key, "02"))  # the newer event first
    assert _drain(sqs, url, s3_store, db_conn)["new"] == 1
    send(sqs, url, object_created(key, "01"))  # the older one late: dropped by its sequencer, no S3 request
    late = _drain(sqs, url, s3_store, db_conn)
    assert (late["registered_keys"], late["ignored"], late["deleted"]) == (0, {SUPERSEDED: 1}, 1)
    assert _rows(db_conn)[key][:2] == (newest, 1)


def test_an_older_event_in_the_same_chunk_yields_to_the_newer(s3_client, s3_store, sqs, queue, db_conn):
    url, _ = queue
    key = HIST + "a.json"
    _put(s3_client, key, b'{"v": 1}\n')
    newest = _put(s3_client, key, b'{"v": 2}\n')
    send(sqs, url, object_created(key, "0002"), object_created(key, "01"))
    summary = _drain(sqs, url, s3_store, db_conn)
    assert (summary["new"], summary["ignored"], summary["deleted"]) == (1, {SUPERSEDED: 1}, 2)
    assert _rows(db_conn)[key][0] == newest


def test_a_late_event_of_a_version_a_listing_replaced_changes_nothing(s3_client, s3_store, sqs, queue, db_conn):
    url, _ = queue
    key = HIST + "a.json"
    _put(s3_client, key, b'{"v": 1}\n')
    newest = _put(s3_client, key, b'{"v": 2}\n')
    run_lister(s3_store, db_conn, show_progress=False)  # the listing registered v2 before v1's event came
    send(sqs, url, object_created(key, "01"))
    summary = _drain(sqs, url, s3_store, db_conn)
    assert (summary["unchanged"], summary["deleted"]) == (1, 1)  # the object read is v2: unchanged
    assert _rows(db_conn)[key][:2] == (newest, 1)


def test_a_missed_event_is_registered_by_the_next_listing(s3_client, s3_store, sqs, queue, db_conn):
    url, _ = queue
    keys = [HIST + "a.json", HIST + "b.json", WEEK + "c.json"]
    for key in keys:
        _put(s3_client, key)
    send(sqs, url, object_created(keys[0], "01"), object_created(keys[1], "01"))  # c's event is lost
    assert _drain(sqs, url, s3_store, db_conn)["new"] == 2
    assert set(_rows(db_conn)) == set(keys[:2])
    reconciled = run_lister(s3_store, db_conn, show_progress=False).as_dict()
    assert (reconciled["new"], reconciled["unchanged"]) == (1, 2)
    assert set(_rows(db_conn)) == set(keys)


def test_keys_outside_the_raw_prefix_or_bucket_are_counted_and_never_registered(s3_client, s3_store, sqs, queue,
                                                                                 db_conn):
    url, _ = queue
    for key in ("raw-json-data-processed/2026/a.json", "raw-json-data/scratch/b.json", "s3-inventory/m.json"):
        _put(s3_client, key)
    send(sqs, url,
         object_created("raw-json-data-processed/2026/a.json", "01"),
         object_created("raw-json-data/scratch/b.json", "01"),
         object_created("s3-inventory/m.json", "01"),
         object_created(HIST + "x.json", "01", bucket="another-bucket"),
         object_created(HIST + "x.json", "01", detail_type="Object Restore Completed"))
    summary = _drain(sqs, url, s3_store, db_conn)
    assert summary["ignored"] == {PIPELINE_OUTPUT: 1, OUTSIDE_LAYOUT_FOLDERS: 2, OTHER_BUCKET: 1, NOT_OBJECT_CREATED: 1}
    assert (summary["registered_keys"], summary["deleted"]) == (0, 5)
    assert _rows(db_conn) == {}


def test_prefix_option_registers_only_under_the_given_prefixes(s3_client, s3_store, sqs, queue, db_conn):
    url, _ = queue
    _put(s3_client, "raw-json-data/scratch/b.json")
    _put(s3_client, HIST + "a.json")
    send(sqs, url, object_created("raw-json-data/scratch/b.json", "01"), object_created(HIST + "a.json", "01"))
    summary = _drain(sqs, url, s3_store, db_conn, prefixes=["raw-json-data/scratch/"])
    assert (summary["new"], summary["ignored"]) == (1, {OUTSIDE_LAYOUT_FOLDERS: 1})
    assert set(_rows(db_conn)) == {"raw-json-data/scratch/b.json"}


def test_pipeline_output_under_the_raw_prefix_is_never_registered(s3_client, s3_store, sqs, queue, db_conn):
    url, _ = queue
    key = "raw-json-data/all_historical_files/x.json"
    _put(s3_client, key)
    send(sqs, url, object_created(key, "01"))
    from runtime.layout import Layout
    layout = Layout(dead_letter_prefix=HIST)  # a layout that nests a pipeline prefix under the raw prefix
    summary = drain_queue(sqs, url, s3_store, db_conn, bucket=BUCKET, poll_seconds=0, layout=layout).as_dict()
    assert summary["ignored"] == {PIPELINE_OUTPUT: 1}


def test_a_key_gone_since_its_event_is_counted_and_its_message_deleted(s3_store, sqs, queue, db_conn):
    url, _ = queue
    send(sqs, url, object_created(HIST + "deleted-since.json", "01"))
    summary = _drain(sqs, url, s3_store, db_conn)
    assert (summary["ignored"], summary["deleted"]) == ({GONE: 1}, 1)


def test_a_url_encoded_key_is_found_under_its_decoded_name(s3_client, s3_store, sqs, queue, db_conn):
    url, _ = queue
    key = HIST + "with space+plus.json"
    _put(s3_client, key)
    send(sqs, url, object_created(HIST + "with+space%2Bplus.json", "01"))  # as S3 notifications encode it
    assert _drain(sqs, url, s3_store, db_conn)["new"] == 1
    assert set(_rows(db_conn)) == {key}


# --- at least once -----------------------------------------------------------------------------------------------

def test_a_crash_between_commit_and_delete_redelivers_harmlessly(s3_client, s3_store, sqs, db_conn, monkeypatch):
    url, _ = create_queue(sqs, "redelivered", visibility_timeout=0, max_receive_count=10)
    etag = _put(s3_client, HIST + "a.json")
    send(sqs, url, object_created(HIST + "a.json", "01"))

    def crash(self, messages):
        raise RuntimeError("killed after the commit, before the delete")

    with monkeypatch.context() as patch:
        patch.setattr(events._Drain, "delete", crash)
        with pytest.raises(RuntimeError):
            _drain(sqs, url, s3_store, db_conn)
    assert _rows(db_conn)[HIST + "a.json"] == (etag, 1, "PENDING")  # committed
    assert queue_depth(sqs, url) == 1  # not deleted
    redelivered = _drain(sqs, url, s3_store, db_conn)
    # its sequencer was stored with the commit: the redelivery is dropped as a duplicate, then deleted
    assert (redelivered["registered_keys"], redelivered["deleted"]) == (0, 1)
    assert redelivered["ignored"] == {SUPERSEDED: 1}
    assert _rows(db_conn)[HIST + "a.json"] == (etag, 1, "PENDING")
    assert queue_depth(sqs, url) == 0


def test_a_malformed_message_goes_to_the_dead_letter_queue_and_is_counted(s3_client, s3_store, sqs, queue,
                                                                           db_conn):
    url, dlq = queue
    _put(s3_client, HIST + "a.json")
    send(sqs, url, "{not an event", object_created(HIST + "a.json", "01"))
    first = _drain(sqs, url, s3_store, db_conn)
    assert (first["malformed"], first["new"], first["deleted"]) == (1, 1, 1)
    assert queue_depth(sqs, url) == 1 and queue_depth(sqs, dlq) == 0  # kept, never deleted
    for _ in range(2):  # received more than maxReceiveCount (2) times: moved to the dead-letter queue
        _drain(sqs, url, s3_store, db_conn)
    assert queue_depth(sqs, url) == 0
    assert queue_depth(sqs, dlq) == 1


def test_a_newer_version_of_a_file_being_processed_keeps_its_message(s3_client, s3_store, sqs, queue, db_conn):
    url, _ = queue
    key = HIST + "a.json"
    first = _put(s3_client, key, b'{"v": 1}\n')
    run_lister(s3_store, db_conn, show_progress=False)
    with db_conn.cursor() as cur:
        cur.execute("UPDATE file_processing_status SET processing_status = 'PROCESSING' WHERE s3_key = %s", (key,))
    db_conn.commit()
    _put(s3_client, key, b'{"v": 2}\n')
    send(sqs, url, object_created(key, "02"))
    summary = drain_queue(sqs, url, s3_store, db_conn, bucket=BUCKET, poll_seconds=0, max_seconds=60)
    assert (summary.counts.deferred, summary.kept_deferred) >= (1, 1)
    assert queue_depth(sqs, url) == 1  # retried when it comes back
    assert _rows(db_conn)[key][0] == first


# --- one lister at a time, the recorded run, the command -------------------------------------------------------

def test_a_drain_waits_for_no_listing(s3_store, sqs, queue, db_conn, db_url):
    import psycopg2

    url, _ = queue
    other = psycopg2.connect(db_url)
    try:
        with lister_lock(other), pytest.raises(ListerBusy):
            _drain(sqs, url, s3_store, db_conn)
    finally:
        other.close()


def test_the_command_drains_the_queue_and_status_shows_the_mode(s3_client, s3_bucket, sqs, queue, db_url,
                                                                db_conn, capsys):
    url, _ = queue
    _put(s3_client, HIST + "a.json")
    send(sqs, url, object_created(HIST + "a.json", "01"))
    assert main(["list", "--store", f"s3://{BUCKET}", "--db", db_url, "--from-queue", url, "--poll-seconds", "0",
                 "--no-metrics", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["new"], out["deleted"]) == (1, 1)
    assert main(["status", "--db", db_url, "--json"]) == 0
    discovery = json.loads(capsys.readouterr().out)["discovery"]
    assert discovery["mode"] == "events"
    assert discovery["last_event_drain"]["keys_registered"] == 1
    assert discovery["last_reconciliation"] is None
    run_lister(open_s3(), db_conn, show_progress=False)
    assert main(["status", "--db", db_url]) == 0
    text = capsys.readouterr().out
    assert "Discovery: events" in text and "last reconciliation: listing" in text


def open_s3() -> Any:
    from runtime.storage.factory import open_store

    return open_store(f"s3://{BUCKET}")


def test_the_stacks_route_delivers_raw_uploads_only(s3_client, s3_bucket, s3_store, sqs, db_conn):
    """The whole route in moto: the bucket sends its events to EventBridge, a rule with the stack's pattern
    (platform_contract.discovery) routes them to the queue, the consumer registers them."""
    from platform_contract.discovery import object_created_pattern

    events_client = boto3.client("events", region_name="us-east-1")
    s3_client.put_bucket_notification_configuration(
        Bucket=BUCKET, NotificationConfiguration={"EventBridgeConfiguration": {}})
    url, _ = create_queue(sqs, "routed")
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events_client.put_rule(Name="raw", EventPattern=json.dumps(object_created_pattern(BUCKET, "raw-json-data/")))
    events_client.put_targets(Rule="raw", Targets=[{"Id": "queue", "Arn": arn}])
    for key in (HIST + "a.json", WEEK + "b.json", "raw-json-data-processed/x.json", "s3-inventory/manifest.json"):
        _put(s3_client, key)
    assert queue_depth(sqs, url) == 2  # the pattern's prefix keeps the others out of the queue
    summary = _drain(sqs, url, s3_store, db_conn)
    assert (summary["new"], summary["deleted"]) == (2, 2)
    assert set(_rows(db_conn)) == {HIST + "a.json", WEEK + "b.json"}
