"""Recovery of batches whose run died: each batch whose lease expired, that its run handed back, or whose owner is
provably gone (:class:`runtime.jobs.owner.OwnerProbe`: its process on this node ended, its Glue job run is over)
is taken over at once, then rolled forward or abandoned, as :func:`decide` says from the facts found (pure,
tested on its own):

* a readable manifest: the staging is complete, and part of it may already be published -> **roll forward**
  (replay the protocol from the lease check: publish, commit, archive, clean); should a staged object that was
  never published be gone (its staging deleted by hand, or expired by an earlier version of the bucket's lifecycle
  rule), the batch cannot be finished and is **retracted** instead;
* no manifest, and the batch recorded that it had started to publish (``publish_started_at``, migration 0007):
  its staging is gone but some of its rows may be in the curated dataset -> **retract** (delete every object it
  may have published, :func:`runtime.jobs.publish.retract`, then give its files back uncharged: the loss of the
  staging is no file's fault);
* no manifest otherwise: the run stopped before the staging was complete, nothing was published -> **abandon**
  (record the batch ABANDONED, as :meth:`Recovery.abandon` narrows it: a batch of several files gives them back
  uncharged (PENDING, or FAILED if they had failed before, claimable at once) to be claimed next in batches of at
  most half as many files; only a file abandoned alone is charged, FAILED and retried with backoff; then delete
  the staging);
* a manifest that cannot be read: neither is safe (a partial publish must not be repeated under a new batch
  id, nor left half done) -> **refuse** (:class:`UnrecoverableBatch` naming the object);
* a batch no longer CLAIMED: nothing to do.

Each batch is recovered on its own: one whose recovery fails (refused, or any error of its own) is counted on the
batch, left recoverable by another run, skipped by this one, and held for the operator once it failed
:data:`MAX_RECOVERY_TRIES` times (``mldp status`` shows it with its error; ``mldp recover`` takes it back); the
other batches are recovered all the same. An error of the environment (storage refused, database lost) hands the
batch back and stops the run: it is no batch's fault.

Staging left by batches that are no longer open (a crash after commit, before clean-up) is deleted first, each
after the dead letters its reprocessed files replace are removed (:mod:`runtime.jobs.dead_letters`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import psycopg2

from runtime.db.iceberg_catalog import TableLockBusy
from runtime.db.records import FileOutcome, OpenBatch
from runtime.db.states import BatchState, FileState
from runtime.db.tracking import LeaseLost
from runtime.errors import MldpError
from runtime.jobs import dead_letters
from runtime.jobs import publish as pub
from runtime.jobs.batch import BatchProtocol, BatchReport
from runtime.jobs.owner import OwnerProbe, Verdict, recoverability
from runtime.storage.base import StoragePermissionError

log = logging.getLogger(__name__)

#: The error recorded for the files of an abandoned batch.
ABANDONED_REASON = "batch abandoned: its run stopped before finishing (lease expired or run gone)"
#: Failed recoveries of one batch before it is held for the operator.
MAX_RECOVERY_TRIES = 3
#: Errors that belong to no batch: the batch is handed back and the run stops.
ENVIRONMENT_ERRORS: tuple[type[BaseException], ...] = (StoragePermissionError, psycopg2.OperationalError,
                                                       psycopg2.InterfaceError, TableLockBusy)


class UnrecoverableBatch(MldpError, RuntimeError):
    """An expired batch whose manifest exists but cannot be read: an operator must look at it (a run counts it as
    a failed recovery and holds the batch after a few; ``mldp recover`` prints it as one ``error:`` line)."""


class Action(Enum):
    """What recovery does with an expired batch."""

    ROLL_FORWARD = "roll forward"
    RETRACT = "retract"
    ABANDON = "abandon"
    REFUSE = "refuse"
    SKIP = "skip"


@dataclass(frozen=True)
class ExpiredBatch:
    """The facts recovery decides on: the batch's state and what its staging holds."""

    batch_id: str
    state: BatchState
    manifest_found: bool
    manifest_readable: bool
    #: the batch recorded that it started to publish (some of its objects may be in the curated dataset)
    publish_started: bool = False


@dataclass(frozen=True)
class Decision:
    """The action for one expired batch, and why (logged)."""

    action: Action
    reason: str


def decide(batch: ExpiredBatch) -> Decision:
    """Roll forward, abandon, refuse or skip ``batch`` (see the module docstring). Pure: no I/O."""
    if batch.state is not BatchState.CLAIMED:
        return Decision(Action.SKIP, f"batch is {batch.state}, no longer open")
    if not batch.manifest_found and batch.publish_started:
        return Decision(Action.RETRACT, "no manifest, but it had started to publish: retracting what it published, "
                                        "then giving its files back")
    if not batch.manifest_found:
        return Decision(Action.ABANDON, "staging incomplete (no manifest): cleaning and retrying its files")
    if not batch.manifest_readable:
        return Decision(Action.REFUSE, "its manifest cannot be read: neither rolled forward nor abandoned")
    return Decision(Action.ROLL_FORWARD, "staging complete: rolling forward")


class Recovery:
    """Recovers the batches of dead runs, with the steps of :class:`BatchProtocol`.

    ``probe`` tells whether a live-leased batch's owner is provably gone; ``skip`` holds the batches whose
    recovery failed in this run (not tried again by it; the caller may share the set across runs of a drain);
    ``should_stop`` is checked between batches (a clean stop)."""

    def __init__(self, protocol: BatchProtocol, probe: OwnerProbe | None = None, skip: set[str] | None = None,
                 should_stop: Callable[[], bool] = lambda: False) -> None:
        self.protocol = protocol
        self.tracking, self.store, self.layout = protocol.tracking, protocol.store, protocol.layout
        self.probe = probe or OwnerProbe()
        self.skip = skip if skip is not None else set()
        self.should_stop = should_stop

    def clean_finished_staging(self) -> int:
        """Delete staging left by batches that are no longer open (a crash after commit, before clean-up), each
        after removing the dead letters its files' latest conversions replace, as the history says
        (:func:`runtime.jobs.dead_letters.clean_committed`: a removal that fails keeps the staging for the next
        run). Returns how many were deleted."""
        staged = pub.staged_batch_ids(self.store, self.layout)
        if not staged:
            return 0
        finished = sorted(set(staged) - self.tracking.open_batches_among(sorted(staged)))
        cleaned = 0
        for batch_id in finished:  # the history names what to remove: a manifest unreadable since changes nothing
            if dead_letters.clean_committed(self.store, self.tracking, self.layout, batch_id):
                cleaned += 1
        return cleaned

    def recoverable(self, batch: OpenBatch) -> Verdict:
        """Whether ``batch`` may be taken over now, and why (:func:`runtime.jobs.owner.recoverability`); never one of
        this run's own batches."""
        if batch.owner.job_run_id == self.protocol.settings.job_run_id:
            return Verdict(False, "this run's own batch")
        return recoverability(batch, self.probe)

    def recover_expired(self) -> list[BatchReport]:
        """Take over every recoverable batch, one at a time, and roll it forward or abandon it, each on its own.
        Returns the reports of the batches rolled forward and abandoned (``abandoned``)."""
        reports: list[BatchReport] = []
        settings = self.protocol.settings
        passed: set[str] = set()
        while not self.should_stop():
            found = self._next(passed)
            if found is None:
                return reports
            batch, verdict = found
            passed.add(batch.batch_id)
            proven_gone = verdict.gone and not verdict.by_record  # else the statement checks the lease itself
            if not self.tracking.take_over(batch, settings.job_run_id, settings.lease_seconds, proven_gone):
                continue  # another run was faster, or the owner renewed meanwhile
            log.warning("recovering batch %s of %s: %s", batch.batch_id, batch.owner.describe(), verdict.why)
            report = self._recover_isolated(batch.batch_id)
            if report is not None:
                reports.append(report)
        return reports

    def _next(self, passed: set[str]) -> tuple[OpenBatch, Verdict] | None:
        for batch in self.tracking.open_batches():
            if batch.batch_id in passed or batch.batch_id in self.skip:
                continue
            verdict = self.recoverable(batch)
            if verdict.gone:
                return batch, verdict
        return None

    def _recover_isolated(self, batch_id: str) -> BatchReport | None:
        """:meth:`recover_batch`, with a failure counted on the batch instead of stopping the run."""
        job_run_id = self.protocol.settings.job_run_id
        try:
            return self.recover_batch(batch_id)
        except ENVIRONMENT_ERRORS as exc:
            self._hand_back(batch_id, f"recovery stopped by {type(exc).__name__}: {exc}")
            raise
        except LeaseLost as exc:  # taken over meanwhile: its new owner finishes it
            log.warning("recovery of batch %s stopped: %s", batch_id, exc)
            return None
        except Exception as exc:
            error = f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:500]}"
            tries, held = self.tracking.record_recovery_failure(batch_id, job_run_id, error, MAX_RECOVERY_TRIES)
            self.skip.add(batch_id)
            log.error("recovery of batch %s failed (%d of %d tries%s): %s", batch_id, tries, MAX_RECOVERY_TRIES,
                      "; held for the operator: mldp recover" if held else "", error)
            return None

    def _hand_back(self, batch_id: str, reason: str) -> None:
        try:
            self.tracking.hand_back(batch_id, self.protocol.settings.job_run_id, reason)
        except Exception as exc:  # the database may be the cause: the lease or the owner check recovers it
            log.warning("could not hand batch %s back: %s", batch_id, exc)

    def recover_batch(self, batch_id: str) -> BatchReport | None:
        """Roll forward or abandon ``batch_id``, already this run's (taken over). Returns the report of a roll
        forward; raises :class:`UnrecoverableBatch` when its manifest cannot be read."""
        probe = pub.probe_manifest(self.store, self.layout, batch_id)
        publish_started, partitions = self.tracking.publish_marker(batch_id)
        decision = decide(ExpiredBatch(batch_id, BatchState.CLAIMED, probe.found, probe.manifest is not None,
                                       publish_started))
        log.warning("batch %s: %s", batch_id, decision.reason)
        if decision.action is Action.ROLL_FORWARD and probe.manifest is not None:
            try:
                report = self.protocol.finish(probe.manifest, time.monotonic())
            except pub.StagingLost as lost:
                log.warning("batch %s cannot be rolled forward (%s): retracting it", batch_id, lost)
                return self.retract(batch_id, partitions or probe.manifest.partitions, str(lost), probe.manifest)
            report.recovered = True
            return report
        if decision.action is Action.RETRACT:
            return self.retract(batch_id, partitions, "its manifest is gone")
        if decision.action is Action.ABANDON:
            released = pub.read_release_marker(self.store, self.layout, batch_id)
            if released is not None:  # its run gave it back while the database was away: as the run meant to
                return self.give_back(batch_id, f"{released} (recorded in its staging: the database was away)")
            return self.abandon(batch_id, ABANDONED_REASON)
        if decision.action is Action.REFUSE:
            raise UnrecoverableBatch(
                f"batch {batch_id}: {pub.staging_root(self.layout, batch_id)}{pub.MANIFEST_NAME} cannot be "
                f"read ({probe.error}); its staging may be partly published, so it is neither rolled forward "
                "nor abandoned: inspect it")
        return None

    def retract(self, batch_id: str, partitions: list[str], why: str,
                manifest: pub.Manifest | None = None) -> BatchReport:
        """The batch started to publish but cannot be finished (``why``: its staging is gone): delete what is left
        of its staging (a publisher still running then finds nothing more to copy), then every object it may have
        published, then close it ABANDONED and give its files back without charging them (:meth:`give_back`: the
        lost staging is no file's fault). A crash in between retracts again (idempotent: by the partitions the
        batch recorded; the table its ``manifest`` names, if any). Returns its report (``abandoned``: the files given
        back)."""
        # an Iceberg table: its data location, if the batch never committed to it
        table = self.protocol.table if manifest is None else self.protocol.table_for(manifest)
        curated_prefix = table.uncommitted_data_key_prefix(self.store, batch_id) if table is not None else None
        pub.clean_staging(self.store, self.layout, batch_id)  # first: a late publisher then finds nothing to copy
        removed = pub.retract(self.store, self.layout, batch_id, partitions, curated_prefix)
        return self.give_back(batch_id, f"batch retracted: {why}; {removed} published objects deleted")

    def give_back(self, batch_id: str, reason: str) -> BatchReport:
        """Close the batch ABANDONED and give its files back without charging them (``reason``), then delete what
        is left of its staging. Returns its report (``abandoned``: the files given back)."""
        files = self.tracking.batch_files(batch_id)
        log.warning("batch %s: %s; its %d files given back uncharged", batch_id, reason, len(files))
        settings = self.protocol.settings
        self.tracking.release(batch_id, settings.job_run_id, f"{reason}; its files given back uncharged",
                              settings.retry_policy)
        pub.clean_staging(self.store, self.layout, batch_id)
        return BatchReport(batch_id, {FileState.PENDING: len(files)} if files else {}, 0, 0,
                           sum(f.size or 0 for f in files), 0.0, [], recovered=True, abandoned=True)

    def abandon(self, batch_id: str, reason: str) -> BatchReport:
        """Close the batch ABANDONED, narrowed as :meth:`runtime.jobs.retry.RetryPolicy.after_abandon` says (one of
        its files may have killed its run): a batch of several files is given back without charging them, each to
        be claimed next in a batch of at most half as many files; a file abandoned alone is charged (FAILED, retried
        alone, quarantined after ``--max-attempts``). The limit is recorded first, then the batch closed, then its
        staging deleted: a crash in between recovers the batch again, or leaves staging of a closed batch, which
        :meth:`clean_finished_staging` removes. Returns the batch's report (``abandoned``: its files by the state
        they got), so abandoned batches reach the run's summary and metrics."""
        settings = self.protocol.settings
        files = self.tracking.batch_files(batch_id)
        rule = settings.retry_policy.after_abandon(len(files))
        self.tracking.limit_claims([f.file_id for f in files], rule.claim_limit)
        if rule.charged:
            outcomes = [FileOutcome(f.file_id, f.key, FileState.FAILED, reason) for f in files]
            self.protocol.commit(batch_id, outcomes, BatchState.ABANDONED, error=reason)
        else:
            self.tracking.release(batch_id, settings.job_run_id,
                                  f"{reason}; its {len(files)} files are not charged and are claimed next in batches "
                                  f"of at most {rule.claim_limit}", settings.retry_policy)
        pub.clean_staging(self.store, self.layout, batch_id)
        state = FileState.FAILED if rule.charged else FileState.PENDING
        return BatchReport(batch_id, {state: len(files)} if files else {}, 0, 0, sum(f.size or 0 for f in files), 0.0,
                           [], recovered=True, abandoned=True)
