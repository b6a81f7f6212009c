"""JsonToParquetWorkflow's network (glue/network.py): the connection, its security group, the database's ingress
and the VPC endpoints."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.infra


def test_connection_uses_a_database_subnet_and_a_self_referencing_group(default: Any, cfn: Any) -> None:
    _, workflow, template = default
    connection = cfn.one(template, "AWS::Glue::Connection")["Properties"]["ConnectionInput"]
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
