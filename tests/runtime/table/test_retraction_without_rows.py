"""A new version of a key that yields no good row still retracts the earlier version's rows.

Defect (review-s3): the retraction was part of the commit only of a batch where the new version SUCCEEDED; a
re-upload that is QUARANTINED (emptied, truncated, every record now malformed) left the rows of the version it
replaced in the table for good, although they describe content that is no longer the key's.
:meth:`runtime.jobs.batch.BatchProtocol.commit_table` now retracts for every new version that reaches a final
outcome in its batch (SUCCEEDED or QUARANTINED)."""

from __future__ import annotations

import pytest

from runtime.jobs.lister import run_lister
from runtime.sample_data import generate_sample
from runtime.storage.local import LocalStore
from tests.support.iceberg import iceberg_processor, iceberg_table, table_rows
from tests.support.pipeline import states

pytestmark = pytest.mark.spark


def test_a_new_version_with_no_good_record_still_retracts_the_earlier_versions_rows(tmp_path, db_conn, db_url,
                                                                                      spark):
    store = LocalStore(tmp_path)
    expected = generate_sample(store, files=2, records_per_file=5, include_bad_inputs=False)
    key = sorted(expected.files)[0]
    run_lister(store, db_conn)
    iceberg_processor(store, db_conn, spark, db_url).drain()
    store.put_bytes(key, b'{"id": "v2-1", "DATE": "not a date", "MODE": "train"\n')  # re-uploaded, now broken
    assert run_lister(store, db_conn).as_dict()["changed"] == 1
    iceberg_processor(store, db_conn, spark, db_url).drain()
    assert states(db_conn)[key] == "QUARANTINED"
    source = f"{tmp_path}/{key}"
    left = [r for r in table_rows(iceberg_table(store, db_url)) if r[1] == source]
    assert left == [], f"rows of the replaced version 1 are still in the table: {left}"
