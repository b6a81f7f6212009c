"""The claim's rule for files with a claim limit (a file of an abandoned batch, a culprit retried alone), against
the real database: such a file is claimed only in a batch of at most its limit, the file waiting longest is always
claimed, and files with a smaller limit are skipped rather than cutting every batch they are due in (found by a
review: ten culprits spread among 1,000 files cut a batch of 1,000 into twenty claims)."""

from __future__ import annotations

import uuid

from runtime.db.records import Owner
from runtime.db.tracking import TrackingStore

WEEK = "raw-json-data/2024/week01/"


def queue(conn, files: int, limits: dict[int, int]) -> None:
    """``files`` claimable files f1..fN in claim order (f1 waiting longest); ``limits``: file number -> limit."""
    with conn.cursor() as cur:
        cur.execute("INSERT INTO file_processing_status (s3_key, file_size_bytes, etag, next_attempt_at) "
                    "SELECT %s || 'f' || g || '.json', 10, 'e', now() - interval '1 hour' + g * interval '1 second' "
                    "FROM generate_series(1, %s) AS g", (WEEK, files))
        for number, limit in limits.items():
            cur.execute("UPDATE file_processing_status SET processing_status = 'FAILED', retry_count = 1, "
                        "claim_limit = %s WHERE s3_key = %s", (limit, f"{WEEK}f{number}.json"))
    conn.commit()


def claims(conn, batch_size: int) -> list[list[int]]:
    """Claim until nothing is left; the file numbers of each batch."""
    store, batches = TrackingStore(conn, Owner("run")), []
    while got := store.claim(str(uuid.uuid4()), "run", batch_size, 600):
        batches.append(sorted(int(f.key.rsplit("f", 1)[1].split(".")[0]) for f in got))
    return batches


def test_culprits_retried_alone_do_not_cut_the_batches_they_are_due_in(db_conn):
    queue(db_conn, 1000, {n: 1 for n in range(100, 1001, 100)})  # ten culprits, each to be retried alone
    batches = claims(db_conn, 1000)
    assert [len(b) for b in batches] == [990] + [1] * 10
    assert batches[1:] == [[n] for n in range(100, 1001, 100)]


def test_the_file_waiting_longest_is_always_claimed_and_limits_are_kept(db_conn):
    queue(db_conn, 10, {1: 4, 2: 4, 3: 4, 4: 4, 5: 4, 7: 2})
    batches = claims(db_conn, 10)
    assert batches[0] == [1, 2, 3, 4]  # f1's limit: 4, the first four that allow 4
    assert all(len(b) <= 4 for b in batches if set(b) & {1, 2, 3, 4, 5})
    assert all(len(b) <= 2 for b in batches if 7 in b)
    assert sorted(n for b in batches for n in b) == list(range(1, 11))


def test_without_limits_a_claim_takes_the_first_files_in_order(db_conn):
    queue(db_conn, 7, {})
    assert claims(db_conn, 5) == [[1, 2, 3, 4, 5], [6, 7]]
