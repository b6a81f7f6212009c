"""A version the processor's pre-check found in place of the one listed (``REGISTER_SEEN_VERSIONS``) is never
rolled back by a later listing or inventory report that saw an in-between version (the registration protocol
review's finding): the key is listed at v1 (t1), overwritten by v2 (t2) and v3 (t3); a batch's pre-check finds
v3 and registers it. The row kept v1's Last-Modified, so a late report of v2 (t1 < t2) looked newer and replaced
v3: v3 converted twice, or, archived already, SUCCEEDED -> vanished -> QUARANTINED with its archived key lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from runtime.db import queries
from runtime.db.registration import register_page
from runtime.storage.base import ObjectInfo
from tests.support.sql import files_by_key

KEY = "raw-json-data/2024/week07/overwritten.jsonl"
T1 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
V1 = ObjectInfo(KEY, 1, T1, "v1")
V2 = ObjectInfo(KEY, 2, T1 + timedelta(minutes=5), "v2")


def _head(current: ObjectInfo, asked: list[str]):
    """A HeadObject answering ``current`` for the key, noting what it was asked."""
    def head(key: str) -> ObjectInfo | None:
        asked.append(key)
        return current if key == current.key else None
    return head


def _seen_and_succeeded(conn, etag: str) -> None:
    """The batch of v1: its pre-check found ``etag`` instead (FAILED, the seen version registered), which a later
    batch then converted."""
    with conn.cursor() as cur:
        cur.execute("UPDATE file_processing_status SET processing_status = 'FAILED' RETURNING file_id")
        (file_id,) = cur.fetchone()
        cur.execute(queries.REGISTER_SEEN_VERSIONS, {"file_ids": [file_id], "etags": [etag], "sizes": [3]})
        cur.execute("UPDATE file_processing_status SET processing_status = 'SUCCEEDED', processed_at = now()")
    conn.commit()


def test_a_late_report_of_an_in_between_version_does_not_roll_the_seen_version_back(db_conn):
    register_page(db_conn, [V1])
    _seen_and_succeeded(db_conn, "v3")
    head = _head(ObjectInfo(KEY, 3, T1 + timedelta(minutes=10), "v3"), [])  # what the key holds
    counts = register_page(db_conn, [V2], head=head)  # a report taken between t2 and t3, delivered late
    assert files_by_key(db_conn, "etag, version, processing_status")[KEY] == ("v3", 2, "SUCCEEDED"), counts
    assert (counts.changed, counts.stale) == (0, 1)


def test_a_version_uploaded_after_the_seen_one_is_still_registered(db_conn):
    register_page(db_conn, [V1])
    _seen_and_succeeded(db_conn, "v3")
    v4 = ObjectInfo(KEY, 4, T1 + timedelta(minutes=20), "v4")  # older than the seen version's recorded bound
    asked: list[str] = []
    counts = register_page(db_conn, [v4], head=_head(v4, asked))
    assert files_by_key(db_conn, "etag, version, processing_status")[KEY] == ("v4", 3, "PENDING"), counts
    assert asked == [KEY]  # below the seen version's recorded bound: the HEAD settled it
