"""``GlueJobRole``: the least-privilege IAM role of one Glue job.

Instead of the ``AWSGlueServiceRole`` managed policy (``s3:*`` on ``aws-glue-*`` buckets, ``glue:*``,
every log group, ...), each job role gets only:

* CloudWatch Logs: create groups and streams and put events under ``/aws-glue/*`` (Glue names the groups
  per job type, security configuration and role, so no single group ARN can be named in advance);
* ``cloudwatch:PutMetricData`` with a ``cloudwatch:namespace`` condition (the custom namespace, plus
  ``Glue`` for Spark jobs that run with ``--enable-metrics``);
* ``glue:GetConnection`` on its network connection, and the EC2 calls Glue makes with the job's role to
  place the job's network interfaces in the connection's subnet.

Data grants (bucket prefixes, database secret, code objects, keys) are added by the workflow through the
owning constructs' ``grant_*`` methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from platform_constructs._shared.nag import acknowledge, finding_value

#: Read-only EC2 calls Glue makes to validate a VPC connection; EC2 Describe* calls have no resource-level
#: permissions, so they can only be granted on ``*``.
EC2_DESCRIBE_ACTIONS = (
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeRouteTables",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcAttribute",
    "ec2:DescribeVpcEndpoints",
)
#: The tag Glue puts on the network interfaces it creates.
GLUE_ENI_TAG = "aws-glue-service-resource"


@dataclass(frozen=True)
class GlueJobRoleProps:
    """Props of :class:`GlueJobRole`; see each field's comment."""

    #: Required. What the role is for.
    description: str
    #: Required. CloudWatch namespaces the job may publish to (condition ``cloudwatch:namespace``).
    metrics_namespaces: tuple[str, ...]
    #: The job's Glue connection; ``None`` for a job without a VPC connection.
    connection_arn: str | None = None
    #: Further connections of the job (e.g. the failover connection in a second AZ), also readable.
    extra_connection_arns: tuple[str, ...] = ()
    #: Subnets the connection places network interfaces in.
    subnets: Sequence[ec2.ISubnet] = ()
    #: Security groups of those network interfaces.
    security_groups: Sequence[ec2.ISecurityGroup] = ()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the field to fix."""
        if not self.metrics_namespaces or any(not ns for ns in self.metrics_namespaces):
            raise ValueError("GlueJobRoleProps.metrics_namespaces must name at least one non-empty namespace")
        if self.connection_arn is not None and not (self.subnets and self.security_groups):
            raise ValueError("GlueJobRoleProps: a connection_arn needs the connection's subnets and security_groups")


class GlueJobRole(Construct):
    """An IAM role assumable by Glue, with the scoped statements every job needs.

    Attributes:
        role: the ``iam.Role`` (pass ``role.role_arn`` to the job; grant more through it).
    """

    def __init__(self, scope: Construct, construct_id: str, props: GlueJobRoleProps) -> None:
        super().__init__(scope, construct_id)
        props.validate()
        self.props = props
        stack = Stack.of(self)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("glue.amazonaws.com"),
            description=props.description,
        )
        log_groups = stack.format_arn(
            service="logs", resource="log-group", resource_name="/aws-glue/*", arn_format=ArnFormat.COLON_RESOURCE_NAME
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="GlueJobLogs",
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_groups, f"{log_groups}:log-stream:*"],
            )
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="PipelineMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": list(props.metrics_namespaces)}},
            )
        )
        if props.connection_arn is not None:
            self._add_network_statements(stack, props)
        self._acknowledge_findings(props, log_groups)

    def _acknowledge_findings(self, props: GlueJobRoleProps, log_groups: str) -> None:
        logs_arn = finding_value(self, log_groups)
        acknowledge(
            self.role,
            f"AwsSolutions-IAM5[Resource::{logs_arn}]",
            "Glue creates the job's log groups itself, named per job type, security configuration and role "
            "under /aws-glue/; the names are not known before the first run, so the grant stops at that prefix",
        )
        acknowledge(
            self.role,
            f"AwsSolutions-IAM5[Resource::{logs_arn}:log-stream:*]",
            "Glue names one log stream per job run id (and per executor), unknown at deploy time; streams are "
            "limited to the /aws-glue/ log groups",
        )
        describe = (
            "; the EC2 Describe* calls Glue makes to validate the VPC connection have no resource-level "
            "permissions either" if props.connection_arn else ""
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::*]",
            "cloudwatch:PutMetricData has no resource-level permissions, so it is limited by a "
            f"cloudwatch:namespace condition to {' and '.join(props.metrics_namespaces)}{describe}",
        )
        if props.connection_arn:
            acknowledge(
                self.role,
                f"AwsSolutions-IAM5[Resource::{finding_value(self, self._interfaces_arn())}]",
                "Glue creates, tags and deletes one elastic network interface per job run in the connection's "
                "subnet; their ids do not exist before the run (creation is also bound to the connection's "
                "subnet and security group ARNs, tagging to the aws-glue-service-resource tag)",
            )

    def _interfaces_arn(self) -> str:
        return Stack.of(self).format_arn(service="ec2", resource="network-interface", resource_name="*")

    def _add_network_statements(self, stack: Stack, props: GlueJobRoleProps) -> None:
        catalog = stack.format_arn(service="glue", resource="catalog")
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="GlueConnection",
                actions=["glue:GetConnection"],
                resources=[catalog, props.connection_arn, *props.extra_connection_arns],
            )
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(sid="GlueVpcDescribe", actions=list(EC2_DESCRIBE_ACTIONS), resources=["*"])
        )
        interfaces = self._interfaces_arn()
        subnet_arns = [
            stack.format_arn(service="ec2", resource="subnet", resource_name=s.subnet_id) for s in props.subnets
        ]
        group_arns = [
            stack.format_arn(service="ec2", resource="security-group", resource_name=g.security_group_id)
            for g in props.security_groups
        ]
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="GlueJobNetworkInterfaces",
                actions=["ec2:CreateNetworkInterface"],
                resources=[interfaces, *subnet_arns, *group_arns],
            )
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="GlueJobNetworkInterfacesCleanup",
                actions=["ec2:DeleteNetworkInterface"],
                resources=[interfaces],
            )
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="GlueJobNetworkInterfaceTags",
                actions=["ec2:CreateTags", "ec2:DeleteTags"],
                resources=[interfaces],
                conditions={"ForAllValues:StringEquals": {"aws:TagKeys": [GLUE_ENI_TAG]}},
            )
        )
