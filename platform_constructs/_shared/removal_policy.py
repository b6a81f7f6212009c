"""The removal-policy guard of the stateful constructs: data is deleted with a stack only on purpose.

``TrackedRawBucket`` (buckets and bucket key), ``TrackingDatabase`` (instance, secret, automated backups) and the
Glue security configuration's key (``JsonToParquetWorkflow``) run their removal policy through
:func:`guard_removal_policy`:

* ``RemovalPolicy.DESTROY`` on props marked ``production=True`` is an **error** (raised by the props'
  ``validate()``, :func:`platform_constructs._shared.validation.check_not_destroyed_in_production`): the two settings
  contradict each other, and quietly picking one would hide the mistake.
* ``RemovalPolicy.DESTROY`` anywhere else is **reverted to RETAIN with a warning annotation** unless the app (or
  any scope above the construct) sets the context key :data:`DESTROY_CONTEXT_KEY` to ``true``
  (``cdk.json``, ``-c @ml-data-platform/removeDataOnDestroy=true``, or ``node.set_context`` on a stack, which is
  what ``DataPlatformStack`` does for ``allow_destroy``).

Why a second switch, and why in context rather than one more props field: ``DESTROY`` is the value most often
copied from CDK examples into props literals, where nobody looks at it again; a props flag next to it would be
copied along with it. A context key is a deployment decision, visible in ``cdk.json`` or on the command line, and
it covers a whole app or stack at once. Why revert rather than fail outside production: a reuser who copied the
example still gets a deployable stack that keeps its data, and ``cdk synth`` prints why (the approach of the AWS
Data Solutions Framework's ``revertRemovalPolicy``). Inside production the same value is a contradiction between
two explicit settings, so it fails.
"""

from __future__ import annotations

from aws_cdk import Annotations, RemovalPolicy
from constructs import Construct

#: Context key that allows ``RemovalPolicy.DESTROY`` on the stateful constructs below the scope that sets it.
DESTROY_CONTEXT_KEY = "@ml-data-platform/removeDataOnDestroy"
#: Id of the warning annotation a reverted policy adds (acknowledge it with ``Annotations.acknowledge_warning``).
REVERTED_WARNING_ID = "@ml-data-platform/removalPolicyReverted"


def destroy_allowed(scope: Construct) -> bool:
    """Whether :data:`DESTROY_CONTEXT_KEY` is ``true`` for ``scope`` (a bool, or the string ``"true"`` from ``-c``)."""
    value = scope.node.try_get_context(DESTROY_CONTEXT_KEY)
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def guard_removal_policy(scope: Construct, policy: RemovalPolicy, *, setting: str) -> RemovalPolicy:
    """``policy``, or ``RETAIN`` (with a warning on ``scope``) for a ``DESTROY`` the context does not allow.

    ``setting`` names the props field in the warning (``TrackedRawBucketProps.removal_policy``). Production props
    never get here with ``DESTROY``: their ``validate()`` refuses it.
    """
    if policy != RemovalPolicy.DESTROY or destroy_allowed(scope):
        return policy
    Annotations.of(scope).add_warning_v2(
        REVERTED_WARNING_ID,
        f"{setting} RemovalPolicy.DESTROY was reverted to RemovalPolicy.RETAIN: deleting data with the stack needs "
        f"the context key {DESTROY_CONTEXT_KEY}=true as well (cdk.json, or -c {DESTROY_CONTEXT_KEY}=true)",
    )
    return RemovalPolicy.RETAIN
