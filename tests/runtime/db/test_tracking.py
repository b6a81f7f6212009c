"""The tracking store (:class:`runtime.db.tracking.TrackingStore`) against the real PostgreSQL: the state enums
mirror the schema's CHECK constraints, the lease is renewed or lost in one statement, and outcomes are recorded
as the retry rule (:class:`runtime.jobs.retry.RetryPolicy`) resolves them."""

from __future__ import annotations

import json
import re
import uuid

import pytest

from runtime.db.records import FileOutcome
from runtime.db.states import CLAIMABLE_STATES, REQUEUABLE_STATES, BatchState, FileState
from runtime.db.tracking import LeaseLost, TrackingStore
from runtime.jobs.retry import RetryPolicy
from tests.support.leases import take_over_recoverable


def check_values(conn, table: str, column: str) -> set[str]:
    """The values the CHECK constraint on ``table.column`` of the migrated database allows."""
    with conn.cursor() as cur:
        cur.execute("""
            SELECT pg_get_constraintdef(c.oid)
            FROM pg_constraint AS c
            JOIN pg_attribute AS a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
            WHERE c.contype = 'c' AND c.conrelid = %s::regclass AND a.attname = %s""", (table, column))
        [(definition,)] = cur.fetchall()
    conn.rollback()
    return set(re.findall(r"'([^']*)'::", definition))


def register(conn, *keys: str) -> None:
    with conn.cursor() as cur:
        for key in keys:
            cur.execute("INSERT INTO file_processing_status (s3_key, file_size_bytes, etag) VALUES (%s, 10, 'e')",
                        (key,))
    conn.commit()


def row(conn, key: str) -> tuple:
    with conn.cursor() as cur:
        cur.execute("SELECT processing_status, error_message, retry_count, "
                    "round(extract(epoch FROM next_attempt_at - processed_at)) FROM file_processing_status "
                    "WHERE s3_key = %s", (key,))
        found = cur.fetchone()
    conn.rollback()
    return found


# --- the state enums -------------------------------------------------------------------------------------------


def test_the_state_enums_are_exactly_the_schemas_check_constraints(db_conn):
    assert check_values(db_conn, "file_processing_status", "processing_status") == {s.value for s in FileState}
    assert check_values(db_conn, "processing_batches", "state") == {s.value for s in BatchState}


def test_a_state_is_its_text_in_sql_json_and_formatting(db_conn):
    assert FileState.FAILED == "FAILED" and {FileState.FAILED: 1}.get("FAILED") == 1
    assert f"{FileState.QUARANTINED} {FileState.PENDING:>8}" == "QUARANTINED  PENDING"
    assert str(BatchState.CLAIMED) == "CLAIMED"
    assert json.dumps({FileState.SUCCEEDED: [FileState.FAILED]}) == '{"SUCCEEDED": ["FAILED"]}'
    with db_conn.cursor() as cur:
        cur.execute("SELECT %s::text, %s::text[]", (FileState.PENDING, list(REQUEUABLE_STATES)))
        assert cur.fetchone() == ("PENDING", ["FAILED", "QUARANTINED"])
    db_conn.rollback()
    assert set(CLAIMABLE_STATES) == {"PENDING", "FAILED"}


# --- the lease ---------------------------------------------------------------------------------------------------


def test_renewing_the_lease_answers_in_one_statement_whether_the_batch_is_still_ours(db_conn):
    register(db_conn, "raw-json-data/2024/week01/a.json")
    store = TrackingStore(db_conn)
    batch = str(uuid.uuid4())
    [claimed] = store.claim(batch, "run-1", batch_size=10, lease_seconds=0)
    assert (claimed.key, claimed.attempt, claimed.version) == ("raw-json-data/2024/week01/a.json", 1, 1)

    lease = store.renew_lease(batch, "run-1", lease_seconds=600)
    assert (lease.renewed, lease.state, lease.owner) == (True, BatchState.CLAIMED, "run-1")
    with db_conn.cursor() as cur:  # the files' lease moved with the batch's
        cur.execute("SELECT count(*) FROM file_processing_status WHERE lease_expires_at > now() + interval '5 min'")
        assert cur.fetchone()[0] == 1
    db_conn.rollback()
    assert take_over_recoverable(store, "run-2", lease_seconds=600) is None  # renewed: not expired

    store.renew_lease(batch, "run-1", lease_seconds=0)
    assert take_over_recoverable(store, "run-2", lease_seconds=600) == batch
    lost = store.renew_lease(batch, "run-1", lease_seconds=600)
    assert (lost.renewed, lost.state, lost.owner) == (False, BatchState.CLAIMED, "run-2")
    with pytest.raises(LeaseLost, match="taken over by run-2"):
        store.ensure_lease(batch, "run-1", lease_seconds=600)
    assert store.renew_lease(str(uuid.uuid4()), "run-1", 600) == type(lost)(False, None, None)


def test_only_the_owner_records_a_batchs_outcomes(db_conn):
    register(db_conn, "raw-json-data/2024/week01/a.json")
    store = TrackingStore(db_conn)
    batch = str(uuid.uuid4())
    [claimed] = store.claim(batch, "run-1", batch_size=10, lease_seconds=600)
    outcome = FileOutcome(claimed.file_id, claimed.key, FileState.SUCCEEDED, None, 3, 0)
    with pytest.raises(LeaseLost, match="no longer ours"):
        store.record_outcomes(batch, "run-2", [outcome], BatchState.COMMITTED, RetryPolicy())
    assert store.record_outcomes(batch, "run-1", [outcome], BatchState.COMMITTED, RetryPolicy()) == {"SUCCEEDED": 1}
    assert store.open_batches_among([batch]) == set()
    with pytest.raises(LeaseLost):  # closed once, never twice
        store.record_outcomes(batch, "run-1", [outcome], BatchState.COMMITTED, RetryPolicy())


# --- outcomes as the retry rule resolves them --------------------------------------------------------------------


def test_the_store_records_what_the_retry_rule_decides(db_conn):
    key = "raw-json-data/2024/week01/flaky.json"
    register(db_conn, key)
    store = TrackingStore(db_conn)
    policy = RetryPolicy(max_attempts=3, backoff_base_seconds=100, backoff_max_seconds=250)
    seen = []
    for _attempt in range(3):
        with db_conn.cursor() as cur:  # due now
            cur.execute("UPDATE file_processing_status SET next_attempt_at = now()")
        db_conn.commit()
        batch = str(uuid.uuid4())
        [claimed] = store.claim(batch, "run", batch_size=10, lease_seconds=600)
        store.record_outcomes(batch, "run", [FileOutcome(claimed.file_id, key, FileState.FAILED, "vanished")],
                              BatchState.COMMITTED, policy)
        seen.append(row(db_conn, key))
    assert seen == [
        ("FAILED", "vanished", 1, 100),  # backoff 100 * 2 ** 0
        ("FAILED", "vanished", 2, 200),  # 100 * 2 ** 1
        ("QUARANTINED", "gave up after 3 attempts: vanished", 3, 0),  # next attempt time left as it was
    ]


def test_abandoned_batches_and_archive_bookkeeping_go_through_the_store(db_conn):
    register(db_conn, "raw-json-data/2024/week01/a.json", "raw-json-data/2024/week01/b.json")
    store = TrackingStore(db_conn)
    batch = str(uuid.uuid4())
    claimed = store.claim(batch, "run", batch_size=10, lease_seconds=600)
    assert [f.key for f in store.batch_files(batch)] == [f.key for f in claimed]
    outcomes = [FileOutcome(claimed[0].file_id, claimed[0].key, FileState.SUCCEEDED, None, 1, 0, etag="e"),
                FileOutcome(claimed[1].file_id, claimed[1].key, FileState.QUARANTINED, "zero-byte file")]
    store.record_outcomes(batch, "run", outcomes, BatchState.COMMITTED, RetryPolicy())
    [item] = store.unarchived(limit=10)
    assert (item.file_id, item.key, item.size, item.etag, item.version) == (
        claimed[0].file_id, claimed[0].key, 10, "e", 1)
    store.record_archived({item.file_id: "raw-json-data-processed/2024/week01/a.json"})
    assert store.unarchived(limit=10) == []
    assert store.files_by_state() == {"QUARANTINED": 1, "SUCCEEDED": 1}
    [problem] = store.files_needing_attention()
    assert (problem.key, problem.state, problem.error) == (claimed[1].key, FileState.QUARANTINED, "zero-byte file")
    gauges = store.backlog_gauges()
    assert (gauges.backlog_files, gauges.quarantined_files) == (0, 1)
