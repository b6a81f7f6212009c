"""The SQL of leases and owners (migration 0004), by name: the run-wide heartbeat, taking over a batch whose lease
expired or whose owner is provably gone, handing a batch back (a clean stop, a run-stopping error, ``mldp
recover``), counting failed recoveries, and the publish marker (migration 0007). ``mldp status``'s view of the
open batches is in :mod:`runtime.db.operator_queries`. Reached through :class:`runtime.db.tracking.TrackingStore`;
the claim (which records the owner) and the per-batch lease renewal are in :mod:`runtime.db.queries`."""

from __future__ import annotations


def renew_leases_of(which_batches: str) -> str:
    """The two CTEs of every lease renewal: ``renewed`` extends the lease of this run's CLAIMED batches (those not
    handed back or held) that also match ``which_batches`` (an SQL condition, ``TRUE`` for all of them) and returns
    ``batch_id, lease_expires_at``; ``renewed_files`` gives their PROCESSING files the same lease and returns
    ``file_id``. Parameters: ``lease_seconds``, ``job_run_id`` and those of ``which_batches``."""
    return f"""
WITH renewed AS (
    UPDATE processing_batches SET lease_expires_at = now() + make_interval(secs => %(lease_seconds)s),
        heartbeat_at = now()
    WHERE ({which_batches}) AND state = 'CLAIMED' AND glue_job_run_id = %(job_run_id)s
        AND released_at IS NULL AND held_at IS NULL
    RETURNING batch_id, lease_expires_at
), renewed_files AS (
    UPDATE file_processing_status AS f SET lease_expires_at = r.lease_expires_at
    FROM renewed AS r
    WHERE f.batch_id = r.batch_id AND f.processing_status = 'PROCESSING'
    RETURNING f.file_id
)"""


#: The run-wide heartbeat (:class:`runtime.jobs.heartbeat.RunHeartbeat`): extend the lease of every batch this run
#: holds (and of their PROCESSING files), from its claim to the clean-up of its staging. Returns the batches renewed.
RENEW_RUN_LEASES = renew_leases_of("TRUE") + """
SELECT batch_id FROM renewed
"""

#: The owner columns a claim or a take-over writes (parameters ``owner_*``, ``job_run_id``, ``lease_seconds``).
_TAKE_OWNERSHIP = """
    glue_job_run_id = %(job_run_id)s,
    owner_host = %(owner_host)s, owner_pid = %(owner_pid)s, owner_node = %(owner_node)s,
    owner_glue_job = %(owner_glue_job)s,
    lease_expires_at = now() + make_interval(secs => %(lease_seconds)s),
    heartbeat_at = now(),
    released_at = NULL"""

#: Every open (CLAIMED) batch with its owner and what makes it recoverable, those recoverable by the lease first.
OPEN_BATCHES = """
SELECT batch_id, glue_job_run_id, owner_host, owner_pid, owner_node, owner_glue_job, file_count,
    lease_expires_at < now() AS lease_expired, released_at IS NOT NULL AS released, held_at IS NOT NULL AS held,
    recovery_attempts, recovery_error
FROM processing_batches
WHERE state = 'CLAIMED' AND (%(batch_id)s::uuid IS NULL OR batch_id = %(batch_id)s::uuid)
ORDER BY (lease_expires_at < now() OR released_at IS NOT NULL) DESC, lease_expires_at, batch_id
LIMIT %(limit)s
"""

#: Take over the batch ``batch_id`` from the owner the caller judged (compare-and-set on ``expected_run_id``): only
#: while it is CLAIMED, not held (unless ``allow_held``), and its lease expired, it was handed back, or the caller
#: proved its owner gone (``owner_gone``). ``allow_held`` (``mldp recover``) also takes a held batch and gives it
#: a fresh count of recovery attempts. No row: someone else changed it first.
TAKE_OVER_BATCH = f"""
UPDATE processing_batches SET {_TAKE_OWNERSHIP},
    held_at = CASE WHEN %(allow_held)s THEN NULL ELSE held_at END,
    recovery_attempts = CASE WHEN %(allow_held)s THEN 0 ELSE recovery_attempts END
WHERE batch_id = %(batch_id)s AND state = 'CLAIMED'
    AND glue_job_run_id IS NOT DISTINCT FROM %(expected_run_id)s
    AND (held_at IS NULL OR %(allow_held)s)
    AND (%(owner_gone)s OR lease_expires_at < now() OR released_at IS NOT NULL)
RETURNING batch_id
"""

#: A recovery of the batch failed: count it, keep its error, make it recoverable again by another run (handed back:
#: the failing run, alive, neither renews it nor keeps it from others) and hold it for the operator once it failed
#: ``max_tries`` times. Returns the attempts so far and whether it is held.
RECORD_RECOVERY_FAILURE = """
UPDATE processing_batches SET
    recovery_attempts = recovery_attempts + 1,
    recovery_error = %(error)s,
    lease_expires_at = now(),
    released_at = now(), released_by = %(job_run_id)s, release_reason = 'recovery failed: ' || %(error)s,
    held_at = CASE WHEN recovery_attempts + 1 >= %(max_tries)s THEN now() END
WHERE batch_id = %(batch_id)s AND state = 'CLAIMED' AND glue_job_run_id = %(job_run_id)s
RETURNING recovery_attempts, held_at IS NOT NULL
"""

#: A batch past its manifest that its run cannot finish (a clean stop during publish, a run-stopping error): hand
#: it back, still CLAIMED, recoverable at once by the next run (which rolls it forward).
HAND_BACK_BATCH = """
WITH handed AS (
    UPDATE processing_batches SET released_at = now(), released_by = %(released_by)s,
        release_reason = %(reason)s, lease_expires_at = now()
    WHERE batch_id = %(batch_id)s AND state = 'CLAIMED' AND glue_job_run_id = %(job_run_id)s
    RETURNING batch_id
), files AS (
    UPDATE file_processing_status AS f SET lease_expires_at = now()
    FROM handed AS h
    WHERE f.batch_id = h.batch_id AND f.processing_status = 'PROCESSING'
    RETURNING f.file_id
)
SELECT batch_id FROM handed
"""

#: A batch its run gives back before its manifest (a clean stop, or an error that belongs to no file): close it
#: ABANDONED, fenced like every close. :data:`UNCLAIM_FILES` then returns its files.
RELEASE_BATCH = """
UPDATE processing_batches SET state = 'ABANDONED', error_message = %(reason)s, finished_at = now(),
    released_at = now(), released_by = %(released_by)s, release_reason = %(reason)s
WHERE batch_id = %(batch_id)s AND state = 'CLAIMED' AND glue_job_run_id = %(job_run_id)s
RETURNING batch_id
"""

#: The files of a released batch back to where they were before the claim, as the retry rule resolved each
#: (:meth:`runtime.jobs.retry.RetryPolicy.give_back`: the state and the attempt count given), claimable at once;
#: one UNCLAIMED history row each.
UNCLAIM_FILES = """
WITH returned AS (
    UPDATE file_processing_status AS f SET
        processing_status = u.state,
        retry_count = u.attempts,
        next_attempt_at = now(),
        lease_expires_at = NULL,
        updated_at = now()
    FROM unnest(%(file_ids)s::bigint[], %(states)s::text[], %(attempts)s::integer[]) AS u(file_id, state, attempts)
    WHERE f.file_id = u.file_id AND f.batch_id = %(batch_id)s AND f.processing_status = 'PROCESSING'
    RETURNING f.*
)
INSERT INTO file_processing_history (file_id, event, etag, version, processing_status, batch_id, glue_job_run_id,
    retry_count, error_message, actor, reason)
SELECT file_id, 'UNCLAIMED', etag, version, processing_status, batch_id, glue_job_run_id, retry_count,
    error_message, %(released_by)s, %(reason)s
FROM returned
RETURNING file_id
"""

#: ``mldp recover``: one history row per file of the batch (event RECOVER), with the operator and the reason.
RECORD_OPERATOR_RECOVERY = """
INSERT INTO file_processing_history (file_id, event, etag, version, processing_status, batch_id, glue_job_run_id,
    retry_count, error_message, actor, reason)
SELECT file_id, 'RECOVER', etag, version, processing_status, batch_id, glue_job_run_id, retry_count,
    error_message, %(actor)s, %(reason)s
FROM file_processing_status
WHERE batch_id = %(batch_id)s AND processing_status = 'PROCESSING'
RETURNING file_id
"""

#: The batch ids that start with ``prefix`` (``mldp recover`` accepts the 8-character ids ``status`` shows).
BATCH_IDS_LIKE = """
SELECT batch_id FROM processing_batches WHERE batch_id::text LIKE %(prefix)s || '%%' ORDER BY batch_id LIMIT 2
"""

#: A batch about to publish: record, fenced, that its objects may be in the curated dataset from now on, and into
#: which partitions (migration 0007); recovery then never abandons it without retracting them. No row: the batch is
#: no longer this run's.
MARK_PUBLISHING = """
UPDATE processing_batches SET publish_started_at = coalesce(publish_started_at, now()),
    published_partitions = %(partitions)s
WHERE batch_id = %(batch_id)s AND state = 'CLAIMED' AND glue_job_run_id = %(job_run_id)s
RETURNING batch_id
"""

#: Whether a batch may have published anything, and into which partitions.
PUBLISH_MARKER = """
SELECT publish_started_at IS NOT NULL, coalesce(published_partitions, '{}')
FROM processing_batches WHERE batch_id = %(batch_id)s
"""
