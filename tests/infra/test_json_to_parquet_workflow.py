"""JsonToParquetWorkflow on a bare stack: jobs, arguments, triggers, network, security, roles, catalog, bundling."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.infra

REPO = Path(__file__).resolve().parents[2]
RUNTIME = REPO / "runtime"


@pytest.fixture(scope="module")
def cdk() -> Any:
    """aws_cdk modules and the constructs under test (imported once per module)."""
    from aws_cdk import App, Stack
    from aws_cdk.assertions import Template

    from platform_constructs.json_to_parquet_workflow import JsonToParquetWorkflow, JsonToParquetWorkflowProps
    from platform_constructs.tracked_raw_bucket import TrackedRawBucket, TrackedRawBucketProps
    from platform_constructs.tracking_database import TrackingDatabase

    class Modules:
        pass

    m = Modules()
    m.App, m.Stack, m.Template = App, Stack, Template
    m.Workflow, m.Props = JsonToParquetWorkflow, JsonToParquetWorkflowProps
    m.Bucket, m.BucketProps, m.Database = TrackedRawBucket, TrackedRawBucketProps, TrackingDatabase
    return m


def _build(cdk: Any, bucket_props: Any = None, **props: Any) -> tuple[Any, Any, dict[str, Any]]:
    stack = cdk.Stack(cdk.App(), "Bare")
    bucket = cdk.Bucket(stack, "Bucket", bucket_props)
    database = cdk.Database(stack, "Db")
    workflow = cdk.Workflow(stack, "Wf", cdk.Props(bucket=bucket, database=database, **props))
    return stack, workflow, cdk.Template.from_stack(stack).to_json()


@pytest.fixture(scope="module")
def default(cdk: Any) -> tuple[Any, Any, dict[str, Any]]:
    """Default props (KMS bucket, created VPC) in environment ``dev``."""
    return _build(cdk, environment_name="dev")


@pytest.fixture(scope="module")
def custom(cdk: Any) -> tuple[Any, Any, dict[str, Any]]:
    """Overridden props: SSE-S3 bucket, exact reference names, bigger workers, prefixes, spec, enum modes."""
    return _build(
        cdk,
        cdk.BucketProps(encryption="S3_MANAGED"),
        environment_name="prod",
        name_suffix="",
        processor_worker_type="G.2X",
        processor_number_of_workers=10,
        processor_timeout_minutes=90,
        backfill_max_concurrent_runs=5,
        backfill_number_of_workers=20,
        lister_max_capacity=1.0,
        schedule="cron(0 * * * ? *)",
        schedule_enabled=False,
        batch_size=5000,
        max_attempts=5,
        lease_seconds=7200,
        drain_minutes=50,
        backfill_drain_minutes=600,
        metrics_namespace="OtherNamespace",
        transform_spec_uri="s3://some-bucket/glue-scripts/spec.json",
        listing_prefixes=("raw-json-data/all_historical_files/", "raw-json-data/2024/"),
        mode_values=("batch", "stream"),
        catalog_database_name="curated",
    )


def _subs(value: Any) -> Any:
    """Replace ``{"Fn::Sub": "s3://...${AWS::AccountId}..."}`` by its string (asset URLs), recursively."""
    if isinstance(value, list):
        return [_subs(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
            return value["Fn::Sub"]
        return {k: _subs(v) for k, v in value.items()}
    return value


def _one(template: dict[str, Any], resource_type: str, **properties: Any) -> dict[str, Any]:
    found = [
        r for r in template["Resources"].values()
        if r["Type"] == resource_type and all(r["Properties"].get(k) == v for k, v in properties.items())
    ]
    assert len(found) == 1, f"expected one {resource_type} with {properties}, found {len(found)}"
    return found[0]


def _job(template: dict[str, Any], name: str) -> dict[str, Any]:
    return _one(template, "AWS::Glue::Job", Name=name)["Properties"]


# --------------------------------------------------------------------------------------------------
# Jobs
# --------------------------------------------------------------------------------------------------
def test_lister_is_a_python_shell_39_job_with_contract_arguments(default: Any, cfn: Any) -> None:
    _, workflow, template = default
    job = _job(template, "FileListerAndDbPopulator-dev")
    assert job["Command"]["Name"] == "pythonshell"
    assert job["Command"]["PythonVersion"] == "3.9"
    assert job["GlueVersion"] == "3.0"
    assert job["MaxCapacity"] == 0.0625
    assert job["Timeout"] == 30
    assert job["MaxRetries"] == 0
    assert job["ExecutionProperty"] == {"MaxConcurrentRuns": 1}
    assert "WorkerType" not in job and "NumberOfWorkers" not in job
    assert job["Connections"] == {"Connections": ["mldp-glue-network-dev"]}
    assert job["SecurityConfiguration"] == workflow.security_configuration.name
    assert workflow.security_configuration.name.startswith("mldp-glue-dev-")
    args = cfn.render(_subs(job["DefaultArguments"]))
    bucket_id = cfn.logical_id(workflow.props.bucket.bucket)
    assert args["--store"] == "s3://${" + bucket_id + "}"
    assert args["--db-secret-arn"].startswith("${DbMasterSecretAttachment")
    assert args["--environment"] == "dev"
    assert args["--metrics-namespace"] == "MlDataPlatform"
    assert args["library-set"] == "analytics"
    assert "--prefixes" not in args  # the runtime's reference prefixes
    files = [url.rsplit("/", 1)[1] for url in args["--extra-py-files"].split(",")]
    assert files[0].startswith("mldp_runtime-0.1.0-1x") and files[0].endswith("-py3-none-any.whl")
    assert files[1].startswith("psycopg2_binary-2.9.10-cp39-cp39-manylinux")
    assert files[2].startswith("PyYAML-6.0.2-cp39-cp39-manylinux")
    assert job["Command"]["ScriptLocation"]["Fn::Sub"].split("/")[-1].startswith("file_lister_and_db_populator-")


def test_processor_is_a_glue_5_spark_job_with_contract_arguments(default: Any, cfn: Any) -> None:
    _, workflow, template = default
    job = _job(template, "JsonToParquetBatchProcessor-dev")
    assert job["Command"]["Name"] == "glueetl"
    assert job["Command"]["PythonVersion"] == "3"
    assert job["GlueVersion"] == "5.0"
    assert (job["WorkerType"], job["NumberOfWorkers"], job["Timeout"]) == ("G.1X", 2, 60)
    assert job["MaxRetries"] == 0
    assert job["ExecutionProperty"] == {"MaxConcurrentRuns": 1}  # the workflow's runs only, one at a time
    assert job["SecurityConfiguration"] == workflow.security_configuration.name
    args = cfn.render(_subs(job["DefaultArguments"]))
    expected = {
        "--environment": "dev", "--metrics-namespace": "MlDataPlatform", "--batch-size": "1000",
        "--max-attempts": "3", "--lease-seconds": "300", "--max-minutes": "12", "--drain": "false",
        "--python-modules-installer-option": "--no-index", "--job-bookmark-option": "job-bookmark-disable",
        "--enable-metrics": "true", "--enable-continuous-cloudwatch-log": "true",
    }
    assert {k: args[k] for k in expected} == expected
    assert "--transform-spec" not in args
    bucket_id = cfn.logical_id(workflow.props.bucket.bucket)
    assert args["--TempDir"] == "s3://${" + bucket_id + "}/curated-data-lake/_staging/_glue_temporary/"
    modules = [url.rsplit("/", 1)[1] for url in args["--additional-python-modules"].split(",")]
    assert [m.split("-")[0] for m in modules] == ["psycopg2_binary", "PyYAML"]
    assert all("-cp311-cp311-manylinux" in m for m in modules)
    assert args["--extra-py-files"].rsplit("/", 1)[1].startswith("runtime-")
    assert args["--extra-py-files"].endswith(".zip")


def test_overridden_job_settings(custom: Any, cfn: Any) -> None:
    _, _, template = custom
    lister = _job(template, "FileListerAndDbPopulator")
    assert lister["MaxCapacity"] == 1.0
    assert cfn.render(_subs(lister["DefaultArguments"]))["--prefixes"] == (
        "raw-json-data/all_historical_files/,raw-json-data/2024/"
    )
    processor = _job(template, "JsonToParquetBatchProcessor")
    assert (processor["WorkerType"], processor["NumberOfWorkers"], processor["Timeout"]) == ("G.2X", 10, 90)
    assert processor["ExecutionProperty"] == {"MaxConcurrentRuns": 1}
    backfill = _job(template, "JsonToParquetBatchProcessorBackfill")
    assert (backfill["WorkerType"], backfill["NumberOfWorkers"], backfill["Timeout"]) == ("G.2X", 20, 630)
    assert backfill["ExecutionProperty"] == {"MaxConcurrentRuns": 5}
    assert backfill["DefaultArguments"]["--max-minutes"] == "600"
    assert backfill["DefaultArguments"]["--transform-spec"] == "s3://some-bucket/glue-scripts/spec.json"
    args = cfn.render(_subs(processor["DefaultArguments"]))
    assert (args["--batch-size"], args["--max-attempts"], args["--lease-seconds"]) == ("5000", "5", "7200")
    assert args["--transform-spec"] == "s3://some-bucket/glue-scripts/spec.json"
    assert args["--metrics-namespace"] == "OtherNamespace"
    assert args["--environment"] == "prod"


def test_backfill_job_is_the_processor_with_its_own_concurrency(default: Any, cfn: Any) -> None:
    _, workflow, template = default
    processor = _job(template, "JsonToParquetBatchProcessor-dev")
    backfill = _job(template, "JsonToParquetBatchProcessorBackfill-dev")
    assert workflow.backfill_job_name == workflow.backfill_job.name == "JsonToParquetBatchProcessorBackfill-dev"
    assert cfn.render(backfill["Role"]) == "${" + cfn.logical_id(workflow.processor_role.role) + ".Arn}"
    # same script, role, network, security configuration, Glue version and workers
    for key in ("Command", "Role", "Connections", "SecurityConfiguration", "GlueVersion", "WorkerType",
                "NumberOfWorkers", "MaxRetries", "ExecutionClass"):
        assert backfill[key] == processor[key], key
    assert backfill["ExecutionProperty"] == {"MaxConcurrentRuns": 2}
    assert backfill["Timeout"] == 480 + 30  # backfill_drain_minutes + margin
    # same default arguments, except that a bare start-job-run drains with the backfill budget
    scheduled_args, backfill_args = processor["DefaultArguments"], backfill["DefaultArguments"]
    assert set(backfill_args) == set(scheduled_args)
    assert {k for k in scheduled_args if backfill_args[k] != scheduled_args[k]} == {"--drain", "--max-minutes"}
    assert (backfill["DefaultArguments"]["--drain"], backfill["DefaultArguments"]["--max-minutes"]) == ("true", "480")


def test_extra_job_arguments_and_spark_conf_reach_their_jobs(cdk: Any, default: Any) -> None:
    """The escape hatch: extra DefaultArguments per job, Spark properties as Glue's ``--conf``; the construct's own
    arguments stay as they are (overriding one of them is refused, see the validation cases)."""
    _, _, template = _build(
        cdk,
        environment_name="dev",
        extra_lister_arguments={"--enable-job-insights": "true"},
        extra_processor_arguments={"--enable-spark-ui": "true", "--spark-event-logs-path": "s3://logs/spark/"},
        spark_conf={"spark.sql.shuffle.partitions": "64", "spark.sql.adaptive.enabled": "true"},
    )
    lister = _job(template, "FileListerAndDbPopulator-dev")["DefaultArguments"]
    assert lister["--enable-job-insights"] == "true"
    assert "--conf" not in lister and "--enable-spark-ui" not in lister
    defaults = _job(default[2], "JsonToParquetBatchProcessor-dev")["DefaultArguments"]
    assert "--conf" not in defaults
    for name in ("JsonToParquetBatchProcessor-dev", "JsonToParquetBatchProcessorBackfill-dev"):
        arguments = _job(template, name)["DefaultArguments"]
        assert arguments["--conf"] == "spark.sql.shuffle.partitions=64 --conf spark.sql.adaptive.enabled=true"
        assert (arguments["--enable-spark-ui"], arguments["--spark-event-logs-path"]) == ("true", "s3://logs/spark/")
        assert "--enable-job-insights" not in arguments
        added = {"--conf", "--enable-spark-ui", "--spark-event-logs-path"}
        # --extra-py-files names the runtime by a digest of its files: leave it out, the runtime may change between
        # the two builds (the bundling tests cover it)
        unchanged = {k: v for k, v in arguments.items() if k not in added | {"--extra-py-files"}}
        expected = _job(default[2], name)["DefaultArguments"]
        assert unchanged == {k: v for k, v in expected.items() if k != "--extra-py-files"}


# --------------------------------------------------------------------------------------------------
# Workflow and triggers
# --------------------------------------------------------------------------------------------------
def test_workflow_has_one_scheduled_start_then_a_conditional_drain(default: Any) -> None:
    _, _, template = default
    workflow = _one(template, "AWS::Glue::Workflow")["Properties"]
    assert workflow["Name"] == "JsonToParquetProcessingWorkflow-dev"
    assert workflow["MaxConcurrentRuns"] == 1
    triggers = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::Glue::Trigger"]
    in_workflow = [t for t in triggers if t.get("WorkflowName") == workflow["Name"]]
    starts = [t for t in in_workflow if t["Type"] in ("SCHEDULED", "ON_DEMAND", "EVENT")]
    assert len(starts) == 1
    start = starts[0]
    assert (start["Type"], start["Schedule"], start["StartOnCreation"]) == ("SCHEDULED", "cron(0/15 * * * ? *)", True)
    assert start["Actions"] == [{"JobName": "FileListerAndDbPopulator-dev"}]
    (conditional,) = [t for t in in_workflow if t["Type"] == "CONDITIONAL"]
    assert conditional["StartOnCreation"] is True
    assert conditional["Predicate"]["Conditions"] == [
        {"JobName": "FileListerAndDbPopulator-dev", "LogicalOperator": "EQUALS", "State": "SUCCEEDED"}
    ]
    assert conditional["Actions"] == [
        {"JobName": "JsonToParquetBatchProcessor-dev", "Arguments": {"--drain": "true", "--max-minutes": "12"}}
    ]


def test_backfill_is_an_on_demand_trigger_outside_the_workflow(default: Any, cfn: Any) -> None:
    _, _, template = default
    backfill = _one(template, "AWS::Glue::Trigger", Name="JsonToParquetBackfill-dev")["Properties"]
    assert backfill["Type"] == "ON_DEMAND"
    assert "WorkflowName" not in backfill
    assert backfill["Actions"] == [
        {
            "JobName": "JsonToParquetBatchProcessorBackfill-dev",
            "Arguments": {"--drain": "true", "--max-minutes": "480"},
            "Timeout": 510,
        }
    ]
    # no trigger of the workflow starts the backfill job, and the backfill trigger starts nothing else
    triggers = cfn.resources(template, "AWS::Glue::Trigger")
    started = [a["JobName"] for _, t in triggers for a in t["Properties"]["Actions"]]
    assert started.count("JsonToParquetBatchProcessorBackfill-dev") == 1
    assert started.count("JsonToParquetBatchProcessor-dev") == 1


def test_custom_schedule_can_start_paused(custom: Any) -> None:
    _, _, template = custom
    start = _one(template, "AWS::Glue::Trigger", Type="SCHEDULED")["Properties"]
    assert (start["Schedule"], start["StartOnCreation"]) == ("cron(0 * * * ? *)", False)
    assert start["WorkflowName"] == "JsonToParquetProcessingWorkflow"


# --------------------------------------------------------------------------------------------------
# Network and security configuration
# --------------------------------------------------------------------------------------------------
def test_connection_uses_a_database_subnet_and_a_self_referencing_group(default: Any, cfn: Any) -> None:
    _, workflow, template = default
    connection = _one(template, "AWS::Glue::Connection")["Properties"]["ConnectionInput"]
    sg_id = cfn.logical_id(workflow.network.security_group)
    assert connection["ConnectionType"] == "NETWORK"
    requirements = connection["PhysicalConnectionRequirements"]
    assert cfn.render(requirements["SecurityGroupIdList"]) == ["${" + sg_id + ".GroupId}"]
    subnet_id = cfn.logical_id(workflow.props.database.subnets.subnets[0])
    assert cfn.render(requirements["SubnetId"]) == "${" + subnet_id + "}"
    self_rules = [
        r["Properties"] for r in template["Resources"].values()
        if r["Type"] == "AWS::EC2::SecurityGroupIngress"
        and cfn.render(r["Properties"]["GroupId"]) == "${" + sg_id + ".GroupId}"
        and cfn.render(r["Properties"].get("SourceSecurityGroupId")) == "${" + sg_id + ".GroupId}"
    ]
    assert [(r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in self_rules] == [("tcp", 0, 65535)]


def test_database_admits_the_glue_group_on_its_port_only(default: Any, cfn: Any) -> None:
    _, workflow, template = default
    db_sg = "${" + cfn.logical_id(workflow.props.database.security_group) + ".GroupId}"
    glue_sg = "${" + cfn.logical_id(workflow.network.security_group) + ".GroupId}"
    rules = [
        r["Properties"] for r in template["Resources"].values()
        if r["Type"] == "AWS::EC2::SecurityGroupIngress" and cfn.render(r["Properties"]["GroupId"]) == db_sg
        and cfn.render(r["Properties"].get("SourceSecurityGroupId")) == glue_sg
    ]
    assert [(r["FromPort"], r["ToPort"]) for r in rules] == [(5432, 5432)]


def test_vpc_endpoints_for_s3_secrets_logs_monitoring_and_glue(default: Any, cfn: Any) -> None:
    _, workflow, template = default
    services = sorted(
        cfn.render(r["Properties"]["ServiceName"]) for r in template["Resources"].values()
        if r["Type"] == "AWS::EC2::VPCEndpoint"
    )
    assert [s.rsplit(".", 1)[1] for s in services] == ["glue", "logs", "monitoring", "s3", "secretsmanager"], services
    glue_sg = "${" + cfn.logical_id(workflow.network.security_group) + ".GroupId}"
    https_from_glue = [
        r for r in template["Resources"].values()
        if r["Type"] == "AWS::EC2::SecurityGroupIngress"
        and cfn.render(r["Properties"].get("SourceSecurityGroupId")) == glue_sg and r["Properties"]["FromPort"] == 443
    ]
    assert len(https_from_glue) == 4  # secretsmanager (the database's), logs, monitoring, glue


def test_security_configuration_encrypts_logs_bookmarks_and_s3(default: Any, custom: Any, cfn: Any) -> None:
    _, workflow, template = default
    config = _one(template, "AWS::Glue::SecurityConfiguration")["Properties"]
    encryption = cfn.render(config["EncryptionConfiguration"])
    logs_key = "${" + cfn.logical_id(workflow.security_configuration.key) + ".Arn}"
    bucket_key = "${" + cfn.logical_id(workflow.props.bucket.encryption_key) + ".Arn}"
    assert encryption["CloudWatchEncryption"] == {"CloudWatchEncryptionMode": "SSE-KMS", "KmsKeyArn": logs_key}
    assert encryption["JobBookmarksEncryption"] == {"JobBookmarksEncryptionMode": "CSE-KMS", "KmsKeyArn": logs_key}
    assert encryption["S3Encryptions"] == [{"S3EncryptionMode": "SSE-KMS", "KmsKeyArn": bucket_key}]
    key_policy = template["Resources"][cfn.logical_id(workflow.security_configuration.key)]["Properties"]["KeyPolicy"]
    logs_statements = [
        s for s in key_policy["Statement"]
        if "logs." in json.dumps(s["Principal"]) and "kms:EncryptionContext:aws:logs:arn" in json.dumps(s["Condition"])
    ]
    assert len(logs_statements) == 1
    custom_config = _one(custom[2], "AWS::Glue::SecurityConfiguration")["Properties"]
    assert custom_config["EncryptionConfiguration"]["S3Encryptions"] == [{"S3EncryptionMode": "SSE-S3"}]


def _security_configuration(app_context: dict[str, Any] | None = None, s3_key: str | None = "BucketKey",
                            base: str = "mldp-glue", **stack: Any) -> tuple[Any, dict[str, Any]]:
    """A bare stack with one GlueSecurityConfiguration; ``s3_key`` names the KMS key it uses for S3 (None: SSE-S3)."""
    from aws_cdk import App, Stack
    from aws_cdk import aws_kms as kms
    from aws_cdk.assertions import Template

    from platform_constructs.glue_security_configuration import (
        GlueSecurityConfiguration,
        GlueSecurityConfigurationProps,
    )

    scope = Stack(App(context=app_context), "Sec", **stack)
    key = kms.Key(scope, s3_key) if s3_key else None
    construct = GlueSecurityConfiguration(scope, "Config", GlueSecurityConfigurationProps(name=base, s3_key=key))
    return construct, Template.from_stack(scope).to_json()


def test_security_configuration_name_changes_with_its_encryption_settings() -> None:
    """Glue replaces a changed configuration (create, then delete): only a new name avoids the collision."""
    kms_bucket, template = _security_configuration()
    assert _one(template, "AWS::Glue::SecurityConfiguration")["Properties"]["Name"] == kms_bucket.name
    assert re.fullmatch(r"mldp-glue-[0-9a-f]{8}", kms_bucket.name)
    same, _ = _security_configuration()
    other_key, _ = _security_configuration(s3_key="OtherBucketKey")
    sse_s3, _ = _security_configuration(s3_key=None)
    assert same.name == kms_bucket.name  # identical content: same name, no replacement
    assert len({kms_bucket.name, other_key.name, sse_s3.name}) == 3  # another key / another S3 mode: new name


def test_security_configuration_name_stays_within_glue_limit() -> None:
    from platform_constructs.glue_security_configuration import MAX_BASE_NAME_LENGTH, GlueSecurityConfigurationProps

    longest, _ = _security_configuration(base="n" * MAX_BASE_NAME_LENGTH)
    assert len(longest.name) == 255
    with pytest.raises(ValueError, match=r"GlueSecurityConfigurationProps\.name must be 1-246 characters"):
        GlueSecurityConfigurationProps(name="n" * (MAX_BASE_NAME_LENGTH + 1)).validate()


def test_logs_principal_uses_the_partition_url_suffix(cfn: Any) -> None:
    """In aws-cn the regional Logs principal is logs.cn-north-1.amazonaws.com.cn, not ...amazonaws.com."""
    from aws_cdk import Environment
    from aws_cdk.region_info import RegionInfo

    construct, template = _security_configuration(
        {"@aws-cdk/core:enablePartitionLiterals": True},
        env=Environment(account="111122223333", region="cn-north-1"),
    )
    policy = template["Resources"][cfn.logical_id(construct.key)]["Properties"]["KeyPolicy"]
    (statement,) = [s for s in policy["Statement"] if s.get("Sid") == "AllowCloudWatchLogsForGlueLogGroups"]
    # the stack's URL suffix stays a pseudo parameter even with a concrete region
    assert statement["Principal"] == {
        "Service": {"Fn::Join": ["", ["logs.cn-north-1.", {"Ref": "AWS::URLSuffix"}]]}
    }
    suffix = RegionInfo.get("cn-north-1").domain_suffix
    principal = cfn.render(statement["Principal"]["Service"]).replace("${AWS::URLSuffix}", suffix)
    assert principal == "logs.cn-north-1.amazonaws.com.cn"
    assert cfn.render(statement["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]) == (
        "arn:aws-cn:logs:cn-north-1:111122223333:log-group:/aws-glue/*"
    )


# --------------------------------------------------------------------------------------------------
# Roles
# --------------------------------------------------------------------------------------------------
def _actions(statements: list[dict[str, Any]]) -> set[str]:
    return {a for s in statements for a in s["Action"]}


def test_one_role_per_job_and_no_wildcard_actions(default: Any, cfn: Any) -> None:
    _, workflow, template = default
    lister = cfn.logical_id(workflow.lister_role.role)
    processor = cfn.logical_id(workflow.processor_role.role)
    jobs = {
        r["Properties"]["Name"]: cfn.render(r["Properties"]["Role"])
        for _, r in cfn.resources(template, "AWS::Glue::Job")
    }
    assert jobs == {"FileListerAndDbPopulator-dev": "${" + lister + ".Arn}",
                    "JsonToParquetBatchProcessor-dev": "${" + processor + ".Arn}",
                    "JsonToParquetBatchProcessorBackfill-dev": "${" + processor + ".Arn}"}
    for role in (lister, processor):
        role_props = template["Resources"][role]["Properties"]
        assert "ManagedPolicyArns" not in role_props
        actions = _actions(cfn.role_statements(template, role))
        assert not [a for a in actions if a == "*" or a.endswith(":*")], actions


def test_lister_role_only_lists_the_raw_prefix(default: Any, cfn: Any) -> None:
    _, workflow, template = default
    statements = cfn.role_statements(template, workflow.lister_role.role)
    s3 = [s for s in statements if any(a.startswith("s3:") for a in s["Action"])]
    bucket_arn = "${" + cfn.logical_id(workflow.props.bucket.bucket) + ".Arn}"
    (listing,) = [s for s in s3 if s["Action"] == ["s3:ListBucket"]]
    assert listing["Resource"] == [bucket_arn]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["raw-json-data", "raw-json-data/*"]}}
    s3_actions = _actions(s3)
    assert s3_actions == {"s3:ListBucket", "s3:GetBucketLocation", "s3:GetObject"}
    # s3:GetObject only on the lister's own code objects in the CDK asset bucket
    (code,) = [s for s in s3 if s["Action"] == ["s3:GetObject"]]
    assert all("cdk-hnb659fds-assets" in r for r in code["Resource"])
    assert sorted(r.rsplit("/", 1)[1].split("-")[0] for r in code["Resource"]) == [
        "PyYAML", "file_lister_and_db_populator", "mldp_runtime", "psycopg2_binary"]


def test_processor_role_is_prefix_scoped(default: Any, cfn: Any) -> None:
    _, workflow, template = default
    statements = cfn.role_statements(template, workflow.processor_role.role)
    bucket_arn = "${" + cfn.logical_id(workflow.props.bucket.bucket) + ".Arn}"
    writes = {"s3:PutObject", "s3:DeleteObject"}
    for statement in statements:
        if writes & set(statement["Action"]):
            for resource in statement["Resource"]:
                assert resource.startswith(bucket_arn + "/") and resource.endswith("/*"), resource
                prefix = resource[len(bucket_arn) + 1:]
                assert prefix in {
                    "raw-json-data/*", "raw-json-data-processed/*", "curated-data-lake/_staging/*",
                    "curated-data-lake/json_parsed_parquet/*", "error-data-lake/json_malformed_records/*",
                }, prefix
    put_targets = {r for s in statements if "s3:PutObject" in s["Action"] for r in s["Resource"]}
    assert bucket_arn + "/raw-json-data/*" not in put_targets  # raw files are read and deleted, never written
    asset_reads = [r for s in statements if s["Action"] == ["s3:GetObject"] for r in s["Resource"]
                   if "cdk-hnb659fds-assets" in r]
    assert sorted(r.rsplit("/", 1)[1].split("-")[0] for r in asset_reads) == [
        "PyYAML", "json_to_parquet_batch_processor", "psycopg2_binary", "runtime"]


def test_only_the_processor_role_lists_the_bucket_without_a_prefix_condition(default: Any, cfn: Any) -> None:
    """The processor observes missing keys (manifest, retried copies, vanished files, Spark's output checks): S3
    answers it 404 rather than 403 only with an unconditioned s3:ListBucket on the bucket. The lister never reads
    a key, so it keeps its raw-prefix condition."""
    _, workflow, template = default
    bucket_arn = "${" + cfn.logical_id(workflow.props.bucket.bucket) + ".Arn}"
    processor = [s for s in cfn.role_statements(template, workflow.processor_role.role)
                 if "s3:ListBucket" in s["Action"] and s["Resource"] == [bucket_arn]]
    assert {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [bucket_arn], "Condition": {}} in processor
    lister = [s for s in cfn.role_statements(template, workflow.lister_role.role) if "s3:ListBucket" in s["Action"]]
    assert lister and all(s["Condition"] for s in lister)


def test_the_processor_role_reads_the_state_of_its_own_job_runs_only(default: Any, cfn: Any) -> None:
    """A run recovers at once a batch whose owner's Glue run ended (glue:GetJobRun); nothing wider."""
    _, workflow, template = default
    statements = [s for s in cfn.role_statements(template, workflow.processor_role.role)
                  if "glue:GetJobRun" in s["Action"]]
    assert [s["Action"] for s in statements] == [["glue:GetJobRun"]]
    names = sorted(r.rsplit(":job/", 1)[1] for r in statements[0]["Resource"])
    assert names == sorted([workflow.processor_job_name, workflow.backfill_job_name])
    lister = cfn.role_statements(template, workflow.lister_role.role)
    assert not any("glue:GetJobRun" in s["Action"] for s in lister)


def test_roles_share_scoped_metrics_logs_secret_and_network_statements(default: Any, cfn: Any) -> None:
    _, workflow, template = default
    secret = cfn.render({"Ref": cfn.logical_id(workflow.props.database.secret)})
    for role, namespaces in ((workflow.lister_role.role, ["MlDataPlatform"]),
                             (workflow.processor_role.role, ["MlDataPlatform", "Glue"])):
        statements = cfn.role_statements(template, role)
        (metrics,) = [s for s in statements if s["Action"] == ["cloudwatch:PutMetricData"]]
        assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": namespaces}}
        (logs,) = [s for s in statements if "logs:PutLogEvents" in s["Action"]]
        assert all(":log-group:/aws-glue/*" in r for r in logs["Resource"])
        secret_reads = [s for s in statements if "secretsmanager:GetSecretValue" in s["Action"]]
        assert [s["Resource"] for s in secret_reads] == [[secret]]
        (connection,) = [s for s in statements if s["Action"] == ["glue:GetConnection"]]
        assert connection["Resource"][1].endswith(":connection/mldp-glue-network-dev")
        (eni,) = [s for s in statements if s["Action"] == ["ec2:CreateNetworkInterface"]]
        subnet = cfn.render({"Ref": cfn.logical_id(workflow.network.subnet)})
        assert any(r.endswith(":subnet/" + subnet) for r in eni["Resource"])
        (tags,) = [s for s in statements if "ec2:CreateTags" in s["Action"]]
        assert tags["Condition"] == {"ForAllValues:StringEquals": {"aws:TagKeys": ["aws-glue-service-resource"]}}


# --------------------------------------------------------------------------------------------------
# Data Catalog
# --------------------------------------------------------------------------------------------------
def test_catalog_table_over_curated_parquet_with_partition_projection(default: Any, custom: Any, cfn: Any) -> None:
    _, workflow, template = default
    database = _one(template, "AWS::Glue::Database")["Properties"]
    assert database["DatabaseInput"]["Name"] == "ml_data_platform_dev"
    table = cfn.render(_one(template, "AWS::Glue::Table")["Properties"])
    assert table["DatabaseName"] == "ml_data_platform_dev"
    table_input = table["TableInput"]
    bucket = "${" + cfn.logical_id(workflow.props.bucket.bucket) + "}"
    assert table_input["StorageDescriptor"]["Location"] == f"s3://{bucket}/curated-data-lake/json_parsed_parquet/"
    assert table_input["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
    assert [c["Name"] for c in table_input["PartitionKeys"]] == ["year", "month", "day", "mode"]
    assert [c["Name"] for c in table_input["StorageDescriptor"]["Columns"]] == [
        "id", "event_date", "event_mode", "nested_field1", "original_complex_list", "source_s3_path",
        "source_version"]
    params = table_input["Parameters"]
    assert params["projection.enabled"] == "true"
    assert (params["projection.month.range"], params["projection.day.range"]) == ("1,12", "1,31")
    assert params["projection.mode.type"] == "injected"
    assert params["storage.location.template"] == (
        f"s3://{bucket}/curated-data-lake/json_parsed_parquet/year=${{year}}/month=${{month}}/day=${{day}}/mode=${{mode}}"
    )
    custom_params = _one(custom[2], "AWS::Glue::Table")["Properties"]["TableInput"]["Parameters"]
    assert (custom_params["projection.mode.type"], custom_params["projection.mode.values"]) == ("enum", "batch,stream")


def test_catalog_columns_match_the_runtime_default_transform_spec() -> None:
    from platform_constructs.catalog_table import DEFAULT_COLUMNS, DEFAULT_PARTITION_KEYS

    spec = json.loads((RUNTIME / "transforms" / "default_spec.json").read_text())
    lineage = [("source_s3_path", "string"), ("source_version", "int")]
    assert [(c["name"], c["type"]) for c in spec["columns"]] + lineage == list(DEFAULT_COLUMNS)
    assert [p["name"] for p in spec["partitions"]] == [name for name, _ in DEFAULT_PARTITION_KEYS]


# --------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------------
# Bundling
# --------------------------------------------------------------------------------------------------
def _sample_package(root: Path) -> Path:
    package = root / "runtime"
    (package / "glue").mkdir(parents=True)
    (package / "__pycache__").mkdir()
    (package / "__init__.py").write_text('"""sample"""\n')
    (package / "glue" / "entry.py").write_text("print('hi')\n")
    (package / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"junk")
    (package / "stale.pyc").write_bytes(b"junk")
    return package


def test_runtime_archives_are_reproducible_and_clean(tmp_path: Path) -> None:
    import os

    from platform_constructs.glue_assets import build_runtime_wheel, build_runtime_zip

    package = _sample_package(tmp_path / "src")
    first = build_runtime_zip(package, tmp_path / "a")
    first_wheel = build_runtime_wheel(package, tmp_path / "a")
    for path in package.rglob("*"):  # other timestamps, same content
        os.utime(path, (1_700_000_000, 1_700_000_000))
    second = build_runtime_zip(package, tmp_path / "b")
    assert first.name == second.name and first.read_bytes() == second.read_bytes()
    assert first_wheel.read_bytes() == build_runtime_wheel(package, tmp_path / "b").read_bytes()
    with zipfile.ZipFile(first) as archive:
        assert archive.namelist() == ["runtime/__init__.py", "runtime/glue/entry.py"]
        assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    (package / "glue" / "entry.py").write_text("print('changed')\n")
    assert build_runtime_zip(package, tmp_path / "c").name != first.name  # the name tracks the content


def test_runtime_wheel_installs_with_pip_offline(tmp_path: Path) -> None:
    from platform_constructs.glue_assets import build_runtime_wheel

    wheel = build_runtime_wheel(RUNTIME, tmp_path)
    target = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-index", "--no-deps", "--quiet", "--target", str(target),
         str(wheel)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (target / "runtime" / "glue" / "file_lister_and_db_populator.py").is_file()
    assert (target / "mldp_runtime-0.1.0.dist-info" / "RECORD").is_file()


def test_missing_wheels_fail_with_the_script_to_run(tmp_path: Path) -> None:
    from platform_constructs.glue_assets import GlueWheelsMissingError, find_wheels

    with pytest.raises(GlueWheelsMissingError, match=r"scripts/fetch-glue-wheels\.sh"):
        find_wheels(tmp_path, "cp311")
    vendored = find_wheels(REPO / "platform_constructs" / "glue_wheels", "cp39")
    assert [w.name.split("-")[0] for w in vendored] == ["psycopg2_binary", "PyYAML"]


# --------------------------------------------------------------------------------------------------
# The Python-shell lister runs Python 3.9: its import closure must stay 3.9-compatible
# --------------------------------------------------------------------------------------------------
def _runtime_imports(path: Path, *, in_functions: bool = True) -> set[str]:
    """``runtime.*`` modules imported by ``path``: at module level, and inside functions if ``in_functions``."""
    names: set[str] = set()
    stack: list[ast.AST] = [ast.parse(path.read_text())]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "runtime":
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.split(".")[0] == "runtime")
        if in_functions or not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            stack.extend(ast.iter_child_nodes(node))
    return names


def _module_file(name: str) -> Path | None:
    base = REPO.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports_pyspark(path: Path) -> bool:
    return any(
        (isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] == "pyspark")
        or (isinstance(n, ast.Import) and any(a.name.split(".")[0] == "pyspark" for a in n.names))
        for n in ast.walk(ast.parse(path.read_text()))
    )


def lister_import_closure() -> list[Path]:
    """Every runtime file that ``mldp list`` (the lister entry script) can import on Glue.

    All ``runtime`` imports are followed, module-level and inside functions, with two boundaries: modules that
    import pyspark (Spark-only, never reached by the lister; Python shell has no pyspark), and the handler
    functions of the ``runtime/commands/*`` modules. The CLI imports every command module to register its
    parser, so their module-level imports are followed; their handlers run other subcommands, never ``list``.
    """
    entry = RUNTIME / "glue" / "file_lister_and_db_populator.py"
    commands_dir = RUNTIME / "commands"
    seen: dict[Path, None] = {entry: None}
    queue = [entry]
    while queue:
        path = queue.pop()
        is_command = path.parent == commands_dir and path.name != "__init__.py"
        wanted = {_module_file(n) for n in _runtime_imports(path, in_functions=not is_command)}
        if path == commands_dir / "__init__.py":  # register_commands() imports every command module
            wanted.update(commands_dir.glob("*.py"))
        parents = set()
        for file in wanted - {None}:
            rel = file.relative_to(REPO).with_suffix("").parts
            for i in range(1, len(rel)):
                parents.add(REPO.joinpath(*rel[:i]) / "__init__.py")
        for file in (wanted | parents) - {None}:
            if file.is_file() and file not in seen and not _imports_pyspark(file):
                seen[file] = None
                queue.append(file)
    return sorted(seen)


def test_lister_import_closure_is_python_39_compatible() -> None:
    closure = lister_import_closure()
    relative = [str(p.relative_to(REPO)) for p in closure]
    assert "runtime/cli.py" in relative and "runtime/jobs/lister.py" in relative, relative
    for path in closure:  # the grammar of 3.9 (no match statements, no parenthesized context managers, ...)
        ast.parse(path.read_text(), filename=str(path), feature_version=(3, 9))
    vermin = Path(sys.executable).parent / "vermin"
    result = subprocess.run(
        [str(vermin), "--no-tips", "--violations", "--target=3.9-", "--no-parse-comments",
         *map(str, closure)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, f"not Python 3.9-compatible ({relative}):\n{result.stdout}{result.stderr}"


def test_jobs_are_told_the_bucket_layout(cdk: Any) -> None:
    """A bucket with its own prefixes: both jobs get them as arguments, so the runtime acts where IAM allows."""
    prefixes = {"raw_prefix": "incoming/", "processed_prefix": "done/", "curated_prefix": "lake/parquet/",
                "staging_prefix": "lake/_staging/", "dead_letter_prefix": "lake/errors/"}
    _, workflow, template = _build(cdk, cdk.BucketProps(**prefixes), environment_name="dev")
    expected = {f"--{name.replace('_prefix', '').replace('_', '-')}-prefix": value for name, value in prefixes.items()}
    for job in (workflow.lister_job_name, workflow.processor_job_name, workflow.backfill_job_name):
        arguments = _job(template, job)["DefaultArguments"]
        assert {k: arguments[k] for k in expected} == expected
