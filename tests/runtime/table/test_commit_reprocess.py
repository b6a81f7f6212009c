"""``mldp reprocess`` with the Iceberg table format (real PostgreSQL, local Spark, local store): SUCCEEDED files are
converted again with a changed spec from their archived copies, and each file's old rows are replaced by its new
ones in the batch's one commit, exactly once, with or without a crash between the Iceberg commit and the tracking
commit; the archived copies are read, never archived again nor deleted; the history records each reprocess."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from platform_contract.table import BATCH_ID_PROPERTY
from runtime.jobs.lister import run_lister
from runtime.operator.reprocess import ReprocessSelection, plan_reprocess, requeue_for_reprocess
from runtime.sample_data import generate_sample
from runtime.storage.local import LocalStore
from runtime.transforms.spec import load_spec, spec_from_dict
from tests.support.iceberg import iceberg_processor, iceberg_table
from tests.support.pipeline import LAYOUT, SimulatedCrash, crash_at, states

pytestmark = pytest.mark.spark
DEFAULT_SPEC = Path(__file__).resolve().parents[3] / "runtime" / "transforms" / "default_spec.json"


def spec_with_device():
    """The default spec plus a ``device`` column (a field the sample's producers add to one record in ten)."""
    document = json.loads(DEFAULT_SPEC.read_text())
    document["columns"].append({"name": "device", "source": "device", "type": "string"})
    return spec_from_dict(document)


def table_arrow(store, db_url):
    loaded = iceberg_table(store, db_url).load()
    return loaded, loaded.scan().to_arrow()


def files_on_disk(root: Path, prefix: str) -> dict[str, bytes]:
    base = root / prefix
    return {str(p.relative_to(root)): p.read_bytes() for p in base.rglob("*") if p.is_file()} if base.exists() else {}


@pytest.mark.parametrize("crash", [None, "after_table_commit"])
def test_reprocess_replaces_each_files_rows_with_the_new_specs_exactly_once(crash, tmp_path, db_conn, db_url, spark):
    store = LocalStore(tmp_path)
    expected = generate_sample(store, files=2, records_per_file=12, include_bad_inputs=False)
    run_lister(store, db_conn)
    iceberg_processor(store, db_conn, spark, db_url).drain()
    _, before = table_arrow(store, db_url)
    assert "device" not in before.schema.names
    archived = files_on_disk(tmp_path, LAYOUT.processed_prefix)
    assert len(archived) == 2 and not files_on_disk(tmp_path, LAYOUT.raw_prefix)

    plan = plan_reprocess(db_conn, ReprocessSelection(spec_version=load_spec(None).content_hash), store)
    assert len(plan.ready) == 2 and not plan.missing_archive
    assert requeue_for_reprocess(db_conn, plan, "iceberg", "spec v2 reads device", actor="alice") == 2
    assert set(states(db_conn).values()) == {"PENDING"}
    v2 = spec_with_device()
    if crash is not None:
        with pytest.raises(SimulatedCrash):
            iceberg_processor(store, db_conn, spark, db_url, spec=v2, checkpoint=crash_at(crash)).run_once()
    iceberg_processor(store, db_conn, spark, db_url, spec=v2).drain()

    table, after = table_arrow(store, db_url)
    ids = after["id"].to_pylist()
    assert sorted(ids) == sorted(before["id"].to_pylist()), "a record lost or in the table twice"
    assert len(ids) == len(set(ids)) == expected.good_records
    prefix = str(tmp_path).rstrip("/") + "/"
    assert Counter(p[len(prefix):] for p in after["source_s3_path"].to_pylist()) == Counter(expected.good_by_file)
    assert set(after["source_version"].to_pylist()) == {1}
    devices = [d for d in after["device"].to_pylist() if d is not None]
    assert devices and all(d.startswith("cam-") for d in devices)  # the new column, read from the archived copies
    assert states(db_conn) == dict.fromkeys(expected.files, "SUCCEEDED")
    # read from the archived copies, which stay as they were: nothing archived again, nothing back in the raw prefix
    assert files_on_disk(tmp_path, LAYOUT.processed_prefix) == archived
    assert not files_on_disk(tmp_path, LAYOUT.raw_prefix)
    # each batch appended once (a reprocess batch's delete is a second snapshot of the same catalog commit)
    appended = [s.summary.additional_properties.get(BATCH_ID_PROPERTY) for s in table.snapshots()
                if s.summary.operation.value == "append"]
    with db_conn.cursor() as cur:
        cur.execute("SELECT batch_id::text FROM processing_batches WHERE state = 'COMMITTED'")
        assert sorted(appended) == sorted(row[0] for row in cur.fetchall()), "a batch committed twice or never"
        cur.execute("SELECT DISTINCT spec_version, archived_key IS NOT NULL FROM file_processing_status")
        assert cur.fetchall() == [(v2.content_hash, True)]
        cur.execute("SELECT event, processing_status, actor, reason FROM file_processing_history "
                    "WHERE event = 'REPROCESS'")
        assert cur.fetchall() == [("REPROCESS", "SUCCEEDED", "alice", "spec v2 reads device")] * 2
    db_conn.commit()


def test_a_reprocessed_file_a_parquet_run_claims_is_held_uncharged_never_read(tmp_path, db_conn, db_url, spark):
    from runtime.jobs.batch import REPROCESS_NEEDS_ICEBERG
    from runtime.jobs.processor import BatchProcessor, ProcessorSettings

    store = LocalStore(tmp_path)
    generate_sample(store, files=1, records_per_file=4, include_bad_inputs=False)
    run_lister(store, db_conn)
    iceberg_processor(store, db_conn, spark, db_url).drain()
    plan = plan_reprocess(db_conn, ReprocessSelection(all_files=True), store)
    requeue_for_reprocess(db_conn, plan, "iceberg", "spec v2")
    BatchProcessor(store, db_conn, lambda: spark, load_spec(None), ProcessorSettings(), LAYOUT).drain()
    with db_conn.cursor() as cur:
        cur.execute("SELECT processing_status, retry_count, error_message, next_attempt_at > now() + interval '1 year'"
                    " FROM file_processing_status")
        assert cur.fetchall() == [("FAILED", 0, REPROCESS_NEEDS_ICEBERG, True)]
    db_conn.commit()
    assert not files_on_disk(tmp_path, LAYOUT.curated_prefix)
