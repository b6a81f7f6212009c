"""``TrackingDatabase``: the secret and the flow logs on a customer-managed key, and Enhanced Monitoring
(checkov CKV_AWS_149, CKV_AWS_158 and CKV_AWS_118 fixed rather than acknowledged)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from aws_cdk import App, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Template

from platform_constructs import TrackingDatabase, TrackingDatabaseProps

pytestmark = pytest.mark.infra


def _build(props: TrackingDatabaseProps, given_key: bool = False) -> tuple[TrackingDatabase, dict[str, Any], Stack]:
    stack = Stack(App(), "EncryptedDatabaseStack")
    if given_key:
        props = dataclasses.replace(props, secret_encryption_key=kms.Key(stack, "TheirKey"))
    construct = TrackingDatabase(stack, "Tracking", props)
    role = iam.Role(stack, "JobRole", assumed_by=iam.ServicePrincipal("glue.amazonaws.com"))
    construct.grant_connect(role)
    return construct, Template.from_stack(stack).to_json(), stack


@pytest.fixture(scope="module")
def default() -> tuple[TrackingDatabase, dict[str, Any], Stack]:
    return _build(TrackingDatabaseProps())


@pytest.fixture(scope="module")
def given_key() -> tuple[TrackingDatabase, dict[str, Any], Stack]:
    return _build(TrackingDatabaseProps(monitoring_interval_seconds=0), given_key=True)


def _key_id(construct: TrackingDatabase, cfn: Any) -> str:
    return cfn.logical_id(construct.key)


def test_the_secret_and_the_flow_logs_are_on_the_construct_s_rotating_key(default: Any, cfn: Any) -> None:
    construct, template, _ = default
    key_id = _key_id(construct, cfn)
    key = template["Resources"][key_id]
    assert key["Type"] == "AWS::KMS::Key" and key["Properties"]["EnableKeyRotation"] is True
    (_, secret), = cfn.resources(template, "AWS::SecretsManager::Secret")
    assert secret["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    (_, flow_logs), = cfn.resources(template, "AWS::Logs::LogGroup")
    assert flow_logs["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}


def test_the_key_is_kept_exactly_as_long_as_the_secret_it_encrypts(default: Any, cfn: Any) -> None:
    construct, template, _ = default
    (_, secret), = cfn.resources(template, "AWS::SecretsManager::Secret")
    key = template["Resources"][_key_id(construct, cfn)]
    assert (key["DeletionPolicy"], key["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert (key["DeletionPolicy"], key["UpdateReplacePolicy"]) == (
        secret["DeletionPolicy"], secret["UpdateReplacePolicy"]
    )
    _, prod, _ = _build(TrackingDatabaseProps(removal_policy=RemovalPolicy.RETAIN, production=True))
    (_, prod_key), = cfn.resources(prod, "AWS::KMS::Key")
    assert prod_key["DeletionPolicy"] == "RetainExceptOnCreate"  # a failed first create deletes it


def test_cloudwatch_logs_may_use_the_key_only_for_log_groups_of_this_account_and_region(default: Any, cfn: Any) -> None:
    construct, template, _ = default
    statements = template["Resources"][_key_id(construct, cfn)]["Properties"]["KeyPolicy"]["Statement"]
    logs = [s for s in statements if "Service" in s["Principal"]]
    assert len(logs) == 1
    (statement,) = logs
    assert cfn.render(statement["Principal"]["Service"]) == "logs.${AWS::Region}.${AWS::URLSuffix}"
    assert statement["Condition"] == {
        "ArnLike": {
            "kms:EncryptionContext:aws:logs:arn": {
                "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":logs:", {"Ref": "AWS::Region"}, ":",
                                  {"Ref": "AWS::AccountId"}, ":log-group:*"]]
            }
        }
    }
    assert "kms:*" not in statement["Action"] and "kms:CreateGrant" not in statement["Action"]


def test_readers_of_the_secret_may_decrypt_it_through_secrets_manager_only(default: Any, cfn: Any) -> None:
    construct, template, _ = default
    statements = template["Resources"][_key_id(construct, cfn)]["Properties"]["KeyPolicy"]["Statement"]
    (role_id,) = [k for k, _ in cfn.resources(template, "AWS::IAM::Role") if k.startswith("JobRole")]
    job_role = "${" + role_id + ".Arn}"
    readers = [s for s in statements if job_role in cfn.render(cfn.as_list(s["Principal"].get("AWS", [])))]
    assert readers, "the job role cannot decrypt the secret"
    for statement in readers:
        assert set(cfn.as_list(statement["Action"])) == {"kms:Decrypt"}
        assert cfn.render(statement["Condition"]["StringEquals"]["kms:ViaService"]) == (
            "secretsmanager.${AWS::Region}.amazonaws.com"
        )


def test_rotation_is_told_the_key(default: Any, cfn: Any) -> None:
    construct, template, _ = default
    (_, rotation), = cfn.resources(template, "AWS::Serverless::Application")
    assert rotation["Properties"]["Parameters"]["kmsKeyArn"] == {"Fn::GetAtt": [_key_id(construct, cfn), "Arn"]}


def test_a_given_key_is_used_and_none_is_created(given_key: Any, cfn: Any) -> None:
    construct, template, _ = given_key
    assert construct.key is construct.props.secret_encryption_key
    (key_id, key), = cfn.resources(template, "AWS::KMS::Key")  # theirs only
    assert key_id.startswith("TheirKey")
    (_, secret), = cfn.resources(template, "AWS::SecretsManager::Secret")
    assert secret["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    # a kms.Key of the same app gets the CloudWatch Logs statement for the flow logs
    assert any("Service" in s["Principal"] for s in key["Properties"]["KeyPolicy"]["Statement"])


def test_enhanced_monitoring_every_minute_through_a_role_only_rds_monitoring_assumes(default: Any, cfn: Any) -> None:
    construct, template, _ = default
    instance = template["Resources"][cfn.logical_id(construct.instance)]["Properties"]
    assert instance["MonitoringInterval"] == 60
    role_id = instance["MonitoringRoleArn"]["Fn::GetAtt"][0]
    role = template["Resources"][role_id]["Properties"]
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "monitoring.rds.amazonaws.com"}
    assert [cfn.render(arn) for arn in role["ManagedPolicyArns"]] == [
        "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
    ]


def test_monitoring_interval_zero_turns_enhanced_monitoring_off(given_key: Any, cfn: Any) -> None:
    construct, template, _ = given_key
    instance = template["Resources"][cfn.logical_id(construct.instance)]["Properties"]
    assert "MonitoringInterval" not in instance and "MonitoringRoleArn" not in instance
    assert not [k for k, _ in cfn.resources(template, "AWS::IAM::Role") if "MonitoringRole" in k]
