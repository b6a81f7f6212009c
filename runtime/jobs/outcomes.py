"""Recording a batch's outcome: close the batch row and update every file of it, in one transaction."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from runtime.db import queries
from runtime.jobs.publish import FileOutcome


class LeaseLost(RuntimeError):
    """Another run took this batch over (our lease expired): stop without publishing or recording."""


@dataclass(frozen=True)
class RetryPolicy:
    """How failed files are retried: exponential backoff from ``base`` seconds, capped at ``maximum``, and
    quarantined once ``max_attempts`` attempts have failed."""

    max_attempts: int = 5
    backoff_base_seconds: int = 60
    backoff_max_seconds: int = 6 * 3600


def record_batch_outcomes(conn, batch_id: str, job_run_id: str, outcomes: Sequence[FileOutcome], state: str,
                          policy: RetryPolicy, error: str | None = None) -> dict:
    """Close batch ``batch_id`` (state ``COMMITTED`` or ``ABANDONED``) and record each file's outcome with one
    bulk statement (plus its history rows), all in one transaction. Raises :class:`LeaseLost` when the batch is
    no longer this run's. Returns the final count of files by state."""
    params = {
        "job_run_id": job_run_id, "batch_id": batch_id, "state": state, "error": error,
        "records_good": sum(o.records_good or 0 for o in outcomes),
        "records_bad": sum(o.records_bad or 0 for o in outcomes),
    }
    file_params = {
        "job_run_id": job_run_id, "batch_id": batch_id,
        "file_ids": [o.file_id for o in outcomes], "statuses": [o.status for o in outcomes],
        "errors": [o.error for o in outcomes], "dead_letter_paths": [o.dead_letter_path for o in outcomes],
        "records_good": [o.records_good for o in outcomes], "records_bad": [o.records_bad for o in outcomes],
        "max_attempts": policy.max_attempts, "backoff_base": policy.backoff_base_seconds,
        "backoff_max": policy.backoff_max_seconds,
    }
    try:
        with conn.cursor() as cur:
            cur.execute(queries.CLOSE_BATCH, params)
            if cur.fetchone() is None:
                raise LeaseLost(f"batch {batch_id} is no longer ours to finish")
            cur.execute(queries.FINISH_FILES, file_params)
            final = Counter(row[0] for row in cur.fetchall())
            if sum(final.values()) != len(outcomes):  # never close a batch with files left PROCESSING
                raise LeaseLost(f"batch {batch_id}: {len(outcomes) - sum(final.values())} of its files are no "
                                "longer PROCESSING in it; outcome not recorded")
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return dict(final)
