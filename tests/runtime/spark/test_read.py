"""The shape of the read path's Spark plan: each record is parsed once (a filter on the parsed value would be pushed
below the parse and parse every record twice), and in a conversion only the records that need the rescue go
through the Python worker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyspark.sql.types import IntegerType, LongType, StringType, StructField, StructType

from runtime.spark import native_json
from runtime.spark.convert import read_and_rescue
from runtime.spark.read import SKIPPED_FIELD, SourceFile, lookup_frame, read_batch
from runtime.transforms.spec import load_spec

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
    parses = (plan.count("mldp.spark.FlaggedJson"), plan.count("from_json(StructField("))
    assert parses == ((1, 0) if native else (0, 1))
    assert (SKIPPED_FIELD in frame.columns) is native
    assert sorted(row["id"] for row in frame.collect()) == ["a", "b"]


def test_only_the_records_that_need_the_rescue_go_to_python(spark, tmp_path):
    spec = load_spec(None)
    base, asked = read_and_rescue(spark, [source(tmp_path, [RECORD, {**RECORD, "id": "b", "device": "d"}])], spec)
    try:
        assert "BatchEvalPython" not in executed_plan(base)
        assert "BatchEvalPython" in executed_plan(asked)
        assert [row["id"] for row in asked.collect()] == ["b"]
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
