"""Every SQL statement of the jobs, by name: the lister's registration and the processor's batch protocol. Keep
SQL here, not scattered through the code. The processor and the demo reach these through
:class:`runtime.db.tracking.TrackingStore` (named methods, typed rows); the lister through
:mod:`runtime.db.registration`. The operator commands' read-mostly SQL is in :mod:`runtime.db.operator_queries`.

State literals here are the values of :class:`runtime.db.states.FileState` / ``BatchState`` (the partial index
``idx_fps_claimable`` is only used by a query that spells its predicate literally)."""

from __future__ import annotations

from runtime.db.lease_queries import renew_leases_of

# --- registration (lister) -------------------------------------------------------------------------------------

CREATE_INCOMING = """
CREATE TEMP TABLE IF NOT EXISTS incoming_objects (
    s3_key TEXT NOT NULL,
    file_size_bytes BIGINT,
    last_modified_epoch DOUBLE PRECISION,
    etag TEXT
) ON COMMIT DELETE ROWS
"""

COPY_INCOMING = (
    "COPY incoming_objects (s3_key, file_size_bytes, last_modified_epoch, etag) FROM STDIN WITH (FORMAT csv)"
)

#: (incoming_objects holds each key once: the caller de-duplicates a chunk.)
#: Register one staged page. ``classified`` sorts each key without taking any lock: ``new`` (not registered),
#: ``unchanged`` (same ETag), ``newer`` (a new version: a later last-modified time, or the same time and an ETag the
#: key never had), ``stale`` (an older listing: an earlier or equal last-modified time and an ETag this key already
#: had: never go back in version), ``unconfirmed`` (an earlier last-modified time and an ETag the key never had: a
#: multipart upload completed after the registered version, or an old listing of a version never registered;
#: counted stale here and returned, so :func:`runtime.db.registration.register_page` asks S3 which, see
#: :data:`runtime.db.registration_queries.REGISTER_CONFIRMED`; rare: no HEAD for the common case).
#: Only ``newer`` rows are locked, in file_id order, with SKIP LOCKED: the lister never waits for a row lock, so
#: it can never be part of a deadlock, and it never locks an unchanged row (a plain ON CONFLICT DO UPDATE ... WHERE
#: locks every conflicting row, even those it does not update). A locked row is re-checked: a row being processed
#: (PROCESSING) or locked by a batch right now keeps its version; the new one is ``deferred`` to the next listing.
#: New keys are inserted (a plain INSERT, see below; never a lock). A new version goes back to PENDING
#: with attempts reset; the trigger of migrations 0003/0007 writes the replaced version's outcome to the history.
#: A row registered without an ETag (the reference schema's rows; the processor records the ETag it processed on
#: them) has no version to compare: the listed object is taken as the row's own version (``adopt``: its ETag and
#: size recorded, no new version, no state change, counted unchanged) unless it was modified after the row's last
#: outcome (``processed_at``), when it is a new version; one older than the recorded last-modified time is stale.
#: Returns (new, changed, newer + adoptions left to the next listing, stale + unconfirmed, the unconfirmed rows as
#: JSON ``[key, size, epoch, etag, registered etag]``): deferred = newer - changed. Run it after
#: :data:`REGISTRATION_PLAN`.
#: What a new version of a file resets, whoever registers it (the lister, or the processor that found it in place
#: of the version listed): PENDING at once, attempts reset, the previous version's outcome cleared (the trigger of
#: migrations 0003/0007 keeps it in the history).
NEXT_VERSION = """
        version = f.version + 1,
        processing_status = 'PENDING',
        retry_count = 0,
        next_attempt_at = now(),
        batch_id = NULL,
        glue_job_run_id = NULL,
        lease_expires_at = NULL,
        processed_at = NULL,
        error_message = NULL,
        records_good = NULL,
        records_bad = NULL,
        dead_letter_path = NULL,
        archived_key = NULL,
        claim_limit = NULL,
        updated_at = now()"""

def _register_incoming(on_conflict: str) -> str:
    """The bulk statement, its new keys' INSERT ending with ``on_conflict``."""
    return f"""
WITH classified AS (
    SELECT i.s3_key, i.file_size_bytes, i.last_modified, i.last_modified_epoch, i.etag, f.file_id,
        CASE
            WHEN f.file_id IS NULL THEN 'new'
            WHEN f.etag IS NOT DISTINCT FROM i.etag THEN 'unchanged'
            WHEN f.etag IS NULL THEN CASE  -- a row registered without an ETag (the reference schema's)
                WHEN i.last_modified < f.last_modified_timestamp THEN 'stale'
                WHEN i.last_modified > f.processed_at THEN 'newer'  -- uploaded after its last outcome
                ELSE 'adopt' END
            WHEN f.last_modified_timestamp IS NULL OR i.last_modified > f.last_modified_timestamp THEN 'newer'
            WHEN EXISTS (SELECT 1 FROM file_processing_history AS h WHERE h.file_id = f.file_id AND h.etag = i.etag)
                THEN 'stale'  -- an ETag the key had before, not listed after the registered version
            WHEN i.last_modified = f.last_modified_timestamp THEN 'newer'
            ELSE 'unconfirmed'  -- older, but an ETag the key never had: a HEAD decides (register_page)
        END AS kind, f.etag AS registered_etag
    FROM (SELECT s3_key, file_size_bytes, last_modified_epoch, to_timestamp(last_modified_epoch) AS last_modified,
                 etag
          FROM incoming_objects) AS i
    LEFT JOIN file_processing_status AS f ON f.s3_key = i.s3_key
), locked AS (
    SELECT f.file_id, c.file_size_bytes, c.last_modified, c.etag
    FROM classified AS c
    JOIN file_processing_status AS f ON f.file_id = c.file_id
    WHERE c.kind = 'newer'
        AND f.processing_status <> 'PROCESSING'
        AND f.etag IS DISTINCT FROM c.etag
        AND (f.last_modified_timestamp IS NULL OR c.last_modified >= f.last_modified_timestamp)
    ORDER BY f.file_id
    FOR UPDATE OF f SKIP LOCKED
), updated AS (
    UPDATE file_processing_status AS f SET
        file_size_bytes = l.file_size_bytes,
        last_modified_timestamp = l.last_modified,
        etag = l.etag,{NEXT_VERSION}
    FROM locked AS l
    WHERE f.file_id = l.file_id
    RETURNING f.file_id
), adopted AS (
    UPDATE file_processing_status AS f SET etag = c.etag, file_size_bytes = c.file_size_bytes,
        last_modified_timestamp = greatest(f.last_modified_timestamp, c.last_modified), updated_at = now()
    FROM (
        SELECT f.file_id, c.etag, c.file_size_bytes, c.last_modified
        FROM classified AS c
        JOIN file_processing_status AS f ON f.file_id = c.file_id
        WHERE c.kind = 'adopt' AND f.etag IS NULL AND f.processing_status <> 'PROCESSING'
        ORDER BY f.file_id
        FOR UPDATE OF f SKIP LOCKED
    ) AS c
    WHERE f.file_id = c.file_id
    RETURNING f.file_id
), inserted AS (
    INSERT INTO file_processing_status AS f
        (s3_key, file_size_bytes, last_modified_timestamp, etag, processing_status, next_attempt_at)
    SELECT s3_key, file_size_bytes, last_modified, etag, 'PENDING', now()
    FROM classified
    WHERE kind = 'new'{on_conflict}
    RETURNING f.file_id
)
SELECT (SELECT count(*) FROM inserted), (SELECT count(*) FROM updated),
    count(*) FILTER (WHERE kind = 'newer') + count(*) FILTER (WHERE kind = 'adopt') - (SELECT count(*) FROM adopted),
    count(*) FILTER (WHERE kind IN ('stale', 'unconfirmed')),
    coalesce(json_agg(json_build_array(s3_key, file_size_bytes, last_modified_epoch, etag, registered_etag))
        FILTER (WHERE kind = 'unconfirmed'), '[]')
FROM classified
"""

#: The bulk statement as every page runs it: new keys by a plain INSERT. The lister lock serializes the writers of
#: new keys (registration is the only one; a report's writers take disjoint keys), so a key found absent is still
#: absent at the INSERT, and ON CONFLICT's speculative insertion (a second probe of the key index, a token, one more
#: WAL record a row) is pure cost: 27% of the statement's time on a page of new keys. Should another session insert
#: one of the keys meanwhile all the same, the INSERT fails (unique violation), the page's transaction is rolled
#: back and the page is registered again by :data:`REGISTER_INCOMING_ON_CONFLICT` (:func:`runtime.db.registration.
#: register_page`), which classifies that key against the committed row: the outcome of a later listing.
REGISTER_INCOMING = _register_incoming("")
#: The same statement with ``ON CONFLICT (s3_key) DO NOTHING`` (locks nothing): the fallback above.
REGISTER_INCOMING_ON_CONFLICT = _register_incoming("\n    ON CONFLICT (s3_key) DO NOTHING")

#: Each staged key is one index probe of the tracking table (as ON CONFLICT would do), whatever the planner makes
#: of a temporary table without statistics: a hash or merge join reads the whole table for every page, which makes
#: a full listing quadratic in the number of files (0.5 s a page of 20,000 against 1,000,000 rows, 0.1 s probed).
#: Forcing the nested loop makes the estimated cost large (~230,000 against an empty table, ~380,000 against
#: 1,000,000 rows) although the work is 20,000 cheap probes: above ``jit_above_cost`` (100,000), so every page paid
#: 20-60 ms of JIT compilation (and past ``jit_optimize_above_cost``, 500,000, LLVM optimization): JIT is off for
#: it. ``classified`` is read three times (a materialized CTE, ~3 MB a page of 20,000): the work_mem keeps it in
#: memory instead of spilling to a temporary file. Every setting is SET LOCAL: it ends with the page's transaction.
REGISTRATION_PLAN = (
    "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off; SET LOCAL jit = off; "
    "SET LOCAL work_mem = '64MB'"
)

#: Listers are serialized on this session-level advisory lock (the migrations take 7_345_120_011).
LISTER_LOCK_KEY = 7_345_120_012
TRY_LISTER_LOCK = "SELECT pg_try_advisory_lock(%(key)s)"
RELEASE_LISTER_LOCK = "SELECT pg_advisory_unlock(%(key)s)"
#: Who holds the lister lock (pid, application name, connection start), for the message of a second lister. A
#: bigint advisory key is stored as classid (high 32 bits), objid (low 32 bits), objsubid 1.
LISTER_LOCK_HOLDER = """
SELECT l.pid, a.application_name, a.backend_start
FROM pg_locks AS l
LEFT JOIN pg_stat_activity AS a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND ((l.classid::bigint << 32) | l.objid::bigint) = %(key)s
LIMIT 1
"""

# --- backlog gauges ---------------------------------------------------------------------------------------------

BACKLOG = """
SELECT
    count(*) FILTER (WHERE processing_status IN ('PENDING', 'PROCESSING', 'FAILED')) AS backlog_files,
    coalesce(extract(epoch FROM now() - min(updated_at)
        FILTER (WHERE processing_status IN ('PENDING', 'PROCESSING', 'FAILED'))), 0)
        AS oldest_pending_age_seconds,
    count(*) FILTER (WHERE processing_status = 'QUARANTINED') AS quarantined_files
FROM file_processing_status
"""

# --- the batch protocol (processor) -----------------------------------------------------------------------------

#: One statement: pick claimable rows in claim order (served by idx_fps_claimable), skip rows other runs hold. A
#: file with a claim limit (migration 0005: a file of an abandoned batch, a culprit retried alone) is claimed only
#: in a batch of at most that many files: the batch is the largest n for which n of the candidates allow a batch
#: of n (an h-index of their limits), never more than the first candidate's own limit (so the file waiting longest
#: is always in it), made of the first n candidates that allow it. Files whose limit is smaller are skipped, not a
#: cut in the batch: a culprit retried alone costs one batch of its own, not two halves of every batch it is due in.
CLAIM_BATCH = """
WITH candidates AS (
    SELECT file_id, next_attempt_at, coalesce(claim_limit, %(batch_size)s) AS cap
    FROM file_processing_status
    WHERE processing_status IN ('PENDING', 'FAILED') AND next_attempt_at <= now()
    ORDER BY next_attempt_at, file_id
    LIMIT %(batch_size)s
    FOR UPDATE SKIP LOCKED
), numbered AS (
    SELECT file_id, cap, row_number() OVER (ORDER BY next_attempt_at, file_id) AS position,
        row_number() OVER (ORDER BY cap DESC, next_attempt_at, file_id) AS rank_by_cap
    FROM candidates
), sized AS (
    SELECT least(max(rank_by_cap) FILTER (WHERE cap >= rank_by_cap), min(cap) FILTER (WHERE position = 1)) AS n
    FROM numbered
), picked AS (
    SELECT file_id FROM (
        SELECT c.file_id, row_number() OVER (ORDER BY c.position) AS k, s.n
        FROM numbered AS c CROSS JOIN sized AS s
        WHERE c.cap >= s.n
    ) AS eligible
    WHERE k <= n
)
UPDATE file_processing_status AS f SET
    processing_status = 'PROCESSING',
    batch_id = %(batch_id)s,
    glue_job_run_id = %(job_run_id)s,
    lease_expires_at = now() + make_interval(secs => %(lease_seconds)s),
    retry_count = f.retry_count + 1,
    updated_at = now()
FROM picked
WHERE f.file_id = picked.file_id
RETURNING f.file_id, f.s3_key, f.etag, f.file_size_bytes, f.retry_count, f.version, f.archived_key
"""

#: The batch row, with the facts about the run that owns it (migration 0004): what tells a dead owner at once.
INSERT_BATCH = """
INSERT INTO processing_batches (batch_id, glue_job_run_id, file_count, bytes, lease_expires_at, owner_host, owner_pid,
    owner_node, owner_glue_job, heartbeat_at)
VALUES (%(batch_id)s, %(job_run_id)s, %(file_count)s, %(bytes)s, now() + make_interval(secs => %(lease_seconds)s),
    %(owner_host)s, %(owner_pid)s, %(owner_node)s, %(owner_glue_job)s, now())
"""

#: Renew-or-lose, one statement: extend the lease of the batch (and of its PROCESSING files) only if it is still
#: CLAIMED by this run, and say which: ``renewed`` is true when it was; otherwise ``state`` and ``owner`` tell what
#: became of it (no row: no such batch). The SELECT reads the batch row as it was before the renewal (unchanged
#: but for its lease).
RENEW_BATCH_LEASE = renew_leases_of("batch_id = %(batch_id)s") + """
SELECT EXISTS (SELECT 1 FROM renewed) AS renewed, b.state, b.glue_job_run_id,
    (SELECT count(*) FROM renewed_files) AS files
FROM processing_batches AS b
WHERE b.batch_id = %(batch_id)s
"""

BATCH_FILES = """
SELECT file_id, s3_key, etag, file_size_bytes, retry_count, version, archived_key
FROM file_processing_status
WHERE batch_id = %(batch_id)s AND processing_status = 'PROCESSING'
ORDER BY file_id
"""

#: Close the batch row first: it fences concurrent finishers (only one sees its row move from CLAIMED).
CLOSE_BATCH = """
UPDATE processing_batches SET state = %(state)s, records_good = %(records_good)s, records_bad = %(records_bad)s,
    records_rescued = %(records_rescued)s, spec_version = %(spec_version)s, error_message = %(error)s,
    finished_at = now()
WHERE batch_id = %(batch_id)s AND state = 'CLAIMED' AND glue_job_run_id = %(job_run_id)s
RETURNING batch_id
"""

#: The evidence of drift reports: what was rescued in each file of the batch (one row per path, kind and JSON type),
#: written in the transaction that records the batch's outcomes.
INSERT_SIGHTINGS = """
INSERT INTO rescued_field_sightings (batch_id, file_id, path, kind, json_type, records, example, spec_version)
SELECT %(batch_id)s, u.file_id, u.path, u.kind, u.json_type, u.records, u.example, %(spec_version)s
FROM unnest(%(file_ids)s::bigint[], %(paths)s::text[], %(kinds)s::text[], %(json_types)s::text[],
            %(records)s::bigint[], %(examples)s::text[]) AS u(file_id, path, kind, json_type, records, example)
ON CONFLICT DO NOTHING
"""

#: The attempts of each file still PROCESSING in the batch: what the retry rule (Python,
#: :class:`runtime.jobs.retry.RetryPolicy`) decides the final state, the attempt count and the backoff from (its
#: outcomes, and the files of a batch given back, :data:`runtime.db.lease_queries.UNCLAIM_FILES`). The rows are
#: locked (in file order, as claims lock them) until the write in the same transaction, so the counts the rule reads
#: are the ones it overwrites, whoever else writes the table meanwhile.
BATCH_ATTEMPTS = """
SELECT file_id, retry_count
FROM file_processing_status
WHERE batch_id = %(batch_id)s AND processing_status = 'PROCESSING'
ORDER BY file_id
FOR UPDATE
"""

#: Record every file's outcome of a batch in one statement, as the retry rule resolved it (state, error, retry delay:
#: NULL keeps the next attempt time); one history row per file. A row registered without an ETag (the reference
#: schema's) gets the ETag and size the pre-check read, the version processed. ``given_back`` (the rule's answer to a
#: PENDING outcome) gives the file back uncharged (its error and last outcome kept, claimable at once in batches of at
#: most its claim limit), recorded as UNCLAIMED with the reason. ``held`` (nothing of the file published: not converted,
#: or stopped by ``schema_policy: fail``) keeps the row's counts and dead-letter folder; its history row has its own.
FINISH_FILES = """
WITH outcome AS (
    SELECT * FROM unnest(%(file_ids)s::bigint[], %(states)s::text[], %(errors)s::text[],
                         %(records_good)s::bigint[], %(records_bad)s::bigint[], %(dead_letter_paths)s::text[],
                         %(retry_in_seconds)s::float8[], %(etags)s::text[], %(sizes)s::bigint[],
                         %(claim_limits)s::integer[], %(attempts)s::integer[], %(given_back)s::boolean[],
                         %(records_rescued)s::bigint[], %(spec_versions)s::text[], %(held)s::boolean[])
        AS u(file_id, state, error, good, bad, dead_letter_path, retry_in_seconds, etag, size, claim_limit, attempts,
             given_back, rescued, spec_version, held)
), updated AS (
    UPDATE file_processing_status AS f SET
        processing_status = o.state,
        retry_count = coalesce(o.attempts, f.retry_count),
        error_message = CASE WHEN o.given_back THEN f.error_message ELSE o.error END,
        records_good = CASE WHEN o.held THEN f.records_good ELSE o.good END,
        records_bad = CASE WHEN o.held THEN f.records_bad ELSE o.bad END,
        records_rescued = CASE WHEN o.given_back OR o.held THEN f.records_rescued ELSE o.rescued END,
        spec_version = CASE WHEN o.given_back THEN f.spec_version ELSE coalesce(o.spec_version, f.spec_version) END,
        dead_letter_path = CASE WHEN o.held THEN f.dead_letter_path ELSE o.dead_letter_path END,
        etag = coalesce(f.etag, o.etag),
        file_size_bytes = CASE WHEN f.etag IS NULL AND o.etag IS NOT NULL THEN o.size ELSE f.file_size_bytes END,
        next_attempt_at = CASE WHEN o.retry_in_seconds IS NULL THEN f.next_attempt_at
            ELSE now() + make_interval(secs => o.retry_in_seconds) END,
        claim_limit = CASE WHEN o.state = 'SUCCEEDED' THEN NULL ELSE coalesce(o.claim_limit, f.claim_limit) END,
        lease_expires_at = NULL,
        processed_at = CASE WHEN o.given_back THEN f.processed_at ELSE now() END,
        updated_at = now()
    FROM outcome AS o
    WHERE f.file_id = o.file_id AND f.batch_id = %(batch_id)s AND f.processing_status = 'PROCESSING'
    RETURNING f.*, o.given_back AS outcome_given_back, o.error AS outcome_error, o.good AS outcome_good,
        o.bad AS outcome_bad, o.dead_letter_path AS outcome_dead_letter_path
)
INSERT INTO file_processing_history (file_id, event, etag, version, processing_status, batch_id, glue_job_run_id,
    retry_count, error_message, records_good, records_bad, dead_letter_path, actor, reason)
SELECT file_id, CASE WHEN outcome_given_back THEN 'UNCLAIMED' ELSE 'OUTCOME' END, etag, version,
    processing_status, batch_id, glue_job_run_id, retry_count, error_message, outcome_good, outcome_bad,
    outcome_dead_letter_path, %(job_run_id)s, CASE WHEN outcome_given_back THEN outcome_error END
FROM updated
RETURNING CASE WHEN event = 'UNCLAIMED' THEN 'PENDING' ELSE processing_status END
"""

#: Files the pre-check found overwritten since they were listed (:attr:`FileOutcome.new_etag`), just recorded FAILED:
#: their new version is registered at once, as the lister would (never over a row that changed meanwhile), so they
#: are not charged attempt after attempt, and quarantined, before the next listing. The pre-check does not know the
#: new version's Last-Modified; ``now()`` is an upper bound of it, recorded so that a listing or an inventory report
#: that saw an in-between version (older than this one, newer than the version listed) finds it older, not newer,
#: and never rolls the row back: a version really uploaded since is confirmed by a HEAD (REGISTER_CONFIRMED).
REGISTER_SEEN_VERSIONS = f"""
UPDATE file_processing_status AS f SET
    etag = u.etag,
    file_size_bytes = u.size,
    last_modified_timestamp = greatest(f.last_modified_timestamp, now()),{NEXT_VERSION}
FROM unnest(%(file_ids)s::bigint[], %(etags)s::text[], %(sizes)s::bigint[]) AS u(file_id, etag, size)
WHERE f.file_id = u.file_id AND f.processing_status IN ('FAILED', 'QUARANTINED') AND f.etag IS DISTINCT FROM u.etag
RETURNING f.file_id
"""

#: Who the history rows written by triggers in this transaction name (migration 0007; the lister's by default).
SET_ACTOR = "SELECT set_config('mldp.actor', %(actor)s, true)"

#: The largest batch each of these files may next be claimed in (the files of an abandoned batch, migration 0005).
SET_CLAIM_LIMIT = """
UPDATE file_processing_status SET claim_limit = %(claim_limit)s, updated_at = now()
WHERE file_id = ANY(%(file_ids)s::bigint[])
"""

#: Archive bookkeeping: the archived key of each moved file (bulk).
SET_ARCHIVED_KEYS = """
UPDATE file_processing_status AS f SET archived_key = u.archived_key, updated_at = now()
FROM unnest(%(file_ids)s::bigint[], %(archived_keys)s::text[]) AS u(file_id, archived_key)
WHERE f.file_id = u.file_id AND f.processing_status = 'SUCCEEDED' AND f.archived_key IS NULL
"""

#: Succeeded files whose archive move has not happened yet (a crash or a failed move), the longest waiting first:
#: a move that failed moves its file to the back (:data:`ARCHIVE_FAILED`), so files whose move keeps failing (a
#: source refused to the role, deleted by hand) never starve the others out of the run's window.
UNARCHIVED = """
SELECT f.file_id, f.s3_key, f.file_size_bytes, f.etag, f.version, f.processed_at
FROM file_processing_status AS f
WHERE f.processing_status = 'SUCCEEDED' AND f.archived_key IS NULL
ORDER BY f.updated_at, f.file_id
LIMIT %(limit)s
"""

#: Archive bookkeeping: these files' moves failed (they stay in place): to the back of the leftovers' queue.
ARCHIVE_FAILED = """
UPDATE file_processing_status SET updated_at = now()
WHERE file_id = ANY(%(file_ids)s::bigint[]) AND processing_status = 'SUCCEEDED' AND archived_key IS NULL
"""

#: Which of these staged batches are still open (their staging must not be touched).
OPEN_BATCHES_AMONG = """
SELECT batch_id FROM processing_batches
WHERE state = 'CLAIMED' AND batch_id = ANY(%(batch_ids)s::uuid[])
"""

# --- what needs attention (the demo's summary) -------------------------------------------------------------------

FILES_NEEDING_ATTENTION = """
SELECT s3_key, processing_status, error_message
FROM file_processing_status
WHERE processing_status IN ('FAILED', 'QUARANTINED')
ORDER BY s3_key
"""
