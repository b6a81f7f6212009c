"""The ``_rescued_data`` column (issue 20): fields the spec does not read, at any depth, list elements of another
shape and (``on_type_mismatch: rescue``) values that do not fit their column are kept under their JSON paths; the
round trip over generated records; the records Python is asked about; the schema policies' output."""

from __future__ import annotations

import json
import random
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest
from pyspark.sql import functions as F

from runtime.jobs.conversion import schema_changed
from runtime.spark import native_json
from runtime.spark.convert import convert_batch
from runtime.spark.read import RAW_RECORD, SourceFile, read_batch
from runtime.spark.rescue import RESCUED, SIGHTINGS, may_rescue, with_rescue
from runtime.transforms import exact_json
from runtime.transforms.rescue import (
    apply_rescue,
    normalise,
    parse_record,
    rebuild_record,
    rescued_fields,
    sightings,
)
from runtime.transforms.spec import TransformSpec, load_spec, spec_from_dict
from tests.support.drifting_records import DEFAULT_SOURCES, drifting_record, lines

pytestmark = pytest.mark.spark


def spec_with(**changes: Any) -> TransformSpec:
    """The default spec with top-level keys changed."""
    data = json.loads(resources.files("runtime.transforms").joinpath("default_spec.json").read_text("utf-8"))
    return spec_from_dict({**data, **changes})


def run(spark, tmp_path: Path, body: bytes, spec: TransformSpec, layout: str = "lines"):
    tmp_path.mkdir(parents=True, exist_ok=True)
    raw = tmp_path / ("in.jsonl" if layout == "lines" else "in.json")
    raw.write_bytes(body)
    source = SourceFile(file_id=7, key="raw-json-data/in", spark_path=str(raw), lineage_path="s3://b/in",
                        json_layout=layout)
    curated, dead = tmp_path / "curated", tmp_path / "dead"
    result = convert_batch(spark, [source], spec, str(curated), str(dead))
    rows = ds.dataset(curated, format="parquet", partitioning="hive").to_table().to_pylist() if curated.exists() else []
    dead_rows = [json.loads(line) for file in sorted(dead.glob("file_id=*/*.json"))
                 for line in file.read_text("utf-8").splitlines()]
    return result.counts[7], {row["id"]: row for row in rows}, dead_rows


def good(record_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": record_id, "DATE": "2024-03-01", "MODE": "train", "some_nested_struct": {"field1": "v"},
            "some_list_of_structs": [{"name": "a", "value": 0.5}], **extra}


def test_new_top_level_and_nested_fields_and_other_list_elements_are_rescued(spark, tmp_path):
    body = lines([
        good("plain"),
        good("top", device="cam-2"),
        {**good("nested"), "some_nested_struct": {"field1": "v", "field9": {"deep": [1, 2]}}},
        {**good("list"), "some_list_of_structs": [{"name": "a", "value": 1}, {"name": "b", "value": 2},
                                                  {"k": 3, "tag": "a"}]},
    ])
    counts, rows, dead = run(spark, tmp_path, body, load_spec(None))
    assert dead == []
    assert rows["plain"]["_rescued_data"] is None
    assert json.loads(rows["top"]["_rescued_data"]) == {"device": "cam-2"}
    assert json.loads(rows["nested"]["_rescued_data"]) == {"some_nested_struct.field9": {"deep": [1, 2]}}
    assert json.loads(rows["list"]["_rescued_data"]) == {"some_list_of_structs[2].k": 3,
                                                         "some_list_of_structs[2].tag": "a"}
    assert rows["list"]["original_complex_list"][2] == {"name": None, "value": None}
    assert counts.records_rescued == 3
    assert counts.new_fields == ["device", "some_list_of_structs[].k", "some_list_of_structs[].tag",
                                 "some_nested_struct.field9"]
    kinds = {(path, kind, json_type, records) for path, kind, json_type, records, _ in counts.rescued_fields}
    assert ("device", "unknown", "string", 1) in kinds


def test_a_type_mismatch_is_dead_lettered_by_default_and_rescued_when_the_spec_says(spark, tmp_path):
    records = [{**good("list-text"), "some_list_of_structs": "text"},
               {**good("value-text"), "some_list_of_structs": [{"name": "x", "value": "v"}, {"name": "y", "value": 2}]},
               {**good("id-object"), "some_nested_struct": 3}]
    counts, _, dead = run(spark, tmp_path / "default", lines(records), load_spec(None))
    assert (counts.records_good, counts.records_bad) == (0, 3)
    assert {row["reason"].split(":")[0] for row in dead} == {"malformed_json"}
    counts, rows, dead = run(spark, tmp_path / "rescue", lines(records), spec_with(on_type_mismatch="rescue"))
    assert (counts.records_good, counts.records_bad, dead) == (3, 0, [])
    assert rows["list-text"]["original_complex_list"] is None
    assert json.loads(rows["list-text"]["_rescued_data"]) == {"some_list_of_structs": "text"}
    assert json.loads(rows["value-text"]["_rescued_data"]) == {"some_list_of_structs[0].value": "v"}
    assert rows["value-text"]["original_complex_list"][0]["value"] is None
    assert json.loads(rows["id-object"]["_rescued_data"]) == {"some_nested_struct": 3}
    assert rows["id-object"]["nested_field1"] is None


def test_dead_letters_keep_the_whole_raw_record(spark, tmp_path):
    line = '{"id": "x", "DATE": "never", "MODE": "train", "device": "cam-2", "some_nested_struct": {"z": 1}}'
    counts, _, dead = run(spark, tmp_path, (line + "\n").encode(), load_spec(None))
    assert counts.records_bad == 1
    assert dead[0]["raw_record"] == line


@pytest.mark.parametrize("native", [True, False], ids=["native-parse", "from_json"])
def test_applying_the_rescued_data_to_the_curated_columns_gives_the_raw_record_back(spark, tmp_path, monkeypatch,
                                                                                    native):
    if not native:
        monkeypatch.setenv(native_json.SWITCH, "off")
    rng = random.Random(2020)
    records = [drifting_record(rng, index, drift=0.5, mismatches=True) for index in range(400)]
    counts, rows, dead = run(spark, tmp_path, lines(records), spec_with(on_type_mismatch="rescue"))
    assert dead == [] and len(rows) == len(records)
    assert 0 < counts.records_rescued < len(records)
    for raw in records:
        row = rows[raw["id"]]
        columns = {**row, "event_date": row["event_date"].isoformat() if isinstance(row["event_date"], date) else None}
        rebuilt = apply_rescue(rebuild_record(columns, DEFAULT_SOURCES), row["_rescued_data"])
        assert normalise(rebuilt) == normalise(raw), raw["id"]


#: Numbers a double cannot hold: more than 17 significant digits, past its range both ways, a negative zero, an upper
#: case exponent, an integer past a long.
EXACT = "[1.2345678901234567890123, 1e400, -1e-400, -0.0, 1E+2, 123456789012345678901234567890123]"


@pytest.mark.parametrize("native", [True, False], ids=["one-parse", "from_json"])
def test_rescued_numbers_are_the_text_the_record_held(spark, tmp_path, monkeypatch, native):
    """A rescued number is written as the record wrote it, by both parses, the same text (it went through a double:
    ``1e400`` became ``"Infinity"``, digits past the 17th were lost), in a top-level field, a nested one, a list
    element and a value that does not fit its column; the sightings' examples are that text too; the round trip,
    read with exact numbers, gives the raw record back. A number that fits its column is Spark's double, as
    before."""
    if not native:
        monkeypatch.setenv(native_json.SWITCH, "off")
    head = '"DATE": "2024-03-01", "MODE": "train"'
    texts = {
        "top": '{"id": "top", ' + head + ', "precise": 1.2345678901234567890123, "huge": 1e400, "zero": -0.0, '
               '"upper": 1E+2, "big": 123456789012345678901234567890123}',
        "nested": '{"id": "nested", ' + head + ', "some_nested_struct": {"field1": "v", "x": ' + EXACT + '}}',
        "list": '{"id": "list", ' + head + ', "some_list_of_structs": ['
                '{"name": "a", "value": 1.2345678901234567890123}, {"k": 1e400, "tag": -0.0}]}',
        "mismatch": '{"id": "mismatch", ' + head + ', "some_nested_struct": 1.2345678901234567890123, '
                    '"some_list_of_structs": 123456789012345678901234567890123, "e": 1E+2}',
    }
    counts, rows, dead = run(spark, tmp_path, ("\n".join(texts.values()) + "\n").encode(),
                             spec_with(on_type_mismatch="rescue"))
    assert dead == [] and sorted(rows) == sorted(texts)
    assert {key: row["_rescued_data"] for key, row in rows.items()} == {
        "top": '{"precise":1.2345678901234567890123,"huge":1e400,"zero":-0.0,"upper":1E+2,'
               '"big":123456789012345678901234567890123}',
        "nested": '{"some_nested_struct.x":' + EXACT.replace(", ", ",") + "}",
        "list": '{"some_list_of_structs[1].k":1e400,"some_list_of_structs[1].tag":-0.0}',
        "mismatch": '{"some_nested_struct":1.2345678901234567890123,'
                    '"some_list_of_structs":123456789012345678901234567890123,"e":1E+2}'}
    assert rows["list"]["original_complex_list"][0]["value"] == 1.2345678901234567  # the typed column: a double
    examples = {path: example for path, _, _, _, example in counts.rescued_fields}
    assert examples == {"precise": "1.2345678901234567890123", "huge": "1e400", "zero": "-0.0", "upper": "1E+2",
                        "big": "123456789012345678901234567890123", "some_nested_struct.x": EXACT,
                        "some_list_of_structs[].k": "1e400", "some_list_of_structs[].tag": "-0.0",
                        "some_nested_struct": "1.2345678901234567890123",
                        "some_list_of_structs": "123456789012345678901234567890123", "e": "1E+2"}
    for key, text in texts.items():
        row = rows[key]
        columns = {**row, "event_date": row["event_date"].isoformat()}
        rebuilt = apply_rescue(rebuild_record(columns, DEFAULT_SOURCES), row["_rescued_data"])
        raw = parse_record(text)
        if key == "list":  # the typed value is a double (the spec's conversion); the rescued ones are exact
            raw["some_list_of_structs"][0]["value"] = 1.2345678901234567
        assert normalise(rebuilt) == normalise(raw), key
        assert sorted(number_texts(rebuilt)) == sorted(number_texts(raw)), key  # -0.0 and 1E+2 as written


@pytest.mark.parametrize("native", [True, False], ids=["one-parse", "from_json"])
def test_an_array_element_keeps_its_numbers_with_the_one_parse(spark, tmp_path, monkeypatch, native):
    """With the one parse an element of an array file is its text as the file holds it: its rescued numbers are as
    exact as a line's, and a dead letter keeps the element's own text. The fallback splits the array with
    ``from_json``, which writes each element again, its numbers through a double (the documented limit)."""
    if not native:
        monkeypatch.setenv(native_json.SWITCH, "off")
    element = '{"id": "e", "DATE": "2024-03-01", "MODE": "train", "x": 1.2345678901234567890123, "y": [1e400, 1E+2]}'
    broken = '{"id": "d", "DATE": "never", "MODE": "train", "z": 1e400}'
    counts, rows, dead = run(spark, tmp_path, f"[\n  {element},\n  {broken}\n]".encode(), load_spec(None),
                             layout="array")
    assert (counts.records_good, counts.records_bad) == (1, 1)
    if native:
        assert rows["e"]["_rescued_data"] == '{"x":1.2345678901234567890123,"y":[1e400,1E+2]}'
        assert dead[0]["raw_record"] == broken
    else:
        assert rows["e"]["_rescued_data"] == '{"x":1.2345678901234567,"y":["Infinity",100.0]}'
        assert dead[0]["raw_record"] == '{"id":"d","DATE":"never","MODE":"train","z":"Infinity"}'


def number_texts(value: Any) -> list[str]:
    """The text of every non-integer number in ``value`` (read by :mod:`runtime.transforms.exact_json`)."""
    if isinstance(value, exact_json.JsonNumber):
        return [value.text]
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return [text for item in items for text in number_texts(item)]


def test_python_is_asked_about_every_record_that_has_something_to_rescue(spark, tmp_path):
    """The colon count never misses a record with an unknown field (its errors go the other way only)."""
    rng = random.Random(7)
    records = [drifting_record(rng, index, drift=0.3) for index in range(300)]
    records.append({**good("escaped"), "some_nested_struct": {"field1": "a\u003ab"}, "extra": 1})
    path = tmp_path / "in.jsonl"
    path.write_bytes(lines(records).replace(b"a:b", b"a\\u003ab"))
    spec = load_spec(None)
    frame = read_batch(spark, [SourceFile(1, "k", str(path), str(path), "lines")], spec.read_schema())
    asked = {row["id"]: row["asked"] for row in frame.select("id", may_rescue(spec).alias("asked")).collect()}
    schema = spec.source_schema()
    needing = {item["id"] for item in records if rescued_fields(item, schema)}
    assert needing and all(asked[record_id] for record_id in needing)
    clean = [item["id"] for item in records if item["id"] not in needing and "a:b" not in json.dumps(item)]
    assert clean and sum(asked[record_id] for record_id in clean) <= len(clean) // 4


def test_ignore_writes_no_rescued_column_but_counts(spark, tmp_path):
    counts, rows, _ = run(spark, tmp_path, lines([good("top", device="cam-2"), good("plain")]),
                          spec_with(schema_policy="ignore"))
    assert "_rescued_data" not in rows["top"]
    assert counts.records_rescued == 1 and counts.new_fields == ["device"]


def test_an_array_file_and_array_lines_are_rescued_per_element(spark, tmp_path):
    body = json.dumps([good("e1", device="a"), good("e2")], indent=2).encode()
    _, rows, _ = run(spark, tmp_path / "array", body, load_spec(None), layout="array")
    assert json.loads(rows["e1"]["_rescued_data"]) == {"device": "a"} and rows["e2"]["_rescued_data"] is None
    _, rows, _ = run(spark, tmp_path / "lines", lines([good("l0")]) + json.dumps(
        [good("l1", tag=1), good("l2")]).encode() + b"\n", load_spec(None))
    assert set(rows) == {"l0", "l1", "l2"} and json.loads(rows["l1"]["_rescued_data"]) == {"tag": 1}


def test_the_flag_counts_keys_inside_maps(spark):
    spec = spec_from_dict({"columns": [{"name": "id", "source": "id", "type": "string"},
                                       {"name": "m", "source": "m", "type": "map<string,bigint>"}]})
    frame = spark.createDataFrame([('{"id": "a", "m": {"x:y": 1, "z": 2}}',), ('{"id": "b", "m": {"x": 1}, "n": 1}',)],
                                  "value string")
    parsed = frame.select(F.from_json("value", spec.read_schema()).alias("r"), F.col("value").alias(RAW_RECORD))
    flags = [row[0] for row in parsed.select("r.*", RAW_RECORD).select(may_rescue(spec)).collect()]
    assert flags == [False, True]


def test_the_flag_counts_keys_inside_nested_lists_without_a_lambda(spark):
    """Lists of lists of structs and lists of strings are counted across their elements (null elements, null
    fields and colons inside strings included), with no ``aggregate`` over them (its lambda is evaluated
    interpreted: the costliest part of the flag)."""
    spec = spec_from_dict({"columns": [
        {"name": "id", "source": "id", "type": "string"},
        {"name": "grid", "source": "grid", "type": "array<array<struct<a:string,b:bigint>>>"},
        {"name": "tags", "source": "tags", "type": "array<string>"}]})
    texts = ['{"id": "a", "grid": [[{"a": "x:y", "b": 1}, null, {"b": 2}], null, []], "tags": ["p:q", null, "r"]}',
             '{"id": "b", "grid": [[{"a": "x", "b": 1, "c": 3}]], "tags": []}',
             '{"id": "c", "grid": [[{"a": "x"}], [{"b": 1}]], "tags": ["s"], "more": null}',
             '{"id": "d", "grid": [[]], "tags": []}']
    frame = spark.createDataFrame([(text,) for text in texts], "value string")
    parsed = frame.select(F.from_json("value", spec.read_schema()).alias("r"), F.col("value").alias(RAW_RECORD))
    flagged = parsed.select("r.*", RAW_RECORD).select(may_rescue(spec))
    assert [row[0] for row in flagged.collect()] == [False, True, True, False]
    plan = flagged._jdf.queryExecution().optimizedPlan().toString()
    assert "aggregate(" not in plan


def test_each_rescued_records_sightings_come_from_the_one_python_pass(spark, tmp_path):
    """The sightings of each rescued record are computed with its rescued data (no second UDF over the rescued
    records), and they are what :func:`sightings` says of that rescued data."""
    rng = random.Random(5)
    records = [drifting_record(rng, index, drift=0.5) for index in range(60)]
    path = tmp_path / "in.jsonl"
    path.write_bytes(lines(records))
    spec = load_spec(None)
    rescued = with_rescue(read_batch(spark, [SourceFile(1, "k", str(path), str(path), "lines")], spec.read_schema()),
                          spec)
    rows = rescued.select(RESCUED, SIGHTINGS).collect()
    assert any(row[RESCUED] for row in rows)
    for row in rows:
        assert [tuple(item) for item in row[SIGHTINGS] or []] == list(sightings(row[RESCUED], spec.source_schema()))


@pytest.mark.parametrize("native", [True, False], ids=["one-parse", "from_json"])
def test_what_was_rescued_per_file_is_counted_with_the_records(spark, tmp_path, monkeypatch, native):
    """A file's rescued fields (path, kind, JSON type, records, least example), as the batch's one aggregation counts
    them with its records, are what :func:`sightings` says of the ``_rescued_data`` written for the file, its good
    and its bad records together: with type mismatches rescued, so that rows Python rescued add to those the parse
    rescued (the one parse) or are all of them (``from_json``). A record is counted once however many fields it had
    rescued, and once for a path however many of its list elements hold it."""
    if not native:
        monkeypatch.setenv(native_json.SWITCH, "off")
    rng = random.Random(8)
    spec = spec_with(on_type_mismatch="rescue")
    sources = []
    for file_id in (1, 2):
        records = [drifting_record(rng, index, drift=0.4, mismatches=True) for index in range(80)]
        if file_id == 2:
            records.append({"DATE": "2024-03-01", "MODE": "train", "device": "cam-0"})  # bad: no id
        path = tmp_path / f"in-{file_id}.jsonl"
        path.write_bytes(lines(records))
        sources.append(SourceFile(file_id, f"k{file_id}", str(path), f"s3://b/k{file_id}", "lines"))
    result = convert_batch(spark, sources, spec, str(tmp_path / "out"), str(tmp_path / "dead"))
    written = ds.dataset(tmp_path / "out", format="parquet").to_table(
        columns=["source_s3_path", "_rescued_data"]).to_pylist()
    expected: dict[str, dict[tuple[str, str, str], list]] = {}
    for row in [*written, {"source_s3_path": "s3://b/k2", "_rescued_data": '{"device": "cam-0"}'}]:
        kinds = set()
        for path, kind, json_type, example in sightings(row["_rescued_data"], spec.source_schema()):
            seen = expected.setdefault(row["source_s3_path"], {}).setdefault((path, kind, json_type), [0, example])
            seen[0] += (path, kind, json_type) not in kinds  # records that hold it, however often
            seen[1] = min(seen[1], example)
            kinds.add((path, kind, json_type))
    for source in sources:
        found = result.counts[source.file_id].rescued_fields
        assert {(path, kind, json_type): [records, example] for path, kind, json_type, records, example in found} \
            == expected[source.lineage_path]
        assert list(found) == sorted(found)
        assert {"mismatch", "unknown"} <= {item[1] for item in found}
    assert (result.counts[1].records_bad, result.counts[2].records_bad) == (0, 1)
    for source in sources:  # each record counted once, however many fields it had rescued
        mine = [row for row in written if row["source_s3_path"] == source.lineage_path]
        assert result.counts[source.file_id].records_good == len(mine) == 80
        assert result.counts[source.file_id].records_rescued == sum(row["_rescued_data"] is not None for row in mine)


@pytest.mark.parametrize("native", [True, False], ids=["one-parse", "from_json"])
def test_a_field_held_by_several_list_elements_counts_its_record_once(spark, tmp_path, monkeypatch, native):
    """``records`` of a rescued field is records (what ``mldp schema drift`` shows), not occurrences: one record whose
    two list elements carry ``tag`` is one record; a second record with one more is two."""
    if not native:
        monkeypatch.setenv(native_json.SWITCH, "off")
    head = '"DATE": "2024-03-01", "MODE": "train"'
    body = ('{"id": "a", ' + head + ', "some_list_of_structs": [{"name": "n", "tag": "x"}, '
            '{"name": "m", "tag": "y"}]}\n'
            '{"id": "b", ' + head + ', "some_list_of_structs": [{"name": "n", "tag": "z"}]}\n').encode()
    counts, _rows, _dead = run(spark, tmp_path, body, load_spec(None))
    assert counts.records_rescued == 2
    assert counts.rescued_fields == (("some_list_of_structs[].tag", "unknown", "string", 2, '"x"'),)


@pytest.mark.parametrize("native", [True, False], ids=["one-parse", "from_json"])
def test_a_malformed_record_with_a_key_given_twice_is_dead_lettered_whole_under_mismatch_rescue(
        spark, tmp_path, monkeypatch, native):
    """Spark's partial reading keeps the earlier value of a key given twice, Python's the later one: a malformed record
    with a repeated key cannot be rescued value by value, so it stays malformed, whole in the dead letters (found by
    the review of 2026-12-06: the later, mistyped value was written nowhere). A repeated key in a well-formed record
    is Spark's to read, as before."""
    if not native:
        monkeypatch.setenv(native_json.SWITCH, "off")
    head = '"DATE": "2024-03-01", "MODE": "train"'
    lines = ['{"id": "struct", ' + head + ', "some_nested_struct": {"field1": "first"}, "some_nested_struct": 3}',
             '{"id": "list", ' + head + ', "some_list_of_structs": [{"name": "a", "value": 1}], '
             '"some_list_of_structs": "text"}',
             '{"id": "value", ' + head + ', "some_list_of_structs": [{"name": "a", "value": 1, "value": "v"}]}',
             '{"id": "fine", ' + head + ', "some_nested_struct": 3}']
    counts, rows, dead = run(spark, tmp_path, ("\n".join(lines) + "\n").encode(),
                             spec_with(on_type_mismatch="rescue"))
    assert sorted(rows) == ["fine"] and json.loads(rows["fine"]["_rescued_data"]) == {"some_nested_struct": 3}
    assert (counts.records_good, counts.records_bad) == (1, 3)
    assert sorted(item["raw_record"] for item in dead) == sorted(lines[:3])


@pytest.mark.parametrize("native", [True, False], ids=["one-parse", "from_json"])
def test_a_record_only_spark_reads_is_no_new_field_named_dollar(spark, tmp_path, monkeypatch, native):
    """With comments allowed, a ``:`` inside a comment sends the record to Python in the fallback parse, which cannot
    read comments: the record is kept whole under ``$``. That is no field a spec could add (found by the review of
    2026-12-06: the file was held for good, "new fields $"), but a record whose fields were not checked: ``fail``
    stops the file for it with a message that says what to do. The one parse skips no key: nothing to rescue."""
    if not native:
        monkeypatch.setenv(native_json.SWITCH, "off")
    line = '{"id": "c", "DATE": "2024-03-01", "MODE": "train" /* see http://example.org */}\n'
    counts, rows, _dead = run(spark, tmp_path, line.encode(), spec_with(json={"allow": ["comments"]}))
    assert counts.new_fields == [] and counts.records_good == 1
    assert counts.unchecked == (0 if native else 1)
    rescued = rows["c"]["_rescued_data"]
    assert rescued is None if native else json.loads(rescued) == {"$": line.rstrip("\n")}
    if not native:
        message = schema_changed(counts.new_fields, "v1", counts.unchecked)
        assert "1 record(s)" in message and "schema_policy: rescue" in message and "mldp requeue" in message


def test_a_record_only_a_leniency_reads_is_rescued_field_by_field_in_the_one_parse(spark, tmp_path):
    """With ``json: {allow: [comments, single_quotes]}`` Spark reads the record; the one parse copies its unknown field
    as strict JSON (Python's ``json`` could not read the record, and would keep it whole under ``$``)."""
    line = "{'id': 'q', 'DATE': '2024-03-01', 'MODE': 'train', /* note */ 'device': {'n': 'cam-2'}}"
    counts, rows, dead = run(spark, tmp_path, (line + "\n").encode(),
                             spec_with(json={"allow": ["comments", "single_quotes"]}))
    assert dead == [] and counts.records_rescued == 1
    assert json.loads(rows["q"]["_rescued_data"]) == {"device": {"n": "cam-2"}}


@pytest.mark.parametrize("switch", ["on", "off"])
def test_a_record_that_is_not_utf8_stays_malformed_under_on_type_mismatch_rescue(spark, tmp_path, monkeypatch,
                                                                                   switch):
    """A line with a byte that is not UTF-8 is malformed (read.py's rule, as Spark's reader of JSON files). Under
    ``on_type_mismatch: rescue`` Python re-reads it (decoded with U+FFFD) and, finding no type mismatch, clears
    ``_corrupt_record``: the record was written, its text silently altered (found by the review). It stays malformed:
    dead-lettered with its raw bytes, under both parses."""
    monkeypatch.setenv(native_json.SWITCH, switch)
    body = json.dumps(good("bad-byte", device="cam")).replace('"v"', '"v\\u00e9"').encode().replace(
        b"\\u00e9", b"\xff") + b"\n"
    counts, rows, dead = run(spark, tmp_path / switch, body, spec_with(on_type_mismatch="rescue"))
    written = rows.get("bad-byte") or next(iter(rows.values()), None)
    shown = {key: written[key] for key in ("nested_field1", "_rescued_data")} if written else None
    assert (counts.records_good, counts.records_bad) == (0, 1), (switch, shown)
    assert [row["reason"].split(":")[0] for row in dead] == ["malformed_json"]
