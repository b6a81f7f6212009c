"""How the platform creates interface VPC endpoints: private DNS on, closed until a peer is admitted.

``open=False`` keeps CDK from admitting the whole VPC CIDR on 443: each client (the Glue jobs' security group, the
secret rotation Lambda) is admitted by name with ``endpoint.connections.allow_default_port_from``. Used by
``TrackingDatabase`` (Secrets Manager) and ``GlueNetwork`` (Logs, Monitoring, Glue, ...).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_ec2 as ec2
from constructs import Construct


def closed_interface_endpoint(
    scope: Construct,
    construct_id: str,
    *,
    vpc: ec2.IVpc,
    service: ec2.IInterfaceVpcEndpointService,
    subnets: Sequence[ec2.ISubnet],
) -> ec2.InterfaceVpcEndpoint:
    """An interface endpoint of ``service`` in ``subnets`` with private DNS, admitting no one yet."""
    return ec2.InterfaceVpcEndpoint(
        scope,
        construct_id,
        vpc=vpc,
        service=service,
        subnets=ec2.SubnetSelection(subnets=list(subnets)),
        private_dns_enabled=True,
        open=False,
    )
