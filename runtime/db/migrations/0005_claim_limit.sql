-- A batch whose run died before its manifest (abandoned) may hold a file that kills the process: it is narrowed
-- across runs as a failed conversion is within one (runtime.jobs.retry.RetryPolicy.after_abandon). claim_limit is
-- the largest batch a file may next be claimed in: halved each time a batch it was in is abandoned, cleared when
-- it succeeds or a new version is registered.
ALTER TABLE file_processing_status
    ADD COLUMN claim_limit INTEGER CHECK (claim_limit IS NULL OR claim_limit >= 1);

COMMENT ON COLUMN file_processing_status.claim_limit IS
    'the largest batch this file may next be claimed in (NULL: any); set when a batch it was in was abandoned';
