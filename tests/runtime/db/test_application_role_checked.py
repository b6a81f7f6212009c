"""Migration 0009: a pre-existing ``mldp_app`` (0008 creates it only when missing, so one made beforehand keeps its
attributes) must be a login role with rows only. Any of SUPERUSER, CREATEROLE, CREATEDB, BYPASSRLS, REPLICATION,
NOLOGIN, or a membership of a role that has them or owns the tracking tables, fails the migration with the fix
named; the jobs then stop at start (the lister's migration fails, the processor's schema check finds 0009 pending).

Roles are cluster-wide: each test changes ``mldp_app`` on the session's server and restores it, whatever happens."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg2
import pytest

from runtime.cli import main
from runtime.db.migrations import MIGRATIONS_DIR, MigrationFailed, apply_migrations

CHECK = MIGRATIONS_DIR.joinpath("0009_verify_application_role.sql").read_text(encoding="utf-8")


@pytest.fixture
def admin(pg_server_url: str) -> Iterator:
    conn = psycopg2.connect(pg_server_url)
    conn.autocommit = True
    yield conn
    conn.close()


def run_check(db_url: str) -> None:
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute(CHECK)
    conn.close()


@pytest.mark.parametrize(("attribute", "undo", "fix"), [
    ("SUPERUSER", "NOSUPERUSER", "NOSUPERUSER"),
    ("CREATEROLE", "NOCREATEROLE", "NOCREATEROLE"),
    ("CREATEDB", "NOCREATEDB", "NOCREATEDB"),
    ("BYPASSRLS", "NOBYPASSRLS", "NOBYPASSRLS"),
    ("REPLICATION", "NOREPLICATION", "NOREPLICATION"),
    ("NOLOGIN", "LOGIN", "LOGIN"),
])
def test_a_privileged_or_unusable_application_role_fails_naming_the_fix(db_url: str, admin, attribute: str,
                                                                        undo: str, fix: str) -> None:
    run_check(db_url)  # the role the migrations created passes
    with admin.cursor() as cur:
        cur.execute(f"ALTER ROLE mldp_app {attribute}")
    try:
        with pytest.raises(psycopg2.errors.RaiseException,
                           match=rf"role mldp_app has {attribute} .*ALTER ROLE mldp_app {fix};"):
            run_check(db_url)
    finally:
        with admin.cursor() as cur:
            cur.execute(f"ALTER ROLE mldp_app {undo}")
    run_check(db_url)


def test_a_membership_of_a_privileged_role_or_of_the_owner_fails_naming_it(db_url: str, admin) -> None:
    privileged = f"mldp_priv_{uuid.uuid4().hex[:8]}"
    with admin.cursor() as cur:
        cur.execute(f"CREATE ROLE {privileged} NOLOGIN CREATEROLE")
        cur.execute(f"GRANT {privileged} TO mldp_app")
    try:
        with pytest.raises(psycopg2.errors.RaiseException,
                           match=rf"mldp_app is a member of {privileged} .*REVOKE {privileged} FROM mldp_app"):
            run_check(db_url)
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP ROLE {privileged}")
    run_check(db_url)


def test_migrating_with_a_privileged_role_stops_with_one_line_and_applies_nothing(empty_db_url: str, admin,
                                                                                   capsys) -> None:
    with admin.cursor() as cur:
        cur.execute("ALTER ROLE mldp_app CREATEDB")
    try:
        status = main(["migrate", "--db", empty_db_url])
        err = capsys.readouterr().err.strip().splitlines()
        assert status == MigrationFailed.exit_status == 3
        assert len(err) == 1 and err[0].startswith("error: migration 0009_verify_application_role failed: role "
                                                   "mldp_app has CREATEDB")
        with psycopg2.connect(empty_db_url) as conn, conn.cursor() as cur:
            cur.execute("SELECT max(version) FROM schema_migrations")
            assert cur.fetchone()[0] == 8  # 0009 (and any later one) not recorded: the next migrate runs it again
        conn.close()
    finally:
        with admin.cursor() as cur:
            cur.execute("ALTER ROLE mldp_app NOCREATEDB")
    conn = psycopg2.connect(empty_db_url)
    assert apply_migrations(conn)[0] == 9
    conn.close()
