"""A page's new keys are inserted by a plain INSERT (no speculative insertion: the lister lock serializes the
writers of new keys). Should another session insert one of them between the classification and the INSERT all the
same, the page is registered again (with ON CONFLICT DO NOTHING), its keys classified against the committed row as
the next listing would: never an error, never a second row."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import psycopg2

from runtime.db.registration import register_page
from runtime.storage.base import ObjectInfo
from tests.support.sql import files_by_key

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
KEYS = [f"raw-json-data/all_historical_files/race/f{i}.json" for i in range(5)]
RACED = KEYS[2]


def _waiting_on_a_lock(conn: psycopg2.extensions.connection, pid: int) -> bool:
    with conn.cursor() as cur:
        cur.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,))
        row = cur.fetchone()
    conn.commit()
    return row is not None and row[0] == "Lock"


def test_a_key_inserted_by_another_session_during_the_page_is_classified_again_not_an_error(db_url, db_conn):
    other = psycopg2.connect(db_url)
    lister = psycopg2.connect(db_url)
    try:
        with lister.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            lister_pid = cur.fetchone()[0]
        lister.commit()
        with other.cursor() as cur:  # inserted, not yet committed: the page's classification cannot see it
            cur.execute("INSERT INTO file_processing_status (s3_key, etag) VALUES (%s, 'theirs')", (RACED,))
        result: dict[str, object] = {}

        def register() -> None:
            try:
                result["counts"] = register_page(lister, [ObjectInfo(k, 10, T0, "ours") for k in KEYS])
            except BaseException as exc:  # handed to the test
                result["error"] = exc

        thread = threading.Thread(target=register)
        thread.start()
        deadline = time.monotonic() + 30
        while not _waiting_on_a_lock(db_conn, lister_pid):  # the INSERT waits for the other transaction
            assert thread.is_alive() and time.monotonic() < deadline, f"the page never met the other insert: {result}"
            time.sleep(0.05)
        other.commit()
        thread.join(30)
        assert "error" not in result, f"the page failed instead of leaving the key to the other session: {result}"
        counts = result["counts"]
        assert counts.new == len(KEYS) - 1  # type: ignore[attr-defined]
        rows = files_by_key(db_conn, "etag, version")
        # classified again: the other session's row (no last-modified time) and ours a newer version of it
        assert (rows[RACED], counts.changed) == (("ours", 2), 1)  # type: ignore[attr-defined]
        assert {k: rows[k] for k in KEYS if k != RACED} == {k: ("ours", 1) for k in KEYS if k != RACED}
        with db_conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM file_processing_status")
            assert cur.fetchone()[0] == len(KEYS)
        db_conn.commit()
    finally:
        other.close()
        lister.close()
