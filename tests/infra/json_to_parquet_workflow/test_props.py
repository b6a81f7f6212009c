"""JsonToParquetWorkflowProps.validate(): invalid props fail with a message naming the field."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

pytestmark = pytest.mark.infra


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"schedule": "rate(15 minutes)"}, "schedule"),
        ({"schedule": "cron(0/15 * * * * *)"}, "day-of-month"),
        ({"batch_size": 0}, "batch_size"),
        ({"drain_minutes": 60}, "drain_minutes"),
        ({"processor_worker_type": "G.025X"}, "processor_worker_type"),
        ({"processor_number_of_workers": 1}, "processor_number_of_workers"),
        ({"backfill_max_concurrent_runs": 0}, r"backfill_max_concurrent_runs must be >= 1, got 0"),
        ({"backfill_number_of_workers": 1}, r"backfill_number_of_workers must be >= 2 .* or None .*, got 1"),
        ({"lister_max_capacity": 2.0}, "lister_max_capacity"),
        ({"glue_version": "4.0"}, "glue_version"),
        ({"listing_prefixes": ("raw-json-data-processed/",)}, "listing_prefixes"),
        ({"environment_name": "Prod!"}, "environment_name"),
        ({"metrics_namespace": "AWS/Glue"}, "metrics_namespace"),
        ({"vpc_endpoints": False, "interface_endpoints": ("logs",)},
         r"vpc_endpoints and interface_endpoints are both set: vpc_endpoints=False creates no endpoint"),
        ({"extra_processor_arguments": {"--store": "s3://elsewhere"}},
         r"extra_processor_arguments sets '--store', which the construct sets itself from bucket"),
        ({"extra_processor_arguments": {"--batch-size": "10"}}, r"sets '--batch-size', .* from batch_size"),
        ({"extra_processor_arguments": {"--conf": "spark.a=b"}}, r"sets '--conf', .* from spark_conf"),
        ({"extra_processor_arguments": {"--extra-py-files": "s3://x/y.zip"}}, r"sets '--extra-py-files'"),
        ({"extra_processor_arguments": {"--raw-prefix": "x/"}}, r"sets '--raw-prefix', .*raw_prefix"),
        ({"extra_processor_arguments": {"enable-things": "true"}}, r"key 'enable-things' must be a Glue job argument"),
        ({"extra_processor_arguments": {"--workers": 3}}, r"extra_processor_arguments must be of type"),
        ({"extra_lister_arguments": {"--prefixes": "raw-json-data/"}}, r"sets '--prefixes', .* listing_prefixes"),
        ({"extra_lister_arguments": {"--db-secret-arn": "arn:x"}}, r"sets '--db-secret-arn', .* from database"),
        ({"spark_conf": {"spark.sql.shuffle.partitions": ""}}, r"spark_conf value of 'spark.sql.shuffle.partitions'"),
        ({"spark_conf": {"spark a": "1"}}, r"spark_conf key 'spark a' must be a Spark property name"),
        ({"spark_conf": {"spark.a": "1 --conf spark.b=2"}}, r"must not contain '--conf'"),
    ],
)
def test_invalid_props_fail_with_a_message_naming_the_field(cdk: Any, overrides: dict[str, Any], message: str) -> None:
    props = {"environment_name": "dev", **overrides}
    stack = cdk.Stack(cdk.App(), "Invalid")
    bucket = cdk.Bucket(stack, "Bucket")
    with pytest.raises(ValueError, match=message):
        cdk.Props(bucket=bucket, database=None, **props).validate()


def _default(cls: type, name: str) -> Any:
    (f,) = [f for f in dataclasses.fields(cls) if f.name == name]
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def test_workflow_props_default_to_the_shared_values() -> None:
    from platform_constructs.json_to_parquet_workflow.props import JsonToParquetWorkflowProps
    from platform_contract import defaults

    expected = {
        "batch_size": defaults.BATCH_SIZE,
        "max_attempts": defaults.MAX_ATTEMPTS,
        "lease_seconds": defaults.LEASE_SECONDS,
        "drain_minutes": defaults.DRAIN_MINUTES,
        "backfill_drain_minutes": defaults.BACKFILL_DRAIN_MINUTES,
        "metrics_namespace": defaults.METRICS_NAMESPACE,
    }
    assert {name: _default(JsonToParquetWorkflowProps, name) for name in expected} == expected
