"""Issue 18, items 9 and 10 on the workflow: the jobs' Glue log groups are the stack's (retention, the security
configuration's key), and ``failover_connection`` gives every job a second connection in another AZ."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.infra


def _log_groups(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in template["Resources"].values() if r["Type"] == "AWS::Logs::LogGroup"]


def test_glue_log_groups_are_created_with_retention_and_the_security_configuration_key(
    build_workflow: Any, cfn: Any
) -> None:
    from aws_cdk import aws_logs as logs

    _, workflow, template = build_workflow(environment_name="dev", glue_log_retention=logs.RetentionDays.TWO_WEEKS)
    config = workflow.security_configuration
    key = "${" + cfn.logical_id(config.key) + ".Arn}"
    groups = {
        cfn.render(g["Properties"]["LogGroupName"]): g for g in _log_groups(template)
        if "/aws-glue/" in str(cfn.render(g["Properties"].get("LogGroupName")))
    }
    expected = {
        f"/aws-glue/jobs/{config.name}-role/${{{cfn.logical_id(role.role)}}}/{stream}"
        for role in (workflow.lister_role, workflow.processor_role)
        for stream in ("output", "error")
    }
    assert set(groups) == expected
    for group in groups.values():
        assert group["Properties"]["RetentionInDays"] == 14
        assert cfn.render(group["Properties"]["KmsKeyId"]) == key
        assert group["DeletionPolicy"] == "Retain"  # the key's removal policy: logs outlive nothing they need
    assert len(workflow.log_groups) == 4


def test_the_logs_key_policy_lets_cloudwatch_logs_use_it_for_the_glue_log_groups(default: Any, cfn: Any) -> None:
    _, workflow, template = default
    key = template["Resources"][cfn.logical_id(workflow.security_configuration.key)]
    (statement,) = [s for s in key["Properties"]["KeyPolicy"]["Statement"]
                    if s.get("Sid") == "AllowCloudWatchLogsForGlueLogGroups"]
    assert "kms:GenerateDataKey*" in statement["Action"] and "kms:Encrypt*" in statement["Action"]
    pattern = cfn.render(statement["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"])
    assert pattern.endswith(":log-group:/aws-glue/*")
    # every created group's name lies under that pattern
    names = [cfn.render(template["Resources"][cfn.logical_id(g)]["Properties"]["LogGroupName"])
             for g in workflow.log_groups]
    assert names and all(name.startswith("/aws-glue/jobs/") for name in names)


def test_without_failover_every_job_has_one_connection(default: Any, cfn: Any) -> None:
    _, workflow, template = default
    assert workflow.network.failover is None
    assert len([r for r in template["Resources"].values() if r["Type"] == "AWS::Glue::Connection"]) == 1
    for name in (workflow.lister_job_name, workflow.processor_job_name, workflow.backfill_job_name):
        assert cfn.job(template, name)["Connections"]["Connections"] == [workflow.network.connection_name]


def test_failover_connection_in_the_second_subnet_is_listed_second_by_every_job(
    build_workflow: Any, cfn: Any
) -> None:
    _, workflow, template = build_workflow(environment_name="prod", failover_connection=True)
    network = workflow.network
    subnets = workflow.props.database.subnets.subnets
    connections = {
        c["Properties"]["ConnectionInput"]["Name"]: c["Properties"]["ConnectionInput"]
        for c in template["Resources"].values() if c["Type"] == "AWS::Glue::Connection"
    }
    assert list(connections) == ["mldp-glue-network-prod", "mldp-glue-network-prod-failover"]
    first, second = (connections[n]["PhysicalConnectionRequirements"] for n in connections)
    assert cfn.render(first["SubnetId"]) == "${" + cfn.logical_id(subnets[0]) + "}"
    assert cfn.render(second["SubnetId"]) == "${" + cfn.logical_id(subnets[1]) + "}"
    assert cfn.render(first["AvailabilityZone"]) != cfn.render(second["AvailabilityZone"])
    assert first["SecurityGroupIdList"] == second["SecurityGroupIdList"]
    for name in (workflow.lister_job_name, workflow.processor_job_name, workflow.backfill_job_name):
        job = cfn.one(template, "AWS::Glue::Job", Name=name)
        assert job["Properties"]["Connections"]["Connections"] == list(connections)  # Glue tries them in order
        assert cfn.logical_id(network.failover) in job["DependsOn"]
    # the interface endpoints reach both AZs, and the roles may place ENIs in both subnets and read both connections
    for endpoint in network.interface_endpoints.values():
        rendered = cfn.render(template["Resources"][cfn.logical_id(endpoint)]["Properties"]["SubnetIds"])
        assert rendered == ["${" + cfn.logical_id(s) + "}" for s in subnets[:2]]
    statements = cfn.role_statements(template, workflow.lister_role.role)
    (get_connection,) = [s for s in statements if s["Action"] == ["glue:GetConnection"]]
    assert any("mldp-glue-network-prod-failover" in str(r) for r in get_connection["Resource"])


def test_failover_connection_needs_two_subnets(cdk: Any) -> None:
    from aws_cdk import aws_ec2 as ec2

    from platform_constructs.json_to_parquet_workflow.glue.network import GlueNetworkProps

    stack = cdk.Stack(cdk.App(), "One")
    vpc = ec2.Vpc(stack, "Vpc", max_azs=1, subnet_configuration=[
        ec2.SubnetConfiguration(name="p", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
    ])
    props = GlueNetworkProps(vpc=vpc, subnets=vpc.isolated_subnets, connection_name="c", failover_connection=True)
    with pytest.raises(ValueError, match="failover_connection needs at least two subnets"):
        props.validate()
