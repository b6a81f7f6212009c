"""Recovery's decision (a pure function of the facts found about an expired batch), the retry rule, and the
manifest's on-disk format, which a batch staged by an earlier version of the runtime must still roll forward
from. No database, no Spark."""

from __future__ import annotations

import json

import pytest

from runtime.db.records import FileOutcome
from runtime.db.states import BatchState, FileState
from runtime.jobs.publish import Manifest, PublishEntry, probe_manifest
from runtime.jobs.recovery import Action, ExpiredBatch, decide
from runtime.jobs.retry import RetryPolicy
from runtime.layout import Layout
from runtime.storage.local import LocalStore

BATCH = "0b9a4a3e-8d62-4a53-9a43-2f4b6c1d8e10"


@pytest.mark.parametrize(("state", "found", "readable", "published", "action"), [
    (BatchState.CLAIMED, True, True, False, Action.ROLL_FORWARD),  # staging complete: publish, commit, archive
    (BatchState.CLAIMED, True, True, True, Action.ROLL_FORWARD),   # ... whatever it published already
    (BatchState.CLAIMED, False, False, False, Action.ABANDON),     # no manifest: nothing published, retry files
    (BatchState.CLAIMED, False, False, True, Action.RETRACT),      # manifest gone after it started to publish
    (BatchState.CLAIMED, True, False, False, Action.REFUSE),       # unreadable manifest: maybe partly published
    (BatchState.COMMITTED, True, True, True, Action.SKIP),         # closed meanwhile: nothing to do
    (BatchState.ABANDONED, False, False, False, Action.SKIP),
])
def test_recovery_decides_from_the_facts_alone(state, found, readable, published, action):
    decision = decide(ExpiredBatch(BATCH, state, manifest_found=found, manifest_readable=readable,
                                   publish_started=published))
    assert decision.action is action and decision.reason


def test_the_retry_rule_backs_off_exponentially_then_quarantines():
    policy = RetryPolicy(max_attempts=4, backoff_base_seconds=60, backoff_max_seconds=300)
    failed = FileOutcome(1, "k", FileState.FAILED, "object vanished")
    assert [policy.resolve(failed, n).retry_in_seconds for n in (1, 2, 3)] == [60, 120, 240]
    assert {policy.resolve(failed, n).state for n in (1, 2, 3)} == {FileState.FAILED}
    gave_up = policy.resolve(failed, 4)
    assert (gave_up.state, gave_up.error, gave_up.retry_in_seconds) == (
        FileState.QUARANTINED, "gave up after 4 attempts: object vanished", None)
    assert RetryPolicy(max_attempts=9, backoff_base_seconds=60, backoff_max_seconds=300).backoff_seconds(8) == 300
    for status in (FileState.SUCCEEDED, FileState.QUARANTINED):
        outcome = FileOutcome(1, "k", status, "why", 1, 0)
        assert policy.resolve(outcome, 99) == (type(gave_up))(status, "why", None)


def test_the_retry_defaults_are_the_runtimes():
    from platform_contract import defaults
    from runtime.jobs.settings import ProcessorSettings

    assert RetryPolicy() == RetryPolicy(defaults.MAX_ATTEMPTS, defaults.BACKOFF_BASE_SECONDS,
                                        defaults.BACKOFF_MAX_SECONDS)
    settings = ProcessorSettings()
    assert (settings.batch_size, settings.max_attempts, settings.lease_seconds, settings.io_workers) == (
        defaults.BATCH_SIZE, defaults.MAX_ATTEMPTS, defaults.LEASE_SECONDS, defaults.IO_WORKERS)
    assert settings.retry_policy == RetryPolicy()


#: A manifest as the runtime wrote it before records were typed (plan entries as JSON lists).
OLD_MANIFEST = json.dumps({
    "batch_id": BATCH,
    "outcomes": [
        {"file_id": 7, "key": "raw-json-data/2024/week01/a.jsonl", "status": "SUCCEEDED", "error": None,
         "records_good": 12, "records_bad": 1, "dead_letter_path": "error-data-lake/x/", "size": 300,
         "etag": "abc", "version": 2},
        {"file_id": 8, "key": "raw-json-data/2024/week01/b.jsonl", "status": "QUARANTINED",
         "error": "zero-byte file", "records_good": None, "records_bad": None, "dead_letter_path": None,
         "size": 0, "etag": "def", "version": 1},
    ],
    "publish_plan": [
        ["curated-data-lake/_staging/b/curated/year=2024/part-0.parquet",
         "curated-data-lake/json_parsed_parquet/year=2024/batch-b-0000.snappy.parquet", 1234],
        ["curated-data-lake/_staging/b/dead_letter/file_id=7/part-0.json", "error-data-lake/x/part-0000.json", 55],
    ],
    "partitions": ["year=2024"],
}, sort_keys=True).encode()


def test_a_manifest_written_by_the_earlier_runtime_reads_back_typed_and_is_written_the_same_way():
    manifest = Manifest.from_json(OLD_MANIFEST)
    assert [o.status for o in manifest.outcomes] == [FileState.SUCCEEDED, FileState.QUARANTINED]
    assert manifest.outcomes[0] == FileOutcome(7, "raw-json-data/2024/week01/a.jsonl", FileState.SUCCEEDED, None,
                                               12, 1, "error-data-lake/x/", 300, "abc", 2)
    assert [e.is_curated for e in manifest.publish_plan] == [True, False]
    assert manifest.publish_plan[1] == PublishEntry("curated-data-lake/_staging/b/dead_letter/file_id=7/part-0.json",
                                                    "error-data-lake/x/part-0000.json", 55)
    assert manifest.to_json() == OLD_MANIFEST  # the same JSON shape, byte for byte


def test_probing_a_manifest_tells_absent_from_unreadable(tmp_path):
    store, layout = LocalStore(tmp_path), Layout()
    assert not probe_manifest(store, layout, BATCH).found
    store.put_bytes(f"{layout.staging_prefix}{BATCH}/_MANIFEST.json", OLD_MANIFEST)
    assert probe_manifest(store, layout, BATCH).manifest == Manifest.from_json(OLD_MANIFEST)
    store.put_bytes(f"{layout.staging_prefix}{BATCH}/_MANIFEST.json", b'{"batch_id": "trunc')
    probe = probe_manifest(store, layout, BATCH)
    assert probe.found and probe.manifest is None and "JSONDecodeError" in probe.error
