"""MlDataPlatform-dev and -prod as app.py builds them: what differs per environment, and what must hold in both."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.infra

DEV, PROD = "MlDataPlatform-dev", "MlDataPlatform-prod"


def _resources(template: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [r for r in template["Resources"].values() if r["Type"] == resource_type]


@pytest.fixture(scope="module")
def dev(platform_templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return platform_templates[DEV]


@pytest.fixture(scope="module")
def prod(platform_templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return platform_templates[PROD]


@pytest.fixture(scope="module")
def destroyable_dev() -> dict[str, Any]:
    """app.py's dev stack with ``-c dev.allow_destroy=true -c alarm_emails=...`` (context as the CLI passes it)."""
    from aws_cdk import App

    import app as cdk_app

    context = {**cdk_app.cdk_json_context(), "dev.allow_destroy": "true",
               "alarm_emails": "ops@example.com,oncall@example.com"}
    application = cdk_app.build_app(App(context=context))
    return application.synth().get_stack_by_name(DEV).template


def test_app_builds_both_environment_stacks(platform_templates: dict[str, dict[str, Any]]) -> None:
    assert set(platform_templates) == {DEV, PROD}


def test_bucket_encryption_per_environment(dev: dict[str, Any], prod: dict[str, Any]) -> None:
    def algorithms(template: dict[str, Any]) -> list[str]:
        return sorted(
            rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
            for b in _resources(template, "AWS::S3::Bucket")
            for rule in b["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        )

    assert algorithms(dev) == ["AES256", "AES256"]  # data bucket (S3_MANAGED) and access-log bucket
    assert algorithms(prod) == ["AES256", "aws:kms"]  # access logs must stay SSE-S3
    kms_bucket = next(b for b in _resources(prod, "AWS::S3::Bucket") if "aws:kms" in str(b["Properties"]))
    rule = kms_bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["BucketKeyEnabled"] is True


def test_removal_policies_per_environment(
    dev: dict[str, Any], prod: dict[str, Any], destroyable_dev: dict[str, Any]
) -> None:
    def policies(template: dict[str, Any], resource_type: str) -> set[str]:
        return {r.get("DeletionPolicy", "Delete") for r in _resources(template, resource_type)}

    assert policies(dev, "AWS::S3::Bucket") == {"Retain"}
    assert policies(dev, "AWS::RDS::DBInstance") == {"Snapshot"}
    assert policies(prod, "AWS::S3::Bucket") == {"Retain"}
    assert policies(prod, "AWS::RDS::DBInstance") == {"Retain"}
    assert policies(prod, "AWS::KMS::Key") == {"Retain"}
    # DESTROY only behind the explicit flag, and then the buckets are emptied first
    assert policies(destroyable_dev, "AWS::S3::Bucket") == {"Delete"}
    assert policies(destroyable_dev, "AWS::RDS::DBInstance") == {"Delete"}
    assert len(_resources(destroyable_dev, "Custom::S3AutoDeleteObjects")) == 2
    assert not _resources(dev, "Custom::S3AutoDeleteObjects")


def test_database_availability_and_protection_per_environment(dev: dict[str, Any], prod: dict[str, Any]) -> None:
    (dev_db,) = _resources(dev, "AWS::RDS::DBInstance")
    (prod_db,) = _resources(prod, "AWS::RDS::DBInstance")
    assert dev_db["Properties"]["MultiAZ"] is False
    assert dev_db["Properties"]["DeletionProtection"] is False
    assert dev_db["Properties"]["DBInstanceClass"] == "db.t4g.micro"
    assert prod_db["Properties"]["MultiAZ"] is True
    assert prod_db["Properties"]["DeletionProtection"] is True
    assert prod_db["Properties"]["DBInstanceClass"] == "db.m7g.large"
    for db in (dev_db, prod_db):
        assert db["Properties"]["StorageEncrypted"] is True
        assert db["Properties"]["PubliclyAccessible"] is False
    assert dev_db["Properties"]["BackupRetentionPeriod"] == 1
    assert prod_db["Properties"]["BackupRetentionPeriod"] == 14


def test_glue_jobs_per_environment(dev: dict[str, Any], prod: dict[str, Any]) -> None:
    def processor(template: dict[str, Any]) -> dict[str, Any]:
        (job,) = [j["Properties"] for j in _resources(template, "AWS::Glue::Job")
                  if j["Properties"]["Command"]["Name"] == "glueetl"]
        return job

    assert processor(dev)["Name"] == "JsonToParquetBatchProcessor-dev"
    assert (processor(dev)["WorkerType"], processor(dev)["NumberOfWorkers"]) == ("G.1X", 2)
    assert processor(prod)["Name"] == "JsonToParquetBatchProcessor-prod"
    assert (processor(prod)["WorkerType"], processor(prod)["NumberOfWorkers"]) == ("G.2X", 10)
    assert processor(dev)["DefaultArguments"]["--batch-size"] == "200"
    assert processor(prod)["DefaultArguments"]["--batch-size"] == "2000"
    assert processor(prod)["DefaultArguments"]["--environment"] == "prod"
    for template in (dev, prod):
        assert {j["Properties"]["GlueVersion"] for j in _resources(template, "AWS::Glue::Job")} == {"3.0", "5.0"}


def test_every_alarm_notifies_the_encrypted_topic(dev: dict[str, Any], prod: dict[str, Any]) -> None:
    for template in (dev, prod):
        ((topic_id, topic),) = [(k, v) for k, v in template["Resources"].items() if v["Type"] == "AWS::SNS::Topic"]
        assert "KmsMasterKeyId" in topic["Properties"]
        alarms = _resources(template, "AWS::CloudWatch::Alarm")
        assert len(alarms) >= 10
        for alarm in alarms:
            assert {"Ref": topic_id} in alarm["Properties"]["AlarmActions"], alarm["Properties"].get("AlarmName")


def test_alarm_emails_come_from_context(dev: dict[str, Any], destroyable_dev: dict[str, Any]) -> None:
    assert not _resources(dev, "AWS::SNS::Subscription")
    endpoints = sorted(s["Properties"]["Endpoint"] for s in _resources(destroyable_dev, "AWS::SNS::Subscription"))
    assert endpoints == ["oncall@example.com", "ops@example.com"]


def test_stacks_export_what_operators_need(dev: dict[str, Any]) -> None:
    assert {"BucketName", "WorkflowName", "ListerJobName", "ProcessorJobName", "BackfillTriggerName",
            "DatabaseEndpoint", "DatabaseSecretArn", "CatalogTable", "AlarmTopicArn"} <= set(dev["Outputs"])
    assert dev["Outputs"]["WorkflowName"]["Value"] == "JsonToParquetProcessingWorkflow-dev"
    assert dev["Outputs"]["CatalogTable"]["Value"] == "ml_data_platform_dev.json_parsed_parquet"


def test_no_policy_grants_s3_star_or_whole_bucket_writes(dev: dict[str, Any], prod: dict[str, Any]) -> None:
    for template in (dev, prod):
        for policy in _resources(template, "AWS::IAM::Policy"):
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                assert "s3:*" not in actions and "*" not in actions, statement
