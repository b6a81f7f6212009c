"""Schema evolution through the processor (real PostgreSQL, local Spark): a spec that retypes a column stops the run
before the batch's manifest with the refusal (exit status 3 from ``mldp process``), its files given back uncharged
and the table unchanged; with the spec put back, the next run commits them."""

from __future__ import annotations

import json

import pytest

from runtime.jobs.lister import run_lister
from runtime.storage.local import LocalStore
from runtime.table.evolution import TableSchemaRefused
from runtime.transforms.spec import spec_from_dict
from tests.runtime.table.test_commit_reprocess import DEFAULT_SPEC, table_arrow
from tests.support.iceberg import iceberg_processor

pytestmark = pytest.mark.spark


def raw(n: int) -> bytes:
    return b"".join(json.dumps({"id": f"r{n}-{i}", "DATE": "2024-01-05", "MODE": "train",
                                "some_nested_struct": {"field1": 40 + i}}).encode() + b"\n" for i in range(2))


def test_a_retyping_spec_stops_the_run_uncharged_and_the_table_is_unchanged(tmp_path, db_conn, db_url, spark):
    store = LocalStore(tmp_path)
    store.put_bytes("raw-json-data/2024/week01/a.jsonl", raw(1))
    run_lister(store, db_conn)
    iceberg_processor(store, db_conn, spark, db_url).drain()
    _, before = table_arrow(store, db_url)
    document = json.loads(DEFAULT_SPEC.read_text())
    next(c for c in document["columns"] if c["name"] == "nested_field1")["type"] = "bigint"
    store.put_bytes("raw-json-data/2024/week01/b.jsonl", raw(2))
    run_lister(store, db_conn)
    with pytest.raises(TableSchemaRefused, match=r"nested_field1.*mldp schema diff"):
        iceberg_processor(store, db_conn, spark, db_url, spec=spec_from_dict(document)).run_once()
    with db_conn.cursor() as cur:
        cur.execute("SELECT processing_status, retry_count FROM file_processing_status WHERE s3_key LIKE '%b.jsonl'")
        assert cur.fetchall() == [("PENDING", 0)]
    db_conn.commit()
    _, after = table_arrow(store, db_url)
    assert after.equals(before)
    iceberg_processor(store, db_conn, spark, db_url).drain()
    _, fixed = table_arrow(store, db_url)
    assert sorted(fixed["nested_field1"].to_pylist()) == ["40", "40", "41", "41"]
