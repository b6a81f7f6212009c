"""Recovery of batches whose run died: each batch whose lease expired is taken over, then rolled forward or
abandoned, as :func:`decide` says from the facts found (pure, tested on its own):

* a readable manifest: the staging is complete, and part of it may already be published -> **roll forward**
  (replay the protocol from the lease check: publish, commit, archive, clean);
* no manifest: the run stopped before the staging was complete, nothing was published -> **abandon** (record
  the batch ABANDONED and its files FAILED, retried with backoff; then delete the staging);
* a manifest that cannot be read: neither is safe (a partial publish must not be repeated under a new batch
  id, nor left half done) -> **refuse**: the run stops with :class:`UnrecoverableBatch` naming the object;
* a batch no longer CLAIMED: nothing to do.

Staging left by batches that are no longer open (a crash after commit, before clean-up) is deleted first.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from enum import Enum

from runtime.db.records import FileOutcome
from runtime.db.states import BatchState, FileState
from runtime.jobs import publish as pub
from runtime.jobs.batch import BatchProtocol, BatchReport

log = logging.getLogger(__name__)

#: The error recorded for the files of an abandoned batch.
ABANDONED_REASON = "batch abandoned: its run stopped before finishing (lease expired)"


class UnrecoverableBatch(RuntimeError):
    """An expired batch whose manifest exists but cannot be read: an operator must look at it."""


class Action(Enum):
    """What recovery does with an expired batch."""

    ROLL_FORWARD = "roll forward"
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


@dataclass(frozen=True)
class Decision:
    """The action for one expired batch, and why (logged)."""

    action: Action
    reason: str


def decide(batch: ExpiredBatch) -> Decision:
    """Roll forward, abandon, refuse or skip ``batch`` (see the module docstring). Pure: no I/O."""
    if batch.state is not BatchState.CLAIMED:
        return Decision(Action.SKIP, f"batch is {batch.state}, no longer open")
    if not batch.manifest_found:
        return Decision(Action.ABANDON, "staging incomplete (no manifest): cleaning and retrying its files")
    if not batch.manifest_readable:
        return Decision(Action.REFUSE, "its manifest cannot be read: neither rolled forward nor abandoned")
    return Decision(Action.ROLL_FORWARD, "staging complete: rolling forward")


class Recovery:
    """Recovers the expired batches of dead runs, with the steps of :class:`BatchProtocol`."""

    def __init__(self, protocol: BatchProtocol) -> None:
        self.protocol = protocol
        self.tracking, self.store, self.layout = protocol.tracking, protocol.store, protocol.layout

    def clean_finished_staging(self) -> int:
        """Delete staging left by batches that are no longer open (a crash after commit, before clean-up)."""
        staged = pub.staged_batch_ids(self.store, self.layout)
        if not staged:
            return 0
        finished = sorted(set(staged) - self.tracking.open_batches_among(sorted(staged)))
        for batch_id in finished:
            pub.clean_staging(self.store, self.layout, batch_id)
        return len(finished)

    def recover_expired(self) -> list[BatchReport]:
        """Take over every batch whose lease expired, one at a time, and roll it forward or abandon it."""
        reports = []
        while True:
            settings = self.protocol.settings
            batch_id = self.tracking.take_over_expired_batch(settings.job_run_id, settings.lease_seconds)
            if batch_id is None:
                return reports
            probe = pub.probe_manifest(self.store, self.layout, batch_id)
            decision = decide(ExpiredBatch(batch_id, BatchState.CLAIMED, probe.found, probe.manifest is not None))
            log.warning("recovering batch %s: %s", batch_id, decision.reason)
            if decision.action is Action.ROLL_FORWARD and probe.manifest is not None:
                report = self.protocol.finish(probe.manifest, time.monotonic())
                report.recovered = True
                reports.append(report)
            elif decision.action is Action.ABANDON:
                self.abandon(batch_id, ABANDONED_REASON)
            elif decision.action is Action.REFUSE:
                raise UnrecoverableBatch(
                    f"batch {batch_id}: {pub.staging_root(self.layout, batch_id)}{pub.MANIFEST_NAME} cannot be "
                    f"read ({probe.error}); its staging may be partly published, so it is neither rolled forward "
                    "nor abandoned: inspect it")

    def abandon(self, batch_id: str, reason: str) -> None:
        """Record the batch ABANDONED (its files FAILED, retried later) first, then delete its staging: a crash in
        between leaves staging of a closed batch, which :meth:`clean_finished_staging` removes."""
        files = self.tracking.batch_files(batch_id)
        outcomes = [FileOutcome(f.file_id, f.key, FileState.FAILED, reason) for f in files]
        self.protocol.commit(batch_id, outcomes, BatchState.ABANDONED, error=reason)
        pub.clean_staging(self.store, self.layout, batch_id)
