"""FileListerAndDbPopulator against the real PostgreSQL: local directory and S3 (moto)."""

from __future__ import annotations

import os
import time
from datetime import UTC
from pathlib import Path

import psycopg2
import pytest

from runtime.cli import main
from runtime.db.migrations import apply_migrations
from runtime.jobs.lister import is_default_raw_key, run_lister
from runtime.storage.factory import open_store
from tests.support.sql import files_by_key

HIST = "raw-json-data/all_historical_files/"
WEEK = "raw-json-data/2024/week07/"
ODD_KEYS = [
    HIST + "with space/file one.json",
    HIST + "unicodé/日本語-données.json",
    HIST + "k=v/year=2024/a=b.json",
    HIST + ("x" * 200) + ".json",
]


def _write(root: Path, key: str, body: bytes = b'{"id": "1"}\n') -> None:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)


def _rows(conn) -> dict:
    return files_by_key(conn, "processing_status, etag, retry_count, version, file_size_bytes")


def test_default_prefixes_are_the_reference_ones():
    assert is_default_raw_key(HIST + "a.json")
    assert is_default_raw_key(WEEK + "a.json")
    assert is_default_raw_key(WEEK + "nested/a.json")
    assert is_default_raw_key("raw-json-data/2024/week7/a.json")  # one digit: a weekly folder too
    assert not is_default_raw_key("raw-json-data/2024/week7.json")  # a file, not a folder
    assert not is_default_raw_key("raw-json-data/scratch/a.json")
    assert not is_default_raw_key("raw-json-data-processed/2024/week07/a.json")


def test_local_directory_registration_rerun_and_new_version(tmp_path, db_conn):
    keys = [HIST + "a.json", HIST + "sub/b.json", WEEK + "c.json", *ODD_KEYS]
    for key in keys:
        _write(tmp_path, key)
    _write(tmp_path, "raw-json-data/scratch/ignored.json")
    (tmp_path / HIST / "empty-folder").mkdir()
    store = open_store(str(tmp_path))

    first = run_lister(store, db_conn, chunk_size=3).as_dict()
    assert (first["listed"], first["new"], first["changed"], first["unchanged"]) == (len(keys), len(keys), 0, 0)
    rows = _rows(db_conn)
    assert set(rows) == set(keys)
    assert all(r[0] == "PENDING" and r[1] and r[4] == len(b'{"id": "1"}\n') for r in rows.values())

    again = run_lister(store, db_conn).as_dict()
    assert (again["new"], again["changed"], again["unchanged"]) == (0, 0, len(keys))

    # The first file finished; the same content listed again is never re-queued.
    with db_conn.cursor() as cur:
        cur.execute("UPDATE file_processing_status SET processing_status = 'SUCCEEDED', retry_count = 2, "
                    "records_good = 1, records_bad = 0 WHERE s3_key = %s", (HIST + "a.json",))
    db_conn.commit()
    assert run_lister(store, db_conn).as_dict()["changed"] == 0
    assert _rows(db_conn)[HIST + "a.json"][0] == "SUCCEEDED"

    # A new version (different fingerprint) goes back to PENDING, attempts reset, previous outcome kept.
    time.sleep(0.01)
    _write(tmp_path, HIST + "a.json", b'{"id": "1"}\n{"id": "2"}\n')
    os.utime(tmp_path / HIST / "a.json", ns=(time.time_ns(), time.time_ns() + 10**9))
    changed = run_lister(store, db_conn).as_dict()
    assert (changed["new"], changed["changed"]) == (0, 1)
    status, _etag, retries, version, size = _rows(db_conn)[HIST + "a.json"]
    assert (status, retries, version, size) == ("PENDING", 0, 2, len(b'{"id": "1"}\n{"id": "2"}\n'))
    with db_conn.cursor() as cur:
        cur.execute("SELECT h.event, h.processing_status, h.retry_count, h.records_good, h.version "
                    "FROM file_processing_history h JOIN file_processing_status f USING (file_id) "
                    "WHERE f.s3_key = %s", (HIST + "a.json",))
        assert cur.fetchall() == [("NEW_VERSION", "SUCCEEDED", 2, 1, 1)]


def test_file_being_processed_is_not_requeued_by_a_new_version(tmp_path, db_conn):
    _write(tmp_path, HIST + "a.json")
    store = open_store(str(tmp_path))
    run_lister(store, db_conn)
    with db_conn.cursor() as cur:
        cur.execute("UPDATE file_processing_status SET processing_status = 'PROCESSING'")
    db_conn.commit()
    _write(tmp_path, HIST + "a.json", b"{}\n{}\n")
    assert run_lister(store, db_conn).as_dict()["changed"] == 0
    assert _rows(db_conn)[HIST + "a.json"][0] == "PROCESSING"


@pytest.mark.parametrize("how", ["replaced", "rewritten in place"])
def test_a_local_file_replaced_by_one_with_an_older_mtime_is_a_new_version(tmp_path, db_conn, how):
    """``cp -p``, ``rsync -t`` and ``tar x`` keep the source's old modification time. The file at the key still
    changed now (its ctime says so, as S3's LastModified would): a new version, never "stale"."""
    key = HIST + "a.json"
    _write(tmp_path, key)
    store = open_store(str(tmp_path))
    run_lister(store, db_conn)
    with db_conn.cursor() as cur:
        cur.execute("UPDATE file_processing_status SET processing_status = 'SUCCEEDED'")
    db_conn.commit()
    path, body = tmp_path / key, b'{"id": "2"}\n{"id": "3"}\n'
    if how == "replaced":  # a new file renamed over the old one (a new inode)
        (tmp_path / "incoming.json").write_bytes(body)
        os.replace(tmp_path / "incoming.json", path)
    else:  # truncated and written again (the same inode, as cp -p over an existing file)
        with open(path, "r+b") as handle:
            handle.truncate(0)
            handle.write(body)
    day_ago = time.time() - 86_400
    os.utime(path, (day_ago, day_ago))

    counts = run_lister(store, db_conn).as_dict()

    assert (counts["changed"], counts["stale"]) == (1, 0)
    state, _etag, _retries, version, size = _rows(db_conn)[key]
    assert (state, version, size) == ("PENDING", 2, len(body))


def test_database_error_mid_listing_leaves_no_half_chunk_and_rerun_completes(tmp_path, db_conn):
    keys = [f"{HIST}f{i:03d}.json" for i in range(25)]
    for key in keys:
        _write(tmp_path, key)
    with db_conn.cursor() as cur:  # a real server-side error on one key of the second chunk
        cur.execute("""
            CREATE FUNCTION reject_poison() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.s3_key LIKE '%f013.json' THEN RAISE EXCEPTION 'injected failure'; END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER poison BEFORE INSERT ON file_processing_status
                FOR EACH ROW EXECUTE FUNCTION reject_poison();""")
    db_conn.commit()
    store = open_store(str(tmp_path))
    with pytest.raises(psycopg2.Error, match="injected failure"):
        run_lister(store, db_conn, chunk_size=10)
    assert sorted(_rows(db_conn)) == keys[:10]  # chunk 1 committed, chunk 2 left nothing behind

    with db_conn.cursor() as cur:
        cur.execute("DROP TRIGGER poison ON file_processing_status")
    db_conn.commit()
    rerun = run_lister(store, db_conn, chunk_size=10).as_dict()
    assert (rerun["new"], rerun["unchanged"]) == (15, 10)
    assert sorted(_rows(db_conn)) == keys


def test_migrations_applied_twice_are_a_no_op(db_conn):
    assert apply_migrations(db_conn) == []  # the template already has them
    with db_conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM schema_migrations")
        count = cur.fetchone()[0]
    assert apply_migrations(db_conn) == []
    with db_conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM schema_migrations")
        assert cur.fetchone()[0] == count >= 1


def test_s3_listing_crosses_pages_skips_markers_and_detects_new_etags(s3_client, s3_bucket, db_conn):
    keys = [f"{HIST}part-{i:05d}.json" for i in range(1100)] + [WEEK + "w.json", *ODD_KEYS]
    for key in keys:
        s3_client.put_object(Bucket=s3_bucket, Key=key, Body=b'{"id": "1"}\n')
    for marker in (HIST, WEEK, HIST + "folder/"):
        s3_client.put_object(Bucket=s3_bucket, Key=marker, Body=b"")
    s3_client.put_object(Bucket=s3_bucket, Key="raw-json-data/scratch/x.json", Body=b"{}")
    store = open_store(f"s3://{s3_bucket}", s3_client=s3_client)

    first = run_lister(store, db_conn).as_dict()
    assert (first["listed"], first["new"], first["changed"]) == (len(keys), len(keys), 0)
    rows = _rows(db_conn)
    assert set(rows) == set(keys)
    assert rows[HIST + "part-00000.json"][1] == s3_client.head_object(
        Bucket=s3_bucket, Key=HIST + "part-00000.json")["ETag"].strip('"')

    s3_client.put_object(Bucket=s3_bucket, Key=ODD_KEYS[1], Body=b'{"id": "2"}\n')
    rerun = run_lister(store, db_conn).as_dict()
    assert (rerun["new"], rerun["changed"], rerun["unchanged"]) == (0, 1, len(keys) - 1)


def test_cli_list_prints_json_summary(tmp_path, db_url, capsys):
    _write(tmp_path, WEEK + "a.json")
    assert main(["list", "--store", str(tmp_path), "--db", db_url, "--json", "--no-metrics"]) == 0
    out = capsys.readouterr().out
    assert '"listed": 1' in out and '"new": 1' in out and '"seconds"' in out


def test_cli_unreachable_database_is_one_clear_line_without_password(tmp_path, capsys):
    from runtime.db.embedded import free_port

    port = free_port()
    url = f"postgresql://alice:s3cret-pw@127.0.0.1:{port}/trackingdb"
    assert main(["list", "--store", str(tmp_path), "--db", url, "--no-metrics"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert f"alice@127.0.0.1:{port}/trackingdb" in err[0] and "s3cret-pw" not in err[0]


def test_cli_missing_directory_and_bucket_are_clear_errors(tmp_path, db_url, s3_client, capsys):
    missing = tmp_path / "nope"
    assert main(["list", "--store", str(missing), "--db", db_url, "--no-metrics"]) == 2
    assert str(missing) in capsys.readouterr().err
    assert main(["list", "--store", "s3://no-such-bucket", "--db", db_url, "--no-metrics"]) == 2
    assert "no-such-bucket" in capsys.readouterr().err


def test_a_listing_error_stops_registration_after_the_pages_already_registered(db_conn):
    from datetime import datetime

    from runtime.db.registration import register_pages
    from runtime.storage.base import ObjectInfo, ObjectStoreError

    now = datetime.now(UTC)

    def pages():
        yield [ObjectInfo(f"{HIST}a{i}.json", 1, now, f"e{i}") for i in range(3)]
        raise ObjectStoreError("listing failed: throttled")

    registered = []
    with pytest.raises(ObjectStoreError, match="throttled"):
        for counts in register_pages(db_conn, pages()):
            registered.append(counts.new)
    assert registered == [3] and len(_rows(db_conn)) == 3
