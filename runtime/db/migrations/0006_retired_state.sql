-- RETIRED: an operator gave up on a FAILED or QUARANTINED file (mldp retire, with a reason). It is never claimed,
-- is not in the backlog and is not counted by QuarantinedFilesTotal, so its alarm can clear; its row and history
-- stay. A new version of its key is registered as PENDING like any other; mldp requeue --state RETIRED undoes it.
-- NOT VALID: every existing row passed the stricter check it replaces, so the table is not scanned under this
-- migration's exclusive lock (new and updated rows are checked as usual).
ALTER TABLE file_processing_status DROP CONSTRAINT file_processing_status_processing_status_check;
ALTER TABLE file_processing_status ADD CONSTRAINT file_processing_status_processing_status_check
    CHECK (processing_status IN ('PENDING', 'PROCESSING', 'SUCCEEDED', 'FAILED', 'QUARANTINED', 'RETIRED'))
    NOT VALID;

-- requeue and retire select among these states; the error summary of status among the first two (implied).
DROP INDEX idx_fps_needs_operator;
CREATE INDEX idx_fps_needs_operator ON file_processing_status (processed_at)
    WHERE processing_status IN ('FAILED', 'QUARANTINED', 'RETIRED');

COMMENT ON COLUMN file_processing_history.event IS
    'NEW_VERSION (the replaced version''s last state), OUTCOME (the state a batch recorded), '
    'REQUEUED / RELEASED (an operator moved the file back to PENDING; the row keeps the state and error it had '
    'before, actor and reason say who and why), RETIRED (an operator gave up on the file: the row keeps the state '
    'and error it had before), UNCLAIMED (its run stopped before finishing the batch and gave the file back '
    'without counting the attempt), RECOVER (an operator recovered the batch of a gone run)';
