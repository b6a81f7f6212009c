"""``JsonToParquetBatchProcessor``: claim a batch, convert it exactly once, record every outcome, archive.

One run: archive what earlier runs left unarchived (:mod:`runtime.jobs.archive`), recover batches whose lease
expired (:mod:`runtime.jobs.recovery`: roll forward when their staging is complete, clean and retry otherwise),
then process one batch through the steps of :mod:`runtime.jobs.batch` (claim -> pre-check -> Spark convert into
staging -> write the manifest -> renew the lease, abort if lost -> publish -> commit all outcomes in one
transaction -> archive raw files -> clean staging). :class:`BatchProcessor` is the drain loop and the public API
the commands and tests use; every SQL statement goes through :class:`runtime.db.tracking.TrackingStore`.

A run's life: it records itself as the owner of each batch it claims (:mod:`runtime.jobs.owner`), a
:class:`~runtime.jobs.heartbeat.RunHeartbeat` renews its leases from the claim to the clean-up, and it never
leaves a batch PROCESSING on its way out: a batch it cannot finish (a clean stop, :mod:`runtime.jobs.stopping`,
or an error that escapes the batch protocol, which records every file's own failure itself) is given back
without charging its files an attempt when it has no manifest yet, or handed back for the next run to roll
forward when it has one. Which of the two is read from the batch's stage (:class:`~runtime.jobs.batch.BatchProgress`,
advanced by the protocol), as is whether a stop is honoured (:class:`~runtime.jobs.batch.OnStop`). Only a killed
process leaves a batch behind, and the next run recovers it at once.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import psycopg2

from runtime.db.connection import tighten
from runtime.db.tracking import LeaseLost, TrackingStore
from runtime.jobs import publish as pub
from runtime.jobs.archive import LEFTOVER_LIMIT, ArchiveCounts, Archiver
from runtime.jobs.batch import BatchProgress, BatchProtocol, BatchReport, lineage_uri
from runtime.jobs.checkpoints import CHECKPOINTS, CrashHook, no_crash
from runtime.jobs.heartbeat import RunHeartbeat, heartbeat_interval, heartbeat_limits
from runtime.jobs.owner import OwnerProbe, current_owner, live_run
from runtime.jobs.recovery import Recovery, UnrecoverableBatch
from runtime.jobs.retry import RetryPolicy
from runtime.jobs.settings import ProcessorSettings
from runtime.jobs.stopping import StopRequested, StopSignal, cancel_spark_jobs, signal_name
from runtime.layout import Layout
from runtime.storage.base import ObjectStore, StoragePermissionError

if TYPE_CHECKING:
    from psycopg2.extensions import connection as Connection
    from pyspark.sql import SparkSession

    from runtime.table.commit import IcebergTable
    from runtime.transforms.spec import TransformSpec

__all__ = [
    "CHECKPOINTS", "BatchProcessor", "BatchReport", "LeaseLost", "ProcessorSettings", "RetryPolicy",
    "StopRequested", "UnrecoverableBatch", "lineage_uri",
]

log = logging.getLogger(__name__)


class BatchProcessor:
    """Runs the batch protocol against one store and one tracking database connection.

    ``spark_factory`` and ``heartbeat_connect`` (opens a second connection for the run's lease heartbeat, and for
    giving the run's batches back when its own connection is lost; ``None``: no heartbeat) are read at each batch,
    so they may be replaced between batches. ``owner_probe`` tells
    whether the owner of another run's batch is provably gone (injectable: its Glue client). ``handle_signals``:
    SIGINT and SIGTERM stop :meth:`drain` and :meth:`run_once` cleanly (main thread only); :attr:`exit_status`
    is then ``128 + signal``. ``table``: the Iceberg table each batch is committed to (``--table-format iceberg``;
``None``: loose Parquet). ``checkpoint`` is for tests only (:mod:`runtime.jobs.checkpoints`: called at each
    crash checkpoint, it decides nothing); the product never passes one.
    """

    def __init__(self, store: ObjectStore, conn: Connection, spark_factory: Callable[[], SparkSession],
                 spec: TransformSpec, settings: ProcessorSettings | None = None, layout: Layout | None = None, *,
                 checkpoint: CrashHook = no_crash,
                 heartbeat_connect: Callable[[], Connection] | None = None, owner_probe: OwnerProbe | None = None,
                 handle_signals: bool = False, heartbeat_interval: float | None = None,
                 table: IcebergTable | None = None) -> None:
        self.store = store
        self.conn = conn
        self.settings = settings or ProcessorSettings()
        self.stop = StopSignal()
        self.owner = current_owner(self.settings.job_run_id)
        self.tracking = TrackingStore(conn, self.owner)
        #: the batch this run has in hand and its stage, advanced by the protocol
        self.progress = BatchProgress()
        self.archive_counts = ArchiveCounts()  # the run's archive failures (a metric at its end)
        self.spark_factory = spark_factory
        self.spec = spec
        self.layout = layout or Layout()
        self.checkpoint = checkpoint
        self.heartbeat_connect = heartbeat_connect
        #: seconds between two lease renewals (``None``: a fifth of the lease, :func:`heartbeat_interval`)
        self.heartbeat_interval = heartbeat_interval
        self.owner_probe = owner_probe or OwnerProbe()
        self.handle_signals = handle_signals
        #: batches whose recovery failed in this run: not tried again by it
        self.failed_recoveries: set[str] = set()
        #: the Iceberg table the batches are committed to (``None``: loose Parquet under the curated prefix)
        self.table = table

    # -- public ------------------------------------------------------------------------------------------------

    @property
    def exit_status(self) -> int:
        """0, or ``128 + signal`` when a stop signal ended the run (130 SIGINT, 143 SIGTERM)."""
        return self.stop.exit_status

    def run_once(self) -> list[BatchReport]:
        """Recover expired batches, then claim and process one batch. Returns the batches finished."""
        with self._signals():
            return self._run_once()

    def drain(self, max_minutes: float | None = None,
              on_batch: Callable[[BatchReport], None] = lambda report: None) -> list[BatchReport]:
        """Repeat :meth:`run_once` until nothing is claimable, the time budget would be exceeded or a stop
        signal arrived."""
        started = time.monotonic()
        budget = max_minutes * 60 if max_minutes else None
        reports: list[BatchReport] = []
        longest = 0.0
        with self._signals():
            while not self.stop.requested:
                if budget is not None and time.monotonic() - started + longest > budget:
                    log.info("time budget of %s minutes reached: stopping the drain", max_minutes)
                    break
                batch = self._run_once()
                for report in batch:
                    longest = max(longest, report.seconds)
                    on_batch(report)
                reports.extend(batch)
                if not batch:
                    break
        return reports

    def process_next_batch(self) -> BatchReport | None:
        """Claim and process one new batch; ``None`` when nothing is claimable."""
        return self.protocol().run()

    def recover_expired(self) -> list[BatchReport]:
        """Archive leftovers (a refused move is logged and left for the next run: it never keeps this one from its
        work), clean the staging of finished batches, then roll forward or abandon every batch
        whose lease expired, that its run handed back, or whose owner is provably gone (a crashed run's), each on
        its own. Returns the reports of the batches rolled forward and abandoned (``abandoned``)."""
        try:
            self.archive_leftovers()
        except StoragePermissionError as refused:  # the raw files stay; this run's own archive will tell again
            log.error("leftover raw files not archived (%s): they stay in place, retried by the next run", refused)
        recovery = self.recovery()
        recovery.clean_finished_staging()
        return recovery.recover_expired()

    def archive_leftovers(self, limit: int = LEFTOVER_LIMIT) -> int:
        """Archive SUCCEEDED files a crash or a failed move left in the raw prefix."""
        return self.archiver().archive_leftovers(limit)

    def clean_finished_staging(self) -> int:
        """Delete staging left by batches that are no longer open (a crash after commit, before clean-up)."""
        return self.recovery().clean_finished_staging()

    # -- the run's life ------------------------------------------------------------------------------------------

    def _run_once(self) -> list[BatchReport]:
        reports: list[BatchReport] = []
        try:
            with live_run(self.settings.job_run_id), self._heartbeat():
                reports.extend(self.recover_expired())
                report = self.process_next_batch()  # a safe point before its claim
                if report:
                    reports.append(report)
        except StopRequested as stop:
            self._give_back(f"run stopped by {signal_name(stop.signum)} before finishing the batch")
        except Exception as exc:
            self._give_back(f"run stopped by {type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:300]}")
            if not self.stop.requested:
                raise
            log.info("stopped by %s: %s: %s", signal_name(self.stop.signum or 0), type(exc).__name__, exc)
        return reports

    def _give_back(self, reason: str) -> None:
        """Leave no batch of this run PROCESSING: the batch claimed by this run without a manifest goes back
        without charging its files an attempt; any other (past its manifest, or taken over) is handed back to be
        recovered at once by the next run. When the run's connection is lost (the reason it stops, often), on a
        connection of its own."""
        try:
            self._give_back_with(self.tracking, reason)
        except psycopg2.Error as exc:
            if self.heartbeat_connect is None or not self._give_back_on_a_new_connection(reason, exc):
                log.warning("could not give this run's batches back (%s); the next run recovers them", exc)
                self._mark_released(reason)
        except Exception as exc:  # e.g. the store is gone: the next run finds this run ended
            log.warning("could not give this run's batches back (%s); the next run recovers them", exc)
        finally:
            self.progress.clear()

    def _mark_released(self, reason: str) -> None:
        """The database is away: record in the in-flight batch's staging (before its manifest) that this run gives
        it back, so that the next run's recovery returns its files uncharged instead of abandoning it as a dead
        run's (which charges a file abandoned alone)."""
        batch_id = self.progress.batch_id
        if batch_id is None or self.progress.stage.has_manifest:
            return
        try:
            pub.write_release_marker(self.store, self.layout, batch_id, f"released: {reason}")
        except Exception as exc:  # the store is away too: the next run abandons it as a dead run's
            log.warning("could not record the release of batch %s in its staging either (%s)", batch_id, exc)

    def _give_back_on_a_new_connection(self, reason: str, lost: BaseException) -> bool:
        """The give-back on a connection of its own (the run's was lost); False when the database is away."""
        assert self.heartbeat_connect is not None
        conn = None
        try:
            conn = self.heartbeat_connect()
            tighten(conn, heartbeat_limits(self.heartbeat_interval or heartbeat_interval(self.settings.lease_seconds)))
            self._give_back_with(TrackingStore(conn, self.owner), reason)
            log.warning("the run's connection was lost (%s): its batches were given back on a new one", lost)
            return True
        except Exception as exc:  # the database is away
            log.warning("could not reconnect to give this run's batches back (%s)", exc)
            return False
        finally:
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()

    def _give_back_with(self, tracking: TrackingStore, reason: str) -> None:
        """Release the batch in hand while it has no manifest (its stage says so, and its staging agrees); hand back
        every other open batch of this run."""
        job_run_id = self.settings.job_run_id
        in_hand, has_manifest = self.progress.batch_id, self.progress.stage.has_manifest
        for batch in tracking.open_batches():
            if batch.owner.job_run_id != job_run_id:
                continue
            if batch.batch_id == in_hand and not has_manifest \
                    and not pub.probe_manifest(self.store, self.layout, batch.batch_id).found:
                files = tracking.release(batch.batch_id, job_run_id, f"released: {reason}",
                                         self.settings.retry_policy)
                pub.clean_staging(self.store, self.layout, batch.batch_id)
                log.warning("batch %s released, %s files back without an attempt counted: %s",
                            batch.batch_id, files, reason)
            elif tracking.hand_back(batch.batch_id, job_run_id, reason):
                log.warning("batch %s handed back to the next run (past its manifest): %s", batch.batch_id, reason)

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        if not self.handle_signals:
            yield
            return
        with self.stop.installed(on_stop=cancel_spark_jobs):
            yield

    def _heartbeat(self) -> contextlib.AbstractContextManager:
        if self.heartbeat_connect is None:
            return contextlib.nullcontext()
        return RunHeartbeat(self.heartbeat_connect, self.settings.job_run_id, self.settings.lease_seconds,
                            self.heartbeat_interval)

    def _spark(self) -> SparkSession:
        """The Spark session (the protocol's safe point comes first), taking the signals back from PySpark."""
        session = self.spark_factory()
        self.stop.reinstall()
        return session

    # -- wiring --------------------------------------------------------------------------------------------------

    def archiver(self) -> Archiver:
        """The archiver of this processor's store, layout and settings."""
        return Archiver(self.store, self.tracking, self.layout, self.settings.io_workers, self.checkpoint,
                        enabled=self.settings.archive, counts=self.archive_counts)

    def protocol(self) -> BatchProtocol:
        """The batch steps with this processor's current store, Spark, spec, settings, stop flag and progress (the
        lease is renewed by the run's heartbeat, not the protocol's)."""
        return BatchProtocol(self.store, self.tracking, self._spark, self.spec, self.settings, self.layout,
                             self.archiver(), checkpoint=self.checkpoint, stop_check=self.stop.check,
                             progress=self.progress, table=self.table)

    def recovery(self) -> Recovery:
        """Recovery of other runs' batches, with this processor's protocol, owner probe and stop flag."""
        return Recovery(self.protocol(), self.owner_probe, self.failed_recoveries,
                        should_stop=lambda: self.stop.requested)
