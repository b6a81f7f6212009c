-- Issue 20, reprocessing with the Iceberg format: no new column. mldp reprocess moves a SUCCEEDED file back to
-- PENDING keeping its archived_key, which from then on names the copy the processor reads (never archived again);
-- its history row is a REPROCESS event. The comments say so.
COMMENT ON COLUMN file_processing_status.archived_key IS
    'the archived copy of the processed version; on a file that is not SUCCEEDED (mldp reprocess re-queued it), the '
    'copy the processor reads instead of the raw key, never archived again';
COMMENT ON COLUMN file_processing_history.event IS
    'NEW_VERSION (the replaced version''s last state), OUTCOME (the state a batch recorded), '
    'REQUEUED / RELEASED (an operator moved the file back to PENDING; the row keeps the state and error it had '
    'before, actor and reason say who and why), RETIRED (an operator gave up on the file: the row keeps the state '
    'and error it had before), UNCLAIMED (its run stopped before finishing the batch and gave the file back '
    'without counting the attempt), RECOVER (an operator recovered the batch of a gone run), REPROCESS (mldp '
    'reprocess re-queued a SUCCEEDED file to be converted again from its archived copy: the row keeps its outcome, '
    'actor and reason say who and why)';
