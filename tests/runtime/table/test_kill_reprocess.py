"""A SIGKILL in the middle of ``mldp process --table-format iceberg`` converting reprocessed files (its own process,
killed with its process group at a seeded moment), then a run to the end: every file's rows are replaced exactly
once, from the archived copies, which stay as they were. One kill, few files: the crash at every checkpoint is
``test_commit_reprocess.py``'s and the matrix's; this one proves a real process death changes nothing."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from runtime.jobs.lister import run_lister
from runtime.operator.reprocess import ReprocessSelection, plan_reprocess, requeue_for_reprocess
from runtime.sample_data import generate_sample
from runtime.storage.local import LocalStore
from tests.runtime.table.test_commit_reprocess import DEFAULT_SPEC, files_on_disk, table_arrow
from tests.runtime.table.test_kill_chaos import PROJECT_ROOT
from tests.support.iceberg import iceberg_processor
from tests.support.pipeline import LAYOUT, states

pytestmark = pytest.mark.spark
SEED = 20


def test_a_sigkill_mid_reprocess_then_a_full_run_replaces_every_files_rows_once(tmp_path, db_url, db_conn, spark):
    (tmp_path / "bucket").mkdir()
    store = LocalStore(tmp_path / "bucket")
    expected = generate_sample(store, files=4, records_per_file=10, include_bad_inputs=False)
    run_lister(store, db_conn)
    iceberg_processor(store, db_conn, spark, db_url).drain()
    archived = files_on_disk(store.root, LAYOUT.processed_prefix)
    requeue_for_reprocess(db_conn, plan_reprocess(db_conn, ReprocessSelection(all_files=True), store), "iceberg",
                          "spec v2 reads device")
    document = json.loads(DEFAULT_SPEC.read_text())
    document["columns"].append({"name": "device", "source": "device", "type": "string"})
    spec_file = tmp_path / "spec-v2.json"
    spec_file.write_text(json.dumps(document))

    def reprocessing() -> subprocess.Popen:
        argv = [sys.executable, "-m", "runtime.cli", "process", "--store", str(store.root), "--db", db_url,
                "--no-metrics", "--drain", "--batch-size", "2", "--table-format", "iceberg",
                "--transform-spec", str(spec_file)]
        return subprocess.Popen(argv, cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)

    child = reprocessing()
    time.sleep(random.Random(SEED).uniform(10, 40))
    if child.poll() is None:
        os.killpg(child.pid, signal.SIGKILL)
    child.communicate()
    final = reprocessing()
    _out, err = final.communicate(timeout=900)
    assert final.returncode == 0, err[-3000:]

    _table, after = table_arrow(store, db_url)
    ids = after["id"].to_pylist()
    assert len(ids) == len(set(ids)) == expected.good_records, "a record lost or in the table twice"
    prefix = str(store.root).rstrip("/") + "/"
    assert Counter(p[len(prefix):] for p in after["source_s3_path"].to_pylist()) == Counter(expected.good_by_file)
    assert any(d is not None for d in after["device"].to_pylist())
    assert states(db_conn) == dict.fromkeys(expected.files, "SUCCEEDED")
    assert files_on_disk(store.root, LAYOUT.processed_prefix) == archived
