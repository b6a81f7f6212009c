-- The current schema of the tracking database: what the migrations in runtime/db/migrations/ produce, applied in
-- order to an empty database, written out as one file to read. It is documentation, not a migration: jobs and
-- `mldp migrate` apply the migrations (runtime/db/migrations.py), never this file. The bookkeeping table
-- schema_migrations, created by runtime/db/migrations.py itself, is left out.
--
-- tests/runtime/db/test_schema.py applies every migration to one empty database, loads this file into another and
-- compares their catalogs (columns, constraints, indexes, triggers, functions, comments): a new migration fails
-- that test until this file says what it changed.
--
-- The states are those of runtime/db/states.py; which store method moves a file or a batch from one state to
-- another is listed there (TRANSITIONS).

-- --- file_processing_status: one row per raw object key (migrations 0001, 0005, 0006) ---------------------------

CREATE TABLE file_processing_status (
    file_id                 BIGSERIAL PRIMARY KEY,
    s3_key                  TEXT NOT NULL UNIQUE,
    file_size_bytes         BIGINT,
    last_modified_timestamp TIMESTAMPTZ,
    etag                    TEXT,
    version                 INTEGER NOT NULL DEFAULT 1,
    processing_status       VARCHAR(16) NOT NULL DEFAULT 'PENDING',
    glue_job_run_id         TEXT,
    batch_id                UUID,
    lease_expires_at        TIMESTAMPTZ,
    next_attempt_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    processed_at            TIMESTAMPTZ,
    error_message           TEXT,
    retry_count             INTEGER NOT NULL DEFAULT 0,
    records_good            BIGINT,
    records_bad             BIGINT,
    dead_letter_path        TEXT,
    archived_key            TEXT,
    created_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- the largest batch this file may next be claimed in (migration 0005)
    claim_limit             INTEGER CHECK (claim_limit IS NULL OR claim_limit >= 1),
    -- good records of the last outcome that carried rescued data; the spec version that converted it (0013)
    records_rescued         BIGINT,
    spec_version            TEXT,
    -- migration 0006 added RETIRED (NOT VALID there, to skip the scan of existing rows)
    CONSTRAINT file_processing_status_processing_status_check
        CHECK (processing_status IN ('PENDING', 'PROCESSING', 'SUCCEEDED', 'FAILED', 'QUARANTINED', 'RETIRED'))
);

COMMENT ON COLUMN file_processing_status.claim_limit IS
    'the largest batch this file may next be claimed in (NULL: any); set when a batch it was in was abandoned';
COMMENT ON COLUMN file_processing_status.archived_key IS
    'the archived copy of the processed version; on a file that is not SUCCEEDED (mldp reprocess re-queued it), the '
    'copy the processor reads instead of the raw key, never archived again';
COMMENT ON COLUMN file_processing_status.spec_version IS
    'the version (content hash) of the transform spec of the file''s last outcome: mldp reprocess --spec-version';

-- Serves the claim query: only claimable rows are indexed, in claim order.
CREATE INDEX idx_fps_claimable ON file_processing_status (next_attempt_at, file_id)
    WHERE processing_status IN ('PENDING', 'FAILED');
-- Serves lease recovery and batch lookups.
CREATE INDEX idx_fps_processing_batch ON file_processing_status (batch_id)
    WHERE processing_status = 'PROCESSING';
-- Serves "archive what is succeeded but not yet moved".
CREATE INDEX idx_fps_unarchived ON file_processing_status (file_id)
    WHERE processing_status = 'SUCCEEDED' AND archived_key IS NULL;
-- requeue and retire select among these states; the error summary of status among the first two (0002, 0006).
CREATE INDEX idx_fps_needs_operator ON file_processing_status (processed_at)
    WHERE processing_status IN ('FAILED', 'QUARANTINED', 'RETIRED');

-- --- processing_batches: one row per batch, the protocol's progress (migrations 0001, 0004, 0007) -----------------

CREATE TABLE processing_batches (
    batch_id             UUID PRIMARY KEY,
    glue_job_run_id      TEXT,
    state                VARCHAR(16) NOT NULL DEFAULT 'CLAIMED'
        CHECK (state IN ('CLAIMED', 'COMMITTED', 'ABANDONED')),
    file_count           INTEGER NOT NULL,
    records_good         BIGINT,
    records_bad          BIGINT,
    bytes                BIGINT,
    error_message        TEXT,
    claimed_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    lease_expires_at     TIMESTAMPTZ NOT NULL,
    finished_at          TIMESTAMPTZ,
    -- the process that owns the batch (glue_job_run_id is its run): host name and pid (0004)
    owner_host           TEXT,
    owner_pid            INTEGER,
    -- kernel boot id / pid namespace / process start time of owner_pid
    owner_node           TEXT,
    -- the Glue job of glue_job_run_id (NULL outside Glue)
    owner_glue_job       TEXT,
    -- the last lease renewal by the owner's heartbeat
    heartbeat_at         TIMESTAMPTZ,
    -- handed back by its run or by an operator: recoverable now
    released_at          TIMESTAMPTZ,
    released_by          TEXT,
    release_reason       TEXT,
    -- failed recoveries of this batch, the last one's error, and when it was held for the operator
    recovery_attempts    INTEGER NOT NULL DEFAULT 0,
    recovery_error       TEXT,
    held_at              TIMESTAMPTZ,
    -- what the batch publishes, recorded before it publishes anything (0007)
    publish_started_at   TIMESTAMPTZ,
    published_partitions TEXT[],
    -- good records that carried rescued data; the version (content hash) of the spec the batch used (0013)
    records_rescued      BIGINT,
    spec_version         TEXT
);

COMMENT ON COLUMN processing_batches.held_at IS
    'recovery failed recovery_attempts times (recovery_error says why): no run takes the batch over until an '
    'operator runs mldp recover BATCH --reason WHY';
COMMENT ON COLUMN processing_batches.publish_started_at IS
    'set, fenced, before the first object of the batch is published: from then on the batch is rolled forward or '
    'its published objects retracted, never abandoned as if nothing were published';
COMMENT ON COLUMN processing_batches.published_partitions IS
    'the curated partitions the batch publishes into (curated_prefix/<partition>/batch-<batch_id>-NNNN...)';
COMMENT ON COLUMN processing_batches.spec_version IS
    'the version (content hash) of the transform spec the batch converted its files with';

CREATE INDEX idx_batches_open ON processing_batches (lease_expires_at) WHERE state = 'CLAIMED';
-- status: the last N batches.
CREATE INDEX idx_batches_claimed_at ON processing_batches (claimed_at);

-- --- file_processing_history: every change of a file's life (migrations 0001, 0002, 0006) -------------------------

CREATE TABLE file_processing_history (
    history_id        BIGSERIAL PRIMARY KEY,
    file_id           BIGINT NOT NULL REFERENCES file_processing_status (file_id),
    event             VARCHAR(32) NOT NULL,
    etag              TEXT,
    version           INTEGER,
    processing_status VARCHAR(16),
    batch_id          UUID,
    glue_job_run_id   TEXT,
    retry_count       INTEGER,
    error_message     TEXT,
    records_good      BIGINT,
    records_bad       BIGINT,
    dead_letter_path  TEXT,
    archived_key      TEXT,
    actor             TEXT,
    reason            TEXT,
    recorded_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);

COMMENT ON COLUMN file_processing_history.event IS
    'NEW_VERSION (the replaced version''s last state), OUTCOME (the state a batch recorded), '
    'REQUEUED / RELEASED (an operator moved the file back to PENDING; the row keeps the state and error it had '
    'before, actor and reason say who and why), RETIRED (an operator gave up on the file: the row keeps the state '
    'and error it had before), UNCLAIMED (its run stopped before finishing the batch and gave the file back '
    'without counting the attempt), RECOVER (an operator recovered the batch of a gone run), REPROCESS (mldp '
    'reprocess re-queued a SUCCEEDED file to be converted again from its archived copy: the row keeps its outcome, '
    'actor and reason say who and why)';
COMMENT ON COLUMN file_processing_history.actor IS
    'who made the change: a job (run id) or an operator (REQUEUED, RELEASED: $MLDP_ACTOR or the OS user)';

CREATE INDEX idx_history_file ON file_processing_history (file_id, history_id);
-- status: throughput over the last hour / day (OUTCOME rows in a time window).
CREATE INDEX idx_history_outcome_time ON file_processing_history (recorded_at) WHERE event = 'OUTCOME';
-- status (per-batch outcome counts) and inspect (the files of a batch).
CREATE INDEX idx_history_batch ON file_processing_history (batch_id) WHERE batch_id IS NOT NULL;

-- --- the replaced version's outcome, kept when a new version is registered (migrations 0003, 0007) ----------------

-- Who registered the new version: the lister, or the processor run that found the object overwritten after listing
-- (it sets mldp.actor for its transaction: SELECT set_config('mldp.actor', <run id>, true)).
CREATE FUNCTION record_replaced_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO file_processing_history (file_id, event, etag, version, processing_status, batch_id,
        glue_job_run_id, retry_count, error_message, records_good, records_bad, dead_letter_path, archived_key,
        actor, reason)
    VALUES (OLD.file_id, 'NEW_VERSION', OLD.etag, OLD.version, OLD.processing_status, OLD.batch_id,
        OLD.glue_job_run_id, OLD.retry_count, OLD.error_message, OLD.records_good, OLD.records_bad,
        OLD.dead_letter_path, OLD.archived_key, coalesce(nullif(current_setting('mldp.actor', true), ''), 'lister'),
        'object changed: new ETag ' || NEW.etag);
    RETURN NEW;
END $$;

-- A new version of a file is a version change, not an ETag change.
CREATE TRIGGER file_new_version_history
    BEFORE UPDATE OF version ON file_processing_status
    FOR EACH ROW WHEN (OLD.version IS DISTINCT FROM NEW.version)
    EXECUTE FUNCTION record_replaced_version();

-- --- the application role: rows only, never the schema (migration 0008) -----------------------------------------

-- Roles are cluster-wide: created only when missing (see migration 0008 for the reasons).
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'mldp_app') THEN
        CREATE ROLE mldp_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END $$;

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_iam') THEN
        GRANT rds_iam TO mldp_app;
    END IF;
END $$;

REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO mldp_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON file_processing_status, processing_batches, file_processing_history
    TO mldp_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO mldp_app;
GRANT EXECUTE ON FUNCTION record_replaced_version() TO mldp_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO mldp_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO mldp_app;

-- --- the application role is checked (migration 0009) ------------------------------------------------------------
-- A pre-existing mldp_app kept its attributes (0008 creates it only when missing): migration 0009 fails, naming the
-- fix, unless it is LOGIN without SUPERUSER, CREATEROLE, CREATEDB, BYPASSRLS, REPLICATION, and not a member of a
-- role that has them or owns the tracking tables. It creates nothing (runtime/db/migrations/
-- 0009_verify_application_role.sql).

-- --- discovery: runs of each discovery path, and the last event sequencer per key (migration 0011) ----------------

CREATE TABLE discovery_runs (
    run_id BIGSERIAL PRIMARY KEY,
    mode TEXT NOT NULL CHECK (mode IN ('listing', 'inventory', 'events')),
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    keys_seen BIGINT NOT NULL DEFAULT 0 CHECK (keys_seen >= 0),
    keys_registered BIGINT NOT NULL DEFAULT 0 CHECK (keys_registered >= 0),
    keys_ignored BIGINT NOT NULL DEFAULT 0 CHECK (keys_ignored >= 0),
    details JSONB NOT NULL DEFAULT '{}'::jsonb
);

COMMENT ON TABLE discovery_runs IS
    'one row per finished discovery run (listing, inventory, events): what it saw, registered and ignored';

CREATE INDEX idx_discovery_runs_mode_finished ON discovery_runs (mode, finished_at DESC);

CREATE TABLE discovery_event_sequencers (
    s3_key TEXT PRIMARY KEY,
    sequencer TEXT NOT NULL CHECK (sequencer ~ '^[0-9A-F]+$'),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

COMMENT ON TABLE discovery_event_sequencers IS
    'the highest S3 event sequencer per key whose object the event consumer registered (uppercase hex)';

GRANT SELECT, INSERT, UPDATE, DELETE ON discovery_runs, discovery_event_sequencers TO mldp_app;
GRANT USAGE, SELECT ON SEQUENCE discovery_runs_run_id_seq TO mldp_app;

-- --- rescued_field_sightings: what was rescued in each file of each batch (migration 0013) -----------------------
-- The evidence of `mldp schema drift`: one row per field path (list indices as []), kind and JSON type, written with
-- the batch's outcomes in the same transaction.

CREATE TABLE rescued_field_sightings (
    batch_id     UUID NOT NULL REFERENCES processing_batches (batch_id),
    file_id      BIGINT NOT NULL REFERENCES file_processing_status (file_id),
    path         TEXT NOT NULL,
    kind         VARCHAR(16) NOT NULL CHECK (kind IN ('unknown', 'mismatch')),
    json_type    VARCHAR(16) NOT NULL,
    records      BIGINT NOT NULL CHECK (records > 0),
    example      TEXT,
    spec_version TEXT,
    seen_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (batch_id, file_id, path, kind, json_type)
);

CREATE INDEX idx_sightings_seen_at ON rescued_field_sightings (seen_at);
