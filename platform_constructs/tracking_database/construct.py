"""``TrackingDatabase``: the PostgreSQL instance that tracks every raw file through the pipeline.

RDS for PostgreSQL in private subnets of a given or created VPC, credentials in Secrets Manager
(rotated by the hosted single-user rotation Lambda), storage encrypted, ``rds.force_ssl`` on, a
security group that admits only the peers passed to :meth:`TrackingDatabase.allow_from`,
automated backups, Performance Insights, Enhanced Monitoring and log exports. The secret and the created
VPC's flow logs are encrypted with a customer-managed key (:attr:`TrackingDatabase.key`). The tracking table
itself is created by the runtime's migrations, never by CDK.

The props and their rules live in :mod:`.props`; the removal-policy guard (``DESTROY`` only
on purpose) in :mod:`platform_constructs._shared.removal_policy`.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from platform_constructs._shared.kms_logs import allow_cloudwatch_logs
from platform_constructs._shared.nag import acknowledge
from platform_constructs._shared.removal_policy import dependent_policy, guard_removal_policy
from platform_constructs._shared.vpc_endpoints import closed_interface_endpoint
from platform_constructs.tracking_database.props import APP_USERNAME, TrackingDatabaseProps

__all__ = ["TrackingDatabase", "TrackingDatabaseProps"]

class TrackingDatabase(Construct):
    """PostgreSQL on RDS for the pipeline's tracking table.

    Attributes:
        props: the validated props.
        removal_policy: the removal policy actually applied to the instance, secret and automated backups
            (``props.removal_policy`` after the guard of :mod:`platform_constructs._shared.removal_policy`).
        key: the customer-managed key of the secret and of the created VPC's flow logs
            (``props.secret_encryption_key``, else a rotating key this construct creates, kept like the secret).
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
        self.removal_policy = guard_removal_policy(
            self, p.removal_policy, setting=f"{type(p).__name__}.removal_policy", production=p.production
        )
        self.key: kms.IKey = p.secret_encryption_key or kms.Key(
            self,
            "Key",
            description="Tracking database: master secret and VPC flow logs",
            enable_key_rotation=True,
            removal_policy=dependent_policy(self.removal_policy),  # the secret it encrypts is kept as long
        )
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
            self.secrets_manager_endpoint = closed_interface_endpoint(
                self,
                "SecretsManagerEndpoint",
                vpc=self.vpc,
                service=ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
                subnets=self.subnets.subnets,
            )
        self.database_name = p.database_name
        self.port = p.port
        master_secret = rds.DatabaseSecret(
            self,
            "MasterSecret",
            username=p.master_username,
            dbname=p.database_name,
            encryption_key=self.key,
        )
        master_secret.apply_removal_policy(dependent_policy(self.removal_policy))
        self.instance = rds.DatabaseInstance(self, "Instance", **self._instance_kwargs(master_secret))
        monitoring_role = self.instance.node.try_find_child("MonitoringRole")
        if monitoring_role is not None:
            acknowledge(
                monitoring_role,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonRDSEnhancedMonitoringRole]",
                "The Enhanced Monitoring role is assumed by monitoring.rds.amazonaws.com only; AWS's service-role "
                "policy lets it write the RDSOSMetrics log group and is the documented way to grant that",
            )
        # rds maps every policy but RETAIN to DESTROY on its subnet group: keep it with the instance that uses it
        subnet_group = self.instance.node.try_find_child("SubnetGroup")
        on_update_or_delete = self.removal_policy == RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
        if on_update_or_delete and isinstance(subnet_group, rds.SubnetGroup):
            subnet_group.apply_removal_policy(self.removal_policy)
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
            self._let_cloudwatch_logs_use_the_key()
            log_group = logs.LogGroup(
                self,
                "FlowLogs",
                retention=p.cloudwatch_logs_retention,
                encryption_key=self.key,
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

    def _let_cloudwatch_logs_use_the_key(self) -> None:
        """Key policy: CloudWatch Logs of this region may use :attr:`key` for log groups of this account and region
        only (the encryption-context condition CloudWatch Logs sets). Scoped to the account's log groups, not to the
        flow-log group itself: its generated ARN depends on the key, and naming it here would be a cycle. A no-op on
        an imported key (whose owner grants this)."""
        allow_cloudwatch_logs(self.key, "AllowCloudWatchLogsForTheFlowLogs", "*")

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
            "removal_policy": self.removal_policy,
            "backup_retention": Duration.days(p.backup_retention_days),
            "delete_automated_backups": self.removal_policy == RemovalPolicy.DESTROY,
            "copy_tags_to_snapshot": True,
            "publicly_accessible": False,
            "auto_minor_version_upgrade": True,
            "allow_major_version_upgrade": p.allow_major_version_upgrade,
            "preferred_maintenance_window": p.preferred_maintenance_window,
            "preferred_backup_window": p.preferred_backup_window,
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
        """Let ``grantee`` read the database secret (its endpoint, and the owner's password the migrations use)
        and, with IAM auth, ``rds-db:connect`` as ``db_user`` only (default: the application role,
        :data:`~platform_constructs.tracking_database.props.APP_USERNAME`), on this instance's resource id.

        Network access is separate: call :meth:`allow_from` with the grantee's security group.
        """
        grant = self.secret.grant_read(grantee)
        if self.props.iam_authentication:
            grant = grant.combine(self.instance.grant_connect(grantee, db_user or APP_USERNAME))
        return grant
