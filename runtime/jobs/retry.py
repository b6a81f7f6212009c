"""The retry rule, in one place: what a run's outcome of a file becomes once recorded.

A file a run FAILED (a transient failure: vanished, changed, unreadable for now, conversion failed) is retried
after an exponential backoff, ``backoff_base_seconds * 2 ** (attempts - 1)`` capped at ``backoff_max_seconds``;
once it has had ``max_attempts`` attempts it is QUARANTINED instead, its error prefixed with ``gave up after N
attempts``. A file stopped by ``schema_policy: fail`` (its records bring fields the spec does not know) is FAILED
without its attempt charged and is never quarantined for it: it waits for ``mldp requeue`` once the spec knows the
fields. SUCCEEDED and QUARANTINED outcomes are recorded as they are. A file given back without charging it
(a PENDING outcome, :mod:`runtime.jobs.conversion`, or the files of a batch its run released,
:meth:`RetryPolicy.give_back`) returns to where it was before its claim: PENDING, or FAILED if it had failed
before, its attempt not counted, claimable again at once. The tracking store asks this rule and stores its answer
(:meth:`runtime.db.tracking.TrackingStore.record_outcomes`, :meth:`~runtime.db.tracking.TrackingStore.release`);
SQL holds no part of it.

A batch abandoned without a manifest (its run died: a file may have killed the process) is narrowed across runs
as a failed conversion is within one (:mod:`runtime.jobs.narrowing`): :meth:`RetryPolicy.after_abandon` says
its files are not charged while the batch held other files (the culprit is unknown) and may next be claimed only
in a batch of at most half as many files; a file abandoned alone is the culprit, charged like any failure and
kept alone. ``tests/runtime/jobs/test_retry_isolation.py`` walks a process-killing file through it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from platform_contract import defaults
from runtime.db.records import FileOutcome, Resolution
from runtime.db.states import FileState

#: How long a file held by ``schema_policy: fail`` waits before it is claimed again by itself (about 100 years: in
#: practice until ``mldp requeue``, which makes it claimable at once, after the spec changed).
HELD_SECONDS = 100 * 365 * 24 * 3600.0


@dataclass(frozen=True)
class AfterAbandon:
    """What recovery records for each file of a batch abandoned without a manifest: whether the attempt is
    charged (FAILED through :meth:`RetryPolicy.resolve`) or not (given back, the attempt not counted), and the
    largest batch the file may next be claimed in."""

    charged: bool
    claim_limit: int


@dataclass(frozen=True)
class RetryPolicy:
    """How failed files are retried: exponential backoff from ``backoff_base_seconds``, capped at
    ``backoff_max_seconds``, and quarantined once ``max_attempts`` attempts have failed."""

    max_attempts: int = defaults.MAX_ATTEMPTS
    backoff_base_seconds: int = defaults.BACKOFF_BASE_SECONDS
    backoff_max_seconds: int = defaults.BACKOFF_MAX_SECONDS

    def backoff_seconds(self, attempts: int) -> float:
        """Seconds before a file that failed its ``attempts``-th attempt may be claimed again."""
        return float(min(self.backoff_max_seconds, self.backoff_base_seconds * 2 ** max(attempts - 1, 0)))

    def resolve(self, outcome: FileOutcome, attempts: int) -> Resolution:
        """What to record for ``outcome`` of a file that has had ``attempts`` attempts (this one included)."""
        if outcome.status is FileState.PENDING:  # given back uncharged: claimable at once
            return replace(self.give_back(attempts), error=outcome.error)
        if outcome.status is not FileState.FAILED:
            return Resolution(outcome.status, outcome.error)
        if outcome.held:  # the data changed shape, not a fault of the file: uncharged, waits for mldp requeue
            return Resolution(FileState.FAILED, outcome.error, HELD_SECONDS, attempts=max(0, attempts - 1))
        if attempts >= self.max_attempts:
            error = None if outcome.error is None else f"gave up after {attempts} attempts: {outcome.error}"
            return Resolution(FileState.QUARANTINED, error)
        return Resolution(FileState.FAILED, outcome.error, self.backoff_seconds(attempts))

    def give_back(self, attempts: int) -> Resolution:
        """A file given back without charging the attempt of the claim that made its ``attempts``: back to where it
        was before that claim (FAILED if it had failed before, else PENDING), claimable at once, the attempt count
        as it was."""
        state = FileState.FAILED if attempts > 1 else FileState.PENDING
        return Resolution(state, None, 0.0, attempts=max(attempts - 1, 0), given_back=True)

    def after_abandon(self, batch_files: int, claim_limit: int | None = None) -> AfterAbandon:
        """The rule for the files of an abandoned batch of ``batch_files`` files, each claimed with ``claim_limit``
        (``None``: no limit): a batch of several files halves (no charge); a file alone is the culprit (charged,
        kept alone until it succeeds or is quarantined)."""
        size = max(1, min(batch_files, claim_limit or batch_files))
        if size == 1:
            return AfterAbandon(charged=True, claim_limit=1)
        return AfterAbandon(charged=False, claim_limit=math.ceil(size / 2))
