-- Keep the previous outcome of a file when the lister registers a new version of it (a new ETag), in the same
-- statement that registers it: a row trigger that fires only for rows whose ETag changes, so registering new
-- keys (the bulk of every listing) pays nothing for it. Replaces the separate pre-image INSERT ... SELECT.
CREATE FUNCTION record_replaced_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO file_processing_history (file_id, event, etag, version, processing_status, batch_id,
        glue_job_run_id, retry_count, error_message, records_good, records_bad, dead_letter_path, archived_key,
        actor, reason)
    VALUES (OLD.file_id, 'NEW_VERSION', OLD.etag, OLD.version, OLD.processing_status, OLD.batch_id,
        OLD.glue_job_run_id, OLD.retry_count, OLD.error_message, OLD.records_good, OLD.records_bad,
        OLD.dead_letter_path, OLD.archived_key, 'lister', 'object changed: new ETag ' || NEW.etag);
    RETURN NEW;
END $$;

CREATE TRIGGER file_new_version_history
    BEFORE UPDATE OF etag ON file_processing_status
    FOR EACH ROW WHEN (OLD.etag IS DISTINCT FROM NEW.etag)
    EXECUTE FUNCTION record_replaced_version();
