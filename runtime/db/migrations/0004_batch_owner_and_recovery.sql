-- Who owns an open batch, so that a batch whose run is provably gone is recovered at once instead of after its
-- lease; a run that stops on its own hands its batch back; a batch whose recovery keeps failing is held for the
-- operator instead of stalling every run.
ALTER TABLE processing_batches
    -- the process that owns the batch (glue_job_run_id is its run): host name and pid, for people and the check
    ADD COLUMN owner_host TEXT,
    ADD COLUMN owner_pid INTEGER,
    -- kernel boot id / pid namespace / process start time of owner_pid: a run on the same node is provably gone
    -- when no process with that pid and start time exists any more
    ADD COLUMN owner_node TEXT,
    -- the Glue job of glue_job_run_id (NULL outside Glue): the run is gone once glue:GetJobRun says it ended
    ADD COLUMN owner_glue_job TEXT,
    -- the last lease renewal by the owner's heartbeat
    ADD COLUMN heartbeat_at TIMESTAMPTZ,
    -- handed back by its run (a clean stop or a run-stopping error) or by an operator: recoverable now
    ADD COLUMN released_at TIMESTAMPTZ,
    ADD COLUMN released_by TEXT,
    ADD COLUMN release_reason TEXT,
    -- failed recoveries of this batch, the last one's error, and when it was held for the operator
    ADD COLUMN recovery_attempts INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN recovery_error TEXT,
    ADD COLUMN held_at TIMESTAMPTZ;

COMMENT ON COLUMN processing_batches.held_at IS
    'recovery failed recovery_attempts times (recovery_error says why): no run takes the batch over until an '
    'operator runs mldp recover BATCH --reason WHY';
COMMENT ON COLUMN file_processing_history.event IS
    'NEW_VERSION (the replaced version''s last state), OUTCOME (the state a batch recorded), '
    'REQUEUED / RELEASED (an operator moved the file back to PENDING; the row keeps the state and error it had '
    'before, actor and reason say who and why), UNCLAIMED (its run stopped before finishing the batch and gave '
    'the file back without counting the attempt), RECOVER (an operator recovered the batch of a gone run)';
