"""``mldp schema drift`` over a generated week of data in which two new fields appear (issue 20): the evidence goes
through the store's real write path (the outcomes of a batch per day), the report groups it per field."""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid
from collections import Counter

from runtime.db.records import FileOutcome
from runtime.db.states import BatchState, FileState
from runtime.db.tracking import TrackingStore
from runtime.jobs.retry import RetryPolicy
from runtime.operator.drift import build_drift, render_drift, suggested_entry
from runtime.transforms.rescue import rescued_fields, sightings
from runtime.transforms.spec import load_spec

MONDAY = dt.datetime(2024, 3, 4, 12, tzinfo=dt.UTC)


def day_of_records(rng: random.Random, day: int) -> list[dict]:
    """A day's records: ``device`` appears on Wednesday (day 2) in half the records, ``some_nested_struct.field9``
    on Friday (day 4) in every record."""
    records = []
    for index in range(40):
        item = {"id": f"{day}-{index}", "DATE": "2024-03-04", "MODE": "train", "some_nested_struct": {"field1": "v"}}
        if day >= 2 and index % 2 == 0:
            item["device"] = rng.choice(["cam-1", "cam-2"])
        if day >= 4:
            item["some_nested_struct"]["field9"] = rng.randrange(100)
        records.append(item)
    return records


def evidence(records: list[dict], schema) -> tuple:
    """What Spark's aggregation gives for one file: (path, kind, type, records, example) per path and type."""
    counted: Counter = Counter()
    examples: dict = {}
    for item in records:
        fields = rescued_fields(item, schema)
        for path, kind, json_type, example in sightings(json.dumps(fields) if fields else None, schema):
            counted[(path, kind, json_type)] += 1
            examples[(path, kind, json_type)] = min(examples.get((path, kind, json_type), example), example)
    return tuple(sorted((*key, count, examples[key]) for key, count in counted.items()))


def test_a_week_with_two_new_fields(db_conn):
    spec, rng, store = load_spec(None), random.Random(3), TrackingStore(db_conn)
    for day in range(7):
        with db_conn.cursor() as cur:
            cur.execute("INSERT INTO file_processing_status (s3_key) VALUES (%s), (%s)",
                        (f"raw-json-data/2024/week10/day{day}-a.jsonl", f"raw-json-data/2024/week10/day{day}-b.jsonl"))
        db_conn.commit()
        batch = str(uuid.uuid4())
        claimed = store.claim(batch, "run", 10, 600)
        outcomes, schema = [], spec.source_schema()
        for file in claimed:
            records = day_of_records(rng, day)
            outcomes.append(FileOutcome(file.file_id, file.key, FileState.SUCCEEDED, records_good=len(records),
                                        records_bad=0, spec_version=spec.content_hash,
                                        records_rescued=sum(1 for r in records if rescued_fields(r, schema)),
                                        rescued_fields=evidence(records, schema) or None))
        store.record_outcomes(batch, "run", outcomes, BatchState.COMMITTED, RetryPolicy())
        with db_conn.cursor() as cur:
            cur.execute("UPDATE rescued_field_sightings SET seen_at = %s WHERE batch_id = %s",
                        (MONDAY + dt.timedelta(days=day), batch))
        db_conn.commit()
    report = build_drift(db_conn)
    fields = {item["path"]: item for item in report["fields"]}
    assert list(fields) == ["some_nested_struct.field9", "device"]  # most records first
    device, field9 = fields["device"], fields["some_nested_struct.field9"]
    assert (device["records"], device["files"]) == (5 * 2 * 20, 10)
    assert (device["first_seen"], device["last_seen"]) == (MONDAY + dt.timedelta(days=2), MONDAY + dt.timedelta(6))
    assert list(device["types"]) == ["string"] and set(device["types"]["string"]["examples"]) <= {"cam-1", "cam-2"}
    assert (field9["records"], field9["files"], list(field9["types"])) == (3 * 2 * 40, 6, ["integer"])
    assert field9["suggested_entry"] == {"name": "some_nested_struct_field9", "source": "some_nested_struct.field9",
                                         "type": "bigint"}
    assert device["spec_versions"] == [spec.content_hash]
    since = build_drift(db_conn, since=MONDAY + dt.timedelta(days=5))
    assert {item["path"]: item["records"] for item in since["fields"]} == {"device": 2 * 2 * 20,
                                                                            "some_nested_struct.field9": 2 * 2 * 40}
    text = render_drift(report)
    assert 'device  (unknown field): 200 records in 10 files, first seen 2024-03-06 12:00' in text
    assert 'suggested spec column: {"name": "device", "source": "device", "type": "string"}' in text


def test_no_drift_says_so(db_conn):
    assert render_drift(build_drift(db_conn)) == "No drift: every field of every record was read by the spec."


def test_suggested_entries_for_lists_odd_names_and_mixed_types():
    assert "element type" in suggested_entry("some_list_of_structs[].tag", ["string"])
    assert "not a dotted path" in suggested_entry('["x.y"]', ["string"])
    assert suggested_entry("score", ["integer", "number"])["type"] == "double"
    assert suggested_entry("blob", ["object", "string"])["type"] == "string"


def test_a_long_example_is_shown_cut():
    from runtime.operator.drift import _example

    assert _example('"' + "x" * 199) == '"' + "x" * 199 + "..."
    assert _example('{"a": 1}') == {"a": 1}


def test_an_example_number_is_shown_and_given_as_the_record_held_it(db_conn, capsys):
    """The stored example is the record's own text (``1e400``, 23 significant digits): the report shows it so, in
    the text and in ``--json``, never through a float (``Infinity``, 17 digits)."""
    from runtime.commands.common import emit

    store = TrackingStore(db_conn)
    with db_conn.cursor() as cur:
        cur.execute("INSERT INTO file_processing_status (s3_key) VALUES ('raw-json-data/big.jsonl')")
    db_conn.commit()
    batch = str(uuid.uuid4())
    (file,) = store.claim(batch, "run", 10, 600)
    found = (("huge", "unknown", "number", 1, "1e400"), ("precise", "unknown", "number", 1, "1.2345678901234567890123"))
    store.record_outcomes(batch, "run", [FileOutcome(file.file_id, file.key, FileState.SUCCEEDED, records_good=1,
                                                     records_bad=0, records_rescued=1, rescued_fields=found)],
                          BatchState.COMMITTED, RetryPolicy())
    report = build_drift(db_conn)
    text = render_drift(report)
    assert "number: 1 records, e.g. 1e400" in text and "e.g. 1.2345678901234567890123" in text
    emit(report, True, render_drift)
    printed = capsys.readouterr().out
    assert '"examples": [1e400]' in printed and '"examples": [1.2345678901234567890123]' in printed
