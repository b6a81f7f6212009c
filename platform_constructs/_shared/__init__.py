"""Helpers several constructs share (internal: not part of the public API, which ``platform_constructs`` exports).

* :mod:`.validation`: the rules several props types (and the stacks' configuration) apply, each written once;
* :mod:`.removal_policy`: the guard on ``RemovalPolicy.DESTROY`` (and its context key);
* :mod:`.nag`: cdk-nag acknowledgments with a reason;
* :mod:`.vpc_endpoints`: interface VPC endpoints closed to everything but their security group.
"""
