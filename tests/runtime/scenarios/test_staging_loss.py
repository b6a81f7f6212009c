"""Recovery never abandons a batch whose rows may already be published (case 5 of "Data safety, second round"):
a batch records, fenced, that it starts to publish (and into which partitions) before its first object is
published; when its staging is then lost (deleted by hand, or expired by the lifecycle rule of an earlier version
of the bucket), recovery retracts every object it may have published and gives its files back uncharged, instead
of abandoning it (its files used to be converted again beside their published rows). No Spark: the staging is
made by hand, as a conversion leaves it."""

from __future__ import annotations

import uuid

import pytest

from runtime.db.records import FileOutcome
from runtime.db.states import FileState
from runtime.db.tracking import TrackingStore
from runtime.jobs import publish as pub
from runtime.jobs.owner import current_owner
from runtime.layout import Layout
from runtime.storage.local import LocalStore
from tests.support.leases import dead_owner, files, one, processor, register

LAYOUT = Layout()
PARTITIONS = ["year=2024/month=1/day=1/mode=train", "year=2024/month=1/day=2/mode=test"]


def staged_batch(store: LocalStore, conn, keys: list[str]) -> pub.Manifest:
    """A dead run's batch of ``keys`` with its staging complete: two curated Parquet files, one dead-letter file,
    and the manifest (as :meth:`runtime.jobs.batch.BatchProtocol.write_manifest` writes it)."""
    owner = dead_owner("crashed-run")
    batch_id = str(uuid.uuid4())
    claimed = TrackingStore(conn, owner).claim(batch_id, owner.job_run_id, 100, 3600)
    root = pub.curated_staging(LAYOUT, batch_id)
    for index, partition in enumerate(PARTITIONS):
        store.put_bytes(f"{root}{partition}/part-{index}.parquet", b"PAR1 rows PAR1")
    first = claimed[0].file_id
    store.put_bytes(f"{pub.dead_letter_staging(LAYOUT, batch_id)}file_id={first}/part-0.json", b'{"bad": 1}\n')
    plan = pub.plan_publish(store, LAYOUT, batch_id)
    outcomes = [FileOutcome(f.file_id, f.key, FileState.SUCCEEDED, None, 1, 0, plan.dead_letters.get(f.file_id), 10,
                            "e", f.version) for f in claimed]
    manifest = pub.Manifest(batch_id, outcomes, plan.entries, plan.partitions)
    pub.write_manifest(store, LAYOUT, manifest)
    return manifest


def crash_mid_publish(store: LocalStore, conn, manifest: pub.Manifest) -> None:
    """The dead run's last acts: it recorded that it publishes, then published the first curated object."""
    TrackingStore(conn).begin_publish(manifest.batch_id, "crashed-run", 3600, manifest.partitions)
    first = manifest.publish_plan[0]
    store.copy(first.staged, first.final)


def published(store: LocalStore) -> list[str]:
    return [o.key for o in store.list(LAYOUT.curated_prefix)] + [o.key for o in store.list(LAYOUT.dead_letter_prefix)]


def test_the_batch_records_that_it_publishes_and_into_which_partitions_before_publishing(tmp_path, db_conn):
    store = LocalStore(tmp_path)
    register(db_conn, "a.json")
    manifest = staged_batch(store, db_conn, ["a.json"])
    tracking = TrackingStore(db_conn)
    assert tracking.publish_marker(manifest.batch_id) == (False, [])
    crash_mid_publish(store, db_conn, manifest)
    assert tracking.publish_marker(manifest.batch_id) == (True, PARTITIONS)


def test_a_batch_whose_whole_staging_is_gone_after_it_started_to_publish_is_retracted(tmp_path, db_conn):
    store = LocalStore(tmp_path)
    keys = register(db_conn, "a.json", "b.json")
    manifest = staged_batch(store, db_conn, keys)
    crash_mid_publish(store, db_conn, manifest)
    store.put_bytes(LAYOUT.curated_prefix + PARTITIONS[1] + "/batch-another-0000.snappy.parquet", b"not ours")
    assert len(published(store)) == 2
    pub.clean_staging(store, LAYOUT, manifest.batch_id)  # what the old ExpireStaging rule did, manifest and all

    reports = processor(store, db_conn).recover_expired()

    assert [(r.batch_id, r.abandoned, r.files) for r in reports] == [(manifest.batch_id, True, {"PENDING": 2})]
    assert published(store) == [LAYOUT.curated_prefix + PARTITIONS[1] + "/batch-another-0000.snappy.parquet"]
    assert files(db_conn) == {keys[0]: ("PENDING", 0, True), keys[1]: ("PENDING", 0, True)}  # uncharged
    state, error = one(db_conn, "SELECT state, error_message FROM processing_batches")
    assert state == "ABANDONED" and error.startswith("batch retracted: its manifest is gone; 1 published objects")


def test_a_batch_whose_staged_objects_are_gone_is_retracted_instead_of_half_rolled_forward(tmp_path, db_conn):
    store = LocalStore(tmp_path)
    keys = register(db_conn, "a.json", "b.json")
    manifest = staged_batch(store, db_conn, keys)
    crash_mid_publish(store, db_conn, manifest)
    for entry in manifest.publish_plan[1:]:  # the staged objects not yet published are gone, the manifest is not
        store.delete(entry.staged)

    reports = processor(store, db_conn).recover_expired()

    assert [(r.abandoned, r.files) for r in reports] == [(True, {"PENDING": 2})]
    assert published(store) == [] and not list(store.list(LAYOUT.staging_prefix))
    assert {state for state, *_ in files(db_conn).values()} == {"PENDING"}


def test_a_batch_that_never_started_to_publish_is_abandoned_as_before(tmp_path, db_conn):
    store = LocalStore(tmp_path)
    keys = register(db_conn, "a.json", "b.json")
    manifest = staged_batch(store, db_conn, keys)
    pub.clean_staging(store, LAYOUT, manifest.batch_id)
    (report,) = processor(store, db_conn).recover_expired()
    assert report.abandoned and published(store) == []
    assert one(db_conn, "SELECT error_message FROM processing_batches")[0].startswith("batch abandoned")


def test_a_batch_with_its_staging_is_rolled_forward_whatever_it_published(tmp_path, db_conn):
    store = LocalStore(tmp_path)
    keys = register(db_conn, "a.json", "b.json")
    manifest = staged_batch(store, db_conn, keys)
    crash_mid_publish(store, db_conn, manifest)
    (report,) = processor(store, db_conn).recover_expired()
    assert report.recovered and not report.abandoned and report.files == {"SUCCEEDED": 2}
    assert sorted(published(store)) == sorted(e.final for e in manifest.publish_plan)


def test_begin_publish_is_fenced(db_conn):
    register(db_conn, "a.json")
    owner = current_owner("run-1")
    batch_id = str(uuid.uuid4())
    TrackingStore(db_conn, owner).claim(batch_id, "run-1", 10, 3600)
    from runtime.db.tracking import LeaseLost

    with pytest.raises(LeaseLost):
        TrackingStore(db_conn).begin_publish(batch_id, "another-run", 3600, PARTITIONS)
    assert TrackingStore(db_conn).publish_marker(batch_id) == (False, [])

