"""Assertion tests of ``TrackingDatabase`` on bare stacks, with default and overridden props."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Environment, RemovalPolicy, Stack, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_rds as rds
from aws_cdk.assertions import Template

from platform_constructs import TrackingDatabase, TrackingDatabaseProps

pytestmark = pytest.mark.infra


@dataclass
class Built:
    """A synthesized bare stack with one TrackingDatabase, one client security group and one role."""

    stack: Stack
    template: Template
    construct: TrackingDatabase
    client: ec2.SecurityGroup
    role: iam.Role
    vpc: ec2.IVpc


def _build(props_factory: Any) -> Built:
    stack = Stack(App(), "DatabaseStack")
    props, vpc = props_factory(stack)
    construct = TrackingDatabase(stack, "Tracking", props)
    client = ec2.SecurityGroup(stack, "GlueClient", vpc=construct.vpc, allow_all_outbound=False)
    construct.allow_from(client)
    role = iam.Role(stack, "JobRole", assumed_by=iam.ServicePrincipal("glue.amazonaws.com"))
    construct.grant_connect(role)
    return Built(
        stack, Template.from_stack(stack), construct, client, role, construct.vpc if vpc is None else vpc
    )


@pytest.fixture(scope="module")
def default() -> Built:
    return _build(lambda stack: (None, None))


def _prod_props(stack: Stack) -> tuple[TrackingDatabaseProps, ec2.IVpc]:
    vpc = ec2.Vpc(
        stack,
        "TheirVpc",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="Db", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        ],
    )
    props = TrackingDatabaseProps(
        vpc=vpc,
        vpc_subnets=ec2.SubnetSelection(subnet_group_name="Db"),
        instance_type="db.m7g.large",
        engine_version=rds.PostgresEngineVersion.VER_17_6,
        database_name="tracking",
        multi_az=True,
        deletion_protection=True,
        removal_policy=RemovalPolicy.RETAIN,
        backup_retention_days=14,
        rotation_days=7,
        performance_insights=False,
        monitoring_interval_seconds=60,
        allocated_storage_gib=50,
        max_allocated_storage_gib=500,
        iam_authentication=True,
    )
    return props, vpc


@pytest.fixture(scope="module")
def prod() -> Built:
    return _build(_prod_props)


def _instance(built: Built, cfn: Any) -> dict[str, Any]:
    return built.template.to_json()["Resources"][cfn.logical_id(built.construct.instance)]


def _ingress_to(built: Built, cfn: Any, group: Any) -> list[dict[str, Any]]:
    group_id = cfn.logical_id(group)
    return [
        cfn.render(r["Properties"])
        for _, r in cfn.resources(built.template, "AWS::EC2::SecurityGroupIngress")
        if r["Properties"]["GroupId"] == {"Fn::GetAtt": [group_id, "GroupId"]}
    ]


def _sg_ref(cfn: Any, group: Any) -> str:
    return "${" + cfn.logical_id(group) + ".GroupId}"


# --------------------------------------------------------------------------------------------
# Instance
# --------------------------------------------------------------------------------------------
def test_default_instance_is_small_encrypted_private_and_observable(default: Built, cfn: Any) -> None:
    resource = _instance(default, cfn)
    props = resource["Properties"]
    expected = {
        "Engine": "postgres",
        "EngineVersion": "16.13",
        "DBInstanceClass": "db.t4g.micro",
        "DBName": "data_platform_db",
        "Port": "5432",
        "StorageEncrypted": True,
        "StorageType": "gp3",
        "AllocatedStorage": "20",
        "MaxAllocatedStorage": 100,
        "PubliclyAccessible": False,
        "MultiAZ": False,
        "DeletionProtection": False,
        "BackupRetentionPeriod": 7,
        "EnablePerformanceInsights": True,
        "PerformanceInsightsRetentionPeriod": 7,
        "EnableCloudwatchLogsExports": ["postgresql", "upgrade"],
        "CACertificateIdentifier": "rds-ca-rsa2048-g1",
        "AutoMinorVersionUpgrade": True,
        "AllowMajorVersionUpgrade": False,
        "PreferredMaintenanceWindow": "sun:03:00-sun:03:30",
        "PreferredBackupWindow": "02:00-02:30",
    }
    assert {k: props.get(k) for k in expected} == expected
    assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("Snapshot", "Snapshot")
    assert props["MonitoringInterval"] == 60  # Enhanced Monitoring by default (test_encryption_and_monitoring)
    assert cfn.render(props["VPCSecurityGroups"]) == [_sg_ref(cfn, default.construct.security_group)]


def test_parameter_group_forces_ssl(default: Built, cfn: Any) -> None:
    groups = cfn.resources(default.template, "AWS::RDS::DBParameterGroup")
    assert len(groups) == 1
    group_id, group = groups[0]
    assert group["Properties"]["Family"] == "postgres16"
    assert group["Properties"]["Parameters"]["rds.force_ssl"] == "1"
    assert _instance(default, cfn)["Properties"]["DBParameterGroupName"] == {"Ref": group_id}


def test_instance_sits_in_the_isolated_subnets_of_a_created_vpc_without_nat(default: Built, cfn: Any) -> None:
    template = default.template
    template.resource_count_is("AWS::EC2::VPC", 1)
    template.resource_count_is("AWS::EC2::NatGateway", 0)
    template.resource_count_is("AWS::EC2::InternetGateway", 0)
    template.resource_count_is("AWS::EC2::FlowLog", 1)
    subnet_ids = sorted(k for k, _ in cfn.resources(template, "AWS::EC2::Subnet"))
    assert len(subnet_ids) == 2
    for _, subnet in cfn.resources(template, "AWS::EC2::Subnet"):
        assert subnet["Properties"]["MapPublicIpOnLaunch"] is False
        assert subnet["Properties"]["CidrBlock"].endswith("/22")
    (_, subnet_group), *_ = cfn.resources(template, "AWS::RDS::DBSubnetGroup")
    assert sorted(r["Ref"] for r in subnet_group["Properties"]["SubnetIds"]) == subnet_ids
    assert len(default.construct.subnets.subnets) == 2


def test_overridden_instance_is_multi_az_protected_and_retained(prod: Built, cfn: Any) -> None:
    resource = _instance(prod, cfn)
    props = resource["Properties"]
    expected = {
        "EngineVersion": "17.6",
        "DBInstanceClass": "db.m7g.large",
        "DBName": "tracking",
        "MultiAZ": True,
        "DeletionProtection": True,
        "BackupRetentionPeriod": 14,
        "EnablePerformanceInsights": False,
        "MonitoringInterval": 60,
        "AllocatedStorage": "50",
        "MaxAllocatedStorage": 500,
        "EnableIAMDatabaseAuthentication": True,
        "DeleteAutomatedBackups": False,
    }
    assert {k: props.get(k) for k in expected} == expected
    assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("Retain", "Retain")
    (_, group), *_ = cfn.resources(prod.template, "AWS::RDS::DBParameterGroup")
    assert group["Properties"]["Family"] == "postgres17"
    assert group["Properties"]["Parameters"]["rds.force_ssl"] == "1"


def test_given_vpc_is_used_and_no_vpc_or_endpoint_is_created(prod: Built, cfn: Any) -> None:
    assert prod.construct.vpc is prod.vpc
    (_, subnet_group), *_ = cfn.resources(prod.template, "AWS::RDS::DBSubnetGroup")
    assert sorted(r["Ref"] for r in subnet_group["Properties"]["SubnetIds"]) == sorted(
        cfn.logical_id(s.node.default_child) for s in prod.vpc.isolated_subnets
    )
    prod.template.resource_count_is("AWS::EC2::VPC", 1)  # the test's own VPC
    prod.template.resource_count_is("AWS::EC2::VPCEndpoint", 0)
    assert prod.construct.secrets_manager_endpoint is None


def test_created_vpc_uses_the_given_availability_zones(cfn: Any) -> None:
    stack = Stack(App(), "AzStack", env=Environment(account="111122223333", region="eu-west-1"))
    TrackingDatabase(
        stack, "Tracking", TrackingDatabaseProps(availability_zones=("eu-west-1b", "eu-west-1c"))
    )
    zones = sorted(
        s["Properties"]["AvailabilityZone"]
        for _, s in cfn.resources(Template.from_stack(stack), "AWS::EC2::Subnet")
    )
    assert zones == ["eu-west-1b", "eu-west-1c"]


# --------------------------------------------------------------------------------------------
# Network access
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["default", "prod"])
def test_database_admits_only_allow_from_peers_and_the_rotation_lambda(
    which: str, request: pytest.FixtureRequest, cfn: Any
) -> None:
    built: Built = request.getfixturevalue(which)
    db_sg = built.construct.security_group
    resources = built.template.to_json()["Resources"]
    assert "SecurityGroupIngress" not in resources[cfn.logical_id(db_sg)]["Properties"]
    rules = _ingress_to(built, cfn, db_sg)
    instance_id = cfn.logical_id(built.construct.instance)
    by_source = {r["SourceSecurityGroupId"]: r for r in rules}
    assert set(by_source) == {
        _sg_ref(cfn, built.client),
        _sg_ref(cfn, built.construct.rotation_security_group),
    }
    client_rule = by_source[_sg_ref(cfn, built.client)]
    assert (client_rule["IpProtocol"], client_rule["FromPort"], client_rule["ToPort"]) == ("tcp", 5432, 5432)
    rotation_rule = by_source[_sg_ref(cfn, built.construct.rotation_security_group)]
    port = "${" + instance_id + ".Endpoint.Port}"
    assert (rotation_rule["FromPort"], rotation_rule["ToPort"]) == (port, port)
    assert all("CidrIp" not in r for r in rules)


def test_secrets_manager_endpoint_is_private_and_admits_only_database_clients(
    default: Built, cfn: Any
) -> None:
    endpoint = default.construct.secrets_manager_endpoint
    assert endpoint is not None
    resource = default.template.to_json()["Resources"][cfn.logical_id(endpoint)]
    assert resource["Properties"]["PrivateDnsEnabled"] is True
    assert resource["Properties"]["VpcEndpointType"] == "Interface"
    assert cfn.render(resource["Properties"]["ServiceName"]) == "com.amazonaws.${AWS::Region}.secretsmanager"
    endpoint_sg = endpoint.connections.security_groups[0]
    rules = _ingress_to(default, cfn, endpoint_sg)
    assert sorted(r["SourceSecurityGroupId"] for r in rules) == sorted(
        [_sg_ref(cfn, default.client), _sg_ref(cfn, default.construct.rotation_security_group)]
    )
    assert all((r["FromPort"], r["ToPort"]) == (443, 443) for r in rules)
    sg_props = default.template.to_json()["Resources"][cfn.logical_id(endpoint_sg)]["Properties"]
    assert "SecurityGroupIngress" not in sg_props


def test_rotation_lambda_egress_is_limited(default: Built, prod: Built, cfn: Any) -> None:
    def egress(built: Built) -> list[dict[str, Any]]:
        group_id = cfn.logical_id(built.construct.rotation_security_group)
        inline = built.template.to_json()["Resources"][group_id]["Properties"].get("SecurityGroupEgress", [])
        separate = [
            r["Properties"]
            for _, r in cfn.resources(built.template, "AWS::EC2::SecurityGroupEgress")
            if r["Properties"]["GroupId"] == {"Fn::GetAtt": [group_id, "GroupId"]}
        ]
        return [cfn.render(r) for r in inline + separate]

    default_targets = {
        (r.get("DestinationSecurityGroupId") or r.get("CidrIp"), r["FromPort"]) for r in egress(default)
    }
    db_port = "${" + cfn.logical_id(default.construct.instance) + ".Endpoint.Port}"
    endpoint_sg = default.construct.secrets_manager_endpoint.connections.security_groups[0]
    assert default_targets == {
        (_sg_ref(cfn, default.construct.security_group), db_port),
        (_sg_ref(cfn, endpoint_sg), 443),
    }
    prod_targets = {
        (r.get("DestinationSecurityGroupId") or r.get("CidrIp"), r["FromPort"]) for r in egress(prod)
    }
    assert ("0.0.0.0/0", 443) in prod_targets
    assert all(port == 443 or source.startswith("${") for source, port in prod_targets)


# --------------------------------------------------------------------------------------------
# Secret, rotation, logs, grants
# --------------------------------------------------------------------------------------------
def test_secret_holds_username_and_dbname_and_is_retained(default: Built, cfn: Any) -> None:
    secrets = cfn.resources(default.template, "AWS::SecretsManager::Secret")
    assert len(secrets) == 1
    _, secret = secrets[0]
    template = secret["Properties"]["GenerateSecretString"]["SecretStringTemplate"]
    assert template == '{"username":"pipeline_admin","dbname":"data_platform_db"}'
    assert secret["DeletionPolicy"] == "Retain"
    (_, attachment), *_ = cfn.resources(default.template, "AWS::SecretsManager::SecretTargetAttachment")
    assert attachment["Properties"]["TargetType"] == "AWS::RDS::DBInstance"
    assert attachment["Properties"]["TargetId"] == {"Ref": cfn.logical_id(default.construct.instance)}


@pytest.mark.parametrize(("which", "rate"), [("default", "rate(30 days)"), ("prod", "rate(7 days)")])
def test_secret_rotation_schedule(which: str, rate: str, request: pytest.FixtureRequest, cfn: Any) -> None:
    built: Built = request.getfixturevalue(which)
    schedules = cfn.resources(built.template, "AWS::SecretsManager::RotationSchedule")
    assert len(schedules) == 1
    props = cfn.render(schedules[0][1]["Properties"])
    assert props["RotationRules"] == {"ScheduleExpression": rate}
    applications = cfn.resources(built.template, "AWS::Serverless::Application")
    assert len(applications) == 1
    app_id, application = applications[0]
    assert props["RotationLambdaARN"] == "${" + app_id + ".Outputs.RotationLambdaARN}"
    params = cfn.render(application["Properties"]["Parameters"])
    assert params["vpcSecurityGroupIds"] == _sg_ref(cfn, built.construct.rotation_security_group)
    assert sorted(params["vpcSubnetIds"].split(",")) == sorted(
        "${" + cfn.logical_id(s.node.default_child) + "}" for s in built.construct.subnets.subnets
    )


def test_rotation_uses_the_private_endpoint(default: Built, cfn: Any) -> None:
    (_, application), *_ = cfn.resources(default.template, "AWS::Serverless::Application")
    endpoint_id = cfn.logical_id(default.construct.secrets_manager_endpoint)
    assert cfn.render(application["Properties"]["Parameters"]["endpoint"]).startswith(
        "https://${" + endpoint_id + "}"
    )


def test_exported_logs_have_a_retention(default: Built, cfn: Any) -> None:
    retention = {
        cfn.render(r["Properties"]["LogGroupName"]): r["Properties"]["RetentionInDays"]
        for _, r in cfn.resources(default.template, "Custom::LogRetention")
    }
    instance = "${" + cfn.logical_id(default.construct.instance) + "}"
    assert retention == {
        f"/aws/rds/instance/{instance}/postgresql": 30,
        f"/aws/rds/instance/{instance}/upgrade": 30,
    }


def test_grant_connect_reads_the_secret_and_connects_as_the_application_role(default: Built, cfn: Any) -> None:
    statements = cfn.role_statements(default.template, default.role)
    secret_ref = "${" + cfn.logical_id(default.construct.secret.node.default_child) + "}"
    instance = cfn.logical_id(default.construct.instance)
    assert statements == [
        {
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            "Resource": [secret_ref],
            "Condition": {},
        },
        {
            "Effect": "Allow",
            "Action": ["rds-db:connect"],
            "Resource": ["arn:${AWS::Partition}:rds-db:${AWS::Region}:${AWS::AccountId}:dbuser:"
                         f"${{{instance}.DbiResourceId}}/mldp_app"],
            "Condition": {},
        },
    ]
    assert _instance(default, cfn)["Properties"]["EnableIAMDatabaseAuthentication"] is True


def test_the_application_user_is_the_runtimes_and_cannot_be_the_owner() -> None:
    import runtime.db
    from platform_constructs.tracking_database import APP_USERNAME
    from runtime.db.credentials import APP_USER

    assert APP_USERNAME == APP_USER == "mldp_app"
    assert "mldp_app" in (Path(runtime.db.__file__).parent / "migrations" / "0008_application_role.sql").read_text()
    with pytest.raises(ValueError, match="master_username"):
        TrackingDatabaseProps(master_username="mldp_app").validate()


def test_grant_connect_with_iam_authentication_adds_rds_db_connect(prod: Built, cfn: Any) -> None:
    statements = cfn.role_statements(prod.template, prod.role)
    actions = sorted(a for s in statements for a in s["Action"])
    assert actions == ["rds-db:connect", "secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]
    (connect,) = [s for s in statements if s["Action"] == ["rds-db:connect"]]
    assert connect["Resource"][0].endswith("/mldp_app")  # the application role, never the owner


def test_exposed_attributes(default: Built) -> None:
    construct = default.construct
    assert Token.is_unresolved(construct.endpoint)
    assert (construct.port, construct.database_name) == (5432, "data_platform_db")
    assert construct.instance.secret is not None
    assert construct.secret.secret_arn == construct.instance.secret.secret_arn


def test_maintenance_backup_windows_and_major_upgrade_reach_the_instance(cfn: Any) -> None:
    """Issue 18 item 10: the windows are set (and configurable) and a major-version upgrade is allowed only when
    the props say so, for the deploy that takes it."""
    stack = Stack(App(), "Windows")
    database = TrackingDatabase(stack, "Tracking", TrackingDatabaseProps(
        engine_version=rds.PostgresEngineVersion.VER_17_9,
        allow_major_version_upgrade=True,
        preferred_maintenance_window="wed:22:00-wed:23:00",
        preferred_backup_window="03:30-04:00",
    ))
    props = Template.from_stack(stack).to_json()["Resources"][cfn.logical_id(database.instance)]["Properties"]
    assert {k: props[k] for k in (
        "EngineVersion", "AllowMajorVersionUpgrade", "PreferredMaintenanceWindow", "PreferredBackupWindow"
    )} == {
        "EngineVersion": "17.9",
        "AllowMajorVersionUpgrade": True,
        "PreferredMaintenanceWindow": "wed:22:00-wed:23:00",
        "PreferredBackupWindow": "03:30-04:00",
    }
