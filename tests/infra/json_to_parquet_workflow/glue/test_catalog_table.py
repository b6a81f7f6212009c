"""JsonToParquetWorkflow's Data Catalog: the database and the partition-projected table over the curated Parquet."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.infra

RUNTIME = Path(__file__).resolve().parents[4] / "runtime"

def test_catalog_table_over_curated_parquet_with_partition_projection(default: Any, custom: Any, cfn: Any) -> None:
    _, workflow, template = default
    database = cfn.one(template, "AWS::Glue::Database")["Properties"]
    assert database["DatabaseInput"]["Name"] == "ml_data_platform_dev"
    table = cfn.render(cfn.one(template, "AWS::Glue::Table")["Properties"])
    assert table["DatabaseName"] == "ml_data_platform_dev"
    table_input = table["TableInput"]
    bucket = "${" + cfn.logical_id(workflow.props.bucket.bucket) + "}"
    assert table_input["StorageDescriptor"]["Location"] == f"s3://{bucket}/curated-data-lake/json_parsed_parquet/"
    assert table_input["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
    assert [c["Name"] for c in table_input["PartitionKeys"]] == ["year", "month", "day", "mode"]
    assert [c["Name"] for c in table_input["StorageDescriptor"]["Columns"]] == [
        "id", "event_date", "event_mode", "nested_field1", "original_complex_list", "_rescued_data",
        "source_s3_path", "source_version"]
    rescued = next(c for c in table_input["StorageDescriptor"]["Columns"] if c["Name"] == "_rescued_data")
    assert rescued["Type"] == "string"  # Parquet readers (Athena) see the rescued fields through the catalog
    params = table_input["Parameters"]
    assert params["projection.enabled"] == "true"
    assert (params["projection.month.range"], params["projection.day.range"]) == ("1,12", "1,31")
    assert params["projection.mode.type"] == "injected"
    assert params["storage.location.template"] == (
        f"s3://{bucket}/curated-data-lake/json_parsed_parquet/year=${{year}}/month=${{month}}/day=${{day}}/mode=${{mode}}"
    )
    custom_params = cfn.one(custom[2], "AWS::Glue::Table")["Properties"]["TableInput"]["Parameters"]
    assert (custom_params["projection.mode.type"], custom_params["projection.mode.values"]) == ("enum", "batch,stream")


def test_catalog_columns_match_the_runtime_default_transform_spec() -> None:
    from platform_constructs.json_to_parquet_workflow.glue.catalog_table import DEFAULT_COLUMNS, DEFAULT_PARTITION_KEYS

    spec = json.loads((RUNTIME / "transforms" / "default_spec.json").read_text())
    written = [("_rescued_data", "string"), ("source_s3_path", "string"), ("source_version", "int")]
    assert spec.get("schema_policy", "rescue") == "rescue"  # so its files carry _rescued_data
    assert [(c["name"], c["type"]) for c in spec["columns"]] + written == list(DEFAULT_COLUMNS)
    assert [p["name"] for p in spec["partitions"]] == [name for name, _ in DEFAULT_PARTITION_KEYS]
