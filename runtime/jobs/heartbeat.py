"""Keeping a batch's lease alive while Spark converts it, so a long conversion is not taken over as dead."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

from runtime.db.tracking import TrackingStore

if TYPE_CHECKING:
    from psycopg2.extensions import connection as Connection

log = logging.getLogger(__name__)


class LeaseHeartbeat:
    """While the ``with`` block runs, renew the lease of ``batch_id`` every ``lease_seconds / 3`` seconds on a
    connection of its own (the main connection stays the caller's). A renewal that finds the batch no longer
    ours stops the heartbeat; the caller's lease check before publishing then stops the batch."""

    def __init__(self, connect: Callable[[], Connection], batch_id: str, job_run_id: str, lease_seconds: int) -> None:
        self.connect = connect
        self.batch_id = batch_id
        self.job_run_id = job_run_id
        self.lease_seconds = lease_seconds
        self.interval = max(lease_seconds / 3, 0.5)
        self.renewals = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{batch_id[:8]}", daemon=True)

    def __enter__(self) -> LeaseHeartbeat:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            conn = self.connect()
        except Exception as exc:  # the lease check before publishing still protects the batch
            log.warning("lease heartbeat disabled: %s", exc)
            return
        try:
            tracking = TrackingStore(conn)
            while not self._stop.wait(self.interval):
                if not tracking.renew_lease(self.batch_id, self.job_run_id, self.lease_seconds).renewed:
                    log.warning("batch %s was taken over: lease heartbeat stops", self.batch_id)
                    return
                self.renewals += 1
        except Exception as exc:
            log.warning("lease heartbeat stopped: %s", exc)
        finally:
            conn.close()
