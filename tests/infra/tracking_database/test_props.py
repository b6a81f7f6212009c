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


# --------------------------------------------------------------------------------------------
# Issue 18, item 10: engine version, maintenance and backup windows
# --------------------------------------------------------------------------------------------
def test_engine_version_default_is_a_pinned_supported_major() -> None:
    from platform_constructs.tracking_database.props import DEFAULT_ENGINE_VERSION, SUPPORTED_MAJOR_VERSIONS

    props = TrackingDatabaseProps()
    assert props.engine_version is DEFAULT_ENGINE_VERSION
    assert props.engine_version.postgres_major_version in SUPPORTED_MAJOR_VERSIONS
    assert "." in props.engine_version.postgres_full_version
    assert props.allow_major_version_upgrade is False


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("VER_15_8", "must be PostgreSQL 16 or 17, got 15"),
        ("VER_18_3", "must be PostgreSQL 16 or 17, got 18"),
        ("VER_17", "must pin a minor version"),
    ],
)
def test_engine_version_outside_the_supported_majors_fails_at_synth(version: str, message: str) -> None:
    from aws_cdk import aws_rds as rds

    with pytest.raises(ValueError, match=message):
        TrackingDatabaseProps(engine_version=getattr(rds.PostgresEngineVersion, version)).validate()


def test_postgres_17_is_accepted() -> None:
    from aws_cdk import aws_rds as rds

    props = TrackingDatabaseProps(engine_version=rds.PostgresEngineVersion.VER_17_9, allow_major_version_upgrade=True)
    props.validate()


@pytest.mark.parametrize(
    ("maintenance", "backup", "message"),
    [
        ("sunday 03:00", "02:00-02:30", "must look like 'sun:03:00-sun:03:30'"),
        ("sun:03:00-sun:03:10", "02:00-02:30", "must last 30 minutes to 24 hours"),
        ("sun:03:00-sun:03:30", "2:00-2:30", "must look like '02:00-02:30'"),
        ("sun:03:00-sun:03:30", "02:00-02:20", "must last at least 30 minutes"),
        ("sun:03:00-sun:03:30", "03:15-03:45", "overlaps preferred_maintenance_window"),
        ("sat:23:45-sun:00:15", "00:00-00:30", "overlaps preferred_maintenance_window"),
    ],
)
def test_windows_are_validated(maintenance: str, backup: str, message: str) -> None:
    props = TrackingDatabaseProps(preferred_maintenance_window=maintenance, preferred_backup_window=backup)
    with pytest.raises(ValueError, match=message):
        props.validate()


def test_windows_can_be_moved() -> None:
    TrackingDatabaseProps(preferred_maintenance_window="wed:22:00-wed:23:00", preferred_backup_window="03:30-04:00"
                          ).validate()
