-- Discovery (issue 21): what each discovery run did, and the last S3 event sequencer registered per key.
--
-- discovery_runs: one row per finished run of a discovery path (a listing, a registration from an S3 Inventory
-- report, a drain of the S3 event queue), so that `mldp status` can say how files are discovered and when the
-- last reconciliation (a listing or an inventory run: the safety net behind the events) ran. A run that registers
-- nothing is recorded too: "nothing new" is an answer.
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

-- discovery_event_sequencers: the highest S3 event sequencer whose key the event consumer registered. S3 orders
-- the events of one key by their sequencer (hex strings compared after left-padding to the same length); an event
-- at or below the stored one is a duplicate or an older version and is dropped before any S3 request. Kept apart
-- from file_processing_status so that the consumer never locks a tracking row it does not change.
CREATE TABLE discovery_event_sequencers (
    s3_key TEXT PRIMARY KEY,
    sequencer TEXT NOT NULL CHECK (sequencer ~ '^[0-9A-F]+$'),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

COMMENT ON TABLE discovery_event_sequencers IS
    'the highest S3 event sequencer per key whose object the event consumer registered (uppercase hex)';

GRANT SELECT, INSERT, UPDATE, DELETE ON discovery_runs, discovery_event_sequencers TO mldp_app;
GRANT USAGE, SELECT ON SEQUENCE discovery_runs_run_id_seq TO mldp_app;
