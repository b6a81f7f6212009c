"""``GlueNetwork``: how the Glue jobs reach the tracking database and the AWS APIs without internet.

* a security group for the jobs' elastic network interfaces, with the self-referencing all-TCP ingress rule
  that Glue requires (workers of one run talk to each other);
* a Glue ``NETWORK`` connection into one private subnet of the database's VPC (a connection names exactly
  one subnet and AZ; every run of a job that uses it places its ENIs there) and, with ``failover_connection``, a
  second one into a subnet of another AZ. A job lists both; at each run start Glue checks the listed connections
  in order (subnet valid, endpoint or NAT present, free IP addresses, AZ healthy) and places the whole run in the
  first that passes, so a run starts in the second AZ when the first is impaired or out of addresses (AWS Glue
  troubleshooting, "Failover behavior between VPCs":
  https://docs.aws.amazon.com/glue/latest/dg/glue-troubleshooting-errors.html#vpc-failover-behavior-error-10). A
  run already placed in a failing AZ still fails: the next schedule starts in the other one;
* the VPC endpoints the jobs need when the subnets have no route to the internet: S3 (gateway, free) and,
  as interface endpoints in the connections' subnets only, CloudWatch Logs, CloudWatch Monitoring and Glue;
  Secrets Manager is reused from the database construct when it created one, created here otherwise.

Why endpoints and not a NAT gateway: a NAT gateway costs about as much as three interface endpoints in one
AZ, also needs an internet gateway and public subnets, and would give the jobs (and anything else in the
VPC) a path to the internet, which nothing in this pipeline needs: dependencies are bundled as wheels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_glue as glue
from constructs import Construct

from platform_constructs._shared.vpc_endpoints import closed_interface_endpoint

#: Appended to ``connection_name`` for the connection in the second AZ.
FAILOVER_SUFFIX = "-failover"
#: Interface endpoints the jobs call (besides Secrets Manager, see ``secrets_manager_endpoint``).
DEFAULT_INTERFACE_ENDPOINTS: tuple[str, ...] = ("logs", "monitoring", "glue")
_SERVICES = {
    "logs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    "monitoring": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING,
    "glue": ec2.InterfaceVpcEndpointAwsService.GLUE,
    "secretsmanager": ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
    "kms": ec2.InterfaceVpcEndpointAwsService.KMS,
    "sts": ec2.InterfaceVpcEndpointAwsService.STS,
}


@dataclass(frozen=True)
class GlueNetworkProps:
    """Props of :class:`GlueNetwork`; see each field's comment."""

    #: Required. The VPC of the database.
    vpc: ec2.IVpc
    #: Required. Candidate private subnets (normally the database's); the connection uses the first.
    subnets: Sequence[ec2.ISubnet]
    #: Required. Physical name of the Glue connection.
    connection_name: str
    #: An existing Secrets Manager endpoint to reuse (the jobs' security group is admitted on 443); ``None``
    #: creates one here unless ``create_secrets_manager_endpoint`` is False.
    secrets_manager_endpoint: ec2.InterfaceVpcEndpoint | None = None
    #: Create a Secrets Manager endpoint when none is given (set False when the VPC already has one with private
    #: DNS, or a NAT).
    create_secrets_manager_endpoint: bool = True
    #: Short names of the other interface endpoints to create (``logs``, ``monitoring``, ``glue``, ``kms``,
    #: ``sts``); empty for a VPC that already has them.
    interface_endpoints: tuple[str, ...] = DEFAULT_INTERFACE_ENDPOINTS
    #: Add the S3 gateway endpoint (free) to the subnets' route tables.
    create_s3_gateway_endpoint: bool = True
    #: Also create ``<connection_name>-failover`` in a subnet of another AZ (the first of ``subnets`` whose AZ
    #: differs from the first subnet's, else the second subnet); needs at least two subnets.
    failover_connection: bool = False

    def validate(self) -> None:
        """Raise ``ValueError`` naming the field to fix."""
        if not self.subnets:
            raise ValueError("GlueNetworkProps.subnets is empty: pass the private subnets of the database's VPC")
        unknown = sorted(set(self.interface_endpoints) - set(_SERVICES))
        if unknown:
            raise ValueError(
                f"GlueNetworkProps.interface_endpoints has unknown services {unknown}: use some of {sorted(_SERVICES)}"
            )
        if not self.connection_name or len(self.connection_name) > 255 - len(FAILOVER_SUFFIX):
            raise ValueError(f"GlueNetworkProps.connection_name must be 1-{255 - len(FAILOVER_SUFFIX)} characters")
        if self.failover_connection and len(self.subnets) < 2:
            raise ValueError(
                "GlueNetworkProps.failover_connection needs at least two subnets (in two AZs): pass the database's "
                "subnets, or set failover_connection=False"
            )


class GlueNetwork(Construct):
    """The Glue jobs' network: security group, ``NETWORK`` connection and VPC endpoints.

    Attributes:
        security_group: the jobs' ENIs' security group (self-referencing all-TCP ingress).
        connection: the ``glue.CfnConnection``; ``connection_name`` is its physical name.
        subnet: the subnet of that connection.
        failover: the connection in the second AZ (``None`` without ``failover_connection``).
        connection_names: the names to list in a job's ``Connections``, in the order Glue tries them.
        subnets: the subnets of those connections (job ENIs and interface endpoints are placed there).
        s3_endpoint: the S3 gateway endpoint (``None`` if not created).
        interface_endpoints: created interface endpoints by short service name (``secretsmanager`` included
            when created here).
    """

    def __init__(self, scope: Construct, construct_id: str, props: GlueNetworkProps) -> None:
        super().__init__(scope, construct_id)
        props.validate()
        self.props = props
        self.subnet = props.subnets[0]
        self.subnets = [self.subnet]
        if props.failover_connection:
            zone = self.subnet.availability_zone
            others = [s for s in props.subnets[1:] if s.availability_zone != zone] or list(props.subnets[1:2])
            self.subnets.append(others[0])
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=props.vpc,
            description="Glue job ENIs: self-referencing (Glue workers of one run), egress stays in the VPC",
            # The subnets have no route to the internet: egress reaches only the VPC (database, interface
            # endpoints) and the S3 gateway endpoint, whose prefix list cannot be named offline.
            allow_all_outbound=True,
        )
        self.security_group.add_ingress_rule(
            self.security_group, ec2.Port.all_tcp(), "Glue requires all TCP between the ENIs of one job run"
        )
        self.connection_name = props.connection_name
        self.connection = self._connection("Connection", props.connection_name, self.subnet)
        self.failover: glue.CfnConnection | None = None
        self.connection_names = [props.connection_name]
        if props.failover_connection:
            failover_name = f"{props.connection_name}{FAILOVER_SUFFIX}"
            self.failover = self._connection("FailoverConnection", failover_name, self.subnets[1])
            self.connection_names.append(failover_name)
        self.s3_endpoint: ec2.GatewayVpcEndpoint | None = None
        if props.create_s3_gateway_endpoint:
            self.s3_endpoint = ec2.GatewayVpcEndpoint(
                self,
                "S3Endpoint",
                vpc=props.vpc,
                service=ec2.GatewayVpcEndpointAwsService.S3,
                subnets=[ec2.SubnetSelection(subnets=list(props.subnets))],
            )
        self.interface_endpoints: dict[str, ec2.InterfaceVpcEndpoint] = {}
        wanted = list(props.interface_endpoints)
        if props.secrets_manager_endpoint is not None:
            props.secrets_manager_endpoint.connections.allow_default_port_from(
                self.security_group, "Secrets Manager API from the Glue jobs"
            )
        elif props.create_secrets_manager_endpoint and "secretsmanager" not in wanted:
            wanted.insert(0, "secretsmanager")
        for name in wanted:
            self.interface_endpoints[name] = self._interface_endpoint(name)

    def _connection(self, construct_id: str, name: str, subnet: ec2.ISubnet) -> glue.CfnConnection:
        return glue.CfnConnection(
            self,
            construct_id,
            catalog_id=Stack.of(self).account,
            connection_input=glue.CfnConnection.ConnectionInputProperty(
                name=name,
                description="Network path of the Glue jobs to the tracking database and VPC endpoints",
                connection_type="NETWORK",
                connection_properties={},
                physical_connection_requirements=glue.CfnConnection.PhysicalConnectionRequirementsProperty(
                    subnet_id=subnet.subnet_id,
                    availability_zone=subnet.availability_zone,
                    security_group_id_list=[self.security_group.security_group_id],
                ),
            ),
        )

    def _interface_endpoint(self, name: str) -> ec2.InterfaceVpcEndpoint:
        # Only the connections' subnets: every job ENI lives there, so more AZs would add cost, not reach.
        endpoint = closed_interface_endpoint(
            self, f"{name.title()}Endpoint", vpc=self.props.vpc, service=_SERVICES[name], subnets=self.subnets
        )
        endpoint.connections.allow_default_port_from(self.security_group, f"{name} API from the Glue jobs")
        return endpoint

    @property
    def connection_arn(self) -> str:
        """ARN of the Glue connection (for ``glue:GetConnection`` grants)."""
        return Stack.of(self).format_arn(service="glue", resource="connection", resource_name=self.connection_name)

    @property
    def connection_arns(self) -> list[str]:
        """ARNs of every connection of :attr:`connection_names`, in order."""
        stack = Stack.of(self)
        return [stack.format_arn(service="glue", resource="connection", resource_name=n) for n in self.connection_names]
