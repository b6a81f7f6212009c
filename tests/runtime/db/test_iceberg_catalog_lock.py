"""The table's advisory lock is waited for with a bound, ending in the documented exit status 3.

Defect (review-s3): a commit waited for the lock with ``pg_advisory_lock``; ``mldp compact`` holding it longer than
the session's ``statement_timeout`` made the waiting processor fail with a traceback (``QueryCanceled``). The lock
is now tried (``pg_try_advisory_lock``) for a bounded time, then :class:`TableLockBusy` (a ``RunStopped``)."""

from __future__ import annotations

import psycopg2
import pytest

from runtime.db.iceberg_catalog import TableLockBusy, advisory_lock


def test_a_lock_held_elsewhere_stops_the_run_with_3_and_a_free_one_is_taken(db_url):
    holder, waiter = psycopg2.connect(db_url), psycopg2.connect(db_url)
    try:
        with holder.cursor() as cur:
            cur.execute("SET statement_timeout = 50")
        with waiter.cursor() as cur:
            cur.execute("SET statement_timeout = 50")
        with advisory_lock(holder, 4242):
            with pytest.raises(TableLockBusy) as stopped, advisory_lock(waiter, 4242, wait_seconds=0.3,
                                                                         poll_seconds=0.1):
                pytest.fail("the lock was held by the other session")
            assert stopped.value.exit_status == 3
        # released: taken at once
        with advisory_lock(waiter, 4242, wait_seconds=0.3, poll_seconds=0.1), waiter.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                        "AND objid = 4242 AND pid = pg_backend_pid()")
            assert cur.fetchone()[0] == 1
    finally:
        holder.close()
        waiter.close()
