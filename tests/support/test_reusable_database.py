"""The per-test database is reused between tests (tests/support/reusable_database.py): nothing a test leaves behind may
reach the next one. Each case leaves something behind, releases, and checks the next test's view."""

from __future__ import annotations

import psycopg2
import pytest

from tests.support.reusable_database import ReusableDatabase
from tests.support.sql import fetch_all

pytestmark = pytest.mark.usefixtures("template_database")


@pytest.fixture
def reusable(pg_server_url: str, template_database: str):
    database = ReusableDatabase(pg_server_url, template_database)
    yield database
    database.drop()


def _register(url: str, key: str) -> int:
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("INSERT INTO file_processing_status (s3_key) VALUES (%s) RETURNING file_id", (key,))
            return cur.fetchone()[0]
    finally:
        conn.close()


def test_rows_are_gone_and_ids_start_again_at_1(reusable: ReusableDatabase) -> None:
    url = reusable.acquire()
    assert [_register(url, key) for key in ("a", "b")] == [1, 2]
    reusable.release()

    again = reusable.acquire()
    assert again == url  # the same database, emptied
    assert fetch_all(again, "SELECT count(*) FROM file_processing_history") == [(0,)]
    assert _register(again, "c") == 1
    assert fetch_all(again, "SELECT count(*) FROM schema_migrations")[0][0] >= 5  # the ledger is kept


def test_an_open_session_with_locks_is_ended(reusable: ReusableDatabase) -> None:
    url = reusable.acquire()
    leftover = psycopg2.connect(url)
    with leftover.cursor() as cur:  # an advisory lock and a row lock, in a transaction never ended
        cur.execute("SELECT pg_advisory_lock(4242)")
        cur.execute("LOCK TABLE file_processing_status IN ACCESS EXCLUSIVE MODE")
    reusable.release()

    again = reusable.acquire()
    assert fetch_all(again, "SELECT pg_try_advisory_lock(4242)") == [(True,)]
    assert _register(again, "x") == 1
    with pytest.raises(psycopg2.OperationalError), leftover.cursor() as cur:  # its server process was ended
        cur.execute("SELECT 1")
    leftover.close()


def test_a_changed_schema_gives_a_new_clone(reusable: ReusableDatabase) -> None:
    url = reusable.acquire()
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute("DROP INDEX idx_fps_claimable")
        cur.execute("CREATE TABLE scratch (id int)")
    conn.close()
    reusable.release()

    again = reusable.acquire()
    assert again != url
    assert fetch_all(again, "SELECT to_regclass('idx_fps_claimable') IS NOT NULL, to_regclass('scratch')") == [
        (True, None)]
    assert fetch_all(url.rsplit("/", 1)[0] + "/postgres",
                  f"SELECT count(*) FROM pg_database WHERE datname = '{url.rsplit('/', 1)[1]}'") == [(0,)]


@pytest.mark.parametrize("change", [
    "ALTER TABLE file_processing_status DISABLE TRIGGER USER",
    "CREATE SCHEMA other; CREATE TABLE other.t (id int)",
    "SELECT lo_create(0)",
    "ALTER TABLE file_processing_status ENABLE ROW LEVEL SECURITY",
    "CREATE POLICY p ON file_processing_status USING (true)",
    "CREATE RULE r AS ON INSERT TO processing_batches DO INSTEAD NOTHING",
    "ALTER TABLE file_processing_status SET (fillfactor = 50)",
    "REVOKE ALL ON file_processing_status FROM PUBLIC; GRANT SELECT ON file_processing_status TO PUBLIC",
    "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET work_mem = 1024', current_database()); END $$",
])
def test_any_other_schema_change_gives_a_new_clone(reusable: ReusableDatabase, change: str) -> None:
    url = reusable.acquire()
    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(change)
    conn.close()
    reusable.release()

    assert reusable.acquire() != url


def test_a_dropped_ledger_gives_a_new_clone(reusable: ReusableDatabase) -> None:
    url = reusable.acquire()
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute("DROP TABLE schema_migrations")
    conn.close()
    reusable.release()

    assert fetch_all(reusable.acquire(), "SELECT count(*) >= 5 FROM schema_migrations") == [(True,)]


def test_statistics_counters_are_reset(reusable: ReusableDatabase) -> None:
    url = reusable.acquire()
    ((before,),) = fetch_all(url, "SELECT clock_timestamp()")
    reusable.release()

    again = reusable.acquire()
    assert fetch_all(again, "SELECT stats_reset >= %s FROM pg_stat_database WHERE datname = current_database()"
                  .replace("%s", f"'{before.isoformat()}'")) == [(True,)]
