"""``TrackingDatabaseProps`` (props.py): invalid props fail with a message naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_rds as rds

from platform_constructs import TrackingDatabase, TrackingDatabaseProps

pytestmark = pytest.mark.infra


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"database_name": "1db"}, r"database_name '1db' must start with a letter"),
        ({"master_username": "rdsadmin"}, r"master_username 'rdsadmin' must start with a letter"),
        ({"instance_type": "micro"}, r"instance_type 'micro' is not an instance type"),
        ({"allocated_storage_gib": 10}, r"allocated_storage_gib must be at least 20"),
        ({"max_allocated_storage_gib": 19}, r"max_allocated_storage_gib must be >= allocated_storage_gib"),
        ({"backup_retention_days": 0}, r"backup_retention_days must be between 1 and 35"),
        ({"rotation_days": 400}, r"rotation_days must be between 1 and 365"),
        ({"monitoring_interval_seconds": 7}, r"monitoring_interval_seconds must be one of"),
        ({"port": 80}, r"port must be between 1150 and 65535"),
        ({"availability_zones": ("eu-west-1a",)}, r"availability_zones must name at least two distinct AZs"),
        ({"engine_version": rds.PostgresEngineVersion.VER_15}, r"engine_version must be PostgreSQL 16 or 17"),
    ],
)
def test_invalid_props_raise_a_helpful_value_error(overrides: dict[str, Any], message: str) -> None:
    stack = Stack(App(), "Invalid")
    with pytest.raises(ValueError, match=message):
        TrackingDatabase(stack, "Tracking", TrackingDatabaseProps(**overrides))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"vpc_cidr": "10.9.0.0/16"}, "vpc_cidr"),
        ({"availability_zones": ("eu-west-1a", "eu-west-1b")}, "availability_zones"),
        ({"subnet_cidr_mask": 24}, "subnet_cidr_mask"),
        ({"vpc_flow_logs": False}, "vpc_flow_logs"),
    ],
)
def test_given_vpc_refuses_the_props_of_a_created_vpc(overrides: dict[str, Any], field: str) -> None:
    """The CIDR, AZs, subnet size and flow logs shape the VPC the construct creates: with ``vpc`` they would be
    silently ignored, so they are refused with both names."""
    stack = Stack(App(), "GivenVpc")
    isolated = ec2.SubnetConfiguration(name="Db", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
    vpc = ec2.Vpc(stack, "Theirs", max_azs=2, nat_gateways=0, subnet_configuration=[isolated])
    message = rf"TrackingDatabaseProps\.vpc and {field} are both set: .*drop {field} or vpc"
    with pytest.raises(ValueError, match=message):
        TrackingDatabaseProps(vpc=vpc, **overrides).validate()
