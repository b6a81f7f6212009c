"""JsonToParquetWorkflow's network (connection, groups, VPC endpoints), security configuration and IAM roles."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.infra.workflow_helpers import _one

pytestmark = pytest.mark.infra
pytest_plugins = ("tests.infra.workflow_helpers",)



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

    from platform_constructs.json_to_parquet_workflow.glue.security_configuration import (
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
    from platform_constructs.json_to_parquet_workflow.glue.security_configuration import (
        MAX_BASE_NAME_LENGTH,
        GlueSecurityConfigurationProps,
    )

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
