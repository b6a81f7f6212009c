-- The tracking table of the reference design, plus what exactly-once processing needs.
CREATE TABLE file_processing_status (
    file_id                 BIGSERIAL PRIMARY KEY,
    s3_key                  TEXT NOT NULL UNIQUE,
    file_size_bytes         BIGINT,
    last_modified_timestamp TIMESTAMPTZ,
    etag                    TEXT,
    version                 INTEGER NOT NULL DEFAULT 1,
    processing_status       VARCHAR(16) NOT NULL DEFAULT 'PENDING'
        CHECK (processing_status IN ('PENDING', 'PROCESSING', 'SUCCEEDED', 'FAILED', 'QUARANTINED')),
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
    updated_at              TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Serves the claim query: only claimable rows are indexed, in claim order.
CREATE INDEX idx_fps_claimable ON file_processing_status (next_attempt_at, file_id)
    WHERE processing_status IN ('PENDING', 'FAILED');
-- Serves lease recovery and batch lookups.
CREATE INDEX idx_fps_processing_batch ON file_processing_status (batch_id)
    WHERE processing_status = 'PROCESSING';
-- Serves "archive what is succeeded but not yet moved".
CREATE INDEX idx_fps_unarchived ON file_processing_status (file_id)
    WHERE processing_status = 'SUCCEEDED' AND archived_key IS NULL;

-- One row per batch: the protocol's progress, so a crashed batch can be rolled forward or cleaned.
CREATE TABLE processing_batches (
    batch_id         UUID PRIMARY KEY,
    glue_job_run_id  TEXT,
    state            VARCHAR(16) NOT NULL DEFAULT 'CLAIMED'
        CHECK (state IN ('CLAIMED', 'COMMITTED', 'ABANDONED')),
    file_count       INTEGER NOT NULL,
    records_good     BIGINT,
    records_bad      BIGINT,
    bytes            BIGINT,
    error_message    TEXT,
    claimed_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    lease_expires_at TIMESTAMPTZ NOT NULL,
    finished_at      TIMESTAMPTZ
);
CREATE INDEX idx_batches_open ON processing_batches (lease_expires_at) WHERE state = 'CLAIMED';

-- Every change of a file's life: new versions (previous outcome kept), outcomes, operator actions.
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
CREATE INDEX idx_history_file ON file_processing_history (file_id, history_id);
