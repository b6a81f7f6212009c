-- The role the jobs and the CLI's day-to-day commands work as: rows only, never the schema. Migrations keep running
-- as the owner (the RDS master user, or whoever owns the database); the application role reads and writes the
-- tracking tables, uses their sequences and runs the trigger function, and nothing else: no CREATE in the schema,
-- no ALTER or DROP (only a table's owner may), no TRUNCATE. Temporary tables (the lister's incoming_objects) need
-- the database's TEMPORARY privilege, which PUBLIC holds by default.
--
-- Roles are cluster-wide: the role may already exist (another database of the cluster, a second run of this file
-- against schema.sql, or an operator who created it beforehand with a password), so it is created only when missing,
-- and a concurrent creation in another database is not an error. The name is fixed, mldp_app: the constructs grant
-- rds-db:connect to exactly this user. It is created without a password: on RDS it authenticates with an IAM token
-- (rds_iam, granted below where the role exists); elsewhere an operator sets one (ALTER ROLE mldp_app PASSWORD ...).
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'mldp_app') THEN
        CREATE ROLE mldp_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;  -- created meanwhile by a migration of another database of the cluster
END $$;

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_iam') THEN  -- RDS only: IAM database authentication
        GRANT rds_iam TO mldp_app;
    END IF;
END $$;

-- No object of the schema is created by anyone but the owner (PostgreSQL 15's default, made explicit for older
-- servers and for a database created from an old template).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO mldp_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON file_processing_status, processing_batches, file_processing_history
    TO mldp_app;
-- schema_migrations: read, so that a job starting as mldp_app can tell that every migration is applied.
GRANT SELECT ON schema_migrations TO mldp_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO mldp_app;
GRANT EXECUTE ON FUNCTION record_replaced_version() TO mldp_app;
-- Tables and sequences a later migration creates (run by the same owner) get the same privileges.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO mldp_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO mldp_app;
