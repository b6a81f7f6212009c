"""The schema policies through the real pipeline (issue 20): ``fail`` stops a file that brings new fields (FAILED,
uncharged, held until ``mldp requeue`` after the spec changed), ``rescue`` and ``ignore`` convert it; every policy
counts the records with rescued data per file and per batch, records the spec version and the drift evidence."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest

from runtime.jobs.lister import run_lister
from runtime.jobs.processor import BatchProcessor, ProcessorSettings
from runtime.operator.requeue import Selection, requeue
from runtime.storage.local import LocalStore
from runtime.transforms.spec import TransformSpec, spec_from_dict
from tests.support.pipeline import LAYOUT, curated_rows

pytestmark = pytest.mark.spark
FOLDER = "raw-json-data/2024/week03/"


def spec_with(**changes: Any) -> TransformSpec:
    data = json.loads(resources.files("runtime.transforms").joinpath("default_spec.json").read_text("utf-8"))
    return spec_from_dict({**data, **changes})


def record(record_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": record_id, "DATE": "2024-01-15", "MODE": "train", "some_nested_struct": {"field1": "v"},
            "some_list_of_structs": [], **extra}


def setup(tmp_path, db_conn) -> LocalStore:
    store = LocalStore(tmp_path)
    store.put_bytes(FOLDER + "drift.jsonl", "".join(json.dumps(item) + "\n" for item in [
        record("d1", device="cam-2"), {**record("d2"), "some_nested_struct": {"field1": "v", "field9": 9}},
        record("d3")]).encode())
    store.put_bytes(FOLDER + "clean.jsonl", (json.dumps(record("c1")) + "\n").encode())
    run_lister(store, db_conn, show_progress=False)
    return store


def drain(store, db_conn, spark, spec: TransformSpec) -> None:
    BatchProcessor(store, db_conn, lambda: spark, spec, ProcessorSettings(batch_size=10), LAYOUT).drain()


def files(db_conn) -> dict[str, tuple]:
    with db_conn.cursor() as cur:
        cur.execute("SELECT s3_key, processing_status, retry_count, error_message, records_rescued, spec_version, "
                    "next_attempt_at > now() + interval '1 year' FROM file_processing_status")
        return {row[0].rsplit("/", 1)[1]: row[1:] for row in cur.fetchall()}


def test_fail_stops_the_file_with_new_fields_uncharged_until_requeued_after_the_spec_changed(spark, tmp_path, db_conn):
    store = setup(tmp_path, db_conn)
    failing = spec_with(schema_policy="fail")
    drain(store, db_conn, spark, failing)
    state = files(db_conn)
    assert state["clean.jsonl"][0] == "SUCCEEDED"
    status, attempts, error, _, version, held = state["drift.jsonl"]
    assert (status, attempts, held, version) == ("FAILED", 0, True, failing.content_hash)
    assert error.startswith(f"schema changed: new fields device, some_nested_struct.field9 (spec version "
                            f"{failing.content_hash})")
    assert {row[0] for row in curated_rows(tmp_path)} == {"c1"}
    drain(store, db_conn, spark, failing)  # held: not claimed again, not quarantined
    assert files(db_conn)["drift.jsonl"][:2] == ("FAILED", 0)
    rescuing = spec_with(schema_policy="rescue")
    assert requeue(db_conn, Selection(error_contains="schema changed"), "spec now rescues").count == 1
    drain(store, db_conn, spark, rescuing)
    status, _, _, rescued, version, _ = files(db_conn)["drift.jsonl"]
    assert (status, rescued, version) == ("SUCCEEDED", 2, rescuing.content_hash)
    assert {row[0] for row in curated_rows(tmp_path)} == {"c1", "d1", "d2", "d3"}
    with db_conn.cursor() as cur:
        cur.execute("SELECT spec_version, records_rescued FROM processing_batches WHERE state = 'COMMITTED' "
                    "ORDER BY claimed_at")
        assert cur.fetchall()[-1] == (rescuing.content_hash, 2)
        cur.execute("SELECT path, kind, json_type, sum(records) FROM rescued_field_sightings "
                    "GROUP BY path, kind, json_type ORDER BY path")
        assert cur.fetchall() == [("device", "unknown", "string", 2), ("some_nested_struct.field9", "unknown",
                                                                        "integer", 2)]


def test_ignore_converts_and_counts(spark, tmp_path, db_conn):
    store = setup(tmp_path, db_conn)
    drain(store, db_conn, spark, spec_with(schema_policy="ignore"))
    state = files(db_conn)
    assert state["drift.jsonl"][0] == "SUCCEEDED" and state["drift.jsonl"][3] == 2
    assert state["clean.jsonl"][3] == 0


def test_fail_holds_a_file_it_could_not_check_with_a_message_that_says_what_to_do(spark, tmp_path, db_conn,
                                                                                 monkeypatch):
    """The fallback parse with comments allowed: a ``:`` inside a comment sends the record to Python, which cannot read
    comments. Its fields were not checked, so ``fail`` holds the file, uncharged, with a message naming what to do (not
    "new fields $", which no spec change could answer); after ``mldp requeue`` with ``rescue`` it converts."""
    from runtime.spark import native_json

    monkeypatch.setenv(native_json.SWITCH, "off")
    store = LocalStore(tmp_path)
    store.put_bytes(FOLDER + "commented.jsonl",
                    b'{"id": "k1", "DATE": "2024-01-15", "MODE": "train" /* see http://example.org */}\n')
    run_lister(store, db_conn, show_progress=False)
    failing = spec_with(schema_policy="fail", json={"allow": ["comments"]})
    drain(store, db_conn, spark, failing)
    status, attempts, error, _, _, held = files(db_conn)["commented.jsonl"]
    assert (status, attempts, held) == ("FAILED", 0, True)
    assert error.startswith("schema unchecked: 1 record(s)") and "schema_policy: rescue" in error, error
    assert "new fields $" not in error
    assert requeue(db_conn, Selection(error_contains="schema unchecked"), "rescue instead").count == 1
    drain(store, db_conn, spark, spec_with(schema_policy="rescue", json={"allow": ["comments"]}))
    assert files(db_conn)["commented.jsonl"][0] == "SUCCEEDED"
    assert {row[0] for row in curated_rows(tmp_path)} == {"k1"}
