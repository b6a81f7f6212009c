"""A listed version older than the registered one, with an ETag the key never had, is confirmed with a HEAD
(review-s3's finding): S3 gives an object written by a multipart upload the LastModified of the upload's start, so
a multipart overwrite B completed after a single PUT A (registered) looks older than A. Before, registration
called B ``stale`` on its timestamp in every listing, inventory and event, forever. Now the object the key holds
decides: B if it is current (a new version), stale otherwise; the replaced version never comes back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from runtime.db.registration import register_page
from runtime.storage.base import ObjectInfo
from tests.support.sql import files_by_key

KEY = "raw-json-data/2024/week07/big.jsonl"
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)  # the multipart upload of version B starts
A = ObjectInfo(KEY, 100, T0 + timedelta(minutes=1), "etag-A")  # a single PUT, registered by a listing
B = ObjectInfo(KEY, 9_000_000, T0, "etag-B-2")  # the multipart upload completes after A: the current object


class FakeHead:
    """The object each key holds now, and which keys were asked for."""

    def __init__(self, *objects: ObjectInfo) -> None:
        self.objects = {obj.key: obj for obj in objects}
        self.asked: list[str] = []

    def __call__(self, key: str) -> ObjectInfo | None:
        self.asked.append(key)
        return self.objects.get(key)


def _no_head(key: str) -> ObjectInfo | None:
    raise AssertionError(f"HeadObject of {key}: the common case needs none")


def test_the_current_version_of_a_key_written_by_a_slow_multipart_upload_is_registered(db_conn):
    register_page(db_conn, [A], head=_no_head)
    head = FakeHead(B)
    counts = register_page(db_conn, [B], head=head)
    assert files_by_key(db_conn, "etag, version, processing_status, file_size_bytes")[KEY] == \
        ("etag-B-2", 2, "PENDING", 9_000_000), f"the current object (B) was dropped as stale: {counts}"
    assert (counts.changed, counts.stale, counts.deferred, head.asked) == (1, 0, 0, [KEY])
    with db_conn.cursor() as cur:
        cur.execute("SELECT etag, event FROM file_processing_history")
        assert cur.fetchall() == [("etag-A", "NEW_VERSION")]  # A's outcome kept, as for any new version
    db_conn.commit()


def test_a_listing_of_the_replaced_version_never_rolls_the_confirmed_one_back(db_conn):
    register_page(db_conn, [A], head=_no_head)
    register_page(db_conn, [B], head=FakeHead(B))
    # an inventory report (or a listing that started before B completed) still shows A, with A's later time
    counts = register_page(db_conn, [A], head=_no_head)
    assert counts.stale == 1
    assert files_by_key(db_conn, "etag, version")[KEY] == ("etag-B-2", 2)
    # and B listed again (with its earlier time) is unchanged, not a new question to S3
    counts = register_page(db_conn, [B], head=_no_head)
    assert (counts.unchanged, counts.stale) == (1, 0)


@pytest.mark.parametrize("now", [A, None, ObjectInfo(KEY, 5, T0 + timedelta(minutes=9), "etag-C")],
                         ids=["still-A", "gone", "another-version"])
def test_an_older_listing_the_key_no_longer_holds_is_stale(db_conn, now):
    """An old listing of a version never registered (overwritten before any listing saw it): the HEAD shows
    another object, so it is stale as before; the registered version stays."""
    register_page(db_conn, [A], head=_no_head)
    head = FakeHead(*([now] if now else []))
    counts = register_page(db_conn, [B], head=head)
    assert (counts.stale, counts.changed, head.asked) == (1, 0, [KEY])
    assert files_by_key(db_conn, "etag, version")[KEY] == ("etag-A", 1)


def test_without_a_head_an_older_listing_is_stale_as_before(db_conn):
    register_page(db_conn, [A])
    assert register_page(db_conn, [B]).stale == 1
    assert files_by_key(db_conn, "etag")[KEY] == ("etag-A",)


def test_an_older_listing_of_an_etag_the_key_had_needs_no_head(db_conn):
    """A version replaced by a newer one (its ETag in the history), listed late: stale without asking S3."""
    register_page(db_conn, [B], head=_no_head)
    register_page(db_conn, [A], head=_no_head)  # A is newer: registered as version 2
    counts = register_page(db_conn, [B], head=_no_head)
    assert counts.stale == 1
    assert files_by_key(db_conn, "etag, version")[KEY] == ("etag-A", 2)


def test_a_confirmed_version_of_a_file_being_processed_is_deferred(db_conn):
    register_page(db_conn, [A], head=_no_head)
    with db_conn.cursor() as cur:
        cur.execute("UPDATE file_processing_status SET processing_status = 'PROCESSING'")
    db_conn.commit()
    counts = register_page(db_conn, [B], head=FakeHead(B))
    assert (counts.deferred, counts.changed, counts.stale) == (1, 0, 0)
    assert files_by_key(db_conn, "etag, processing_status")[KEY] == ("etag-A", "PROCESSING")


def test_the_common_case_asks_s3_nothing(db_conn):
    """New keys, unchanged keys and newer versions: one bulk statement, no HEAD."""
    others = [ObjectInfo(f"raw-json-data/2024/week07/{i}.jsonl", 1, T0, f"e{i}") for i in range(50)]
    register_page(db_conn, [A, *others], head=_no_head)
    newer = ObjectInfo(KEY, 7, T0 + timedelta(minutes=5), "etag-D")
    counts = register_page(db_conn, [newer, *others], head=_no_head)
    assert (counts.changed, counts.unchanged, counts.stale) == (1, 50, 0)
