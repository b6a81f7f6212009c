"""An older version's batch never commits to the Iceberg table after a newer version's batch of the same key (the
retraction deletes only ``source_version`` lower than the batch's own).

* **The claim rule prevents it.** A key has one tracking row: its new version is registered only while the row is
  not PROCESSING (the lister defers it) and claimed only from PENDING/FAILED, so two versions of one key are never
  in two open batches; a batch's Iceberg commit comes before its tracking commit, which is what frees the row.
* **A run that lost its batch never commits it.** The lease is renewed under the table's advisory lock just before
  the Iceberg commit (:meth:`runtime.jobs.batch.BatchProtocol.commit_table`): a run whose batch an operator forced
  away (``mldp recover --force``) or another run took over stops there, and a newer version's commit, which waits
  for that lock, lands after any commit that passed the check (its retraction then deletes the older rows).
"""

from __future__ import annotations

import uuid

import pytest

from runtime.db.records import FileOutcome
from runtime.db.states import BatchState, FileState
from runtime.db.tracking import LeaseLost, TrackingStore
from runtime.jobs import publish as pub
from runtime.jobs.archive import Archiver
from runtime.jobs.batch import BatchProtocol
from runtime.jobs.lister import run_lister
from runtime.jobs.retry import RetryPolicy
from runtime.jobs.settings import ProcessorSettings
from runtime.storage.local import LocalStore
from runtime.transforms.spec import load_spec
from tests.support.iceberg import iceberg_table, write_file
from tests.support.pipeline import LAYOUT

KEY = "raw-json-data/all_historical_files/a.json"


def test_two_versions_of_one_key_are_never_in_two_open_batches(tmp_path, db_conn):
    store = LocalStore(tmp_path)
    tracking = TrackingStore(db_conn)
    store.put_bytes(KEY, b'{"id": "1"}\n')
    run_lister(store, db_conn)
    (first,) = tracking.claim(str(uuid.uuid4()), "run-a", 10, 600)
    store.put_bytes(KEY, b'{"id": "1-new"}\n')  # a new version while the first is in an open batch
    assert run_lister(store, db_conn).as_dict()["changed"] == 0  # deferred: its row is PROCESSING
    assert tracking.claim(str(uuid.uuid4()), "run-b", 10, 600) == []  # the same key is not claimable again
    tracking.record_outcomes(first_batch(db_conn), "run-a",
                             [FileOutcome(first.file_id, KEY, FileState.SUCCEEDED, records_good=1, records_bad=0)],
                             BatchState.COMMITTED, RetryPolicy())  # the batch's tracking commit (after its table's)
    assert run_lister(store, db_conn).as_dict()["changed"] == 1
    (second,) = tracking.claim(str(uuid.uuid4()), "run-b", 10, 600)
    assert (second.key, second.version) == (KEY, first.version + 1)


def first_batch(conn) -> str:
    with conn.cursor() as cur:
        cur.execute("SELECT batch_id::text FROM processing_batches WHERE state = 'CLAIMED'")
        (batch_id,) = cur.fetchone()
    conn.commit()
    return batch_id


def protocol(store, conn, db_url, job_run_id: str) -> BatchProtocol:
    tracking = TrackingStore(conn)
    return BatchProtocol(store, tracking, lambda: None, load_spec(None), ProcessorSettings(job_run_id=job_run_id),
                         LAYOUT, Archiver(store, tracking, LAYOUT, 1), table=iceberg_table(store, db_url))


@pytest.mark.parametrize("forced_away", [False, True])
def test_a_run_whose_batch_was_forced_away_never_commits_it_to_the_table(forced_away, tmp_path, db_conn, db_url):
    store = LocalStore(tmp_path)
    store.put_bytes(KEY, b'{"id": "1"}\n')
    run_lister(store, db_conn)
    batch_id = str(uuid.uuid4())
    (claimed,) = TrackingStore(db_conn).claim(batch_id, "run-a", 10, 600)
    table = iceberg_table(store, db_url)
    write_file(store, "staging/x/part.parquet", f"{tmp_path}/{KEY}", 1, ["1"])
    prefix = table.data_key_prefix(store, "staging/x/part.parquet")  # the table exists, as after a manifest
    final = f"{prefix}year=2024/month=1/day=5/mode=train/batch-{batch_id}-0000.snappy.parquet"
    store.copy("staging/x/part.parquet", final)
    if forced_away:  # mldp recover --force: the batch closed ABANDONED, its file claimable again
        TrackingStore(db_conn).release(batch_id, "run-a", "forced by the operator", RetryPolicy())
    running = protocol(store, db_conn, db_url, "run-a")
    running.table = table
    outcome = FileOutcome(claimed.file_id, KEY, FileState.SUCCEEDED, records_good=1, records_bad=0)
    manifest = pub.Manifest(batch_id, [outcome], [pub.PublishEntry("staging/x/part.parquet", final, 1)],
                            ["year=2024/month=1/day=5/mode=train"])
    if forced_away:
        with pytest.raises(LeaseLost):
            running.commit_table(manifest)
        assert table.load().current_snapshot() is None  # nothing committed
    else:
        assert running.commit_table(manifest) is not None
        assert table.counts.committed == 1
