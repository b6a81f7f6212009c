"""``TrackingDatabase``: the PostgreSQL instance that tracks every raw file through the pipeline.

RDS for PostgreSQL in private subnets of a given or created VPC, credentials in Secrets Manager
(rotated by the hosted single-user rotation Lambda), storage encrypted, ``rds.force_ssl`` on, a
security group that admits only the peers passed to :meth:`TrackingDatabase.allow_from`,
automated backups, Performance Insights and log exports. The tracking table itself is created by
the runtime's migrations, never by CDK.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

_DB_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
_INSTANCE_TYPE = re.compile(r"^(db\.)?[a-z][a-z0-9-]*\.[a-z0-9]+$")
_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
_RESERVED_USERNAMES = {"rdsadmin", "rdsrepladmin", "rds_superuser", "public"}
_REMOVAL_POLICIES = (RemovalPolicy.RETAIN, RemovalPolicy.SNAPSHOT, RemovalPolicy.DESTROY)


@dataclass(frozen=True)
class TrackingDatabaseProps:
    """Props of :class:`TrackingDatabase`.

    Attributes:
        vpc: the VPC to place the database in. ``None`` creates one: two AZs, private *isolated*
            subnets only (no NAT gateway, no internet gateway), VPC flow logs, and a Secrets Manager
            interface endpoint so that rotation and the Glue jobs reach Secrets Manager privately.
            Isolated subnets plus VPC endpoints are the cheap and closed default; a NAT gateway
            would cost more than the database itself in dev.
        vpc_subnets: subnets of ``vpc`` for the database; default: the isolated subnets if the VPC
            has any, else its private subnets with egress.
        vpc_cidr: address range of the created VPC.
        availability_zones: the two (or more) AZs of the created VPC, e.g. ``("eu-west-1a", "eu-west-1b")``;
            ``None`` takes the first two of the stack's AZs (a context lookup in an environment-bound
            stack: set this to synthesize offline without ``cdk.context.json``).
        subnet_cidr_mask: size of each created subnet (Glue takes one IP per worker: /22 leaves room
            for a large backfill fleet).
        vpc_flow_logs: send flow logs of the created VPC to CloudWatch Logs.
        create_secrets_manager_endpoint: create a Secrets Manager interface endpoint in the database
            subnets; ``None`` means "only in a VPC this construct creates" (a given VPC usually has one,
            and two endpoints with private DNS for the same service cannot coexist).
        database_name: name of the database the runtime uses.
        master_username: master user, stored with a generated password in Secrets Manager.
        instance_type: e.g. ``"t4g.micro"`` or an ``ec2.InstanceType``.
        engine_version: PostgreSQL 16 or 17; pin a minor (cfn-lint flags a bare major as deprecated);
            minor upgrades are then applied by RDS (``auto_minor_version_upgrade``).
        port: database port.
        allocated_storage_gib / max_allocated_storage_gib: gp3 storage and the storage-autoscaling ceiling.
        multi_az: a synchronous standby in a second AZ (prod).
        deletion_protection: refuse DeleteDBInstance (prod).
        removal_policy: ``RETAIN`` (prod), ``SNAPSHOT`` (default) or ``DESTROY``.
        backup_retention_days: automated backups and point-in-time recovery window (1-35).
        rotation_days: rotate the master password this often (1-365).
        performance_insights: turn on Performance Insights (7 days retention, free tier).
        monitoring_interval_seconds: Enhanced Monitoring interval; 0 turns it off (the default:
            CloudWatch's basic RDS metrics feed the alarms).
        cloudwatch_logs_retention: retention of the exported ``postgresql`` and ``upgrade`` logs.
        log_min_duration_ms: log statements slower than this (``log_min_duration_statement``); -1 disables.
        iam_authentication: also allow IAM database authentication (``rds-db:connect`` grants).
        storage_encryption_key: a customer-managed key for storage; default the AWS-managed RDS key.
        secret_encryption_key: a customer-managed key for the secret; default the AWS-managed key.
    """

    vpc: ec2.IVpc | None = None
    vpc_subnets: ec2.SubnetSelection | None = None
    vpc_cidr: str = "10.40.0.0/16"
    availability_zones: tuple[str, ...] | None = None
    subnet_cidr_mask: int = 22
    vpc_flow_logs: bool = True
    create_secrets_manager_endpoint: bool | None = None
    database_name: str = "data_platform_db"
    master_username: str = "pipeline_admin"
    instance_type: ec2.InstanceType | str = "t4g.micro"
    engine_version: rds.PostgresEngineVersion = rds.PostgresEngineVersion.VER_16_10
    port: int = 5432
    allocated_storage_gib: int = 20
    max_allocated_storage_gib: int = 100
    multi_az: bool = False
    deletion_protection: bool = False
    removal_policy: RemovalPolicy = RemovalPolicy.SNAPSHOT
    backup_retention_days: int = 7
    rotation_days: int = 30
    performance_insights: bool = True
    monitoring_interval_seconds: int = 0
    cloudwatch_logs_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    log_min_duration_ms: int = 1000
    iam_authentication: bool = False
    storage_encryption_key: kms.IKey | None = None
    secret_encryption_key: kms.IKey | None = None

    def validate(self) -> None:
        """Raise ``ValueError`` naming the field to fix when the props are inconsistent."""
        if not _DB_NAME.match(self.database_name):
            raise ValueError(
                f"TrackingDatabaseProps.database_name {self.database_name!r} must start with a "
                "letter and contain "
                "only letters, digits and underscores (at most 63 characters)"
            )
        if not _USERNAME.match(self.master_username) or self.master_username.lower() in _RESERVED_USERNAMES:
            raise ValueError(
                f"TrackingDatabaseProps.master_username {self.master_username!r} must start with a "
                "letter, contain "
                f"only letters, digits and underscores, and not be one of {sorted(_RESERVED_USERNAMES)}"
            )
        if isinstance(self.instance_type, str) and not _INSTANCE_TYPE.match(self.instance_type):
            raise ValueError(
                f"TrackingDatabaseProps.instance_type {self.instance_type!r} is not an instance type: "
                "use e.g. 't4g.micro' or 'm7g.large'"
            )
        if not 1150 <= self.port <= 65535:
            raise ValueError(f"TrackingDatabaseProps.port must be between 1150 and 65535, got {self.port}")
        if self.allocated_storage_gib < 20:
            raise ValueError(
                f"TrackingDatabaseProps.allocated_storage_gib must be at least 20 (gp3 minimum), got "
                f"{self.allocated_storage_gib}"
            )
        if self.max_allocated_storage_gib < self.allocated_storage_gib:
            raise ValueError(
                "TrackingDatabaseProps.max_allocated_storage_gib must be >= allocated_storage_gib "
                f"({self.allocated_storage_gib}), got {self.max_allocated_storage_gib}"
            )
        if not 1 <= self.backup_retention_days <= 35:
            raise ValueError(
                "TrackingDatabaseProps.backup_retention_days must be between 1 and 35, got "
                f"{self.backup_retention_days}"
            )
        if not 1 <= self.rotation_days <= 365:
            raise ValueError(
                f"TrackingDatabaseProps.rotation_days must be between 1 and 365, got {self.rotation_days}"
            )
        if self.monitoring_interval_seconds not in (0, 1, 5, 10, 15, 30, 60):
            raise ValueError(
                "TrackingDatabaseProps.monitoring_interval_seconds must be one of 0, 1, 5, 10, "
                "15, 30, 60, got "
                f"{self.monitoring_interval_seconds}"
            )
        if self.removal_policy not in _REMOVAL_POLICIES:
            raise ValueError(
                "TrackingDatabaseProps.removal_policy must be RETAIN, SNAPSHOT or DESTROY, got "
                f"{self.removal_policy}"
            )
        if self.availability_zones is not None and (
            len(self.availability_zones) < 2
            or len(set(self.availability_zones)) != len(self.availability_zones)
        ):
            raise ValueError(
                "TrackingDatabaseProps.availability_zones must name at least two distinct AZs (RDS subnet "
                f"groups need two), got {self.availability_zones}"
            )
        if not 16 <= self.subnet_cidr_mask <= 28:
            raise ValueError(
                "TrackingDatabaseProps.subnet_cidr_mask must be between 16 and 28, got "
                f"{self.subnet_cidr_mask}"
            )
        major = self.engine_version.postgres_major_version
        if major not in ("16", "17"):
            raise ValueError(f"TrackingDatabaseProps.engine_version must be PostgreSQL 16 or 17, got {major}")

    @property
    def resolved_instance_type(self) -> ec2.InstanceType:
        """``instance_type`` as an ``ec2.InstanceType`` (a leading ``db.`` is accepted and dropped)."""
        if isinstance(self.instance_type, str):
            return ec2.InstanceType(self.instance_type.removeprefix("db."))
        return self.instance_type


class TrackingDatabase(Construct):
    """PostgreSQL on RDS for the pipeline's tracking table.

    Attributes:
        props: the validated props.
        vpc: the VPC the database lives in (given or created).
        subnets: the selected database subnets (Glue connections reuse them).
        security_group: the database's security group; it admits nothing until :meth:`allow_from`.
        secrets_manager_endpoint: the Secrets Manager interface endpoint this construct created
            (``None`` when it created none); reuse it for the Glue jobs.
        instance: the ``rds.DatabaseInstance``.
        secret: the RDS-attached secret (JSON with host, port, dbname, username, password, engine).
        rotation: the single-user rotation of ``secret``.
        rotation_security_group: the rotation Lambda's security group (egress to the database
            port and, when present, the Secrets Manager endpoint only).
        endpoint: the instance's host name (a token).
        port: the database port.
        database_name: the database name.
    """

    def __init__(
        self, scope: Construct, construct_id: str, props: TrackingDatabaseProps | None = None
    ) -> None:
        super().__init__(scope, construct_id)
        self.props = props or TrackingDatabaseProps()
        self.props.validate()
        p = self.props
        created_vpc = p.vpc is None
        self.vpc: ec2.IVpc = p.vpc if p.vpc is not None else self._create_vpc()
        self.subnets: ec2.SelectedSubnets = self.vpc.select_subnets(**self._subnet_selection_kwargs())
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=self.vpc,
            description="Tracking database: admits only the peers named by TrackingDatabase.allow_from",
            allow_all_outbound=False,
        )
        self.secrets_manager_endpoint: ec2.InterfaceVpcEndpoint | None = None
        create_endpoint = (
            created_vpc if p.create_secrets_manager_endpoint is None else p.create_secrets_manager_endpoint
        )
        if create_endpoint:
            self.secrets_manager_endpoint = ec2.InterfaceVpcEndpoint(
                self,
                "SecretsManagerEndpoint",
                vpc=self.vpc,
                service=ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
                subnets=ec2.SubnetSelection(subnets=self.subnets.subnets),
                private_dns_enabled=True,
                open=False,
            )
        self.database_name = p.database_name
        self.port = p.port
        master_secret = rds.DatabaseSecret(
            self,
            "MasterSecret",
            username=p.master_username,
            dbname=p.database_name,
            encryption_key=p.secret_encryption_key,
        )
        master_secret.apply_removal_policy(
            RemovalPolicy.DESTROY if p.removal_policy == RemovalPolicy.DESTROY else RemovalPolicy.RETAIN
        )
        self.instance = rds.DatabaseInstance(self, "Instance", **self._instance_kwargs(master_secret))
        attached = self.instance.secret
        if attached is None:  # cannot happen: credentials come from a secret, which RDS attaches
            raise RuntimeError("TrackingDatabase: the instance has no attached secret")
        self.secret: secretsmanager.ISecret = attached
        self.rotation_security_group = ec2.SecurityGroup(
            self,
            "RotationSecurityGroup",
            vpc=self.vpc,
            description="Secret rotation Lambda: egress to the database and Secrets Manager only",
            allow_all_outbound=False,
        )
        self.rotation = self.instance.add_rotation_single_user(
            automatically_after=Duration.days(p.rotation_days),
            endpoint=self.secrets_manager_endpoint,
            security_group=self.rotation_security_group,
            vpc_subnets=ec2.SubnetSelection(subnets=self.subnets.subnets),
        )
        if self.secrets_manager_endpoint is not None:
            self.secrets_manager_endpoint.connections.allow_default_port_from(
                self.rotation_security_group, "Secrets Manager API from the secret rotation Lambda"
            )
        else:
            # A given VPC reaches Secrets Manager through its own endpoint or a NAT: HTTPS out only.
            self.rotation_security_group.add_egress_rule(
                ec2.Peer.any_ipv4(),
                ec2.Port.tcp(443),
                "Secrets Manager API (endpoint or NAT of the given VPC)",
            )
        self.endpoint: str = self.instance.db_instance_endpoint_address

    # ----------------------------------------------------------------------------------------
    # Resources
    # ----------------------------------------------------------------------------------------
    def _create_vpc(self) -> ec2.Vpc:
        p = self.props
        flow_logs: dict[str, ec2.FlowLogOptions] = {}
        if p.vpc_flow_logs:
            log_group = logs.LogGroup(
                self,
                "FlowLogs",
                retention=p.cloudwatch_logs_retention,
                removal_policy=RemovalPolicy.DESTROY,
            )
            flow_logs["All"] = ec2.FlowLogOptions(
                destination=ec2.FlowLogDestination.to_cloud_watch_logs(log_group),
                traffic_type=ec2.FlowLogTrafficType.ALL,
            )
        return ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(p.vpc_cidr),
            max_azs=None if p.availability_zones else 2,
            availability_zones=list(p.availability_zones) if p.availability_zones else None,
            nat_gateways=0,
            create_internet_gateway=False,
            restrict_default_security_group=True,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="Data", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=p.subnet_cidr_mask
                )
            ],
            flow_logs=flow_logs or None,
        )

    def _subnet_selection_kwargs(self) -> dict[str, object]:
        selection = self.props.vpc_subnets
        if selection is not None:
            return {
                "availability_zones": selection.availability_zones,
                "one_per_az": selection.one_per_az,
                "subnet_filters": selection.subnet_filters,
                "subnet_group_name": selection.subnet_group_name,
                "subnets": selection.subnets,
                "subnet_type": selection.subnet_type,
            }
        if self.vpc.isolated_subnets:
            return {"subnet_type": ec2.SubnetType.PRIVATE_ISOLATED}
        return {"subnet_type": ec2.SubnetType.PRIVATE_WITH_EGRESS}

    def _instance_kwargs(self, master_secret: rds.DatabaseSecret) -> dict[str, object]:
        p = self.props
        engine = rds.DatabaseInstanceEngine.postgres(version=p.engine_version)
        parameters = {"rds.force_ssl": "1", "log_min_duration_statement": str(p.log_min_duration_ms)}
        parameter_group = rds.ParameterGroup(
            self,
            "Parameters",
            engine=engine,
            description="Tracking database: SSL enforced, slow statements logged",
            parameters=parameters,
        )
        kwargs: dict[str, object] = {
            "engine": engine,
            "instance_type": p.resolved_instance_type,
            "vpc": self.vpc,
            "vpc_subnets": ec2.SubnetSelection(subnets=self.subnets.subnets),
            "security_groups": [self.security_group],
            "credentials": rds.Credentials.from_secret(master_secret),
            "database_name": p.database_name,
            "port": p.port,
            "parameter_group": parameter_group,
            "storage_encrypted": True,
            "storage_encryption_key": p.storage_encryption_key,
            "storage_type": rds.StorageType.GP3,
            "allocated_storage": p.allocated_storage_gib,
            "max_allocated_storage": p.max_allocated_storage_gib,
            "multi_az": p.multi_az,
            "deletion_protection": p.deletion_protection,
            "removal_policy": p.removal_policy,
            "backup_retention": Duration.days(p.backup_retention_days),
            "delete_automated_backups": p.removal_policy == RemovalPolicy.DESTROY,
            "copy_tags_to_snapshot": True,
            "publicly_accessible": False,
            "auto_minor_version_upgrade": True,
            "allow_major_version_upgrade": False,
            "ca_certificate": rds.CaCertificate.RDS_CA_RSA2048_G1,
            "enable_performance_insights": p.performance_insights,
            "cloudwatch_logs_exports": ["postgresql", "upgrade"],
            "cloudwatch_logs_retention": p.cloudwatch_logs_retention,
            "iam_authentication": p.iam_authentication,
        }
        if p.performance_insights:
            kwargs["performance_insight_retention"] = rds.PerformanceInsightRetention.DEFAULT
        if p.monitoring_interval_seconds:
            kwargs["monitoring_interval"] = Duration.seconds(p.monitoring_interval_seconds)
        return kwargs

    # ----------------------------------------------------------------------------------------
    # Access
    # ----------------------------------------------------------------------------------------
    def allow_from(self, peer: ec2.IConnectable, *, include_secrets_endpoint: bool = True) -> None:
        """Admit ``peer`` (e.g. the Glue connection's security group) on the database port only.

        When this construct created the Secrets Manager endpoint and ``include_secrets_endpoint``
        is true, ``peer`` is also admitted to that endpoint on 443: every client of the database
        must first read the secret.
        """
        self.security_group.connections.allow_from(
            peer, ec2.Port.tcp(self.port), "PostgreSQL from a peer named by TrackingDatabase.allow_from"
        )
        if include_secrets_endpoint and self.secrets_manager_endpoint is not None:
            self.secrets_manager_endpoint.connections.allow_default_port_from(
                peer, "Secrets Manager API from a database client"
            )

    def grant_connect(self, grantee: iam.IGrantable, db_user: str | None = None) -> iam.Grant:
        """Let ``grantee`` read the database secret (and ``rds-db:connect`` as ``db_user`` with IAM auth).

        Network access is separate: call :meth:`allow_from` with the grantee's security group.
        """
        grant = self.secret.grant_read(grantee)
        if self.props.iam_authentication:
            grant = grant.combine(self.instance.grant_connect(grantee, db_user or self.props.master_username))
        return grant
