"""``JsonToParquetBatchProcessor``: claim a batch, convert it exactly once, record every outcome, archive.

One run: archive what earlier runs left unarchived, recover batches whose lease expired (roll forward when their
staging is complete, clean and retry otherwise), then claim -> pre-check -> Spark convert into staging -> write the
manifest (completion marker) -> renew the lease (abort if lost) -> publish -> commit all outcomes in one
transaction -> archive raw files -> clean staging. ``checkpoint(name)`` is called between steps so tests can
inject a crash anywhere.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from runtime.db import queries
from runtime.jobs import publish as pub
from runtime.jobs.heartbeat import LeaseHeartbeat
from runtime.jobs.outcomes import LeaseLost, RetryPolicy, record_batch_outcomes
from runtime.jobs.precheck import ClaimedFile, check_files, verify_unchanged
from runtime.jobs.spark_staging import spark_paths
from runtime.layout import Layout
from runtime.storage.base import ObjectStore, StoragePermissionError
from runtime.storage.mover import Move, move_objects

log = logging.getLogger(__name__)

#: The protocol steps a crash can be injected after (see ``checkpoint``).
CHECKPOINTS = (
    "after_claim", "after_staging_write", "after_completion_marker", "mid_publish", "mid_dead_letter_write",
    "after_publish", "after_commit", "mid_archive",
)


@dataclass
class ProcessorSettings:
    """Knobs of one processor run (CLI options / Glue job arguments)."""

    batch_size: int = 500
    max_attempts: int = 5
    lease_seconds: int = 2 * 3600
    job_run_id: str = field(default_factory=lambda: f"local-{uuid.uuid4().hex[:12]}")
    backoff_base_seconds: int = 60
    backoff_max_seconds: int = 6 * 3600
    io_workers: int = 16
    archive: bool = True

    def __post_init__(self) -> None:
        for name in ("batch_size", "max_attempts", "io_workers"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name.replace('_', '-')} must be a positive integer, got {getattr(self, name)}")
        if self.lease_seconds < 0:
            raise ValueError("lease-seconds must be >= 0")


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
    #: seconds spent per protocol phase (claim, precheck, convert, publish, commit, archive, clean)
    timings: dict[str, float] = field(default_factory=dict)


class SourceChangedDuringRead(RuntimeError):
    """A raw file got a new ETag while the batch read it: the batch's output cannot be trusted."""


class PhaseTimer:
    """Seconds spent in each named phase, measured lap by lap."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.monotonic()

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.laps[name] = self.laps.get(name, 0.0) + now - self._last
        self._last = now


class BatchProcessor:
    """Runs the batch protocol against one store and one tracking database connection."""

    def __init__(self, store: ObjectStore, conn, spark_factory: Callable[[], object], spec,
                 settings: ProcessorSettings | None = None, layout: Layout | None = None,
                 checkpoint: Callable[[str], None] = lambda name: None,
                 heartbeat_connect: Callable[[], object] | None = None) -> None:
        self.store = store
        self.conn = conn
        self.spark_factory = spark_factory
        self.spec = spec
        self.settings = settings or ProcessorSettings()
        self.layout = layout or Layout()
        self.checkpoint = checkpoint
        #: opens a second connection for the lease heartbeat during conversion (None: no heartbeat)
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

    # -- recovery -----------------------------------------------------------------------------------------------

    def archive_leftovers(self, limit: int = 10_000) -> int:
        """Archive SUCCEEDED files a crash or a failed move left in the raw prefix."""
        with self.conn.cursor() as cur:
            cur.execute(queries.UNARCHIVED, {"limit": limit})
            rows = cur.fetchall()
        self.conn.commit()
        return self._archive(rows)

    def clean_finished_staging(self) -> int:
        """Delete staging left by batches that are no longer open (a crash after commit, before clean-up)."""
        staged = pub.staged_batch_ids(self.store, self.layout)
        if not staged:
            return 0
        with self.conn.cursor() as cur:
            cur.execute(queries.OPEN_BATCHES_AMONG, {"batch_ids": sorted(staged)})
            still_open = {str(row[0]) for row in cur.fetchall()}
        self.conn.commit()
        finished = sorted(set(staged) - still_open)
        for batch_id in finished:
            pub.clean_staging(self.store, self.layout, batch_id)
        return len(finished)

    def recover_expired(self) -> list[BatchReport]:
        """Roll forward or abandon every batch whose lease expired (a crashed run's)."""
        reports = []
        self.archive_leftovers()
        self.clean_finished_staging()
        while True:
            with self.conn.cursor() as cur:
                cur.execute(queries.TAKE_OVER_EXPIRED_BATCH, self._params(lease_seconds=self.settings.lease_seconds))
                row = cur.fetchone()
            self.conn.commit()
            if not row:
                return reports
            batch_id = str(row[0])
            manifest = pub.read_manifest(self.store, self.layout, batch_id)
            if manifest is not None:
                log.warning("recovering batch %s: staging complete, rolling forward", batch_id)
                started = time.monotonic()
                report = self._publish_commit_archive(manifest, started)
                report.recovered = True
                reports.append(report)
            else:
                log.warning("recovering batch %s: staging incomplete, cleaning and retrying its files", batch_id)
                self._abandon(batch_id, "batch abandoned: its run stopped before finishing (lease expired)")

    def _abandon(self, batch_id: str, reason: str) -> None:
        """Record the batch ABANDONED (its files FAILED, retried later) first, then delete its staging: a crash in
        between leaves staging of a closed batch, which :meth:`clean_finished_staging` removes."""
        files = self._batch_files(batch_id)
        outcomes = [pub.FileOutcome(f.file_id, f.key, "FAILED", reason) for f in files]
        self._commit(batch_id, outcomes, state="ABANDONED", error=reason)
        pub.clean_staging(self.store, self.layout, batch_id)

    # -- one batch ------------------------------------------------------------------------------------------------

    def process_next_batch(self) -> BatchReport | None:
        started = time.monotonic()
        timer = PhaseTimer()
        batch_id = str(uuid.uuid4())
        claimed = self._claim(batch_id)
        if not claimed:
            return None
        timer.lap("claim")
        self.checkpoint("after_claim")
        log.info("batch %s: claimed %d files", batch_id, len(claimed))
        checks = check_files(self.store, claimed, self.settings.io_workers)
        timer.lap("precheck")
        outcomes: dict[int, pub.FileOutcome] = {}
        readable = []
        for check in checks:
            if check.status == "READABLE":
                readable.append(check)
            else:
                outcomes[check.file.file_id] = pub.FileOutcome(check.file.file_id, check.file.key, check.status,
                                                               check.reason, size=check.size, etag=check.file.etag)
        if readable:
            try:
                with self._heartbeat(batch_id):
                    result = self._convert(batch_id, readable)
                changed = verify_unchanged(self.store, [c.file for c in readable], self.settings.io_workers)
                if changed:  # overwritten between the pre-check and Spark's read: which version was read?
                    raise SourceChangedDuringRead(
                        f"{len(changed)} file(s) changed while being read, e.g. {changed[0].key}")
            except StoragePermissionError:
                raise  # no file's fault: stop the run (the batch is recovered once its lease expires)
            except Exception as exc:  # a Spark or storage failure fails the batch's readable files (retried)
                log.exception("batch %s: conversion failed", batch_id)
                pub.clean_staging(self.store, self.layout, batch_id)
                first_line = (str(exc).splitlines() or [""])[0][:500]
                message = f"batch conversion failed: {type(exc).__name__}: {first_line}"
                for check in readable:
                    outcomes[check.file.file_id] = pub.FileOutcome(check.file.file_id, check.file.key, "FAILED",
                                                                   message, size=check.size)
                self._ensure_lease(batch_id)
                return self._finish_without_output(batch_id, list(outcomes.values()), started, message)
            unreadable = getattr(result, "unreadable", {})
            for check in readable:
                counts = result.counts[check.file.file_id]
                outcomes[check.file.file_id] = self._classify(check, counts.records_good, counts.records_bad,
                                                              unreadable.get(check.file.file_id))
        timer.lap("convert")
        self.checkpoint("after_staging_write")
        plan, partitions, dead_letters = pub.plan_publish(self.store, self.layout, batch_id)
        for outcome in outcomes.values():
            outcome.dead_letter_path = dead_letters.get(outcome.file_id)
        manifest = pub.Manifest(batch_id, [outcomes[f.file_id] for f in claimed], plan, partitions)
        pub.write_manifest(self.store, self.layout, manifest)
        timer.lap("manifest")
        self.checkpoint("after_completion_marker")
        return self._publish_commit_archive(manifest, started, timer)

    def _heartbeat(self, batch_id: str):
        if self.heartbeat_connect is None:
            return contextlib.nullcontext()
        return LeaseHeartbeat(self.heartbeat_connect, batch_id, self.settings.job_run_id,
                              self.settings.lease_seconds)

    def _classify(self, check, good: int, bad: int, unreadable: str | None = None) -> pub.FileOutcome:
        file = check.file
        if unreadable:
            return pub.FileOutcome(file.file_id, file.key, "QUARANTINED", unreadable, 0, 0, size=check.size)
        if good > 0:
            return pub.FileOutcome(file.file_id, file.key, "SUCCEEDED", None, good, bad, size=check.size,
                                   etag=file.etag, version=file.version)
        if bad > 0:
            reason = f"no good record: all {bad} records malformed or invalid (see the dead-letter prefix)"
        else:
            reason = "no JSON record in the file (empty or whitespace-only)"
        return pub.FileOutcome(file.file_id, file.key, "QUARANTINED", reason, good, bad, size=check.size)

    def _convert(self, batch_id: str, readable) -> object:
        from runtime.spark.convert import SourceFile, convert_batch

        keys = [c.file.key for c in readable]
        with spark_paths(self.store, keys, pub.curated_staging(self.layout, batch_id),
                         pub.dead_letter_staging(self.layout, batch_id), self.settings.io_workers) as paths:
            sources = [
                SourceFile(file_id=c.file.file_id, key=c.file.key, spark_path=paths.source_path(c.file.key),
                           lineage_path=lineage_uri(self.store, c.file.key), json_layout=c.json_layout,
                           source_version=c.file.version)
                for c in readable
            ]
            return convert_batch(self.spark_factory(), sources, self.spec, curated_path=paths.curated_path,
                                 dead_letter_path=paths.dead_letter_path)

    def _publish_commit_archive(self, manifest: pub.Manifest, started: float,
                                timer: PhaseTimer | None = None) -> BatchReport:
        timer = timer or PhaseTimer()
        self._ensure_lease(manifest.batch_id)
        pub.publish(self.store, manifest, self.settings.io_workers, self.checkpoint)
        timer.lap("publish")
        self.checkpoint("after_publish")
        statuses = self._commit(manifest.batch_id, manifest.outcomes, state="COMMITTED")
        timer.lap("commit")
        self.checkpoint("after_commit")
        succeeded = [(o.file_id, o.key, o.size, o.etag, o.version)
                     for o in manifest.outcomes if o.status == "SUCCEEDED"]
        self._archive(succeeded)
        timer.lap("archive")
        pub.clean_staging(self.store, self.layout, manifest.batch_id)
        timer.lap("clean")
        log.info("batch %s: %s in %s", manifest.batch_id, statuses,
                 ", ".join(f"{k} {v:.2f}s" for k, v in timer.laps.items()))
        return BatchReport(
            batch_id=manifest.batch_id, files=statuses,
            records_good=sum(o.records_good or 0 for o in manifest.outcomes),
            records_bad=sum(o.records_bad or 0 for o in manifest.outcomes),
            bytes=sum(o.size for o in manifest.outcomes), seconds=time.monotonic() - started,
            partitions=manifest.partitions, timings=dict(timer.laps),
        )

    def _finish_without_output(self, batch_id: str, outcomes: list[pub.FileOutcome], started: float,
                               error: str | None = None) -> BatchReport:
        statuses = self._commit(batch_id, outcomes, state="COMMITTED", error=error)
        return BatchReport(batch_id, statuses, 0, 0, sum(o.size for o in outcomes), time.monotonic() - started, [])

    # -- database ----------------------------------------------------------------------------------------------

    def _params(self, **extra) -> dict:
        return {"job_run_id": self.settings.job_run_id, **extra}

    def _claim(self, batch_id: str) -> list[ClaimedFile]:
        params = self._params(batch_id=batch_id, batch_size=self.settings.batch_size,
                              lease_seconds=self.settings.lease_seconds)
        try:
            with self.conn.cursor() as cur:
                cur.execute(queries.CLAIM_BATCH, params)
                rows = cur.fetchall()
                if rows:
                    cur.execute(queries.INSERT_BATCH, {**params, "file_count": len(rows),
                                                       "bytes": sum(r[3] or 0 for r in rows)})
            self.conn.commit()
        except BaseException:
            self.conn.rollback()
            raise
        return [ClaimedFile(*row) for row in rows]

    def _batch_files(self, batch_id: str) -> list[ClaimedFile]:
        with self.conn.cursor() as cur:
            cur.execute(queries.BATCH_FILES, {"batch_id": batch_id})
            rows = cur.fetchall()
        self.conn.commit()
        return [ClaimedFile(*row) for row in rows]

    def _ensure_lease(self, batch_id: str) -> None:
        with self.conn.cursor() as cur:
            cur.execute(queries.RENEW_BATCH_LEASE,
                        self._params(batch_id=batch_id, lease_seconds=self.settings.lease_seconds))
            cur.execute("SELECT state, glue_job_run_id FROM processing_batches WHERE batch_id = %s", (batch_id,))
            state, owner = cur.fetchone()
        self.conn.commit()
        if state != "CLAIMED" or owner != self.settings.job_run_id:
            raise LeaseLost(f"batch {batch_id} was taken over by {owner} ({state}); not publishing")

    def _commit(self, batch_id: str, outcomes: list[pub.FileOutcome], state: str,
                error: str | None = None) -> dict[str, int]:
        policy = RetryPolicy(self.settings.max_attempts, self.settings.backoff_base_seconds,
                             self.settings.backoff_max_seconds)
        return record_batch_outcomes(self.conn, batch_id, self.settings.job_run_id, outcomes, state, policy, error)

    # -- archive -------------------------------------------------------------------------------------------------

    def _archive(self, files: list[tuple]) -> int:
        """Move raw files to the processed prefix in parallel, then record the archived keys in bulk (in two
        halves, so an interrupted archive has recorded what it moved)."""
        if not files or not self.settings.archive:
            return 0
        half = (len(files) + 1) // 2
        archived = self._archive_group(files[:half])
        self.checkpoint("mid_archive")
        return archived + self._archive_group(files[half:])

    def _archive_group(self, files: list[tuple]) -> int:
        if not files:
            return 0
        archived = {file_id: self.layout.archived_key(key, version) for file_id, key, _s, _e, version in files}
        moves = [Move(key, archived[file_id], size, etag) for file_id, key, size, etag, _version in files]
        report = move_objects(self.store, moves, max_workers=self.settings.io_workers)
        for source, error in report.failed.items():
            log.error("could not archive %s (kept in place, retried next run): %s", source, error)
        moved = {m.source for m in report.moved}
        ids = [file_id for file_id, key, *_rest in files if key in moved]
        keys = [archived[file_id] for file_id in ids]
        with self.conn.cursor() as cur:
            cur.execute(queries.SET_ARCHIVED_KEYS, {"file_ids": ids, "archived_keys": keys})
        self.conn.commit()
        return len(ids)


def lineage_uri(store: ObjectStore, key: str) -> str:
    """The ``source_s3_path`` of a raw file: ``s3://bucket/key`` on S3, the absolute file path locally."""
    return store.url.rstrip("/") + "/" + key
