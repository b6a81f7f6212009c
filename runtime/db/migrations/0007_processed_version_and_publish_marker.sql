-- What a batch publishes, recorded before it publishes anything: recovery never abandons a batch whose rows may
-- already be in the curated dataset. A batch with publish_started_at set is rolled forward from its manifest, or,
-- when its staging is gone (deleted by hand, or expired by an earlier version of the bucket's lifecycle rule), its
-- published objects are retracted (the curated Parquet of each of published_partitions named after the batch, and
-- its dead-letter folder) before its files are given back.
ALTER TABLE processing_batches
    ADD COLUMN publish_started_at TIMESTAMPTZ,
    ADD COLUMN published_partitions TEXT[];

COMMENT ON COLUMN processing_batches.publish_started_at IS
    'set, fenced, before the first object of the batch is published: from then on the batch is rolled forward or '
    'its published objects retracted, never abandoned as if nothing were published';
COMMENT ON COLUMN processing_batches.published_partitions IS
    'the curated partitions the batch publishes into (curated_prefix/<partition>/batch-<batch_id>-NNNN...)';

-- A new version of a file is a version change, not an ETag change: the processor now records the ETag it read on
-- rows registered without one (the reference schema's rows), and the lister adopts the listed ETag of such a row
-- without a new version; neither replaces a version, so neither writes a NEW_VERSION history row.
DROP TRIGGER file_new_version_history ON file_processing_status;
CREATE TRIGGER file_new_version_history
    BEFORE UPDATE OF version ON file_processing_status
    FOR EACH ROW WHEN (OLD.version IS DISTINCT FROM NEW.version)
    EXECUTE FUNCTION record_replaced_version();

-- Who registered the new version: the lister, or the processor run that found the object overwritten after listing
-- (it sets mldp.actor for its transaction: SELECT set_config('mldp.actor', <run id>, true)).
CREATE OR REPLACE FUNCTION record_replaced_version() RETURNS trigger LANGUAGE plpgsql AS $$
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
