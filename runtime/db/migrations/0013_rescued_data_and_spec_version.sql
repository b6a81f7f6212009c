-- Issue 20: rescued data and spec versions.
-- Each file and each batch records how many good records carried rescued data (fields the transform spec does not
-- read, values that did not fit their column) and the version (content hash) of the spec that converted it.
ALTER TABLE file_processing_status
    ADD COLUMN records_rescued BIGINT,
    ADD COLUMN spec_version TEXT;

ALTER TABLE processing_batches
    ADD COLUMN records_rescued BIGINT,
    ADD COLUMN spec_version TEXT;

COMMENT ON COLUMN file_processing_status.spec_version IS
    'the version (content hash) of the transform spec of the file''s last outcome: mldp reprocess --spec-version';
COMMENT ON COLUMN processing_batches.spec_version IS
    'the version (content hash) of the transform spec the batch converted its files with';

-- The evidence of drift reports (mldp schema drift): what was rescued in each file of each batch, one row per field
-- path (list indices as []), kind and JSON type, written with the batch's outcomes in the same transaction (a batch
-- records its outcomes once: its row is the fence), so a report is one GROUP BY here, never a scan of the data.
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

-- mldp schema drift --since: the sightings of a time window.
CREATE INDEX idx_sightings_seen_at ON rescued_field_sightings (seen_at);
