-- The application role must be what migration 0008 would have created. 0008 creates mldp_app only when it is
-- missing, so a role that already existed (made beforehand by an operator, or by another tool with the same name)
-- kept its attributes: a SUPERUSER, CREATEROLE, CREATEDB or BYPASSRLS mldp_app, or one that inherits from a role
-- that has them or that owns the tracking tables, would undo the point of working as mldp_app (it could alter the
-- schema, or make itself anything). This migration checks, changes nothing, and fails with what to fix; the jobs
-- stop at start until an owner fixes the role and the migrations run again. A role that cannot log in is refused
-- too: the jobs could not connect as it. Memberships are followed through any depth (pg_has_role ... MEMBER);
-- rds_iam, which RDS IAM authentication needs, has none of these attributes.
DO $$
DECLARE
    app pg_roles%ROWTYPE;
    wrong text[] := ARRAY[]::text[];
    fix text[] := ARRAY[]::text[];
    inherited text;
BEGIN
    SELECT * INTO app FROM pg_roles WHERE rolname = 'mldp_app';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role mldp_app does not exist (migration 0008 creates it)'
            USING HINT = 'run the migrations as the database owner: mldp migrate';
    END IF;
    IF app.rolsuper THEN wrong := wrong || 'SUPERUSER'::text; fix := fix || 'NOSUPERUSER'::text; END IF;
    IF app.rolcreaterole THEN wrong := wrong || 'CREATEROLE'::text; fix := fix || 'NOCREATEROLE'::text; END IF;
    IF app.rolcreatedb THEN wrong := wrong || 'CREATEDB'::text; fix := fix || 'NOCREATEDB'::text; END IF;
    IF app.rolbypassrls THEN wrong := wrong || 'BYPASSRLS'::text; fix := fix || 'NOBYPASSRLS'::text; END IF;
    IF app.rolreplication THEN wrong := wrong || 'REPLICATION'::text; fix := fix || 'NOREPLICATION'::text; END IF;
    IF NOT app.rolcanlogin THEN wrong := wrong || 'NOLOGIN'::text; fix := fix || 'LOGIN'::text; END IF;
    IF cardinality(wrong) > 0 THEN
        RAISE EXCEPTION 'role mldp_app has % (the jobs must work as a role with rows only): as the database owner '
                        'or an administrator run ALTER ROLE mldp_app %; then run the migrations again (mldp '
                        'migrate, or the lister job)',
                        array_to_string(wrong, ', '), array_to_string(fix, ' ');
    END IF;
    SELECT string_agg(r.rolname, ', ' ORDER BY r.rolname) INTO inherited
      FROM pg_roles r
     WHERE r.rolname <> 'mldp_app'
       AND (r.rolsuper OR r.rolcreaterole OR r.rolcreatedb OR r.rolbypassrls
            OR r.oid = (SELECT relowner FROM pg_class WHERE oid = 'file_processing_status'::regclass))
       AND pg_has_role('mldp_app', r.oid, 'MEMBER');
    IF inherited IS NOT NULL THEN
        RAISE EXCEPTION 'role mldp_app is a member of % (a privileged role, or the owner of the tracking tables, '
                        'whose rights it can use): as an administrator run REVOKE % FROM mldp_app; then run the '
                        'migrations again (mldp migrate, or the lister job)', inherited, inherited;
    END IF;
END $$;
