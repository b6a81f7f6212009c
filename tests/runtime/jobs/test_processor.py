"""JsonToParquetBatchProcessor end to end: real PostgreSQL, local Spark, local store."""

from __future__ import annotations

import gzip
import threading
from collections import Counter

import pytest

from runtime.errors import RunStopped
from runtime.jobs.lister import run_lister
from runtime.jobs.owner import OwnerProbe, Verdict
from runtime.jobs.processor import CHECKPOINTS, LeaseLost
from runtime.sample_data import generate_sample
from runtime.storage.local import LocalStore
from tests.support.pipeline import (
    LAYOUT,
    SimulatedCrash,
    crash_at,
    curated_rows,
    dead_letter_rows,
    per_source,
    processor,
    states,
)

pytestmark = pytest.mark.spark
SMALL_BAD = ["malformed-line-among-good.jsonl", "unsafe-modes.jsonl", "zero-byte.jsonl", "missing-date.jsonl"]


def assert_exactly_once(root, conn, expected) -> None:
    """Every file terminal as expected; each good record once in curated; each bad record once in dead letter."""
    assert states(conn) == expected.files
    rows = curated_rows(root)
    assert len(rows) == len(set(rows)), "a curated row was written twice"
    good = {k: v for k, v in expected.good_by_file.items() if v}
    assert dict(per_source(rows, root)) == good
    dead = Counter(r["source_s3_path"].split(str(root).rstrip("/") + "/")[-1] for r in dead_letter_rows(root))
    assert dict(dead) == {k: v for k, v in expected.bad_by_file.items() if v}
    with conn.cursor() as cur:
        cur.execute("SELECT s3_key, records_good, records_bad FROM file_processing_status "
                    "WHERE processing_status = 'SUCCEEDED'")
        for key, good_count, bad_count in cur.fetchall():
            assert (good_count, bad_count) == (expected.good_by_file[key], expected.bad_by_file[key])
    conn.commit()
    for key, state in expected.files.items():  # succeeded raw files archived, others left in place
        archived = (root / LAYOUT.archived_key(key)).exists()
        assert archived == (state == "SUCCEEDED") and (root / key).exists() == (state != "SUCCEEDED")
    assert not list((root / LAYOUT.staging_prefix).rglob("*.parquet")), "staging left behind"


def test_every_bad_input_has_its_defined_outcome(tmp_path, db_conn, spark):
    store = LocalStore(tmp_path)
    expected = generate_sample(store, files=4, records_per_file=20, include_bad_inputs=True)
    run_lister(store, db_conn)
    reports = processor(store, db_conn, spark, batch_size=100).drain()
    assert len(reports) == 1
    assert_exactly_once(tmp_path, db_conn, expected)
    with db_conn.cursor() as cur:
        cur.execute("SELECT s3_key, error_message FROM file_processing_status WHERE processing_status = "
                    "'QUARANTINED'")
        reasons = {k.rsplit("/", 1)[-1]: r for k, r in cur.fetchall()}
    assert reasons["zero-byte.jsonl"] == "zero-byte file"
    assert "gzip" in reasons["broken.jsonl.gz"]
    assert "no JSON record" in reasons["whitespace-only.jsonl"] and "no JSON record" in reasons["empty.jsonl"]
    assert "malformed" in reasons["non-utf8.jsonl"] and "malformed" in reasons["array-with-broken-element.json"]
    dead = dead_letter_rows(tmp_path)
    assert all(r["reason"] and r["source_s3_path"] for r in dead)
    assert not list(tmp_path.rglob("*__HIVE_DEFAULT_PARTITION__*"))


def test_vanished_and_overwritten_files_fail_then_the_new_version_is_processed(tmp_path, db_conn, spark):
    store = LocalStore(tmp_path)
    expected = generate_sample(store, files=4, records_per_file=10, include_bad_inputs=False)
    keys = sorted(expected.files)
    run_lister(store, db_conn)
    store.delete(keys[0])
    store.put_bytes(keys[1], store.get_bytes(keys[1]) + b'{"id": "new-1", "DATE": "2024-02-01", "MODE": "eval"}\n')
    reports = processor(store, db_conn, spark, batch_size=10).drain()
    # the overwritten file: FAILED as changed after listing, its new version registered at once by the run that
    # found it (not charged attempt after attempt until the next listing) and converted in the same drain
    assert [r.files for r in reports] == [{"SUCCEEDED": 2, "FAILED": 2}, {"SUCCEEDED": 1}]
    with db_conn.cursor() as cur:
        cur.execute("SELECT s3_key, processing_status, error_message, next_attempt_at > now(), version "
                    "FROM file_processing_status WHERE s3_key IN %s ORDER BY s3_key", (tuple(keys[:2]),))
        rows = cur.fetchall()
        cur.execute("SELECT event, processing_status, error_message, actor FROM file_processing_history "
                    "WHERE file_id = (SELECT file_id FROM file_processing_status WHERE s3_key = %s) "
                    "ORDER BY history_id", (keys[1],))
        history = cur.fetchall()
    db_conn.commit()
    assert [(k, s, later, v) for k, s, _e, later, v in rows] == [(keys[0], "FAILED", True, 1),
                                                                 (keys[1], "SUCCEEDED", False, 2)]
    assert "vanished" in rows[0][2]
    assert [(event, state) for event, state, _error, _actor in history] == [
        ("OUTCOME", "FAILED"), ("NEW_VERSION", "FAILED"), ("OUTCOME", "SUCCEEDED")]
    assert history[1][3].startswith("local-")  # registered by the run that found it, not by a lister
    assert "changed after listing" in history[0][2]
    assert run_lister(store, db_conn).as_dict()["changed"] == 0  # the lister finds it registered already
    assert per_source(curated_rows(tmp_path), tmp_path)[keys[1]] == expected.good_by_file[keys[1]] + 1


def test_transient_failures_are_quarantined_after_max_attempts(tmp_path, db_conn, spark):
    store = LocalStore(tmp_path)
    expected = generate_sample(store, files=1, records_per_file=5, include_bad_inputs=False)
    run_lister(store, db_conn)
    (key,) = expected.files
    store.delete(key)
    reports = processor(store, db_conn, spark, max_attempts=3, backoff_base_seconds=0).drain()
    assert [r.files for r in reports] == [{"FAILED": 1}, {"FAILED": 1}, {"QUARANTINED": 1}]
    with db_conn.cursor() as cur:
        cur.execute("SELECT retry_count, error_message FROM file_processing_status")
        retries, error = cur.fetchone()
        cur.execute("SELECT count(*) FROM file_processing_history WHERE event = 'OUTCOME'")
        assert cur.fetchone()[0] == 3
    assert retries == 3 and error.startswith("gave up after 3 attempts: object vanished")


def test_spark_failing_for_every_file_stops_the_run_charges_no_file_and_publishes_nothing(tmp_path, db_conn,
                                                                                          spark):
    store = LocalStore(tmp_path)
    generate_sample(store, files=3, records_per_file=5, include_bad_inputs=False)
    run_lister(store, db_conn)
    broken = processor(store, db_conn, spark)
    broken.spark_factory = lambda: (_ for _ in ()).throw(RuntimeError("executor lost"))
    with pytest.raises(RunStopped) as stopped:  # no file's fault: the probe without any file fails too
        broken.run_once()
    assert stopped.value.cause == "RuntimeError: executor lost"
    assert curated_rows(tmp_path) == [] and not list(tmp_path.rglob("*.parquet"))
    with db_conn.cursor() as cur:  # the batch given back: no outcome, no attempt counted
        cur.execute("SELECT DISTINCT processing_status, retry_count FROM file_processing_status")
        assert cur.fetchall() == [("PENDING", 0)]


@pytest.mark.parametrize("point", CHECKPOINTS)
def test_crash_at_every_step_then_a_normal_run_finishes_exactly_once(point, tmp_path, db_conn, spark):
    store = LocalStore(tmp_path)
    expected = generate_sample(store, files=3, records_per_file=12, include_bad_inputs=SMALL_BAD)
    run_lister(store, db_conn)
    crashing = processor(store, db_conn, spark, batch_size=100, checkpoint=crash_at(point))
    with pytest.raises(SimulatedCrash):  # the run ended: its batch is recovered at once, whatever its lease
        crashing.run_once()
    processor(store, db_conn, spark, batch_size=100, backoff_base_seconds=0).drain()
    assert_exactly_once(tmp_path, db_conn, expected)


def test_a_run_whose_batch_was_taken_over_does_not_publish(tmp_path, db_conn, db_url, spark):
    import psycopg2

    from runtime.operator.recover import recover

    store = LocalStore(tmp_path)
    expected = generate_sample(store, files=2, records_per_file=8, include_bad_inputs=False)
    run_lister(store, db_conn)
    other_conn = psycopg2.connect(db_url)
    rescuer = processor(store, other_conn, spark, backoff_base_seconds=0)

    def meanwhile(name: str) -> None:
        if name == "after_staging_write":  # an operator forces the batch away from this live run (mldp recover
            with db_conn.cursor() as cur:  # --force) and another run takes it over
                cur.execute("SELECT batch_id::text FROM processing_batches")
                (batch_id,) = cur.fetchone()
            db_conn.commit()
            assert recover(other_conn, batch_id, "host looks lost", force=True).forced
            rescuer.recover_expired()

    slow = processor(store, db_conn, spark, checkpoint=meanwhile)
    with pytest.raises(LeaseLost):
        slow.run_once()
    assert curated_rows(tmp_path) == []
    rescuer.drain()
    other_conn.close()
    assert_exactly_once(tmp_path, db_conn, expected)


def test_three_processors_at_once_claim_each_file_once(tmp_path, db_url, db_conn, spark):
    import psycopg2

    store = LocalStore(tmp_path)
    expected = generate_sample(store, files=12, records_per_file=10, include_bad_inputs=["unsafe-modes.jsonl"])
    run_lister(store, db_conn)
    errors = []
    # each processor holds its first claimed batch until all three hold one: the work is shared by construction,
    # not by how the threads happen to be scheduled (bounded: a processor that never claims fails the barrier)
    all_claimed = threading.Barrier(3, timeout=120)

    def worker() -> None:
        conn = psycopg2.connect(db_url)
        first_claim = threading.Event()

        def checkpoint(name: str) -> None:
            if name == "after_claim" and not first_claim.is_set():
                first_claim.set()
                all_claimed.wait()

        try:
            processor(store, conn, spark, batch_size=2, checkpoint=checkpoint).drain()
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with db_conn.cursor() as cur:
        cur.execute("SELECT file_id, count(*) FROM file_processing_history WHERE event = 'OUTCOME' GROUP BY 1")
        outcomes = dict(cur.fetchall())
        cur.execute("SELECT count(DISTINCT glue_job_run_id) FROM processing_batches")
        runs = cur.fetchone()[0]
    db_conn.commit()
    assert set(outcomes.values()) == {1} and len(outcomes) == len(expected.files)
    assert runs == 3, "every processor claimed and finished batches of its own"
    assert_exactly_once(tmp_path, db_conn, expected)


def test_a_file_overwritten_after_processing_is_not_archived_but_processed_as_a_new_version(tmp_path, db_conn,
                                                                                             spark):
    store = LocalStore(tmp_path)
    expected = generate_sample(store, files=2, records_per_file=5, include_bad_inputs=False)
    keys = sorted(expected.files)
    run_lister(store, db_conn)
    with pytest.raises(SimulatedCrash):  # outcome committed, archive not done yet
        processor(store, db_conn, spark, checkpoint=crash_at("after_commit")).run_once()
    new_content = b'{"id": "v2-1", "DATE": "2024-03-01", "MODE": "train"}\n'
    store.put_bytes(keys[0], new_content)

    assert processor(store, db_conn, spark).archive_leftovers() == 1  # only the untouched file moves
    assert store.get_bytes(keys[0]) == new_content and not (tmp_path / LAYOUT.archived_key(keys[0])).exists()

    assert run_lister(store, db_conn).as_dict()["changed"] == 1
    processor(store, db_conn, spark).drain()
    assert states(db_conn) == dict.fromkeys(keys, "SUCCEEDED")
    assert not (tmp_path / LAYOUT.archived_key(keys[0])).exists()  # version 1 was never archived
    assert (tmp_path / LAYOUT.archived_key(keys[0], version=2)).read_bytes() == new_content
    assert ("v2-1", f"{tmp_path}/{keys[0]}", "train") in curated_rows(tmp_path)


def test_a_file_overwritten_while_spark_reads_it_fails_alone_and_its_batch_mate_is_published(tmp_path, db_conn,
                                                                                              spark):
    store = LocalStore(tmp_path)
    expected = generate_sample(store, files=2, records_per_file=5, include_bad_inputs=False)
    key, other = sorted(expected.files)
    run_lister(store, db_conn)

    def overwrite_then_spark():  # lands after the pre-check, before Spark reads
        store.put_bytes(key, b'{"id": "late", "DATE": "2024-01-02", "MODE": "eval"}\n')
        return spark

    late = processor(store, db_conn, spark)
    late.spark_factory = overwrite_then_spark
    (report,) = late.run_once()
    assert report.files == {"FAILED": 1, "SUCCEEDED": 1}
    assert dict(per_source(curated_rows(tmp_path), tmp_path)) == {other: expected.good_by_file[other]}
    with db_conn.cursor() as cur:
        cur.execute("SELECT error_message FROM file_processing_status WHERE s3_key = %s", (key,))
        (message,) = cur.fetchone()
    assert message == "object changed while being read; the lister registers the new version"


def test_read_errors_during_the_gzip_check_are_transient_not_poison(tmp_path, db_conn, spark):
    class FlakyStore(LocalStore):
        """A store whose streams time out, as a network read can."""

        def open_stream(self, key):
            raise TimeoutError("read timed out")

    store = FlakyStore(tmp_path)
    store.put_bytes("raw-json-data/2024/week01/a.jsonl.gz", gzip.compress(b'{"id": "1"}\n'))
    run_lister(store, db_conn)
    (report,) = processor(store, db_conn, spark).run_once()
    assert report.files == {"FAILED": 1}
    with db_conn.cursor() as cur:
        cur.execute("SELECT error_message FROM file_processing_status")
        assert cur.fetchone()[0] == "could not read the object: TimeoutError: read timed out"


def test_an_exception_without_a_message_still_stops_the_run_cleanly(tmp_path, db_conn, spark):
    store = LocalStore(tmp_path)
    generate_sample(store, files=1, records_per_file=3, include_bad_inputs=False)
    run_lister(store, db_conn)
    broken = processor(store, db_conn, spark)
    broken.spark_factory = lambda: (_ for _ in ()).throw(RuntimeError())
    with pytest.raises(RunStopped) as stopped:
        broken.run_once()
    assert stopped.value.cause == "RuntimeError"  # a message-less exception is still named
    # cleanly: the file is back, claimable and uncharged; the batch is closed with the cause; no staging is left
    with db_conn.cursor() as cur:
        cur.execute("SELECT processing_status, retry_count, error_message FROM file_processing_status")
        assert cur.fetchall() == [("PENDING", 0, None)]
        cur.execute("SELECT state, error_message FROM processing_batches")
        [(state, error)] = cur.fetchall()
    db_conn.commit()
    assert state == "ABANDONED" and "RuntimeError" in error
    staging = tmp_path / LAYOUT.staging_prefix
    assert not staging.exists() or not any(staging.iterdir())


def test_a_new_version_is_archived_beside_the_archive_of_the_previous_one(tmp_path, db_conn, spark):
    store = LocalStore(tmp_path)
    expected = generate_sample(store, files=1, records_per_file=4, include_bad_inputs=False)
    (key,) = expected.files
    first = store.get_bytes(key)
    run_lister(store, db_conn)
    processor(store, db_conn, spark).drain()
    second = b'{"id": "v2", "DATE": "2024-02-02", "MODE": "test"}\n'
    store.put_bytes(key, second)  # the producer sends a corrected file under the same key
    assert run_lister(store, db_conn).as_dict()["changed"] == 1  # a new ETag for a tracked key: version 2
    processor(store, db_conn, spark).drain()
    with db_conn.cursor() as cur:
        cur.execute("SELECT processing_status, version, archived_key FROM file_processing_status")
        assert cur.fetchall() == [("SUCCEEDED", 2, LAYOUT.archived_key(key, version=2))]
    assert (tmp_path / LAYOUT.archived_key(key)).read_bytes() == first
    assert (tmp_path / LAYOUT.archived_key(key, version=2)).read_bytes() == second
    import pyarrow.dataset as ds

    table = ds.dataset(str(tmp_path / LAYOUT.curated_prefix), format="parquet", partitioning="hive").to_table()
    by_version = Counter(table["source_version"].to_pylist())  # both versions' rows, told apart by source_version
    assert by_version == {1: 4, 2: 1}
    assert table.filter(ds.field("source_version") == 2)["id"].to_pylist() == ["v2"]


class CannotTell(OwnerProbe):
    """A probe for owners it cannot judge (another node, no Glue run): only the lease decides."""

    def check(self, owner):
        return Verdict(False, "its owner cannot be checked from here: the lease decides")


def test_the_lease_heartbeat_keeps_a_long_conversion_from_being_taken_over(tmp_path, db_url, db_conn, spark):
    import time

    import psycopg2

    store = LocalStore(tmp_path)
    expected = generate_sample(store, files=2, records_per_file=4, include_bad_inputs=False)
    run_lister(store, db_conn)
    rescuer_conn = psycopg2.connect(db_url)
    rescuer = processor(store, rescuer_conn, spark)
    rescuer.owner_probe = CannotTell()  # an owner on another node: nothing but the lease keeps its batch
    taken_over = []

    def slow_spark():  # the conversion outlives the lease the claim set; another run looks for dead batches
        # the lease the claim set lapses (as it would during a conversion longer than the lease): only the
        # heartbeat's renewals keep the batch this run's; wait (bounded) until the heartbeat renewed it
        with psycopg2.connect(db_url) as probe, probe.cursor() as cur:
            cur.execute("UPDATE processing_batches SET lease_expires_at = now() - interval '1 second' "
                        "RETURNING clock_timestamp()")
            (lapsed_at,) = cur.fetchone()
            probe.commit()
            deadline = time.monotonic() + 60
            while True:
                cur.execute("SELECT heartbeat_at > %s AND lease_expires_at > now() FROM processing_batches",
                            (lapsed_at,))
                if cur.fetchone()[0]:
                    break
                assert time.monotonic() < deadline, "the heartbeat never renewed the lapsed lease"
                time.sleep(0.05)
        probe.close()
        taken_over.extend(rescuer.recover_expired())
        return spark

    slow = processor(store, db_conn, spark)
    slow.heartbeat_connect, slow.heartbeat_interval = lambda: psycopg2.connect(db_url), 0.1
    slow.spark_factory = slow_spark
    (report,) = slow.run_once()
    rescuer_conn.close()
    assert taken_over == [] and report.files == {"SUCCEEDED": 2}
    assert_exactly_once(tmp_path, db_conn, expected)


def test_a_bucket_with_its_own_layout_is_listed_processed_and_archived_where_it_says(tmp_path, db_url, spark):
    from runtime.cli import main

    store = LocalStore(tmp_path)
    good = b'{"id": "1", "DATE": "2024-01-02", "MODE": "train"}\n{"id": "2", "DATE": "2024-01-02"}\n'
    store.put_bytes("incoming/all_historical_files/a.jsonl", good)
    store.put_bytes("incoming/2024/week05/b.jsonl", good)
    store.put_bytes("raw-json-data/all_historical_files/not-ours.jsonl", good)
    layout = ["--raw-prefix", "incoming/", "--processed-prefix", "done/", "--curated-prefix", "lake/parquet/",
              "--staging-prefix", "lake/_staging/", "--dead-letter-prefix", "lake/errors/"]
    job = ["--store", str(tmp_path), "--db", db_url, "--no-metrics", *layout]
    assert main(["list", *job]) == 0
    assert main(["process", *job, "--drain"]) == 0
    assert (tmp_path / "done/all_historical_files/a.jsonl").exists()
    assert (tmp_path / "done/2024/week05/b.jsonl").exists()
    assert len(list((tmp_path / "lake/parquet/year=2024/month=1/day=2/mode=train").glob("*.parquet"))) == 1
    assert len(list((tmp_path / "lake/errors").rglob("*.json"))) == 2  # the record without MODE, per file
    assert (tmp_path / "raw-json-data/all_historical_files/not-ours.jsonl").exists()
    assert not (tmp_path / "curated-data-lake").exists() and not list((tmp_path / "lake/_staging").rglob("*.*"))
