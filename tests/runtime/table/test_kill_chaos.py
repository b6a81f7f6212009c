"""SIGKILL at random moments of ``mldp process --table-format iceberg --drain`` (its own process, killed with its
process group, several times in a row), then a run to the end: every good record is in the table exactly once and
each batch committed once, whatever the kills interrupted (a claim, Spark, the publish into the table's data
location, the Iceberg commit, the tracking commit, the archive). The moments come from a seeded generator, so a
failure can be replayed; nothing is asserted about time."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runtime.jobs.lister import run_lister
from runtime.sample_data import generate_sample
from runtime.storage.local import LocalStore
from tests.runtime.table.test_commit_crashes import assert_in_table_exactly_once

pytestmark = pytest.mark.spark
PROJECT_ROOT = Path(__file__).resolve().parents[3]
#: Kills before the run that is let finish, and the seed of their moments.
KILLS, SEED = 4, 19


def process(store_root: Path, db_url: str) -> subprocess.Popen:
    argv = [sys.executable, "-m", "runtime.cli", "process", "--store", str(store_root), "--db", db_url,
            "--no-metrics", "--drain", "--batch-size", "2", "--table-format", "iceberg"]
    return subprocess.Popen(argv, cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def test_sigkill_at_random_moments_then_a_full_run_leaves_every_good_record_in_the_table_once(tmp_path, db_url,
                                                                                             db_conn):
    store = LocalStore(tmp_path)
    expected = generate_sample(store, files=6, records_per_file=6,
                               include_bad_inputs=["malformed-line-among-good.jsonl"])
    run_lister(store, db_conn)
    moments = random.Random(SEED)
    for _ in range(KILLS):
        child = process(tmp_path, db_url)
        time.sleep(moments.uniform(4, 30))
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
    final = process(tmp_path, db_url)
    _out, err = final.communicate(timeout=900)
    assert final.returncode == 0, err[-3000:]
    assert_in_table_exactly_once(tmp_path, db_conn, db_url, expected)
