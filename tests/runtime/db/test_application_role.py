"""The application role (migration 0008, ``mldp_app``) the jobs connect as: it cannot alter the schema, and it can
run every statement the runtime runs: the lister's registration (its temporary table, its advisory lock), a claim,
the lease's renewals, the publish marker, the outcomes, the archive's bookkeeping, the gauges and ``status``."""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest

from runtime.commands.common import open_database
from runtime.db.credentials import APP_USER
from runtime.db.records import FileOutcome
from runtime.db.states import BatchState, FileState
from runtime.db.tracking import TrackingStore
from runtime.jobs.lister import run_lister
from runtime.jobs.retry import RetryPolicy
from runtime.storage.factory import open_store

RAW = "raw-json-data/all_historical_files/"


def app_url(url: str) -> str:
    """``url`` as the application role (the embedded server trusts local users: no password)."""
    split = urlsplit(url)
    return urlunsplit(split._replace(netloc=f"{APP_USER}@{split.hostname}:{split.port}"))


@pytest.fixture
def app_conn(db_url: str):
    conn = psycopg2.connect(app_url(db_url))
    yield conn
    conn.close()


@pytest.mark.parametrize("statement", [
    "CREATE TABLE intruder (id int)",
    "CREATE FUNCTION intruder() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    "ALTER TABLE file_processing_status ADD COLUMN intruder int",
    "ALTER TABLE processing_batches DROP CONSTRAINT processing_batches_pkey",
    "DROP TABLE file_processing_history",
    "DROP TRIGGER file_new_version_history ON file_processing_status",
    "DROP FUNCTION record_replaced_version()",
    "CREATE INDEX intruder ON file_processing_status (etag)",
    "TRUNCATE file_processing_status",
    "INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'x', 'x')",
    "ALTER TABLE file_processing_status OWNER TO mldp_app",
])
def test_the_application_role_cannot_alter_the_schema(app_conn, statement: str) -> None:
    with app_conn.cursor() as cur, pytest.raises(psycopg2.errors.InsufficientPrivilege):
        cur.execute(statement)
    app_conn.rollback()


def test_the_application_role_is_not_privileged(app_conn) -> None:
    with app_conn.cursor() as cur:
        cur.execute("SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user")
        assert cur.fetchone() == (False, False, False)


def test_the_application_role_runs_a_whole_tracking_cycle(db_url: str, tmp_path: Path) -> None:
    for name in ("a.json", "b.json"):
        path = tmp_path / RAW / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b'{"id": "1"}\n')
    conn = open_database(app_url(db_url), application_name="mldp-app-test")  # the migrations: all applied, checked
    try:
        assert run_lister(open_store(str(tmp_path)), conn, show_progress=False).as_dict()["new"] == 2
        store = TrackingStore(conn)
        batch = str(uuid.uuid4())
        claimed = store.claim(batch, "run-app", batch_size=10, lease_seconds=600)
        assert len(claimed) == 2
        assert store.renew_run_leases("run-app", 600) == [batch]
        store.ensure_lease(batch, "run-app", 600)
        store.begin_publish(batch, "run-app", 600, ["dt=2024-01-01"])
        assert store.publish_marker(batch)[0]
        outcomes = [FileOutcome(f.file_id, f.key, FileState.SUCCEEDED, records_good=1, records_bad=0, size=12)
                    for f in claimed]
        assert store.record_outcomes(batch, "run-app", outcomes, BatchState.COMMITTED,
                                     RetryPolicy()) == {"SUCCEEDED": 2}
        archive = store.unarchived(10)
        assert len(archive) == 2
        store.record_archive_failures([archive[0].file_id])
        store.record_archived({item.file_id: f"processed/{item.file_id}" for item in archive})
        store.backlog_gauges()
        assert store.files_by_state()
        store.files_needing_attention()
        store.open_batches()
        # a second listing sees the files again: the registration's update path and its history trigger
        path = tmp_path / RAW / "a.json"
        path.write_bytes(b'{"id": "2"}\n')
        run_lister(open_store(str(tmp_path)), conn, show_progress=False)
    finally:
        conn.close()
