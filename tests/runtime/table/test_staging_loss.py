"""A batch whose staging is lost after it started to publish into the Iceberg table's data location: recovery
deletes the files it published there (never committed: no reader saw them) and gives its files back uncharged; a
batch the table already holds is refused (only its tracking commit is missing) and held for the operator. No
Spark: the staging is written as an Iceberg conversion leaves it."""

from __future__ import annotations

import contextlib
import uuid

from runtime.db.records import FileOutcome
from runtime.db.states import FileState
from runtime.db.tracking import TrackingStore
from runtime.jobs import publish as pub
from runtime.jobs.processor import BatchProcessor, ProcessorSettings
from runtime.layout import Layout
from runtime.storage.local import LocalStore
from runtime.table.commit import BatchFiles
from tests.support.iceberg import iceberg_table, table_rows, write_file
from tests.support.leases import dead_owner, files, no_spark, register

LAYOUT = Layout()


def staged_iceberg_batch(store, conn, table, keys):
    owner = dead_owner("crashed-run")
    batch_id = str(uuid.uuid4())
    claimed = TrackingStore(conn, owner).claim(batch_id, owner.job_run_id, 100, 3600)
    root = pub.curated_staging(LAYOUT, batch_id)
    for day in (1, 2):
        write_file(store, f"{root}mldp-part-year=2024/mldp-part-month=1/mldp-part-day={day}/mldp-part-mode=train/"
                          f"part-{day}.parquet", f"s3://b/{day}.jsonl", 1, [f"{day}"], day=day)
    prefix = table.data_key_prefix(store, pub.first_staged_curated(store, LAYOUT, batch_id))
    plan = pub.plan_publish(store, LAYOUT, batch_id, prefix)
    outcomes = [FileOutcome(f.file_id, f.key, FileState.SUCCEEDED, None, 1, 0, None, 10, "e", f.version)
                for f in claimed]
    manifest = pub.Manifest(batch_id, outcomes, plan.entries, plan.partitions)
    pub.write_manifest(store, LAYOUT, manifest)
    TrackingStore(conn).begin_publish(batch_id, "crashed-run", 3600, manifest.partitions)
    return manifest


def recovering(store, conn, table):
    return BatchProcessor(store, conn, no_spark, None, ProcessorSettings(), LAYOUT, table=table)  # type: ignore


def test_an_uncommitted_batch_whose_staging_is_gone_is_retracted_from_the_data_location(tmp_path, db_conn, db_url):
    store = LocalStore(tmp_path)
    keys = register(db_conn, "a.json", "b.json")
    table = iceberg_table(store, db_url)
    manifest = staged_iceberg_batch(store, db_conn, table, keys)
    assert manifest.partitions == ["year=2024/month=1/day=1/mode=train", "year=2024/month=1/day=2/mode=train"]
    first = manifest.publish_plan[0]
    assert "/json_parsed/data/year=2024/month=1/day=1/mode=train/batch-" in first.final
    store.copy(first.staged, first.final)  # the dead run published one file, then its staging was lost
    pub.clean_staging(store, LAYOUT, manifest.batch_id)
    reports = recovering(store, db_conn, table).recover_expired()
    assert [(r.batch_id, r.abandoned) for r in reports] == [(manifest.batch_id, True)]
    assert not store.exists(first.final) and table_rows(table) == []
    assert files(db_conn) == {keys[0]: ("PENDING", 0, True), keys[1]: ("PENDING", 0, True)}


def test_a_committed_batch_whose_staging_is_gone_is_refused_not_retracted(tmp_path, db_conn, db_url):
    store = LocalStore(tmp_path)
    keys = register(db_conn, "a.json")
    table = iceberg_table(store, db_url)
    manifest = staged_iceberg_batch(store, db_conn, table, keys)
    pub.publish(store, manifest)
    table.commit_batch(BatchFiles(manifest.batch_id, [store.spark_path(e.final) for e in manifest.publish_plan]),
                       contextlib.nullcontext)  # then the run died before its tracking commit
    pub.clean_staging(store, LAYOUT, manifest.batch_id)
    assert recovering(store, db_conn, table).recover_expired() == []  # the recovery failed: counted, not retracted
    assert len(table_rows(table)) == 2
    with db_conn.cursor() as cur:
        cur.execute("SELECT state, recovery_attempts, recovery_error FROM processing_batches WHERE batch_id = %s",
                    (manifest.batch_id,))
        state, failures, error = cur.fetchone()
    db_conn.commit()
    assert (state, failures) == ("CLAIMED", 1) and "BatchCommitted" in error
