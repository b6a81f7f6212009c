"""The Iceberg commit re-checks, under the table's lock, that the batch is still this run's.

Defect (review-s3): the lease was checked before publishing only; a run whose batch was taken over after its
publish (``mldp recover --force``, its lease expired while it waited for the lock) still committed the batch to the
table, racing its new owner. :meth:`runtime.jobs.batch.BatchProtocol.commit_table` now renews the lease under the
advisory lock (:class:`LeaseLost` otherwise) before the commit."""

from __future__ import annotations

import psycopg2
import pytest

from runtime.db.tracking import LeaseLost
from runtime.jobs.lister import run_lister
from runtime.operator.recover import recover
from runtime.sample_data import generate_sample
from runtime.storage.local import LocalStore
from tests.support.iceberg import iceberg_processor, iceberg_table, rows_per_source, table_rows
from tests.support.pipeline import states

pytestmark = pytest.mark.spark


def test_a_run_whose_batch_was_taken_over_after_its_publish_does_not_commit_it(tmp_path, db_conn, db_url, spark):
    store = LocalStore(tmp_path)
    expected = generate_sample(store, files=2, records_per_file=5, include_bad_inputs=False)
    run_lister(store, db_conn)
    other_conn = psycopg2.connect(db_url)

    def meanwhile(name: str) -> None:
        if name == "after_publish":  # an operator forces the batch away from this live run
            with other_conn.cursor() as cur:
                cur.execute("SELECT batch_id::text FROM processing_batches")
                (batch_id,) = cur.fetchone()
            other_conn.commit()
            assert recover(other_conn, batch_id, "host looks lost", force=True).forced

    with pytest.raises(LeaseLost):
        iceberg_processor(store, db_conn, spark, db_url, batch_size=100, checkpoint=meanwhile).run_once()
    assert table_rows(iceberg_table(store, db_url)) == []
    iceberg_processor(store, other_conn, spark, db_url).drain()  # the batch's new owner commits it, once
    other_conn.close()
    assert set(states(db_conn).values()) == {"SUCCEEDED"}
    good = {k: v for k, v in expected.good_by_file.items() if v}
    assert dict(rows_per_source(table_rows(iceberg_table(store, db_url)), tmp_path)) == good
