-- What the operator commands (mldp status, inspect, requeue, release) read, served by indexes, so that their
-- queries stay cheap on a tracking table of millions of files.

-- status: throughput over the last hour / day (OUTCOME rows in a time window).
CREATE INDEX idx_history_outcome_time ON file_processing_history (recorded_at) WHERE event = 'OUTCOME';
-- status (per-batch outcome counts) and inspect (the files of a batch).
CREATE INDEX idx_history_batch ON file_processing_history (batch_id) WHERE batch_id IS NOT NULL;
-- status: the last N batches.
CREATE INDEX idx_batches_claimed_at ON processing_batches (claimed_at);
-- requeue: the files an operator may move back to PENDING, and the error summary of status.
CREATE INDEX idx_fps_needs_operator ON file_processing_status (processed_at)
    WHERE processing_status IN ('FAILED', 'QUARANTINED');

COMMENT ON COLUMN file_processing_history.event IS
    'NEW_VERSION (the replaced version''s last state), OUTCOME (the state a batch recorded), '
    'REQUEUED / RELEASED (an operator moved the file back to PENDING; the row keeps the state and error it had '
    'before, actor and reason say who and why)';
COMMENT ON COLUMN file_processing_history.actor IS
    'who made the change: a job (run id) or an operator (REQUEUED, RELEASED: $MLDP_ACTOR or the OS user)';
