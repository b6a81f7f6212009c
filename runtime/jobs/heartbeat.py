"""Keeping leases alive, so that a live run is never taken over as dead while leases stay short.

:class:`RunHeartbeat` renews every batch a run holds, for the run's whole life (from the claim to the clean-up of
the staging, and the roll-forward of a batch it took over), every :func:`heartbeat_interval` (a fifth of the
lease: with the default lease of 300 s, every 60 s), on a connection of its own whose statement timeout and
dead-peer detection are lowered to that interval (:func:`heartbeat_limits`), so that no renewal hangs longer than
a beat, whatever the connection it was given."""

from __future__ import annotations

import contextlib
import logging
import math
import threading
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

from runtime.db.connection import SessionLimits, tighten
from runtime.db.tracking import TrackingStore

if TYPE_CHECKING:
    from psycopg2.extensions import connection as Connection

log = logging.getLogger(__name__)

#: Renewals per lease: a run misses this many heartbeats in a row before its batches can be taken over.
HEARTBEATS_PER_LEASE = 5


def heartbeat_interval(lease_seconds: float) -> float:
    """Seconds between two renewals of a lease of ``lease_seconds`` (at least half a second)."""
    return max(lease_seconds / HEARTBEATS_PER_LEASE, 0.5)


def heartbeat_limits(interval: float) -> SessionLimits:
    """The limits of a heartbeat connection renewing every ``interval`` seconds: a statement and a silent peer
    each end in an error within one interval (whole seconds, at least 1), so a renewal that hangs (a lock it
    waits for, a server gone without a word after a failover) is retried on a new connection at the next beat,
    long before the lease (:data:`HEARTBEATS_PER_LEASE` intervals) lapses."""
    budget = max(math.ceil(interval), 1)
    return SessionLimits(statement_timeout_seconds=budget, dead_peer_seconds=budget)


class RunHeartbeat:
    """While the ``with`` block runs, renew the lease of every batch run ``job_run_id`` holds every
    :func:`heartbeat_interval` seconds, on a connection of its own (opened at the first renewal, opened again after
    a failure: a database that is away for less than a lease costs nothing). The connection's limits are lowered
    to :func:`heartbeat_limits` of the interval, so a renewal fails rather than hangs. A batch taken over
    meanwhile is simply not renewed any more; the run's lease check before publishing and the fenced commit then
    stop it. ``renewals`` and ``failures`` count the beats that renewed and those that failed.

    ``connect`` is called for the first connection and for every reconnect: give it one that resolves credentials
    afresh (``lambda: connect(provider)`` with a :mod:`runtime.db.credentials` provider), never a URL resolved at
    the start of the run, so a reconnect after a password rotation, an expired IAM token or a failover succeeds."""

    def __init__(self, connect: Callable[[], Connection], job_run_id: str, lease_seconds: int,
                 interval: float | None = None) -> None:
        self.connect = connect
        self.job_run_id = job_run_id
        self.lease_seconds = lease_seconds
        self.interval = interval if interval is not None else heartbeat_interval(lease_seconds)
        self.limits = heartbeat_limits(self.interval)
        self.renewals = 0
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{job_run_id}", daemon=True)

    def __enter__(self) -> RunHeartbeat:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()

    def beat(self, tracking: TrackingStore) -> list[str]:
        """One renewal: the batches whose lease was extended."""
        renewed = tracking.renew_run_leases(self.job_run_id, self.lease_seconds)
        self.renewals += 1
        return renewed

    def _run(self) -> None:
        conn: Connection | None = None
        while not self._stop.wait(self.interval):
            try:
                if conn is None:
                    conn = self.connect()
                    tighten(conn, self.limits)
                self.beat(TrackingStore(conn))
            except Exception as exc:  # retried at the next beat, on a new connection
                self.failures += 1
                log.warning("lease heartbeat of run %s failed (%s); retrying in %.0fs", self.job_run_id, exc,
                            self.interval)
                conn = _close(conn)
        _close(conn)


def _close(conn: Connection | None) -> None:
    if conn is not None:
        with contextlib.suppress(Exception):  # already broken
            conn.close()
