"""The shape of the read path's Spark plan: each record is parsed once (a filter on the parsed value would be pushed
below the parse and parse every record twice), and in a conversion only the records that need the rescue go
through the Python worker."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest
from pyspark.sql.types import IntegerType, LongType, StringType, StructField, StructType

from runtime.spark import native_json
from runtime.spark.convert import read_and_rescue, rescue_in_python
from runtime.spark.read import SKIPPED_FIELD, SourceFile, lookup_frame, read_batch
from runtime.spark.rescue import RESCUED
from runtime.transforms.spec import load_spec, spec_from_dict

DEFAULT_SPEC = json.loads(resources.files("runtime.transforms").joinpath("default_spec.json").read_text("utf-8"))

pytestmark = pytest.mark.spark


def executed_plan(frame) -> str:
    return frame._jdf.queryExecution().executedPlan().toString()


def source(tmp_path: Path, records: list[dict]) -> SourceFile:
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(item) + "\n" for item in records) + "\n  \n")
    return SourceFile(1, "k", str(path), str(path), "lines")


RECORD = {"id": "a", "DATE": "2024-01-02", "MODE": "train", "some_nested_struct": {"field1": "x"},
          "some_list_of_structs": [{"name": "n", "value": 1.0}]}


@pytest.mark.parametrize("native", [True, False], ids=["native-parse", "from_json"])
def test_each_record_is_parsed_once_and_blank_lines_hold_no_record(spark, tmp_path, monkeypatch, native):
    if not native:
        monkeypatch.setenv(native_json.SWITCH, "off")
    spec = load_spec(None)
    frame = read_batch(spark, [source(tmp_path, [RECORD, {**RECORD, "id": "b"}])], spec.read_schema())
    plan = executed_plan(frame)
    parses = (plan.count("mldp.spark.FlaggedJson") - plan.count("validUtf8") - plan.count(", elements, "),
              plan.count("from_json(StructField("))
    assert parses == ((1, 0) if native else (0, 1))
    assert (SKIPPED_FIELD in frame.columns) is native
    assert sorted(row["id"] for row in frame.collect()) == ["a", "b"]


def test_only_the_records_that_need_the_rescue_go_to_python(spark, tmp_path, monkeypatch):
    """With ``from_json`` (the fallback), the records the colon count flags go to Python; none other does."""
    monkeypatch.setenv(native_json.SWITCH, "off")
    spec = load_spec(None)
    base = read_and_rescue(spark, [source(tmp_path, [RECORD, {**RECORD, "id": "b", "device": "d"}])], spec)
    asked = rescue_in_python(base, spec)
    try:
        assert "BatchEvalPython" not in executed_plan(base)
        assert "BatchEvalPython" in executed_plan(asked)
        assert [row["id"] for row in asked.collect()] == ["b"]
    finally:
        asked.unpersist()
        base.unpersist()


def test_with_the_one_parse_only_mistyped_records_go_to_python(spark, tmp_path):
    """The one parse rescues a well-formed record's unknown fields itself: Python sees only the malformed records
    under ``on_type_mismatch: rescue`` (their values that do not fit), and none otherwise."""
    records = [RECORD, {**RECORD, "id": "b", "device": "d"}, {**RECORD, "id": "c", "some_nested_struct": 3}]
    for mismatch, python in (("dead_letter", []), ("rescue", ["c"])):
        spec = spec_from_dict({**DEFAULT_SPEC, "on_type_mismatch": mismatch})
        base = read_and_rescue(spark, [source(tmp_path, records)], spec)
        asked = rescue_in_python(base, spec)
        try:
            assert "BatchEvalPython" not in executed_plan(base)
            assert [row["id"] for row in asked.collect()] == python
            rescued = {row["id"]: row[RESCUED] for row in base.where("id = 'b'").collect()}
            assert json.loads(rescued["b"]) == {"device": "d"}
        finally:
            asked.unpersist()
            base.unpersist()


def test_the_lookup_tables_are_local_and_keep_any_text(spark):
    """The file-id and lineage lookups are inline tables (no Python job to build them) and keep every character."""
    schema = StructType([StructField("id", LongType(), False), StructField("path", StringType(), False),
                         StructField("version", IntegerType(), False)])
    rows = [(1, "s3://b/a'b\\c\"d`e {x} é 日本.json", 2), (2**40, "", 1)]
    frame = lookup_frame(spark, rows, schema)
    assert [tuple(row) for row in frame.collect()] == rows
    assert frame.schema == schema
    assert "LocalRelation" in frame._jdf.queryExecution().optimizedPlan().toString()
