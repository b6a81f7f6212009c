"""JsonToParquetWorkflow's security configuration (glue/security_configuration.py): what it encrypts, its name, its
key policy."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

pytestmark = pytest.mark.infra


def test_security_configuration_encrypts_logs_bookmarks_and_s3(default: Any, custom: Any, cfn: Any) -> None:
    _, workflow, template = default
    config = cfn.one(template, "AWS::Glue::SecurityConfiguration")["Properties"]
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
    custom_config = cfn.one(custom[2], "AWS::Glue::SecurityConfiguration")["Properties"]
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


def test_security_configuration_name_changes_with_its_encryption_settings(cfn: Any) -> None:
    """Glue replaces a changed configuration (create, then delete): only a new name avoids the collision."""
    kms_bucket, template = _security_configuration()
    assert cfn.one(template, "AWS::Glue::SecurityConfiguration")["Properties"]["Name"] == kms_bucket.name
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
