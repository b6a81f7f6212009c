"""The lister registers only raw files (issue 10 item 4): prefixes must lie under the raw prefix, the pipeline's own
output is never registered, listers are serialized, an older listing never replaces a newer version, and the
lister never locks (or waits for) a row it does not change."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg2
import pytest

from runtime.cli import main
from runtime.db import queries
from runtime.db.migrations import ADVISORY_LOCK_KEY, apply_migrations
from runtime.db.registration import ListerBusy, lister_lock, register_page, try_lister_lock
from runtime.errors import UsageError
from runtime.jobs.lister import run_lister
from runtime.layout import Layout
from runtime.storage.base import ObjectInfo
from runtime.storage.factory import open_store

HIST = "raw-json-data/all_historical_files/"
WEEK = "raw-json-data/2024/week07/"
#: One key under every prefix of the reference layout, plus neighbours whose names start like the raw prefix.
PIPELINE_KEYS = [
    "raw-json-data-processed/all_historical_files/a.json",
    "raw-json-data-processed/_versions/v2/2024/week07/b.json",
    "curated-data-lake/json_parsed_parquet/year=2024/month=1/day=1/mode=train/batch-x-0000.snappy.parquet",
    "curated-data-lake/_staging/batch/_MANIFEST.json",
    "error-data-lake/json_malformed_records/batch_id=x/file_id=1/part-0.json",
    "raw-json-data.json",
    "elsewhere/raw-json-data/all_historical_files/c.json",
]
RAW_KEYS = [HIST + "a.json", WEEK + "b.json"]
T0 = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)


def _write(root: Path, key: str, body: bytes = b'{"id": "1"}\n') -> None:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)


def _bucket(root: Path) -> Path:
    for key in RAW_KEYS + PIPELINE_KEYS:
        _write(root, key)
    return root


def _rows(conn) -> dict:
    with conn.cursor() as cur:
        cur.execute("SELECT s3_key, etag, version, processing_status FROM file_processing_status")
        rows = {key: rest for key, *rest in cur.fetchall()}
    conn.commit()
    return rows


def _counts(counts) -> tuple:
    return counts.new, counts.changed, counts.unchanged, counts.stale, counts.deferred


# --- 1. prefixes and keys ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("prefix", ["", "raw-json-data", "raw-json-data-processed/", "curated-data-lake/",
                                    "error-data-lake/", "raw", "elsewhere/raw-json-data/", " raw-json-data/"])
def test_a_prefix_outside_the_raw_prefix_is_refused_and_nothing_is_registered(prefix, tmp_path, db_url, db_conn,
                                                                               capsys):
    store = _bucket(tmp_path / "bucket")
    code = main(["list", "--store", str(store), "--db", db_url, "--prefix", prefix, "--no-metrics"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("error: --prefix ") and "not under the raw prefix 'raw-json-data/'" in err[0]
    assert "nothing was registered" in err[0]
    assert _rows(db_conn) == {}
    with pytest.raises(UsageError):
        run_lister(open_store(str(store)), db_conn, [prefix])
    assert _rows(db_conn) == {}


def test_an_unset_variable_and_the_raw_prefix_without_its_slash_are_named_in_the_error(tmp_path, db_url, capsys):
    store = str(_bucket(tmp_path))
    assert main(["list", "--store", store, "--db", db_url, "--prefix", "", "--no-metrics"]) == 2
    assert "'' (empty: an unset variable?)" in capsys.readouterr().err
    assert main(["list", "--store", store, "--db", db_url, "--prefix", "raw-json-data", "--no-metrics"]) == 2
    assert "did you mean 'raw-json-data/'?" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["", " ", "raw-json-data/2024/,", ",raw-json-data/2024/"])
def test_an_empty_entry_of_prefixes_is_refused(value, tmp_path, db_url, db_conn, capsys):
    store = str(_bucket(tmp_path))
    assert main(["list", "--store", store, "--db", db_url, "--prefixes", value, "--no-metrics"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "empty entry" in err[0]
    assert _rows(db_conn) == {}


def test_a_prefix_under_a_pipeline_prefix_nested_in_raw_is_refused():
    layout = Layout(raw_prefix="data/", processed_prefix="data/processed/", curated_prefix="data/curated/",
                    staging_prefix="data/staging/", dead_letter_prefix="data/errors/")
    assert layout.check_listing_prefix("data/2024/") == "data/2024/"
    with pytest.raises(UsageError, match="under the processed-prefix 'data/processed/'"):
        layout.check_listing_prefix("data/processed/2024/")


def test_the_raw_prefix_itself_registers_raw_files_only(tmp_path, db_url, db_conn, capsys):
    store = _bucket(tmp_path)
    _write(store, "raw-json-data/scratch/s.json")
    assert main(["list", "--store", str(store), "--db", db_url, "--prefix", "raw-json-data/", "--json",
                 "--no-metrics"]) == 0
    assert json.loads(capsys.readouterr().out)["new"] == 3
    assert set(_rows(db_conn)) == {*RAW_KEYS, "raw-json-data/scratch/s.json"}


@pytest.mark.parametrize(("prefixes", "registered"), [
    (None, 2), (["data/"], 2), (["data/all_historical_files/"], 1), (["data/2024/", "data/all_historical_files/"], 2),
])
def test_pipeline_keys_nested_under_the_raw_prefix_are_never_registered(prefixes, registered, tmp_path, db_conn,
                                                                        caplog):
    layout = Layout(raw_prefix="data/", processed_prefix="data/all_historical_files/_processed/",
                    curated_prefix="data/curated/", staging_prefix="data/all_historical_files/_staging/",
                    dead_letter_prefix="data/2024/week01/_errors/")
    raw = ["data/all_historical_files/a.json", "data/2024/week01/b.json"]
    nested = ["data/all_historical_files/_processed/a.json", "data/all_historical_files/_staging/x/m.json",
              "data/2024/week01/_errors/batch_id=x/e.json", "data/curated/year=2024/p.parquet"]
    for key in raw + nested:
        _write(tmp_path, key)
    summary = run_lister(open_store(str(tmp_path)), db_conn, prefixes, layout=layout, show_progress=False)
    assert set(_rows(db_conn)) == set(raw[:registered]) and summary.counts.listed == registered
    assert "ignored" in caplog.text and "pipeline's own prefixes" in caplog.text


def test_a_raw_prefix_under_a_pipeline_prefix_is_refused():
    with pytest.raises(UsageError, match="lies under the processed-prefix"):
        Layout(raw_prefix="archive/raw/", processed_prefix="archive/")
    with pytest.raises(UsageError, match="lies under the curated-prefix"):
        Layout(raw_prefix="lake/", curated_prefix="lake/")


# --- 2. one lister at a time -------------------------------------------------------------------------------------

def test_a_second_lister_sees_the_lock_says_so_and_exits_0_without_listing(tmp_path, db_url, db_conn, capsys):
    store = _bucket(tmp_path)
    holder = psycopg2.connect(db_url, application_name="first-lister")
    try:
        with lister_lock(holder):
            with pytest.raises(ListerBusy, match=r"another lister is running \(pid \d+ 'first-lister'"):
                run_lister(open_store(str(store)), db_conn, show_progress=False)
            assert main(["list", "--store", str(store), "--db", db_url, "--no-metrics"]) == 0
            out = capsys.readouterr().out.strip().splitlines()
            assert len(out) == 1 and out[0].startswith("skipped: another lister is running (pid ")
            assert "nothing listed" in out[0]
            assert main(["list", "--store", str(store), "--db", db_url, "--json", "--no-metrics"]) == 0
            report = json.loads(capsys.readouterr().out)
            assert report["skipped"].startswith("another lister is running") and report["listed"] == 0
            assert _rows(db_conn) == {}
        assert run_lister(open_store(str(store)), db_conn, show_progress=False).counts.new == 2  # lock released
    finally:
        holder.close()


def test_a_second_lister_waits_up_to_wait_seconds(tmp_path, db_url, db_conn, capsys):
    store = _bucket(tmp_path)
    holder = psycopg2.connect(db_url)
    try:
        assert try_lister_lock(holder)
        threading.Timer(1.0, holder.close).start()  # the first lister ends (its session's lock goes with it)
        started = time.monotonic()
        assert main(["list", "--store", str(store), "--db", db_url, "--wait-seconds", "30", "--json",
                     "--no-metrics"]) == 0
        assert json.loads(capsys.readouterr().out)["new"] == 2 and time.monotonic() - started < 20
        assert try_lister_lock(db_conn)  # the waiting lister released it in turn
        second = psycopg2.connect(db_url)
        started = time.monotonic()
        with pytest.raises(ListerBusy, match=r"\(waited 1s\)"):
            run_lister(open_store(str(store)), second, wait_seconds=1, show_progress=False)
        assert 0.9 < time.monotonic() - started < 10
        second.close()
    finally:
        holder.close()


def test_the_lister_lock_and_the_migration_lock_are_different(db_url, db_conn):
    assert queries.LISTER_LOCK_KEY != ADVISORY_LOCK_KEY
    other = psycopg2.connect(db_url, options="-c lock_timeout=5s")
    try:
        with lister_lock(db_conn):
            assert apply_migrations(other) == []  # a lister running never holds up a job's migrations
        with other.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
        other.commit()
        assert try_lister_lock(db_conn)  # nor do migrations in progress hold up the lister
    finally:
        other.close()


# --- 3. never back in version ------------------------------------------------------------------------------------

def _page(*versions: tuple[str, datetime, str]) -> list[ObjectInfo]:
    return [ObjectInfo(key, 10, modified, etag) for key, modified, etag in versions]


def test_a_stale_listing_never_rolls_a_file_back(db_conn):
    key = HIST + "a.json"
    assert _counts(register_page(db_conn, _page((key, T0 + timedelta(minutes=5), "new")))) == (1, 0, 0, 0, 0)
    assert _counts(register_page(db_conn, _page((key, T0, "old")))) == (0, 0, 0, 1, 0)
    assert _rows(db_conn)[key] == ["new", 1, "PENDING"]


def test_an_archived_file_never_goes_pending_again_from_a_stale_page(db_conn):
    key = HIST + "a.json"
    register_page(db_conn, _page((key, T0, "v1")))
    assert register_page(db_conn, _page((key, T0 + timedelta(seconds=1), "v2"))).changed == 1
    with db_conn.cursor() as cur:
        cur.execute("UPDATE file_processing_status SET processing_status = 'SUCCEEDED', "
                    "archived_key = 'raw-json-data-processed/_versions/v2/all_historical_files/a.json'")
    db_conn.commit()
    for stale in ((key, T0, "v1"), (key, T0 - timedelta(days=1), "v0"), (key, T0 + timedelta(seconds=1), "v1")):
        assert _counts(register_page(db_conn, _page(stale))) == (0, 0, 0, 1, 0), stale
    assert _rows(db_conn)[key] == ["v2", 2, "SUCCEEDED"]


def test_equal_times_accept_an_unseen_etag_but_never_one_the_key_already_had(db_conn):
    """S3's LastModified has one-second resolution: two uploads in the same second are told apart only by their
    ETag. An ETag the key never had is a new upload (refusing it would lose it); one it had is an older listing."""
    key = HIST + "a.json"
    register_page(db_conn, _page((key, T0, "first")))
    assert _counts(register_page(db_conn, _page((key, T0, "second")))) == (0, 1, 0, 0, 0)
    assert _counts(register_page(db_conn, _page((key, T0, "first")))) == (0, 0, 0, 1, 0)
    assert _rows(db_conn)[key] == ["second", 2, "PENDING"]
    # a later upload of the first content is a new upload, not a rollback
    assert register_page(db_conn, _page((key, T0 + timedelta(seconds=2), "first"))).changed == 1
    assert _rows(db_conn)[key] == ["first", 3, "PENDING"]


def test_rows_without_an_etag_take_the_listed_one_as_their_own_version(db_conn):
    key = HIST + "reference.json"
    with db_conn.cursor() as cur:  # a row of the reference schema: no size, time or ETag
        cur.execute("INSERT INTO file_processing_status (s3_key, processing_status) VALUES (%s, 'SUCCEEDED')", (key,))
    db_conn.commit()
    assert _counts(register_page(db_conn, _page((key, T0, "e")))) == (0, 0, 1, 0, 0)  # unchanged: adopted
    assert _rows(db_conn)[key] == ["e", 1, "SUCCEEDED"]


def test_a_new_version_of_a_file_being_processed_is_deferred_and_a_stale_one_ignored(db_conn):
    key = HIST + "a.json"
    register_page(db_conn, _page((key, T0, "v1")))
    with db_conn.cursor() as cur:
        cur.execute("UPDATE file_processing_status SET processing_status = 'PROCESSING'")
    db_conn.commit()
    assert _counts(register_page(db_conn, _page((key, T0 + timedelta(seconds=1), "v2")))) == (0, 0, 0, 0, 1)
    assert _counts(register_page(db_conn, _page((key, T0 - timedelta(seconds=1), "v0")))) == (0, 0, 0, 1, 0)
    assert _rows(db_conn)[key] == ["v1", 1, "PROCESSING"]


# --- 4. no lock on unchanged rows, never a wait ------------------------------------------------------------------

def _lister_connection(db_url: str):
    """A lister connection that fails fast (instead of hanging the test) if it ever waits for a row lock."""
    return psycopg2.connect(db_url, options="-c lock_timeout=3s")


def test_the_lister_takes_no_lock_on_unchanged_rows(db_url, db_conn):
    keys = [f"{HIST}f{i}.json" for i in range(5)]
    register_page(db_conn, _page(*((k, T0, "e") for k in keys)))
    holder = psycopg2.connect(db_url)
    lister = _lister_connection(db_url)
    try:
        with holder.cursor() as cur:  # a batch holds every row (outcome or lease update in progress)
            cur.execute("SELECT file_id FROM file_processing_status FOR UPDATE")
        page = _page(*((k, T0, "e") for k in keys), (HIST + "new.json", T0, "n"))
        assert _counts(register_page(lister, page)) == (1, 0, 5, 0, 0)
        holder.commit()
    finally:
        holder.close()
        lister.close()


def test_a_changed_row_locked_by_a_batch_is_deferred_not_waited_for(db_url, db_conn):
    keys = [f"{HIST}f{i}.json" for i in range(4)]
    register_page(db_conn, _page(*((k, T0, "v1") for k in keys)))
    holder = psycopg2.connect(db_url)
    lister = _lister_connection(db_url)
    try:
        with holder.cursor() as cur:
            cur.execute("UPDATE file_processing_status SET updated_at = now() WHERE s3_key = %s", (keys[2],))
        newer = _page(*((k, T0 + timedelta(seconds=1), "v2") for k in keys))
        assert _counts(register_page(lister, newer)) == (0, 3, 0, 0, 1)
        holder.commit()
        assert _counts(register_page(lister, newer)) == (0, 1, 3, 0, 0)
        assert {r[0] for r in _rows(db_conn).values()} == {"v2"}
    finally:
        holder.close()
        lister.close()


def test_the_interleaving_that_deadlocked_now_completes(db_url, db_conn):
    """The reported deadlock: a batch updates row B, the lister locks A and waits for B, the batch then updates A.
    Now the lister skips B (deferred) instead of waiting, so the batch's update of A goes through."""
    a, b = HIST + "a.json", HIST + "b.json"
    register_page(db_conn, _page((a, T0, "v1"), (b, T0, "v1")))
    batch = psycopg2.connect(db_url, options="-c lock_timeout=10s")
    lister = psycopg2.connect(db_url)
    result: dict = {}
    try:
        with batch.cursor() as cur:
            cur.execute("UPDATE file_processing_status SET lease_expires_at = now() WHERE s3_key = %s", (b,))

        def listing() -> None:
            try:
                result["counts"] = _counts(register_page(lister, _page((a, T0 + timedelta(seconds=1), "v2"),
                                                                       (b, T0 + timedelta(seconds=1), "v2"))))
            except BaseException as error:  # reported below
                result["error"] = error

        thread = threading.Thread(target=listing)
        thread.start()
        time.sleep(0.5)  # the lister has locked A by now (or finished)
        with batch.cursor() as cur:
            cur.execute("UPDATE file_processing_status SET lease_expires_at = now() WHERE s3_key = %s", (a,))
        batch.commit()
        thread.join(30)
        assert "error" not in result, result.get("error")
        assert result["counts"] == (0, 1, 0, 0, 1)
    finally:
        batch.close()
        lister.close()
