"""Props of :class:`platform_constructs.tracking_database.TrackingDatabase` and their validation.

``vpc`` and the props that shape a VPC the construct creates (``vpc_cidr``, ``availability_zones``,
``subnet_cidr_mask``, ``vpc_flow_logs``) are mutually exclusive: they are refused together instead of being
silently ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds

from platform_constructs._shared.validation import (
    PropsError,
    check_exclusive,
    check_field_types,
    check_not_destroyed_in_production,
    check_one_of,
)

_DB_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
_INSTANCE_TYPE = re.compile(r"^(db\.)?[a-z][a-z0-9-]*\.[a-z0-9]+$")
_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
#: ``mldp_app`` is the application role (APP_USERNAME): the owner must be another user.
_RESERVED_USERNAMES = {"rdsadmin", "rdsrepladmin", "rds_superuser", "public", "mldp_app"}
_REMOVAL_POLICIES = (RemovalPolicy.RETAIN, RemovalPolicy.SNAPSHOT, RemovalPolicy.DESTROY)
#: Enhanced Monitoring intervals RDS accepts (0 = off).
MONITORING_INTERVALS = (0, 1, 5, 10, 15, 30, 60)
#: PostgreSQL major versions the construct supports (the ones the docs advertise); a major outside this set
#: fails at synth. See "Major-version upgrades" in ``docs/infrastructure.md``.
SUPPORTED_MAJOR_VERSIONS = ("16", "17")
#: The default engine: the newest PostgreSQL 16 minor this CDK version knows. 16, not 17: a deployed database
#: is on 16, and a changed major is an upgrade the operator takes on purpose (``allow_major_version_upgrade``).
DEFAULT_ENGINE_VERSION = rds.PostgresEngineVersion.VER_16_13
#: Weekly maintenance window (UTC): Sunday 03:00-03:30; the schedule runs every 15 minutes around the clock, so
#: no window avoids runs: this one is outside the working day (a run cut by a failover is recovered by the next).
DEFAULT_MAINTENANCE_WINDOW = "sun:03:00-sun:03:30"
#: Daily backup window (UTC), before the maintenance window and not overlapping it.
DEFAULT_BACKUP_WINDOW = "02:00-02:30"
_MAINTENANCE_WINDOW = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):([0-5]\d)-"
                                 r"(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):([0-5]\d)$")
_BACKUP_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEK = 7 * 24 * 60
#: The props that shape a VPC the construct creates; refused together with ``vpc``.
CREATED_VPC_FIELDS = ("vpc_cidr", "availability_zones", "subnet_cidr_mask", "vpc_flow_logs")


#: The database user the jobs connect as with IAM authentication: the application role created by the runtime's
#: migration 0008 (``runtime/db/migrations/0008_application_role.sql``; rows only, never the schema).
APP_USERNAME = "mldp_app"


@dataclass(frozen=True)
class TrackingDatabaseProps:
    """Props of :class:`~platform_constructs.tracking_database.TrackingDatabase`; see each field's comment."""

    #: The VPC to place the database in. ``None`` creates one: two AZs, private *isolated* subnets only (no NAT
    #: gateway, no internet gateway), VPC flow logs, and a Secrets Manager interface endpoint so that rotation and
    #: the Glue jobs reach Secrets Manager privately. Isolated subnets plus VPC endpoints are the cheap and closed
    #: default; a NAT gateway would cost more than the database itself in dev. Refused together with any of
    #: :data:`CREATED_VPC_FIELDS`.
    vpc: ec2.IVpc | None = None
    #: Subnets of ``vpc`` for the database; ``None``: the isolated subnets if the VPC has any, else its private
    #: subnets with egress.
    vpc_subnets: ec2.SubnetSelection | None = None
    #: Address range of the created VPC.
    vpc_cidr: str = "10.40.0.0/16"
    #: The two (or more) AZs of the created VPC, e.g. ``("eu-west-1a", "eu-west-1b")``; ``None`` takes the first
    #: two of the stack's AZs (a context lookup in an environment-bound stack: set this to synthesize offline
    #: without ``cdk.context.json``).
    availability_zones: tuple[str, ...] | None = None
    #: Size of each created subnet (Glue takes one IP per worker: /22 leaves room for a large backfill fleet).
    subnet_cidr_mask: int = 22
    #: Send flow logs of the created VPC to CloudWatch Logs.
    vpc_flow_logs: bool = True
    #: Create a Secrets Manager interface endpoint in the database subnets; ``None`` means "only in a VPC this
    #: construct creates" (a given VPC usually has one, and two endpoints with private DNS for the same service
    #: cannot coexist).
    create_secrets_manager_endpoint: bool | None = None
    #: Name of the database the runtime uses.
    database_name: str = "data_platform_db"
    #: Master user, stored with a generated password in Secrets Manager.
    master_username: str = "pipeline_admin"
    #: E.g. ``"t4g.micro"`` (a leading ``db.`` is accepted) or an ``ec2.InstanceType``.
    instance_type: ec2.InstanceType | str = "t4g.micro"
    #: PostgreSQL 16 or 17 (:data:`SUPPORTED_MAJOR_VERSIONS`) with a pinned minor (cfn-lint flags a bare major as
    #: deprecated); later minors are applied by RDS in the maintenance window (``auto_minor_version_upgrade``).
    engine_version: rds.PostgresEngineVersion = DEFAULT_ENGINE_VERSION
    #: Let CloudFormation upgrade the major version when ``engine_version`` names a newer major (set it for that
    #: one deploy, after a snapshot; see "Major-version upgrades" in ``docs/infrastructure.md``).
    allow_major_version_upgrade: bool = False
    #: Weekly maintenance window, ``ddd:hh24:mi-ddd:hh24:mi`` in UTC, at least 30 minutes (minor upgrades,
    #: patches and the failovers they cause land here).
    preferred_maintenance_window: str = DEFAULT_MAINTENANCE_WINDOW
    #: Daily automated-backup window, ``hh24:mi-hh24:mi`` in UTC, at least 30 minutes, not overlapping the
    #: maintenance window.
    preferred_backup_window: str = DEFAULT_BACKUP_WINDOW
    #: Database port.
    port: int = 5432
    #: gp3 storage.
    allocated_storage_gib: int = 20
    #: The storage-autoscaling ceiling.
    max_allocated_storage_gib: int = 100
    #: A synchronous standby in a second AZ (production).
    multi_az: bool = False
    #: Refuse DeleteDBInstance (production).
    deletion_protection: bool = False
    #: ``RETAIN`` (production), ``SNAPSHOT`` or ``DESTROY``; ``DESTROY`` is reverted to ``RETAIN`` unless the
    #: context allows it, and refused with ``production`` (:mod:`platform_constructs._shared.removal_policy`).
    removal_policy: RemovalPolicy = RemovalPolicy.SNAPSHOT
    #: These props hold production data: ``RemovalPolicy.DESTROY`` is an error, not a reverted warning.
    production: bool = False
    #: Automated backups and point-in-time recovery window (1-35 days).
    backup_retention_days: int = 7
    #: Rotate the master password this often (1-365 days).
    rotation_days: int = 30
    #: Turn on Performance Insights (7 days retention, free tier).
    performance_insights: bool = True
    #: Enhanced Monitoring interval (OS metrics per process, delivered by RDS to CloudWatch Logs ``RDSOSMetrics``
    #: through a monitoring role the construct creates); 0 turns it off. 60 s: enough to see what starves the
    #: instance, at the least CloudWatch Logs ingestion.
    monitoring_interval_seconds: int = 60
    #: Retention of the exported ``postgresql`` and ``upgrade`` logs and of the created VPC's flow logs.
    cloudwatch_logs_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    #: Log statements slower than this (``log_min_duration_statement``); -1 disables.
    log_min_duration_ms: int = 1000
    #: IAM database authentication: the jobs connect as mldp_app (APP_USERNAME) with a token per connection
    #: (``rds-db:connect`` granted by ``grant_connect``); ``False``: they connect with the secret (the owner).
    iam_authentication: bool = True
    #: A customer-managed key for storage; ``None``: the AWS-managed RDS key.
    storage_encryption_key: kms.IKey | None = None
    #: A customer-managed key for the secret and the created VPC's flow logs; ``None``: the construct creates one
    #: (rotating, kept like the secret). A given key's policy must let ``logs.<region>.amazonaws.com`` use it for
    #: the flow logs (the construct adds that statement to a ``kms.Key`` of the same app, not to an imported key).
    secret_encryption_key: kms.IKey | None = None

    def validate(self) -> None:
        """Raise :class:`~platform_constructs._shared.validation.PropsError` (a ``ValueError``) naming the field
        to fix."""
        owner = type(self).__name__
        check_field_types(self)
        check_exclusive(self, "vpc", CREATED_VPC_FIELDS, "they shape the VPC the construct creates without one")
        self._validate_names(owner)
        if not 1150 <= self.port <= 65535:
            raise PropsError(owner, "port", f"must be between 1150 and 65535, got {self.port}")
        if self.allocated_storage_gib < 20:
            raise PropsError(
                owner, "allocated_storage_gib", f"must be at least 20 (gp3 minimum), got {self.allocated_storage_gib}"
            )
        if self.max_allocated_storage_gib < self.allocated_storage_gib:
            raise PropsError(
                owner, "max_allocated_storage_gib",
                f"must be >= allocated_storage_gib ({self.allocated_storage_gib}), "
                f"got {self.max_allocated_storage_gib}",
            )
        if not 1 <= self.backup_retention_days <= 35:
            raise PropsError(
                owner, "backup_retention_days",
                f"must be between 1 and 35 (RDS limit), got {self.backup_retention_days}",
            )
        if not 1 <= self.rotation_days <= 365:
            raise PropsError(owner, "rotation_days", f"must be between 1 and 365, got {self.rotation_days}")
        check_one_of(owner, "monitoring_interval_seconds", self.monitoring_interval_seconds, MONITORING_INTERVALS)
        check_one_of(owner, "removal_policy", self.removal_policy, _REMOVAL_POLICIES)
        check_not_destroyed_in_production(owner, "removal_policy", self.removal_policy, self.production)
        self._validate_network(owner)
        major = self.engine_version.postgres_major_version
        if major not in SUPPORTED_MAJOR_VERSIONS:
            raise PropsError(
                owner, "engine_version",
                f"must be PostgreSQL {' or '.join(SUPPORTED_MAJOR_VERSIONS)}, got {major}",
            )
        if "." not in (self.engine_version.postgres_full_version or ""):
            raise PropsError(
                owner, "engine_version",
                f"must pin a minor version (e.g. VER_{major}_1), got the bare major {major}",
            )
        self._validate_windows(owner)

    def _validate_windows(self, owner: str) -> None:
        match = _MAINTENANCE_WINDOW.match(self.preferred_maintenance_window)
        if match is None:
            raise PropsError(
                owner, "preferred_maintenance_window",
                f"{self.preferred_maintenance_window!r} must look like 'sun:03:00-sun:03:30' (UTC)",
            )
        day1, h1, m1, day2, h2, m2 = match.groups()
        start = _DAYS.index(day1) * 1440 + int(h1) * 60 + int(m1)
        length = (_DAYS.index(day2) * 1440 + int(h2) * 60 + int(m2) - start) % _WEEK
        if not 30 <= length <= 24 * 60:
            raise PropsError(
                owner, "preferred_maintenance_window",
                f"must last 30 minutes to 24 hours (RDS), got {length} minutes",
            )
        backup = _BACKUP_WINDOW.match(self.preferred_backup_window)
        if backup is None:
            raise PropsError(
                owner, "preferred_backup_window", f"{self.preferred_backup_window!r} must look like '02:00-02:30' (UTC)"
            )
        b_start = int(backup.group(1)) * 60 + int(backup.group(2))
        b_length = (int(backup.group(3)) * 60 + int(backup.group(4)) - b_start) % 1440
        if b_length < 30:
            raise PropsError(owner, "preferred_backup_window", f"must last at least 30 minutes, got {b_length}")
        for day in range(7):
            offset = (day * 1440 + b_start - start) % _WEEK
            if offset < length or (start - day * 1440 - b_start) % _WEEK < b_length:
                raise PropsError(
                    owner, "preferred_backup_window",
                    f"{self.preferred_backup_window!r} overlaps preferred_maintenance_window "
                    f"{self.preferred_maintenance_window!r} (RDS refuses overlapping windows)",
                )

    def _validate_names(self, owner: str) -> None:
        if not _DB_NAME.match(self.database_name):
            raise PropsError(
                owner, "database_name",
                f"{self.database_name!r} must start with a letter and contain only letters, digits and "
                "underscores (at most 63 characters)",
            )
        if not _USERNAME.match(self.master_username) or self.master_username.lower() in _RESERVED_USERNAMES:
            raise PropsError(
                owner, "master_username",
                f"{self.master_username!r} must start with a letter, contain only letters, digits and "
                f"underscores, and not be one of {sorted(_RESERVED_USERNAMES)}",
            )
        if isinstance(self.instance_type, str) and not _INSTANCE_TYPE.match(self.instance_type):
            raise PropsError(
                owner, "instance_type",
                f"{self.instance_type!r} is not an instance type: use e.g. 't4g.micro' or 'db.m7g.large'",
            )

    def _validate_network(self, owner: str) -> None:
        zones = self.availability_zones
        if zones is not None and (len(zones) < 2 or len(set(zones)) != len(zones)):
            raise PropsError(
                owner, "availability_zones",
                f"must name at least two distinct AZs (RDS subnet groups need two), got {zones}",
            )
        if not 16 <= self.subnet_cidr_mask <= 28:
            raise PropsError(owner, "subnet_cidr_mask", f"must be between 16 and 28, got {self.subnet_cidr_mask}")

    @property
    def resolved_instance_type(self) -> ec2.InstanceType:
        """``instance_type`` as an ``ec2.InstanceType`` (a leading ``db.`` is accepted and dropped)."""
        if isinstance(self.instance_type, str):
            return ec2.InstanceType(self.instance_type.removeprefix("db."))
        return self.instance_type
