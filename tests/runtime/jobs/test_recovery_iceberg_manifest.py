"""A batch staged for an Iceberg table is committed to it by whichever run rolls it forward.

Defect (review-s3): a batch published for the Iceberg table could be rolled forward by a run that did not know the
table (``mldp recover BATCH --store``, which has no table options; a plain ``mldp process``; a format change while
the batch was open): its files were copied into the table's data location but never committed, yet every file was
recorded SUCCEEDED and archived, so its rows were lost to every reader. The manifest now names the table
(:func:`runtime.table.catalog.manifest_record`) and :meth:`runtime.jobs.batch.BatchProtocol.table_for` opens it."""

from __future__ import annotations

import pytest

from runtime.jobs import publish as pub
from runtime.jobs.lister import run_lister
from runtime.operator.recover import recover
from runtime.sample_data import generate_sample
from runtime.storage.local import LocalStore
from tests.support.iceberg import iceberg_processor, iceberg_table, rows_per_source, table_rows
from tests.support.pipeline import LAYOUT, SimulatedCrash, crash_at, processor, states

pytestmark = pytest.mark.spark


def _open_batch(conn) -> str:
    with conn.cursor() as cur:
        cur.execute("SELECT batch_id::text FROM processing_batches WHERE state = 'CLAIMED'")
        [(batch_id,)] = cur.fetchall()
    conn.commit()
    return batch_id


@pytest.mark.parametrize("recovered_by", ["mldp recover --store", "mldp process (parquet)"])
def test_an_iceberg_batch_recovered_by_a_run_without_the_table_still_reaches_the_table(recovered_by, tmp_path,
                                                                                       db_conn, db_url, spark):
    store = LocalStore(tmp_path)
    expected = generate_sample(store, files=2, records_per_file=6, include_bad_inputs=False)
    run_lister(store, db_conn)
    with pytest.raises(SimulatedCrash):  # killed right after its manifest
        iceberg_processor(store, db_conn, spark, db_url, batch_size=100,
                          checkpoint=crash_at("after_completion_marker")).run_once()
    batch_id = _open_batch(db_conn)
    manifest = pub.read_manifest(store, LAYOUT, batch_id)
    assert manifest is not None and manifest.table is not None
    assert manifest.table["catalog"] == "sql" and "postgres" not in str(manifest.table)  # no database URL
    if recovered_by == "mldp recover --store":
        result = recover(db_conn, batch_id, "review", actor="reviewer", store=store, layout=LAYOUT)
        assert result.action == "rolled forward", result
    else:
        processor(store, db_conn, spark).drain()
    assert set(states(db_conn).values()) == {"SUCCEEDED"}
    rows = table_rows(iceberg_table(store, db_url))
    good = {k: v for k, v in expected.good_by_file.items() if v}
    assert dict(rows_per_source(rows, tmp_path)) == good, "the batch never reached the Iceberg table"


def test_a_manifest_without_a_table_reads_back_as_parquet():
    """Backwards compatible: a manifest written before the table was recorded has none (a Parquet batch)."""
    legacy = b'{"batch_id": "b", "outcomes": [], "publish_plan": [], "partitions": []}'
    manifest = pub.Manifest.from_json(legacy)
    assert manifest.table is None
    assert b'"table"' not in manifest.to_json()
