"""The SQL of the operator commands (``mldp status``, ``inspect``, ``requeue``, ``release``, ``retire``), by name.

The runtime's own statements live in :mod:`runtime.db.queries`; these only read the tracking tables, except
:data:`REQUEUE`, the one statement that moves files (back to ``PENDING``, or to ``RETIRED``) and records why.
"""

from __future__ import annotations

# --- status ---------------------------------------------------------------------------------------------------

#: The report's queries read one snapshot of the database, so its figures agree with each other.
SNAPSHOT = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"

#: The time of the snapshot (the report's ``generated_at``).
NOW = "SELECT now()"

FILES_BY_STATE = """
SELECT processing_status, count(*), coalesce(sum(file_size_bytes), 0)
FROM file_processing_status
GROUP BY processing_status
"""

#: The backlog: files PENDING or FAILED (awaiting a retry). Age = time since the file last changed state, as the
#: ``OldestPendingAgeSeconds`` metric measures it.
BACKLOG = """
SELECT
    count(*) FILTER (WHERE processing_status = 'PENDING') AS pending,
    count(*) FILTER (WHERE processing_status = 'FAILED') AS failed,
    count(*) FILTER (WHERE processing_status = 'FAILED' AND next_attempt_at <= now()) AS failed_due_now,
    coalesce(sum(file_size_bytes), 0) AS bytes,
    coalesce(extract(epoch FROM now() - min(updated_at)), 0)::float8 AS oldest_age_seconds,
    min(next_attempt_at) FILTER (WHERE processing_status = 'FAILED' AND next_attempt_at > now()) AS next_retry_at
FROM file_processing_status
WHERE processing_status IN ('PENDING', 'FAILED')
"""

OLDEST_BACKLOG_KEY = """
SELECT s3_key FROM file_processing_status
WHERE processing_status IN ('PENDING', 'FAILED')
ORDER BY updated_at, file_id
LIMIT 1
"""

#: Files being processed, and those whose lease expired (their run died; the next processor run recovers them).
IN_PROGRESS = """
SELECT count(*), count(*) FILTER (WHERE lease_expires_at < now())
FROM file_processing_status
WHERE processing_status = 'PROCESSING'
"""

#: ``mldp status``: every open batch with its owner, lease, heartbeat, hand-back and hold, and the files and bytes
#: it still holds PROCESSING (served by idx_batches_open and idx_fps_processing_batch).
STATUS_OPEN_BATCHES = """
SELECT b.batch_id, b.glue_job_run_id, b.owner_host, b.owner_pid, b.owner_node, b.owner_glue_job, b.claimed_at,
    b.lease_expires_at, b.heartbeat_at, b.lease_expires_at < now() AS lease_expired,
    b.released_at IS NOT NULL AS released, b.release_reason, b.held_at IS NOT NULL AS held, b.recovery_attempts,
    b.recovery_error, count(f.file_id) AS files, coalesce(sum(f.file_size_bytes), 0) AS bytes
FROM processing_batches AS b
LEFT JOIN file_processing_status AS f ON f.batch_id = b.batch_id AND f.processing_status = 'PROCESSING'
WHERE b.state = 'CLAIMED'
GROUP BY b.batch_id
ORDER BY b.claimed_at, b.batch_id
LIMIT %(limit)s
"""

#: Outcomes recorded in the last ``seconds`` (served by idx_history_outcome_time). ``done`` counts the outcomes
#: that leave the backlog for good (SUCCEEDED, QUARANTINED): the drain rate.
THROUGHPUT = """
SELECT
    count(*) AS files,
    count(*) FILTER (WHERE h.processing_status = 'SUCCEEDED') AS succeeded,
    count(*) FILTER (WHERE h.processing_status = 'FAILED') AS failed,
    count(*) FILTER (WHERE h.processing_status = 'QUARANTINED') AS quarantined,
    coalesce(sum(f.file_size_bytes), 0) AS bytes,
    coalesce(sum(h.records_good), 0) AS records_good,
    coalesce(sum(h.records_bad), 0) AS records_bad
FROM file_processing_history AS h
JOIN file_processing_status AS f ON f.file_id = h.file_id
WHERE h.event = 'OUTCOME' AND h.recorded_at > now() - make_interval(secs => %(seconds)s)
"""

#: The last batches, newest first, with the outcome of their files (served by idx_batches_claimed_at and
#: idx_history_batch).
RECENT_BATCHES = """
SELECT b.batch_id, b.glue_job_run_id, b.state, b.file_count, b.records_good, b.records_bad, b.bytes,
    b.claimed_at, b.finished_at,
    extract(epoch FROM coalesce(b.finished_at, now()) - b.claimed_at)::float8 AS seconds,
    b.error_message,
    coalesce((
        SELECT json_object_agg(o.processing_status, o.n)
        FROM (
            SELECT h.processing_status, count(*) AS n
            FROM file_processing_history AS h
            WHERE h.batch_id = b.batch_id AND h.event = 'OUTCOME'
            GROUP BY h.processing_status
        ) AS o
    ), '{}'::json) AS outcomes
FROM processing_batches AS b
ORDER BY b.claimed_at DESC, b.batch_id
LIMIT %(limit)s
"""

#: Why files fail: the errors of the files FAILED or QUARANTINED now, grouped after replacing numbers (and long
#: hexadecimal ids such as ETags) by ``N``, so "all 5 records malformed" and "all 7 records malformed" count
#: together. Served by idx_fps_needs_operator.
TOP_ERRORS = """
SELECT pattern, count(*) AS files, array_agg(DISTINCT processing_status ORDER BY processing_status) AS states,
    min(s3_key) AS example_key
FROM (
    SELECT processing_status, s3_key,
        regexp_replace(regexp_replace(coalesce(error_message, '(no message)'),
                                      '[0-9a-f]{16,}', 'N', 'g'), '\\m[0-9]+', 'N', 'g') AS pattern
    FROM file_processing_status
    WHERE processing_status IN ('FAILED', 'QUARANTINED')
) AS e
GROUP BY pattern
ORDER BY files DESC, pattern
LIMIT %(limit)s
"""

# --- inspect --------------------------------------------------------------------------------------------------

FILE_COLUMNS = (
    "file_id, s3_key, file_size_bytes, last_modified_timestamp, etag, version, processing_status, glue_job_run_id, "
    "batch_id, lease_expires_at, next_attempt_at, processed_at, error_message, retry_count, records_good, "
    "records_bad, dead_letter_path, archived_key, created_at, updated_at, records_rescued, spec_version"
)

FILE_BY_KEY = f"SELECT {FILE_COLUMNS} FROM file_processing_status WHERE s3_key = %(key)s"

#: A key given as its archived location (``raw-json-data-processed/...``) is found too (no index: only on a miss).
FILE_BY_ARCHIVED_KEY = f"SELECT {FILE_COLUMNS} FROM file_processing_status WHERE archived_key = %(key)s"

FILE_HISTORY = """
SELECT history_id, recorded_at, event, etag, version, processing_status, batch_id, glue_job_run_id, retry_count,
    error_message, records_good, records_bad, dead_letter_path, archived_key, actor, reason
FROM file_processing_history
WHERE file_id = %(file_id)s
ORDER BY history_id
"""

#: Every batch the file was ever part of (from its history, plus its current batch).
FILE_BATCHES = """
SELECT batch_id, glue_job_run_id, state, file_count, records_good, records_bad, bytes, claimed_at, finished_at,
    error_message, spec_version, records_rescued
FROM processing_batches
WHERE batch_id IN (
    SELECT batch_id FROM file_processing_history WHERE file_id = %(file_id)s AND batch_id IS NOT NULL
    UNION
    SELECT batch_id FROM file_processing_status WHERE file_id = %(file_id)s AND batch_id IS NOT NULL
)
ORDER BY claimed_at, batch_id
"""

# --- requeue / release ----------------------------------------------------------------------------------------

#: The files an operator may move (back to PENDING, or to RETIRED). The literal state list guarantees that no other
#: state (PROCESSING, SUCCEEDED) is ever touched whatever ``states`` says; ``states`` (a constant array) then lets
#: the planner use the partial index of those states: idx_fps_needs_operator for FAILED, QUARANTINED and RETIRED,
#: idx_fps_claimable for PENDING alone. Every other filter is optional (NULL = no filter). The time window applies
#: to the moment the file got its current state: its last outcome (``processed_at``) for FAILED and QUARANTINED,
#: its retirement (``updated_at``, which nothing else changes on a RETIRED row) for RETIRED, its registration,
#: new version, requeue or release (``updated_at``) for PENDING.
OPERATOR_SELECTION = """
processing_status IN ('PENDING', 'FAILED', 'QUARANTINED', 'RETIRED')
AND processing_status = ANY(%(states)s::text[])
AND (%(keys)s::text[] IS NULL OR s3_key = ANY(%(keys)s::text[]))
AND (%(prefix)s::text IS NULL OR starts_with(s3_key, %(prefix)s::text))
AND (%(error_contains)s::text IS NULL
     OR strpos(lower(coalesce(error_message, '')), lower(%(error_contains)s::text)) > 0)
AND (%(since)s::timestamptz IS NULL OR CASE WHEN processing_status IN ('RETIRED', 'PENDING') THEN updated_at
                                              ELSE processed_at END >= %(since)s::timestamptz)
AND (%(until)s::timestamptz IS NULL OR CASE WHEN processing_status IN ('RETIRED', 'PENDING') THEN updated_at
                                              ELSE processed_at END < %(until)s::timestamptz)
"""

#: How many files the selection matches (up to ``limit``; NULL = no limit).
REQUEUE_COUNT = f"""
SELECT count(*) FROM (
    SELECT 1 FROM file_processing_status WHERE {OPERATOR_SELECTION} ORDER BY file_id LIMIT %(limit)s
) AS matched
"""

#: The first ``show`` files of the selection, as they are now.
REQUEUE_SAMPLE = f"""
SELECT s3_key, processing_status, error_message
FROM file_processing_status
WHERE {OPERATOR_SELECTION}
ORDER BY file_id
LIMIT least(%(limit)s, %(show)s)
"""

#: One statement: lock the selected files (a file a processor claims meanwhile is waited for, then skipped: the lock
#: re-checks the selection on the row as the claim left it, and the update re-checks that the state is still the
#: one locked), move them to ``target`` (PENDING with a fresh attempt budget, claimable at once, or RETIRED keeping
#: their error and attempt count), and record the state each had before the change in the history (event
#: REQUEUED, RELEASED or RETIRED, with actor and reason), for the files changed only. Returns the count and the
#: first ``show`` keys.
REQUEUE = f"""
WITH picked AS (
    SELECT file_id, s3_key, etag, version, processing_status, batch_id, glue_job_run_id, retry_count,
        error_message, records_good, records_bad, dead_letter_path, archived_key
    FROM file_processing_status
    WHERE {OPERATOR_SELECTION}
    ORDER BY file_id
    LIMIT %(limit)s
    FOR UPDATE
), updated AS (
    UPDATE file_processing_status AS f SET
        processing_status = %(target)s,
        retry_count = CASE WHEN %(target)s = 'PENDING' THEN 0 ELSE f.retry_count END,
        next_attempt_at = now(),
        error_message = CASE WHEN %(target)s = 'PENDING' THEN NULL ELSE f.error_message END,
        lease_expires_at = NULL,
        updated_at = now()
    FROM picked
    WHERE f.file_id = picked.file_id AND f.processing_status = picked.processing_status
    RETURNING f.file_id, f.s3_key
), logged AS (
    INSERT INTO file_processing_history (file_id, event, etag, version, processing_status, batch_id,
        glue_job_run_id, retry_count, error_message, records_good, records_bad, dead_letter_path, archived_key,
        actor, reason)
    SELECT p.file_id, %(event)s, p.etag, p.version, p.processing_status, p.batch_id, p.glue_job_run_id,
        p.retry_count, p.error_message, p.records_good, p.records_bad, p.dead_letter_path, p.archived_key,
        %(actor)s, %(reason)s
    FROM picked AS p
    JOIN updated AS u ON u.file_id = p.file_id
)
SELECT
    (SELECT count(*) FROM updated),
    coalesce((SELECT array_agg(s3_key ORDER BY file_id)
              FROM (SELECT file_id, s3_key FROM updated ORDER BY file_id LIMIT %(show)s) AS first),
             '{{}}'::text[])
"""

#: The current state of each given key (NULL state: not tracked), for ``release`` to explain what it cannot do.
KEY_STATES = """
SELECT k.key, f.processing_status
FROM unnest(%(keys)s::text[]) WITH ORDINALITY AS k(key, n)
LEFT JOIN file_processing_status AS f ON f.s3_key = k.key
ORDER BY k.n
"""

# --- schema drift and spec versions (issue 20) -----------------------------------------------------------------

#: The sightings of a time window, per path, kind and JSON type.
DRIFT = """
SELECT path, kind, json_type, sum(records)::bigint AS records, count(DISTINCT file_id) AS files,
    min(seen_at) AS first_seen, max(seen_at) AS last_seen, (array_agg(example ORDER BY seen_at DESC))[1:3] AS examples,
    array_agg(DISTINCT spec_version) AS spec_versions
FROM rescued_field_sightings
WHERE seen_at >= coalesce(%(since)s, '-infinity'::timestamptz)
GROUP BY path, kind, json_type
ORDER BY path, kind, json_type
"""

#: Files per path over every type (a file seen with two types counts once).
DRIFT_FILES = """
SELECT path, kind, count(DISTINCT file_id) AS files
FROM rescued_field_sightings
WHERE seen_at >= coalesce(%(since)s, '-infinity'::timestamptz)
GROUP BY path, kind
"""

#: The spec versions of the last ``limit`` finished batches, newest use first, with their rescued records.
SPEC_VERSIONS = """
SELECT spec_version, count(*) AS batches, coalesce(sum(records_rescued), 0) AS records_rescued,
    max(finished_at) AS last_used
FROM (
    SELECT spec_version, records_rescued, finished_at
    FROM processing_batches
    WHERE state = 'COMMITTED'
    ORDER BY claimed_at DESC
    LIMIT %(limit)s
) AS recent
GROUP BY spec_version
ORDER BY last_used DESC NULLS LAST
"""

#: ``mldp reprocess``: the SUCCEEDED files a selection names (every filter optional, NULL = none), with their archived
#: copy and the spec version that converted them.
REPROCESS_CANDIDATES = """
SELECT file_id, s3_key, archived_key, spec_version, version, processed_at
FROM file_processing_status
WHERE processing_status = 'SUCCEEDED'
  AND (%(spec_version)s::text IS NULL OR spec_version IS NOT DISTINCT FROM nullif(%(spec_version)s, 'none'))
  AND (%(since)s::timestamptz IS NULL OR processed_at >= %(since)s)
  AND (%(until)s::timestamptz IS NULL OR processed_at < %(until)s)
  AND (%(keys)s::text[] IS NULL OR s3_key = ANY(%(keys)s))
  AND (%(prefix)s::text IS NULL OR starts_with(s3_key, %(prefix)s))
ORDER BY file_id
"""

#: ``mldp reprocess``: the planned files (id and archived key, as the plan saw them) that are still SUCCEEDED with
#: that archived copy go back to PENDING (attempts reset, claimable at once), their ``archived_key`` kept: the
#: processor reads that copy and never archives the file again (:attr:`runtime.db.records.ClaimedFile.read_key`).
#: One ``REPROCESS`` history row per file keeps the outcome it had, with ``actor`` and ``reason``.
REPROCESS = """
WITH planned AS (
    SELECT * FROM unnest(%(file_ids)s::bigint[], %(archived_keys)s::text[]) AS u(file_id, archived_key)
), picked AS (
    SELECT f.file_id, f.s3_key, f.etag, f.version, f.processing_status, f.batch_id, f.glue_job_run_id,
        f.retry_count, f.error_message, f.records_good, f.records_bad, f.dead_letter_path, f.archived_key
    FROM file_processing_status AS f
    JOIN planned AS p ON p.file_id = f.file_id AND p.archived_key = f.archived_key
    WHERE f.processing_status = 'SUCCEEDED'
    ORDER BY f.file_id
    FOR UPDATE OF f
), updated AS (
    UPDATE file_processing_status AS f SET
        processing_status = 'PENDING',
        retry_count = 0,
        next_attempt_at = now(),
        error_message = NULL,
        claim_limit = NULL,
        lease_expires_at = NULL,
        updated_at = now()
    FROM picked
    WHERE f.file_id = picked.file_id AND f.processing_status = 'SUCCEEDED'
    RETURNING f.file_id, f.s3_key
), logged AS (
    INSERT INTO file_processing_history (file_id, event, etag, version, processing_status, batch_id,
        glue_job_run_id, retry_count, error_message, records_good, records_bad, dead_letter_path, archived_key,
        actor, reason)
    SELECT p.file_id, 'REPROCESS', p.etag, p.version, p.processing_status, p.batch_id, p.glue_job_run_id,
        p.retry_count, p.error_message, p.records_good, p.records_bad, p.dead_letter_path, p.archived_key,
        %(actor)s, %(reason)s
    FROM picked AS p
    JOIN updated AS u ON u.file_id = p.file_id
)
SELECT count(*), coalesce(array_agg(s3_key ORDER BY file_id), '{}'::text[]) FROM updated
"""
