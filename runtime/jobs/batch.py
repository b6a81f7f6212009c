"""The batch protocol: the steps of one batch, each a named method of :class:`BatchProtocol`, in the order they
run (docs/exactly-once.md, "The protocol"):

1. :meth:`~BatchProtocol.claim` the files and insert the batch row (one transaction);
2. :meth:`~BatchProtocol.precheck` each file (vanished, changed, zero bytes, broken compression; JSON Lines or
   array);
3. :meth:`~BatchProtocol.convert` the readable ones with Spark into the batch's staging (the run's heartbeat
   keeps the lease alive, :class:`~runtime.jobs.heartbeat.RunHeartbeat`); a failure is narrowed to the files that
   cause it (:mod:`runtime.jobs.conversion`), and one that belongs to no file stops the run
   (:class:`~runtime.errors.RunStopped`) before any file is charged an attempt;
4. :meth:`~BatchProtocol.write_manifest`: every outcome and the publish plan, the completion marker;
5. :meth:`~BatchProtocol.finish`: renew the lease and record that the batch publishes (stop if the batch was
   taken over), publish, for an Iceberg table commit the published files to it (:meth:`BatchProtocol.commit_table`,
   exactly once), commit every outcome in one transaction, archive the succeeded raw files, remove the dead
   letters its files' latest conversions replace (:mod:`runtime.jobs.dead_letters`), clean the staging.

Every failure of a file between the claim and the manifest is that file's outcome (pre-check, making it readable
to Spark, conversion); any other error stops the run before the manifest, and the run gives the batch back without
charging its files (:class:`runtime.jobs.processor.BatchProcessor`).

**Progress and safe points.** How far the batch came is a value, :class:`BatchStage`, held in the run's
:class:`BatchProgress` as the protocol advances (:meth:`BatchProtocol.advance`). Every stage reached is a safe point,
and so are the places of the conversion where a stop may cut it short (before Spark starts, before each conversion
and dry run, after a failed one): there a stop request (SIGINT/SIGTERM, ``stop_check``) is honoured as
:meth:`OnStop.at` says from the stage alone, in one place: before the manifest the batch is given back uncharged,
from the manifest on it is finished and the run stops after it. The run's give-back after an error reads the same
stage (:attr:`BatchStage.has_manifest`).

Recovery (:mod:`runtime.jobs.recovery`) rolls a batch with a manifest forward through :meth:`~BatchProtocol.finish`.
``checkpoint`` is a test's hook, called at each :class:`~runtime.jobs.checkpoints.Checkpoint` (between every two
steps, and inside the publish and the archive) so that tests can inject a crash anywhere; it decides nothing.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum, IntEnum
from typing import TYPE_CHECKING

from runtime.db.records import ClaimedFile, FileOutcome
from runtime.db.states import BatchState, FileState
from runtime.db.tracking import TrackingStore
from runtime.jobs import dead_letters
from runtime.jobs import publish as pub
from runtime.jobs.archive import Archiver, succeeded_items
from runtime.jobs.checkpoints import CHECKPOINTS, Checkpoint, CrashHook, no_crash
from runtime.jobs.conversion import BatchConversion, classify, lineage_uri
from runtime.jobs.precheck import PrecheckResult, check_files
from runtime.jobs.settings import ProcessorSettings
from runtime.layout import Layout
from runtime.storage.base import ObjectStore

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from runtime.table.commit import IcebergTable
    from runtime.transforms.spec import TransformSpec

__all__ = ["CHECKPOINTS", "BatchProgress", "BatchProtocol", "BatchReport", "BatchStage", "OnStop", "PhaseTimer",
           "classify", "lineage_uri"]

log = logging.getLogger(__name__)

#: The error of a reprocessed file claimed by a run without an Iceberg table (held: uncharged, not retried).
REPROCESS_NEEDS_ICEBERG = (
    "re-queued by mldp reprocess: converted again only with --table-format iceberg, whose commit replaces its rows "
    "(the Parquet format would publish them beside the old ones); held: run mldp process --table-format iceberg "
    "after mldp requeue")


class BatchStage(IntEnum):
    """How far a run's batch came through the protocol, in order: the stage is reached once its step is done."""

    #: no batch in hand (before the claim, or nothing was claimable)
    UNCLAIMED = 0
    #: step 1 done: the files and the batch row are the run's
    CLAIMED = 1
    #: step 2 done: which files Spark may read is known
    PRECHECKED = 2
    #: step 3 done: the readable files are converted into the batch's staging
    STAGED = 3
    #: step 4 done: the manifest, the completion marker, is written: the staging is complete
    MANIFEST_WRITTEN = 4
    #: every staged object is copied to its final key
    PUBLISHED = 5
    #: every outcome is recorded and the batch closed, in one transaction
    COMMITTED = 6
    #: the succeeded raw files are archived
    ARCHIVED = 7
    #: the staging is deleted: the batch is done
    CLEANED = 8

    @property
    def has_manifest(self) -> bool:
        """The batch's staging is complete: from here on it is finished, by this run or rolled forward by the next
        one, and never given back (part of it may be published)."""
        return self >= BatchStage.MANIFEST_WRITTEN


class OnStop(Enum):
    """What a stop request does to the run's batch at a safe point."""

    #: stop now: the run gives the batch back without charging its files (nothing of it was published)
    GIVE_BACK = "give back uncharged"
    #: go on to the end of the batch; the run stops after it
    FINISH = "finish"

    @classmethod
    def at(cls, stage: BatchStage) -> OnStop:
        """The rule of a clean stop, a function of the stage alone: before the manifest, give the batch back; from
        the manifest on, finish it."""
        return cls.FINISH if stage.has_manifest else cls.GIVE_BACK


@dataclass
class BatchProgress:
    """The batch a run has in hand (``batch_id``) and its :class:`BatchStage`: what a stop and the run's give-back
    after an error decide from."""

    batch_id: str | None = None
    stage: BatchStage = BatchStage.UNCLAIMED

    def clear(self) -> None:
        """No batch in hand."""
        self.batch_id, self.stage = None, BatchStage.UNCLAIMED


@dataclass
class BatchReport:
    """What one batch did."""

    batch_id: str
    files: dict[str, int]
    records_good: int
    records_bad: int
    bytes: int
    seconds: float
    partitions: list[str]
    recovered: bool = False
    #: a dead run's batch closed without a manifest: its files were given back (``PENDING``) or charged (``FAILED``)
    abandoned: bool = False
    #: seconds spent per protocol phase (claim, precheck, convert, publish, commit, archive, clean)
    timings: dict[str, float] = field(default_factory=dict)
    #: good records that carried rescued data
    records_rescued: int = 0


class PhaseTimer:
    """Seconds spent in each named phase, measured lap by lap."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.monotonic()

    def lap(self, name: str) -> None:
        """Charge the time since the previous lap to ``name``."""
        now = time.monotonic()
        self.laps[name] = self.laps.get(name, 0.0) + now - self._last
        self._last = now


@dataclass
class BatchProtocol:
    """The steps of one batch against one store and one tracking store (see the module docstring)."""

    store: ObjectStore
    tracking: TrackingStore
    spark_factory: Callable[[], SparkSession]
    spec: TransformSpec
    settings: ProcessorSettings
    layout: Layout
    archiver: Archiver
    #: a test's hook at each crash checkpoint (the product's does nothing); it decides nothing
    checkpoint: CrashHook = no_crash
    #: raises :class:`~runtime.jobs.stopping.StopRequested` when a stop was requested; called at the safe points
    stop_check: Callable[[], None] = lambda: None
    #: the run's batch and its stage, shared with the run (its give-back reads it)
    progress: BatchProgress = field(default_factory=BatchProgress)
    #: the Iceberg table the batches are committed to (``--table-format iceberg``); ``None``: loose Parquet
    table: IcebergTable | None = None

    def run(self) -> BatchReport | None:
        """Claim and process one new batch, every step; ``None`` when nothing is claimable."""
        started = time.monotonic()
        timer = PhaseTimer()
        batch_id = str(uuid.uuid4())
        self.progress.clear()
        self.safe_point()  # a run asked to stop claims nothing
        claimed = self.claim(batch_id)
        if not claimed:
            return None
        self.progress.batch_id = batch_id
        timer.lap("claim")
        self.advance(BatchStage.CLAIMED)
        self.checkpoint(Checkpoint.AFTER_CLAIM)
        log.info("batch %s: claimed %d files", batch_id, len(claimed))
        checks = self.precheck(claimed)  # a refusal of every file (StoragePermissionError) stops the run
        timer.lap("precheck")
        self.advance(BatchStage.PRECHECKED)
        self.checkpoint(Checkpoint.AFTER_PRECHECK)
        outcomes = {c.file.file_id: c.outcome() for c in checks if not c.readable}
        readable = [c for c in checks if c.readable]
        if readable:
            try:
                outcomes.update(self.convert(batch_id, readable))
            except Exception:  # no file's (each file's own failure is its outcome): the run gives the batch back
                self.clean_after_stop(batch_id)
                raise
        timer.lap("convert")
        self.advance(BatchStage.STAGED)
        self.checkpoint(Checkpoint.AFTER_STAGING_WRITE)
        manifest = self.write_manifest(batch_id, [outcomes[f.file_id] for f in claimed])
        timer.lap("manifest")
        self.advance(BatchStage.MANIFEST_WRITTEN)
        self.checkpoint(Checkpoint.AFTER_COMPLETION_MARKER)
        return self.finish(manifest, started, timer)

    # -- progress and safe points --------------------------------------------------------------------------------

    def advance(self, stage: BatchStage) -> None:
        """The batch reached ``stage``: record it, then a safe point."""
        self.progress.stage = stage
        self.safe_point()

    def safe_point(self) -> None:
        """Honour a stop request here if :meth:`OnStop.at` says so for the batch's stage (raises
        :class:`~runtime.jobs.stopping.StopRequested` through ``stop_check``); past the manifest, go on."""
        if OnStop.at(self.progress.stage) is OnStop.GIVE_BACK:
            self.stop_check()

    def spark(self) -> SparkSession:
        """The Spark session of the conversion, never started for a run asked to stop (a safe point first)."""
        self.safe_point()
        return self.spark_factory()

    # -- the steps, in order -------------------------------------------------------------------------------------

    def claim(self, batch_id: str) -> list[ClaimedFile]:
        """Step 1: claim up to ``batch_size`` files for ``batch_id`` (with the batch row, one transaction)."""
        return self.tracking.claim(batch_id, self.settings.job_run_id, self.settings.batch_size,
                                   self.settings.lease_seconds)

    def precheck(self, claimed: Sequence[ClaimedFile]) -> list[PrecheckResult]:
        """Step 2: one ranged GET per file (in parallel): which files Spark may read, and why not the others. A file
        ``mldp reprocess`` re-queued is read only into an Iceberg table (whose commit replaces its rows): with the
        Parquet format it is held, uncharged, never read (:data:`REPROCESS_NEEDS_ICEBERG`)."""
        if self.table is None and any(f.archived_key is not None for f in claimed):
            held = {f.file_id: PrecheckResult(f, FileState.FAILED, REPROCESS_NEEDS_ICEBERG, held=True)
                    for f in claimed if f.archived_key is not None}
            checked = check_files(self.store, [f for f in claimed if f.file_id not in held], self.settings.io_workers)
            return [*checked, *held.values()]
        return check_files(self.store, claimed, self.settings.io_workers)

    def convert(self, batch_id: str, readable: Sequence[PrecheckResult]) -> dict[int, FileOutcome]:
        """Step 3: Spark converts the readable files into the batch's staging (the run's heartbeat keeps the lease
        alive); each file classified by its record counts, a failure narrowed to the files that cause it, a file that
        changed while Spark read it FAILED (:class:`~runtime.jobs.conversion.BatchConversion`). Raises
        :class:`~runtime.errors.RunStopped` for a failure that belongs to no file."""
        conversion = BatchConversion(self.store, self.spark, self.spec, self.layout, batch_id,
                                     self.settings.io_workers, self.safe_point,
                                     keep_partition_columns=self.table is not None)
        return conversion.run(readable)

    def write_manifest(self, batch_id: str, outcomes: Sequence[FileOutcome]) -> pub.Manifest:
        """Step 4: plan the publish from what is staged and write the manifest, the completion marker. For an
        Iceberg table the curated files go to its data location (the table created first when missing)."""
        plan = pub.plan_publish(self.store, self.layout, batch_id, self.curated_target(batch_id))
        outcomes = [replace(o, dead_letter_path=plan.dead_letters.get(o.file_id)) for o in outcomes]
        from runtime.table.catalog import manifest_record  # the table named: any run finishing the batch commits it

        record = None if self.table is None else manifest_record(self.table.location)
        manifest = pub.Manifest(batch_id, outcomes, plan.entries, plan.partitions, record)
        pub.write_manifest(self.store, self.layout, manifest)
        return manifest

    def curated_target(self, batch_id: str) -> str | None:
        """Where the batch's curated files are published: ``None`` for the layout's curated prefix (Parquet), the
        Iceberg table's data location otherwise (the table created from a staged file's schema when missing)."""
        if self.table is None:
            return None
        staged = pub.first_staged_curated(self.store, self.layout, batch_id)
        return None if staged is None else self.table.data_key_prefix(self.store, staged)

    def finish(self, manifest: pub.Manifest, started: float, timer: PhaseTimer | None = None) -> BatchReport:
        """Step 5 (also the roll-forward of a recovered batch): renew the lease (:class:`LeaseLost` if the batch
        was taken over), publish, commit every outcome, archive the succeeded raw files, remove the dead letters its
        files' latest conversions replace and clean the staging (:func:`runtime.jobs.dead_letters.clean_committed`)."""
        timer = timer or PhaseTimer()
        self.progress.batch_id = manifest.batch_id  # a recovered batch enters here, with its manifest
        self.progress.stage = BatchStage.MANIFEST_WRITTEN
        table = self.table_for(manifest)  # before publishing: a table that cannot be opened publishes nothing
        self.begin_publish(manifest)
        pub.publish(self.store, manifest, self.settings.io_workers, self.checkpoint)
        timer.lap("publish")
        self.advance(BatchStage.PUBLISHED)
        self.checkpoint(Checkpoint.AFTER_PUBLISH)
        if table is not None:
            self.commit_table(manifest, table)
            timer.lap("table commit")
            self.checkpoint(Checkpoint.AFTER_TABLE_COMMIT)
        statuses = self.commit(manifest.batch_id, manifest.outcomes, BatchState.COMMITTED)
        timer.lap("commit")
        self.advance(BatchStage.COMMITTED)
        self.checkpoint(Checkpoint.AFTER_COMMIT)
        self.archiver.archive(succeeded_items(manifest.outcomes))
        timer.lap("archive")
        self.advance(BatchStage.ARCHIVED)
        self.checkpoint(Checkpoint.AFTER_ARCHIVE)
        dead_letters.clean_committed(self.store, self.tracking, self.layout, manifest.batch_id)
        timer.lap("clean")
        self.advance(BatchStage.CLEANED)
        log.info("batch %s: %s in %s", manifest.batch_id, statuses,
                 ", ".join(f"{k} {v:.2f}s" for k, v in timer.laps.items()))
        return BatchReport(
            batch_id=manifest.batch_id, files=statuses,
            records_good=sum(o.records_good or 0 for o in manifest.outcomes),
            records_bad=sum(o.records_bad or 0 for o in manifest.outcomes),
            bytes=sum(o.size for o in manifest.outcomes), seconds=time.monotonic() - started,
            partitions=manifest.partitions, timings=dict(timer.laps),
            records_rescued=sum(o.records_rescued or 0 for o in manifest.outcomes),
        )

    # -- the steps' database work --------------------------------------------------------------------------------

    def begin_publish(self, manifest: pub.Manifest) -> None:
        """Extend the batch's lease and record that it publishes, into which partitions; raises :class:`LeaseLost`
        when another run took it over (then nothing is published)."""
        self.tracking.begin_publish(manifest.batch_id, self.settings.job_run_id, self.settings.lease_seconds,
                                    manifest.partitions)

    def commit(self, batch_id: str, outcomes: Sequence[FileOutcome], state: BatchState,
               error: str | None = None) -> dict[str, int]:
        """Close the batch as ``state`` and record every outcome (through the retry rule), one transaction."""
        return self.tracking.record_outcomes(batch_id, self.settings.job_run_id, outcomes, state,
                                             self.settings.retry_policy, error)

    def table_for(self, manifest: pub.Manifest) -> IcebergTable | None:
        """The table ``manifest``'s batch commits to, whatever this run was given: the run's own when the manifest
        names it, else the one it names (:class:`~runtime.table.catalog.TableUnavailable` if it cannot be opened:
        nothing is published). No table: Parquet, unless an earlier runtime planned it outside the curated prefix."""
        from runtime.table.catalog import is_recorded_table, recorded_location
        from runtime.table.commit import IcebergTable

        if manifest.table is None:  # legacy Iceberg: curated files planned outside the curated prefix
            return self.table if any(e.is_curated and not e.final.startswith(self.layout.curated_prefix)
                                     for e in manifest.publish_plan) else None
        if self.table is not None and is_recorded_table(self.table.location, manifest.table):
            return self.table
        location = recorded_location(manifest.table, self.tracking.conn)
        log.warning("batch %s: committed to the Iceberg table %s its manifest names", manifest.batch_id, location.name)
        return IcebergTable(location, self.spec.partition_names if self.spec is not None else (),
                            counts=self.table.counts if self.table is not None else None)

    def commit_table(self, manifest: pub.Manifest, table: IcebergTable | None = None) -> int | None:
        """Commit the batch's published curated files to ``table`` (default the run's), retracting earlier versions
        of its keys, exactly once (:meth:`runtime.table.commit.IcebergTable.commit_batch`), under the lock."""
        from runtime.db.iceberg_catalog import advisory_lock
        from runtime.table.commit import BatchFiles, lock_key

        table = table or self.table
        assert table is not None
        # a new version SUCCEEDED or QUARANTINED (no good row) retracts the earlier versions' rows
        final = [o for o in manifest.outcomes if o.status in (FileState.SUCCEEDED, FileState.QUARANTINED)]
        replaced = {lineage_uri(self.store, o.key): o.version for o in final
                    if o.archived_key is None and (o.version or 1) > 1}
        reprocessed = {lineage_uri(self.store, o.key): o.version or 1 for o in final
                       if o.status is FileState.SUCCEEDED and o.archived_key is not None}
        files = BatchFiles(manifest.batch_id, [self.store.spark_path(e.final) for e in manifest.publish_plan
                                               if e.is_curated], replaced, reprocessed)
        if replaced and not files.data_files and not reprocessed and table.load() is None:
            return None  # no table holds rows to retract
        key = lock_key(table.location)
        return table.commit_batch(files, lambda: self._fenced_lock(advisory_lock(self.tracking.conn, key),
                                                                   manifest.batch_id))

    @contextlib.contextmanager
    def _fenced_lock(self, lock: contextlib.AbstractContextManager, batch_id: str) -> Iterator[None]:
        """The table's advisory lock, then the batch's lease renewed (:class:`LeaseLost` when another run took it
        over or an operator forced it away): a run that lost its batch never commits it. Under the lock, so a newer
        version of one of its keys (claimable only once this batch is closed) commits after this one, and its
        retraction deletes these rows: an older version never lands after a newer one."""
        with lock:
            self.tracking.ensure_lease(batch_id, self.settings.job_run_id, self.settings.lease_seconds)
            yield

    # -- the failure paths -----------------------------------------------------------------------------------------

    def clean_after_stop(self, batch_id: str) -> None:
        """A failure that belongs to no file (:class:`RunStopped`, a refusal of every file,
        :class:`StoragePermissionError`, or any other error) stops the run: delete the batch's staging; no outcome is
        recorded (the run gives the batch back without charging its files)."""
        try:
            pub.clean_staging(self.store, self.layout, batch_id)
        except Exception as cleaning:  # e.g. no permission to delete either: recovery cleans it later
            log.warning("batch %s: staging not cleaned (%s)", batch_id, cleaning)
