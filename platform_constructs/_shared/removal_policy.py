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

**Production retains except on create.** On props marked ``production=True`` the guard turns ``RETAIN`` into
``RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE`` (CloudFormation ``DeletionPolicy: RetainExceptOnCreate``,
``UpdateReplacePolicy: Retain``). A plain ``Retain`` also keeps what a *failed first create* made: the rollback
leaves a billed, deletion-protected instance, keys and buckets behind, and their subnets and security groups
cannot be deleted, so the stack ends in ``ROLLBACK_FAILED``. A resource that the failed create itself made holds
no data yet, so deleting it on that rollback loses nothing; every later update or delete still retains it.
:func:`dependent_policy` gives the resources that follow a guarded one (the database's secret and subnet group)
the same behaviour. Outside production nothing changes (``RETAIN`` stays ``Retain``), so dev templates keep their
policies. One case stays: CloudFormation does not lift an instance's ``DeletionProtection`` before it deletes, so a
first create that fails after the (protected) database instance exists still stops there (docs/infrastructure.md,
"Removal policies").
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


def retain_except_on_create(policy: RemovalPolicy, *, production: bool) -> RemovalPolicy:
    """``RETAIN_ON_UPDATE_OR_DELETE`` for ``RETAIN`` on production props; ``policy`` otherwise."""
    if production and policy == RemovalPolicy.RETAIN:
        return RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
    return policy


def dependent_policy(policy: RemovalPolicy) -> RemovalPolicy:
    """The policy of a resource that follows a guarded one but has no snapshot (a secret, a subnet group).

    ``SNAPSHOT`` becomes ``RETAIN``; ``DESTROY``, ``RETAIN`` and ``RETAIN_ON_UPDATE_OR_DELETE`` pass unchanged.
    """
    return RemovalPolicy.RETAIN if policy == RemovalPolicy.SNAPSHOT else policy


def guard_removal_policy(
    scope: Construct, policy: RemovalPolicy, *, setting: str, production: bool = False
) -> RemovalPolicy:
    """``policy``, or ``RETAIN`` (with a warning on ``scope``) for a ``DESTROY`` the context does not allow.

    ``setting`` names the props field in the warning (``TrackedRawBucketProps.removal_policy``). Production props
    never get here with ``DESTROY``: their ``validate()`` refuses it; their ``RETAIN`` becomes
    ``RETAIN_ON_UPDATE_OR_DELETE`` (:func:`retain_except_on_create`).
    """
    if policy != RemovalPolicy.DESTROY or destroy_allowed(scope):
        return retain_except_on_create(policy, production=production)
    Annotations.of(scope).add_warning_v2(
        REVERTED_WARNING_ID,
        f"{setting} RemovalPolicy.DESTROY was reverted to RemovalPolicy.RETAIN: deleting data with the stack needs "
        f"the context key {DESTROY_CONTEXT_KEY}=true as well (cdk.json, or -c {DESTROY_CONTEXT_KEY}=true)",
    )
    return RemovalPolicy.RETAIN
