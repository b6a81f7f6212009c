"""The typed rows and records the tracking store (:mod:`runtime.db.tracking`) takes and returns.

Frozen dataclasses (Python 3.9-compatible: no ``slots``, no ``X | Y`` at runtime): a batch's files, their
outcomes, the files to archive, the lease answer, the backlog gauges, and the retry rule's resolution of an
outcome into what is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from runtime.db.states import BatchState, FileState


@dataclass(frozen=True)
class ClaimedFile:
    """A file of a batch, as the claim returned it (``attempt`` counts this claim)."""

    file_id: int
    key: str
    etag: str | None
    size: int | None
    attempt: int
    version: int = 1
    #: set for a file ``mldp reprocess`` re-queued: its archived copy, the object this batch reads (the raw key may
    #: be gone or hold a newer upload); such a file is never archived again
    archived_key: str | None = None

    @property
    def read_key(self) -> str:
        """The object the batch reads: the archived copy of a reprocessed file, else the raw key."""
        return self.archived_key or self.key


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one claimed file in a batch (the manifest stores a list of these as JSON objects).

    ``status`` is SUCCEEDED, FAILED or QUARANTINED, or PENDING for a file the batch gives back without charging it
    an attempt. ``etag`` and ``size`` are what the pre-check read: recorded on a row registered without an ETag, so
    that the version processed is known to the lister and the archive."""

    file_id: int
    key: str
    status: FileState
    error: str | None = None
    records_good: int | None = None
    records_bad: int | None = None
    dead_letter_path: str | None = None
    size: int = 0
    #: the ETag that was processed: archiving moves only this version
    etag: str | None = None
    #: the tracking version of the file (a new ETag of the same key is a new version)
    version: int = 1
    #: for a file given back uncharged (``status`` PENDING: it converts in part of its batch but not with all of
    #: it), the largest batch it may next be claimed in
    claim_limit: int | None = None
    #: the ETag of a newer version the pre-check found in place of the one listed (the object was overwritten
    #: after listing): registered at once as the file's next version, as the lister would
    new_etag: str | None = None
    #: good records that carry rescued data (fields the spec does not read, values that did not fit their column)
    records_rescued: int | None = None
    #: the version (content hash) of the transform spec that converted the file
    spec_version: str | None = None
    #: what was rescued in the file: [path, kind (``unknown`` | ``mismatch``), JSON type, records, example], per path
    #: and type (the evidence of drift reports)
    rescued_fields: tuple[tuple[str, str, str, int, str], ...] | None = None
    #: a file stopped by ``schema_policy: fail``: FAILED without charging an attempt, and not retried until an
    #: operator requeues it (after the spec changed)
    held: bool = False
    #: read from this archived copy (a file ``mldp reprocess`` re-queued): its rows of the same version are replaced
    #: in the table commit, and it is not archived again
    archived_key: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", FileState(self.status))
        if self.rescued_fields is not None:  # a manifest stores them as JSON lists
            object.__setattr__(self, "rescued_fields", tuple(tuple(item) for item in self.rescued_fields))


@dataclass(frozen=True)
class ArchiveItem:
    """A SUCCEEDED raw file to move to the processed prefix: only while it still has ``etag``. ``etag`` is
    ``None`` only for a row processed before the processed version was recorded: it is then archived only if the
    object was not modified after ``processed_at`` (:meth:`runtime.jobs.archive.Archiver.archive`)."""

    file_id: int
    key: str
    size: int | None
    etag: str | None
    version: int = 1
    processed_at: datetime | None = None


@dataclass(frozen=True)
class LeaseStatus:
    """The answer of a lease renewal: ``renewed`` when the batch is still this run's (its lease now extended);
    otherwise ``state`` and ``owner`` say what became of it (``None``: no such batch)."""

    renewed: bool
    state: BatchState | None
    owner: str | None


@dataclass(frozen=True)
class Owner:
    """The facts recorded about the run that owns a batch (each may be ``None`` where it is not known)."""

    job_run_id: str | None
    host: str | None = None
    pid: int | None = None
    #: ``<boot id>/<pid namespace>/<start time>`` of ``pid`` (see :func:`process_identity`)
    node: str | None = None
    #: the Glue job of ``job_run_id``; ``None`` outside Glue
    glue_job: str | None = None

    def describe(self) -> str:
        """How status and errors name the owner: ``run R (Glue job J)`` or ``run R on HOST pid P``."""
        if self.glue_job:
            return f"run {self.job_run_id} (Glue job {self.glue_job})"
        where = f" on {self.host} pid {self.pid}" if self.host and self.pid else ""
        return f"run {self.job_run_id}{where}"


@dataclass(frozen=True)
class OpenBatch:
    """A CLAIMED batch, as recovery and ``mldp recover`` see it: its owner and what makes it recoverable."""

    batch_id: str
    owner: Owner
    file_count: int
    lease_expired: bool
    #: handed back by its run or an operator: recoverable now
    released: bool
    #: held for the operator after ``recovery_attempts`` failed recoveries
    held: bool
    recovery_attempts: int = 0
    recovery_error: str | None = None


@dataclass(frozen=True)
class BacklogGauges:
    """The tracking table's gauges both jobs publish at the end of a run."""

    backlog_files: int
    oldest_pending_age_seconds: float
    quarantined_files: int


@dataclass(frozen=True)
class FileProblem:
    """A file FAILED or QUARANTINED, with why."""

    key: str
    state: FileState
    error: str | None


@dataclass(frozen=True)
class Resolution:
    """What the store records for one outcome: the final state, its error message, and, for a file to retry,
    in how many seconds it becomes claimable again (``None``: its next attempt time is left as it is).
    ``given_back``: the file is given back without its attempt charged (its error and last outcome kept, an
    UNCLAIMED history row with ``error`` as the reason), and ``attempts`` is the attempt count to record (``None``:
    the count the claim made is kept)."""

    state: FileState
    error: str | None
    retry_in_seconds: float | None = None
    attempts: int | None = None
    given_back: bool = False


class RetryRule(Protocol):
    """Turns a run's outcome of a file into what is recorded, given the attempts the file has had (the rule
    lives in :class:`runtime.jobs.retry.RetryPolicy`; the store only stores its answer)."""

    def resolve(self, outcome: FileOutcome, attempts: int) -> Resolution:
        """The state, error and retry delay to record for ``outcome`` after ``attempts`` attempts."""
        ...

    def give_back(self, attempts: int) -> Resolution:
        """What to record for a file given back uncharged after ``attempts`` attempts (this claim's included)."""
        ...
