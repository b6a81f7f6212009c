"""The stack outputs ``mldp smoke`` reads after ``cdk deploy``: present in both environments, under the keys of
``platform_contract.outputs``, and equal to what the Glue jobs are actually configured with."""

from __future__ import annotations

from typing import Any

import pytest

from platform_contract import outputs as out
from runtime.layout import Layout

pytestmark = pytest.mark.infra

STACKS = ("MlDataPlatform-dev", "MlDataPlatform-prod")


def _glue_job(template: dict[str, Any], name: str) -> dict[str, Any]:
    jobs = [r["Properties"] for r in template["Resources"].values()
            if r["Type"] == "AWS::Glue::Job" and r["Properties"]["Name"] == name]
    assert len(jobs) == 1, name
    return jobs[0]


@pytest.mark.parametrize("stack_name", STACKS)
def test_every_output_smoke_needs_exists_with_its_description(
    platform_templates: dict[str, dict[str, Any]], stack_name: str
) -> None:
    outputs = platform_templates[stack_name]["Outputs"]
    assert set(out.SMOKE_OUTPUTS) <= set(outputs)
    assert set(out.DESCRIPTIONS) - set(out.OPTIONAL_OUTPUTS) - set(out.ICEBERG_OUTPUTS) <= set(outputs)
    assert not set(out.ICEBERG_OUTPUTS) & set(outputs)  # the Parquet format (tests/infra/stacks/test_iceberg_stack.py)
    assert set(outputs) <= set(out.DESCRIPTIONS)
    for key, output in outputs.items():
        assert output["Description"] == out.DESCRIPTIONS[key]


@pytest.mark.parametrize("stack_name", STACKS)
def test_outputs_name_what_the_jobs_are_configured_with(
    platform_templates: dict[str, dict[str, Any]], cfn: Any, stack_name: str
) -> None:
    template = platform_templates[stack_name]
    env = stack_name.rsplit("-", 1)[1]
    value = {key: cfn.render(o["Value"]) for key, o in template["Outputs"].items()}
    assert value[out.LISTER_JOB_NAME] == f"FileListerAndDbPopulator-{env}"
    assert value[out.PROCESSOR_JOB_NAME] == f"JsonToParquetBatchProcessor-{env}"
    assert value[out.BACKFILL_JOB_NAME] == f"JsonToParquetBatchProcessorBackfill-{env}"
    assert value[out.WORKFLOW_NAME] == f"JsonToParquetProcessingWorkflow-{env}"
    reference = Layout()
    assert value[out.RAW_PREFIX] == reference.raw_prefix
    assert value[out.PROCESSED_PREFIX] == reference.processed_prefix
    assert value[out.CURATED_PREFIX] == reference.curated_prefix
    assert value[out.STAGING_PREFIX] == reference.staging_prefix
    assert value[out.DEAD_LETTER_PREFIX] == reference.dead_letter_prefix
    for job_name in (value[out.LISTER_JOB_NAME], value[out.PROCESSOR_JOB_NAME], value[out.BACKFILL_JOB_NAME]):
        arguments = cfn.render(_glue_job(template, job_name)["DefaultArguments"])
        assert arguments["--store"] == f"s3://{value[out.BUCKET_NAME]}"
        assert arguments["--raw-prefix"] == value[out.RAW_PREFIX]
        assert arguments["--processed-prefix"] == value[out.PROCESSED_PREFIX]
        assert arguments["--curated-prefix"] == value[out.CURATED_PREFIX]
        assert arguments["--staging-prefix"] == value[out.STAGING_PREFIX]
        assert arguments["--dead-letter-prefix"] == value[out.DEAD_LETTER_PREFIX]


def test_discovery_outputs_name_the_event_queue_and_the_inventory_reports(
    platform_templates: dict[str, dict[str, Any]], cfn: Any
) -> None:
    """prod (discovery_mode events): the queue the FileEventConsumer drains, the report bucket and the folder the
    lister reads, equal to the jobs' arguments; dev (listing) creates none of them and has no such output."""
    prod = platform_templates["MlDataPlatform-prod"]
    value = {key: cfn.render(o["Value"]) for key, o in prod["Outputs"].items()}
    consumer = cfn.render(_glue_job(prod, "FileEventConsumer-prod")["DefaultArguments"])
    lister = cfn.render(_glue_job(prod, value[out.LISTER_JOB_NAME])["DefaultArguments"])
    assert value[out.EVENT_QUEUE_URL] == consumer["--from-queue"]
    assert value[out.INVENTORY_LOCATION] == lister["--inventory-location"]
    (reports,) = [k for k, r in prod["Resources"].items()
                  if r["Type"] == "AWS::S3::Bucket" and k.startswith("DataLakeInventoryBucket")]
    assert value[out.INVENTORY_BUCKET_NAME] == "${" + reports + "}"
    assert value[out.INVENTORY_LOCATION].startswith("s3://${" + reports + "}/")
    dev = platform_templates["MlDataPlatform-dev"]["Outputs"]
    assert not set(out.OPTIONAL_OUTPUTS) & set(dev)
