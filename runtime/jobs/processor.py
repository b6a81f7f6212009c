"""``JsonToParquetBatchProcessor``: claim a batch, convert it exactly once, record every outcome, archive.

One run: archive what earlier runs left unarchived (:mod:`runtime.jobs.archive`), recover batches whose lease
expired (:mod:`runtime.jobs.recovery`: roll forward when their staging is complete, clean and retry otherwise),
then process one batch through the steps of :mod:`runtime.jobs.batch` (claim -> pre-check -> Spark convert into
staging -> write the manifest -> renew the lease, abort if lost -> publish -> commit all outcomes in one
transaction -> archive raw files -> clean staging). :class:`BatchProcessor` is the drain loop and the public API
the commands and tests use; every SQL statement goes through :class:`runtime.db.tracking.TrackingStore`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from runtime.db.tracking import LeaseLost, TrackingStore
from runtime.jobs.archive import LEFTOVER_LIMIT, Archiver
from runtime.jobs.batch import CHECKPOINTS, BatchProtocol, BatchReport, SourceChangedDuringRead, lineage_uri
from runtime.jobs.recovery import Recovery, UnrecoverableBatch
from runtime.jobs.retry import RetryPolicy
from runtime.jobs.settings import ProcessorSettings
from runtime.layout import Layout
from runtime.storage.base import ObjectStore

if TYPE_CHECKING:
    from psycopg2.extensions import connection as Connection
    from pyspark.sql import SparkSession

    from runtime.transforms.spec import TransformSpec

__all__ = [
    "CHECKPOINTS", "BatchProcessor", "BatchReport", "LeaseLost", "ProcessorSettings", "RetryPolicy",
    "SourceChangedDuringRead", "UnrecoverableBatch", "lineage_uri",
]

log = logging.getLogger(__name__)


class BatchProcessor:
    """Runs the batch protocol against one store and one tracking database connection.

    ``spark_factory`` and ``heartbeat_connect`` (opens a second connection for the lease heartbeat during the
    conversion; ``None``: no heartbeat) are read at each batch, so they may be replaced between batches.
    """

    def __init__(self, store: ObjectStore, conn: Connection, spark_factory: Callable[[], SparkSession],
                 spec: TransformSpec, settings: ProcessorSettings | None = None, layout: Layout | None = None,
                 checkpoint: Callable[[str], None] = lambda name: None,
                 heartbeat_connect: Callable[[], Connection] | None = None) -> None:
        self.store = store
        self.conn = conn
        self.tracking = TrackingStore(conn)
        self.spark_factory = spark_factory
        self.spec = spec
        self.settings = settings or ProcessorSettings()
        self.layout = layout or Layout()
        self.checkpoint = checkpoint
        self.heartbeat_connect = heartbeat_connect

    # -- public ------------------------------------------------------------------------------------------------

    def run_once(self) -> list[BatchReport]:
        """Recover expired batches, then claim and process one batch. Returns the batches finished."""
        reports = self.recover_expired()
        report = self.process_next_batch()
        if report:
            reports.append(report)
        return reports

    def drain(self, max_minutes: float | None = None,
              on_batch: Callable[[BatchReport], None] = lambda report: None) -> list[BatchReport]:
        """Repeat :meth:`run_once` until nothing is claimable or the time budget would be exceeded."""
        started = time.monotonic()
        budget = max_minutes * 60 if max_minutes else None
        reports: list[BatchReport] = []
        longest = 0.0
        while True:
            if budget is not None and time.monotonic() - started + longest > budget:
                log.info("time budget of %s minutes reached: stopping the drain", max_minutes)
                break
            batch = self.run_once()
            if not batch:
                break
            for report in batch:
                longest = max(longest, report.seconds)
                on_batch(report)
            reports.extend(batch)
        return reports

    def process_next_batch(self) -> BatchReport | None:
        """Claim and process one new batch; ``None`` when nothing is claimable."""
        return self.protocol().run()

    def recover_expired(self) -> list[BatchReport]:
        """Archive leftovers, clean the staging of finished batches, then roll forward or abandon every batch
        whose lease expired (a crashed run's). Returns the batches rolled forward."""
        self.archive_leftovers()
        recovery = Recovery(self.protocol())
        recovery.clean_finished_staging()
        return recovery.recover_expired()

    def archive_leftovers(self, limit: int = LEFTOVER_LIMIT) -> int:
        """Archive SUCCEEDED files a crash or a failed move left in the raw prefix."""
        return self.archiver().archive_leftovers(limit)

    def clean_finished_staging(self) -> int:
        """Delete staging left by batches that are no longer open (a crash after commit, before clean-up)."""
        return Recovery(self.protocol()).clean_finished_staging()

    # -- wiring --------------------------------------------------------------------------------------------------

    def archiver(self) -> Archiver:
        """The archiver of this processor's store, layout and settings."""
        return Archiver(self.store, self.tracking, self.layout, self.settings.io_workers, self.checkpoint,
                        enabled=self.settings.archive)

    def protocol(self) -> BatchProtocol:
        """The batch steps with this processor's current store, Spark, spec, settings and hooks."""
        return BatchProtocol(self.store, self.tracking, self.spark_factory, self.spec, self.settings, self.layout,
                             self.archiver(), self.checkpoint, self.heartbeat_connect)
