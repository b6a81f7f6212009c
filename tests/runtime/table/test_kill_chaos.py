"""SIGKILL at random moments of ``mldp process --table-format iceberg --drain`` (its own process, killed with its
process group, several times in a row), then a run to the end: every good record is in the table exactly once and
each batch committed once, whatever the kills interrupted (a claim, Spark, the publish into the table's data
location, the Iceberg commit, the tracking commit, the archive). Each kill lands a random time after the process
logged its first claim (its JVM start is no moment worth killing in), drawn from a seeded generator, so a failure
can be replayed; nothing is asserted about time."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from runtime.jobs.lister import run_lister
from runtime.sample_data import generate_sample
from runtime.storage.local import LocalStore
from tests.runtime.table.test_commit_crashes import assert_in_table_exactly_once
from tests.support.iceberg import iceberg_processor

pytestmark = pytest.mark.spark
PROJECT_ROOT = Path(__file__).resolve().parents[3]
#: Kills before the run that is let finish, and the seed of their moments (seconds after the first claim).
KILLS, SEED, WINDOW_SECONDS = 3, 19, 8.0
#: What the processor logs when it has claimed a batch (runtime.jobs.batch).
CLAIMED = ": claimed "


def process(store_root: Path, db_url: str) -> subprocess.Popen:
    # --max-attempts 100: a kill that lands on a batch of one file charges that file (an abandoned file alone is
    # the culprit, by design); the kills must not quarantine a good file
    argv = [sys.executable, "-m", "runtime.cli", "process", "--store", str(store_root), "--db", db_url,
            "--no-metrics", "--drain", "--batch-size", "2", "--table-format", "iceberg", "--max-attempts", "100"]
    return subprocess.Popen(argv, cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)


def kill_after_first_claim(child: subprocess.Popen, delay: float) -> None:
    """SIGKILL ``child``'s process group ``delay`` seconds after it logs its first claim (at once if it ends or
    never claims); its stderr is read to the end meanwhile."""
    claimed = threading.Event()

    def read() -> None:
        assert child.stderr is not None
        for line in child.stderr:
            if CLAIMED in line:
                claimed.set()
        claimed.set()  # ended

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    claimed.wait(timeout=300)
    if child.poll() is None:
        time.sleep(delay)
    if child.poll() is None:
        os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    reader.join(timeout=30)


def recover_then_claimable_now(store: LocalStore, conn, db_url: str) -> None:
    """Recover the killed run's batch here (no Spark: a roll-forward converts nothing), then make a file it charged
    claimable now: an abandoned batch of one file charges it and it waits for its retry delay, which is not under
    test (the final run would otherwise end with it FAILED, waiting)."""
    iceberg_processor(store, conn, None, db_url, max_attempts=100).recover_expired()
    with conn.cursor() as cur:
        cur.execute("UPDATE file_processing_status SET next_attempt_at = now() WHERE processing_status = 'FAILED'")
    conn.commit()


def test_sigkill_at_random_moments_then_a_full_run_leaves_every_good_record_in_the_table_once(tmp_path, db_url,
                                                                                             db_conn):
    store = LocalStore(tmp_path)
    expected = generate_sample(store, files=4, records_per_file=6,
                               include_bad_inputs=["malformed-line-among-good.jsonl"])
    run_lister(store, db_conn)
    moments = random.Random(SEED)
    for _ in range(KILLS):
        kill_after_first_claim(process(tmp_path, db_url), moments.uniform(0, WINDOW_SECONDS))
        recover_then_claimable_now(store, db_conn, db_url)
    final = process(tmp_path, db_url)
    _out, err = final.communicate(timeout=900)
    assert final.returncode == 0, err[-3000:]
    assert_in_table_exactly_once(tmp_path, db_conn, db_url, expected)
