"""Two claims at once never take the same file, and neither waits for the other (README, "Exactly once", step 1:
``UPDATE … WHERE file_id IN (SELECT … FOR UPDATE SKIP LOCKED)``).

The overlap is made, not hoped for: claim A runs the runtime's claim statement on one connection and keeps its
transaction open (its row locks held); claim B is the store's own :meth:`TrackingStore.claim` on a second
connection, in a thread. Either B finishes while A is still open (``SKIP LOCKED``: it skipped A's rows), or its
backend waits for A's locks, which ``pg_blocking_pids`` shows; only then is A committed. Both ways are decided by
the server, not by the scheduler, so the test gives the same answer on every run:

* without the row locks (no ``FOR UPDATE``), B reads A's rows as claimable, waits on them in its UPDATE and,
  once A commits, claims them again: the two batches share files;
* with ``FOR UPDATE`` but without ``SKIP LOCKED``, B waits for A's locks, then re-checks the rows and takes the
  next ones: the batches are disjoint, but every claim queues behind every other open claim (and behind any
  transaction that holds a claimable row), which is what ``SKIP LOCKED`` is there to prevent.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

import psycopg2

from runtime.db import queries
from runtime.db.tracking import TrackingStore
from tests.support.leases import register

FILES = 6
BATCH_SIZE = 3
LEASE_SECONDS = 300
#: Bound of each wait (the claim under test answers in milliseconds; the bound only turns a hang into a failure).
WAIT_SECONDS = 30.0

Connection = psycopg2.extensions.connection


def _claim_params(job_run_id: str) -> dict[str, object]:
    return {"batch_id": str(uuid.uuid4()), "job_run_id": job_run_id, "batch_size": BATCH_SIZE,
            "lease_seconds": LEASE_SECONDS}


def _claim_held_open(conn: Connection) -> set[int]:
    """Claim A: the runtime's claim statement, its transaction left open (its row locks held)."""
    with conn.cursor() as cur:
        cur.execute(queries.CLAIM_BATCH, _claim_params("run-a"))
        return {row[0] for row in cur.fetchall()}


def _is_blocked_by(monitor: Connection, waiting_pid: int, holding_pid: int) -> bool:
    """Whether backend ``waiting_pid`` waits for a lock held by backend ``holding_pid`` (read live: the monitor
    connection is in autocommit, so no statistics snapshot is kept between calls)."""
    with monitor.cursor() as cur:
        cur.execute("SELECT %s = ANY(pg_blocking_pids(%s))", (holding_pid, waiting_pid))
        return bool(cur.fetchone()[0])


def _waits_for(blocked: Callable[[], bool], done: threading.Event) -> bool:
    """True as soon as ``blocked()`` holds, False as soon as ``done`` is set; fails after :data:`WAIT_SECONDS`."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if done.is_set():
            return False
        if blocked():
            return True
        done.wait(0.01)
    raise AssertionError(f"the second claim neither finished nor waited for a lock within {WAIT_SECONDS} s")


class _ClaimInThread:
    """Claim B: :meth:`TrackingStore.claim` on its own connection, in a thread; its result or its error."""

    def __init__(self, db_url: str) -> None:
        self.conn = psycopg2.connect(db_url, application_name="test-claim-b")
        self.pid = self.conn.get_backend_pid()
        self.done = threading.Event()
        self.claimed: set[int] = set()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="claim-b", daemon=True)

    def _run(self) -> None:
        try:
            files = TrackingStore(self.conn).claim(str(uuid.uuid4()), "run-b", BATCH_SIZE, LEASE_SECONDS)
            self.claimed = {f.file_id for f in files}
        except BaseException as exc:  # surfaced by the test
            self.error = exc
        finally:
            self.done.set()

    def join(self) -> None:
        """Wait for the claim to end (bounded), then close its connection."""
        if self.thread.ident is not None:
            self.thread.join(WAIT_SECONDS)
        assert not self.thread.is_alive(), f"the second claim did not end within {WAIT_SECONDS} s"
        self.conn.close()


def _claim_beside_an_open_claim(db_url: str, conn_a: Connection) -> tuple[set[int], _ClaimInThread, bool]:
    """Claim A held open on ``conn_a``, claim B in a thread; A committed once B finished or waits for A's locks.
    Returns A's files, claim B (ended) and whether B waited for A."""
    monitor = psycopg2.connect(db_url, application_name="test-monitor")
    monitor.autocommit = True
    claim_b = _ClaimInThread(db_url)
    try:
        claimed_a = _claim_held_open(conn_a)
        claim_b.thread.start()
        waited = _waits_for(lambda: _is_blocked_by(monitor, claim_b.pid, conn_a.get_backend_pid()), claim_b.done)
        conn_a.commit()
    except BaseException:
        conn_a.rollback()  # frees a claim B that waits on A's locks
        raise
    finally:
        claim_b.join()
        monitor.close()
    assert claim_b.error is None, claim_b.error
    return claimed_a, claim_b, waited


def test_a_claim_skips_the_files_an_open_claim_holds_without_waiting_for_it(db_url, db_conn):
    register(db_conn, *(f"f{i}.jsonl" for i in range(FILES)))
    claimed_a, claim_b, waited = _claim_beside_an_open_claim(db_url, db_conn)
    assert len(claimed_a) == BATCH_SIZE
    shared = claimed_a & claim_b.claimed
    assert not shared, f"both claims took files {sorted(shared)} (the claim does not lock the rows it picks)"
    assert not waited, "the second claim waited for the first one's row locks instead of skipping them"
    all_files = {row[0] for row in _rows(db_conn, "SELECT file_id FROM file_processing_status")}
    assert claim_b.claimed == all_files - claimed_a, "the second claim took the files the first one left"


def test_a_claim_finds_nothing_at_once_while_an_open_claim_holds_every_claimable_file(db_url, db_conn):
    register(db_conn, *(f"f{i}.jsonl" for i in range(BATCH_SIZE)))
    claimed_a, claim_b, waited = _claim_beside_an_open_claim(db_url, db_conn)
    assert len(claimed_a) == BATCH_SIZE
    assert claim_b.claimed == set(), "the second claim took files the first one holds"
    assert not waited, "the second claim waited for the first one's row locks instead of finding nothing"
    # claim A ran the bare claim statement (no batch row): any batch row would be B's
    assert _rows(db_conn, "SELECT count(*) FROM processing_batches") == [(0,)], "an empty claim writes no batch row"


def _rows(conn: Connection, statement: str) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(statement)
        rows = cur.fetchall()
    conn.commit()
    return rows
