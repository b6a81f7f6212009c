"""Stops and crashes of a real ``mldp process --drain`` process (``python -m runtime.cli``, local Spark, a local
store and the test database), held mid-batch by a transform hook that waits during the conversion:

* SIGINT (Ctrl-C, sent to the process group as a terminal does) and SIGTERM (what Glue sends on a timeout or a
  stop) end the drain at the next safe point: exit status 130 / 143, the batch given back, no file charged an
  attempt, every file claimable at once, the next batches never started;
* SIGKILL leaves the batch PROCESSING under the default lease, and an immediate re-run recovers it at once (its
  owner's process is gone): the time from the kill to the recovery is printed (``-s`` shows it).

Only the CLI and SQL are used there, so the same tests show the behaviour of any version of the runtime. The
stop flag itself, and a conversion that fails because a stop cancelled it, are tested in this process (no Spark).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runtime.jobs.processor import BatchProcessor, ProcessorSettings
from runtime.jobs.stopping import StopRequested, StopSignal
from runtime.layout import Layout
from runtime.sample_data import generate_sample
from runtime.storage.local import LocalStore
from tests.support.pipeline import write_spec
from tests.support.sql import fetch_all

PROJECT_ROOT = Path(__file__).resolve().parents[3]
#: The hook: says it is converting (``converting`` file), then waits for ``go`` (bounded).
HOOK = '''
import os, pathlib, time

def hold(frame):
    folder = pathlib.Path(os.environ["MLDP_TEST_HOLD_DIR"])
    (folder / "converting").touch()
    deadline = time.monotonic() + 300
    while not (folder / "go").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return frame
'''


#: A slow conversion: a Python UDF that takes a minute per record (the Spark job would run for ten minutes); it
#: says it is converting (``converting`` file, written by the Python worker while the job runs).
SLOW_HOOK = '''
import os, pathlib, time
from pyspark.sql import functions as F

def crawl(frame):
    folder = os.environ["MLDP_TEST_HOLD_DIR"]

    def slowly(value):
        pathlib.Path(folder, "converting").touch()
        time.sleep(60)
        return value

    return frame.withColumn("id", F.udf(slowly, frame.schema["id"].dataType)(F.col("id")))
'''


def start_processor(store_root: Path, db_url: str, hold_dir: Path, *extra: str) -> subprocess.Popen:
    argv = [sys.executable, "-m", "runtime.cli", "process", "--store", str(store_root), "--db", db_url,
            "--no-metrics", "--json", *extra]
    env = {**os.environ, "MLDP_TEST_HOLD_DIR": str(hold_dir), "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.Popen(argv, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # its own process group, as a terminal's foreground job


def wait_for(path: Path, child: subprocess.Popen, timeout: float = 300) -> None:
    """Bounded wait until ``path`` exists (the child is mid-batch), failing early if the child ended."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if child.poll() is not None:
            out, err = child.communicate()
            pytest.fail(f"the processor ended before the conversion ({child.returncode}): {out} {err[-3000:]}")
        assert time.monotonic() < deadline, "the processor never reached the conversion"
        time.sleep(0.02)


def prepare(tmp_path: Path, db_url: str, files: int) -> tuple[Path, Path, Path]:
    store_root, hold_dir = tmp_path / "bucket", tmp_path / "hold"
    hold_dir.mkdir()
    store_root.mkdir()
    generate_sample(LocalStore(store_root), files=files, records_per_file=5, include_bad_inputs=False)
    listed = subprocess.run([sys.executable, "-m", "runtime.cli", "list", "--store", str(store_root), "--db", db_url,
                             "--no-metrics"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)
    assert listed.returncode == 0, listed.stderr
    return store_root, hold_dir, write_spec(tmp_path / "config", HOOK, "hold")


@pytest.mark.spark
@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stop_signal_mid_drain_gives_the_batch_back_and_exits_128_plus_the_signal(signum, status, tmp_path,
                                                                                     db_url):
    store_root, hold_dir, spec = prepare(tmp_path, db_url, files=4)
    child = start_processor(store_root, db_url, hold_dir, "--drain", "--batch-size", "2", "--transform-spec",
                            str(spec))
    wait_for(hold_dir / "converting", child)
    if signum == signal.SIGINT:
        os.killpg(child.pid, signum)  # Ctrl-C: the whole foreground group (the JVM ignores it)
    else:
        os.kill(child.pid, signum)
    (hold_dir / "go").touch()  # the conversion goes on; the run stops at the next safe point
    out, err = child.communicate(timeout=300)

    assert child.returncode == status, err[-3000:]
    assert "Py4J" not in err
    files = fetch_all(db_url, "SELECT processing_status, retry_count, next_attempt_at <= now(), lease_expires_at "
                         "FROM file_processing_status")
    assert len(files) == 4 and set(files) == {("PENDING", 0, True, None)}  # no attempt charged, claimable now
    [(state, error)] = fetch_all(db_url, "SELECT state, error_message FROM processing_batches")  # no second batch
    assert state == "ABANDONED" and error.startswith(f"released: run stopped by {signal.Signals(signum).name}")
    assert fetch_all(db_url, "SELECT count(*) FROM file_processing_history WHERE event = 'OUTCOME'") == [(0,)]
    assert not [p for p in (store_root / "curated-data-lake").rglob("*") if p.is_file()]
    assert json.loads(out.splitlines()[-1])["batches"] == 0


@pytest.mark.spark
def test_sigterm_during_a_slow_spark_job_gives_the_batch_back_without_narrowing_or_reconverting(tmp_path, db_url):
    """Case 7 of "Data safety, second round": the Spark job a stop cancelled looked like a conversion failure, so
    narrowing ran its dry runs and a full re-conversion before the stop was honoured (SIGTERM at 14.0 s, batch
    released at 39.1 s; on Glue, a timeout then ends in a hard kill). Here the job would run for ten minutes:
    the run ending at all proves the job was cancelled and nothing was converted again."""
    store_root, hold_dir, _ = prepare(tmp_path, db_url, files=2)
    spec = write_spec(tmp_path / "slow", SLOW_HOOK, "crawl")
    child = start_processor(store_root, db_url, hold_dir, "--transform-spec", str(spec))
    wait_for(hold_dir / "converting", child)
    os.kill(child.pid, signal.SIGTERM)
    signalled = time.monotonic()
    _out, err = child.communicate(timeout=300)
    released_in = time.monotonic() - signalled

    assert child.returncode == 143, err[-3000:]
    assert "narrowing" not in err and "dry run" not in err  # no file was suspected, nothing converted again
    [(state, error)] = fetch_all(db_url, "SELECT state, error_message FROM processing_batches")
    assert state == "ABANDONED" and error.startswith("released: run stopped by SIGTERM")
    assert set(fetch_all(db_url, "SELECT processing_status, retry_count FROM file_processing_status")) == {
        ("PENDING", 0)}
    print(f"\nSIGTERM during a Spark job of ten minutes: batch released and process ended in {released_in:.1f}s")


@pytest.mark.spark
def test_a_processor_killed_mid_batch_is_recovered_by_an_immediate_rerun_with_the_default_lease(tmp_path, db_url):
    store_root, hold_dir, spec = prepare(tmp_path, db_url, files=2)
    child = start_processor(store_root, db_url, hold_dir, "--drain", "--transform-spec", str(spec))
    wait_for(hold_dir / "converting", child)
    [(batch_id, lease_seconds)] = fetch_all(db_url, "SELECT batch_id, extract(epoch FROM lease_expires_at - now()) "
                                               "FROM processing_batches WHERE state = 'CLAIMED'")
    assert lease_seconds > 60  # the default lease (300 s) is far from over
    os.killpg(child.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    child.communicate()

    rerun = subprocess.run([sys.executable, "-m", "runtime.cli", "process", "--store", str(store_root), "--db", db_url,
                            "--no-metrics", "--json"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                           check=False, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
    recovered_in = time.monotonic() - killed_at
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    summary = json.loads(rerun.stdout.strip().splitlines()[-1])
    assert (summary["abandoned_batches"], summary["batches"]) == (1, 2)  # the abandoned batch reported, a new one run
    [(state, error)] = fetch_all(db_url, f"SELECT state, error_message FROM processing_batches WHERE batch_id = "
                                    f"'{batch_id}'")
    assert state == "ABANDONED" and "its run stopped before finishing" in error
    files = fetch_all(db_url, "SELECT processing_status, retry_count FROM file_processing_status")
    # abandoned with two files, neither is charged: they are next claimed one at a time (the re-run took one and
    # converted it), so a file that kills runs is then charged alone and quarantined after --max-attempts
    assert set(files) == {("SUCCEEDED", 1), ("PENDING", 0)}
    assert not list((store_root / "curated-data-lake" / "_staging").glob(f"{batch_id}*"))
    print(f"\ncrash-to-recovery: {recovered_in:.2f}s (SIGKILL mid-batch, then `mldp process` at once; "
          f"lease left at the kill: {lease_seconds:.0f}s)")


# --- in this process: the stop flag, and a conversion a stop cancelled --------------------------------------------


def test_the_stop_signal_sets_a_flag_and_a_second_one_stops_at_once():
    stop = StopSignal()
    before = signal.getsignal(signal.SIGTERM)
    with stop.installed():
        os.kill(os.getpid(), signal.SIGTERM)  # handled in this (main) thread before the next statement
        assert stop.requested and stop.exit_status == 143
        with pytest.raises(StopRequested):
            stop.check()
        signal.signal(signal.SIGINT, signal.default_int_handler)  # what creating a SparkContext does
        stop.reinstall()
        with pytest.raises(SystemExit) as exited:
            os.kill(os.getpid(), signal.SIGINT)
        assert exited.value.code == 130
    assert signal.getsignal(signal.SIGTERM) == before
    assert StopSignal().exit_status == 0


def test_a_conversion_that_fails_because_a_stop_cancelled_it_charges_no_attempt(tmp_path, db_conn):
    with db_conn.cursor() as cur:
        cur.execute("INSERT INTO file_processing_status (s3_key, file_size_bytes, etag) VALUES (%s, 12, %s)",
                    ("raw-json-data/2024/week01/a.jsonl", "x"))
    db_conn.commit()
    store = LocalStore(tmp_path)
    store.put_bytes("raw-json-data/2024/week01/a.jsonl", b'{"id": "1"}\n')
    info = store.head("raw-json-data/2024/week01/a.jsonl")
    with db_conn.cursor() as cur:
        cur.execute("UPDATE file_processing_status SET etag = %s", (info.etag,))
    db_conn.commit()
    run = BatchProcessor(store, db_conn, lambda: None, None, ProcessorSettings(), Layout())  # type: ignore[arg-type]

    def cancelled_spark():  # a signal arrives while Spark works: its jobs are cancelled, the conversion fails
        run.stop.request(signal.SIGINT)
        raise RuntimeError("Job 3 cancelled part of cancelled job group")

    run.spark_factory = cancelled_spark
    assert run.run_once() == [] and run.exit_status == 130
    rows_now = rows_of(db_conn, "SELECT processing_status, retry_count FROM file_processing_status")
    assert rows_now == [("PENDING", 0)]
    assert rows_of(db_conn, "SELECT state FROM processing_batches") == [("ABANDONED",)]


def rows_of(conn, sql: str) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(sql)
        found = cur.fetchall()
    conn.commit()
    return found
