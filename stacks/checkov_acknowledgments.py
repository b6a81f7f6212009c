"""checkov findings acknowledged per resource, each with its reason: the one place they are listed.

``make checkov`` (``scripts/checkov.sh``, run by ``.ci/run``) scans both synthesized templates and fails on any
finding not acknowledged here. What is ours to fix is fixed in the constructs (Enhanced Monitoring, the secret and
the flow logs on the database's key); what remains is below, one :class:`CheckovAcknowledgment` per check and
group of resources, each with the reason it is accepted (``docs/infrastructure.md``, "checkov", lists them too).

**Why per-resource template metadata, not a checkov config file.** :func:`acknowledge_checkov_findings` writes each
acknowledgment into the resource's ``Metadata: checkov: skip: [{id, comment}]``, which checkov reads natively:

* a skip names the resource, so the same check on a resource of ours still fails (``--skip-check CKV_AWS_116`` in
  a ``.checkov.yaml`` would silence the dead-letter check for every Lambda function anyone adds later);
* it can depend on the environment: the Multi-AZ check is acknowledged where the instance is single-AZ (dev) and
  stays live in prod;
* the reason travels with the template: checkov prints it as the suppression comment, and a reviewer of the
  synthesized template sees why;
* it mirrors the cdk-nag acknowledgments (:mod:`stacks.nag_acknowledgments`), selected the same way.

The cost is a few lines of ``Metadata`` on six resources per template (snapshots show them); CloudFormation ignores
the key. A checkov baseline file (``--baseline``) would also be per resource, but it carries no reasons and is keyed
by file path. This module imports no ``aws_cdk`` at module level, so ``tests/test_checkov_acknowledgments.py`` reads
the table in the fast tier.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: A checkov check id of the CloudFormation framework (``CKV_AWS_116``, ``CKV2_AWS_5``).
CHECK_ID = re.compile(r"^CKV2?_AWS_\d+$")

#: CDK's own deploy-time Lambda functions in a ``DataPlatformStack``, by construct path below the stack (CDK fixes the
#: ids of these singletons), with what each does.
CDK_DEPLOY_TIME_FUNCTIONS: dict[str, str] = {
    "BucketNotificationsHandler050a0587b7544547bf325f094a3db834/Resource":
        "CDK's bucket-notifications handler (turns on EventBridge notifications of the data bucket)",
    "AWS679f53fac002430cb0da5b7982bd2287/Resource":
        "CDK's AwsCustomResource handler (ScheduleState: starts or stops the scheduled trigger; HeartbeatSeed: "
        "publishes the heartbeat's first datapoint)",
    "LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a/Resource":
        "CDK's log-retention handler (sets the retention of the log groups RDS creates for its exported logs)",
    "Custom::VpcRestrictDefaultSGCustomResourceProvider/Handler":
        "CDK's restrict-default-security-group handler (removes the created VPC's default security-group rules)",
}
_FUNCTIONS = tuple(CDK_DEPLOY_TIME_FUNCTIONS)


def _always(_resource: Any) -> bool:
    return True


def _single_az(resource: Any) -> bool:
    """Whether a ``CfnDBInstance`` is single-AZ (``MultiAZ`` false or unset)."""
    return not getattr(resource, "multi_az", False)


@dataclass(frozen=True)
class CheckovAcknowledgment:
    """One checkov check accepted on some resources of a ``DataPlatformStack``, and why.

    Attributes:
        check: the checkov check id (``CKV_AWS_116``).
        resource_type: the CloudFormation type of the resources.
        paths: construct paths below the stack (``DataLake/AccessLogBucket/Resource``) of the resources.
        reason: why the finding is accepted there (checkov prints it as the suppression comment).
        applies: a predicate on the ``CfnResource``; the acknowledgment is written only where it holds (e.g. only
            on a single-AZ instance), so the check stays live elsewhere.
        where: the resources in words, for the docs and the report.
    """

    check: str
    resource_type: str
    paths: tuple[str, ...]
    reason: str
    where: str
    applies: Callable[[Any], bool] = field(default=_always, compare=False)


ACKNOWLEDGMENTS: tuple[CheckovAcknowledgment, ...] = (
    CheckovAcknowledgment(
        "CKV_AWS_116", "AWS::Lambda::Function", _FUNCTIONS,
        "A CDK deploy-time handler invoked only by CloudFormation, which waits for its answer: a failed invocation "
        "fails the stack operation and shows in its events; a dead-letter queue would keep an event nobody replays",
        "CDK's four deploy-time Lambda functions",
    ),
    CheckovAcknowledgment(
        "CKV_AWS_115", "AWS::Lambda::Function", _FUNCTIONS,
        "A CDK deploy-time handler that runs a few times per deployment and never under load; reserved concurrency "
        "would only take capacity from the account's unreserved pool (CDK offers no setting for it either)",
        "CDK's four deploy-time Lambda functions",
    ),
    CheckovAcknowledgment(
        "CKV_AWS_117", "AWS::Lambda::Function", _FUNCTIONS,
        "A CDK deploy-time handler that calls only AWS APIs and CloudFormation's response URL and reaches no "
        "private resource; in the isolated subnets it would need an interface endpoint per API it calls, for no gain",
        "CDK's four deploy-time Lambda functions",
    ),
    CheckovAcknowledgment(
        "CKV_AWS_111", "AWS::IAM::Policy",
        ("LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a/ServiceRole/DefaultPolicy/Resource",),
        "CDK's log-retention handler sets the retention of log groups that RDS creates by name at run time "
        "(logs:PutRetentionPolicy and DeleteRetentionPolicy); CDK generates this policy with Resource * and the "
        "instance's generated identifier is not known when it is written",
        "CDK's log-retention handler policy",
    ),
    CheckovAcknowledgment(
        "CKV_AWS_18", "AWS::S3::Bucket", ("DataLake/AccessLogBucket/Resource",),
        "This is the access-log bucket that receives the data bucket's server access logs; logging it to itself "
        "would log its own log deliveries (a loop AWS advises against), and logging it elsewhere only moves the "
        "question to that bucket",
        "the data lake's access-log bucket",
    ),
    CheckovAcknowledgment(
        "CKV_AWS_27", "AWS::SQS::Queue",
        ("Workflow/EventDiscovery/Queue/Resource", "Workflow/EventDiscovery/DeadLetterQueue/Resource"),
        "Encrypted at rest with SQS-managed keys (SqsManagedSseEnabled: true, set explicitly); the check reads only "
        "KmsMasterKeyId. A customer-managed key would need a key policy for EventBridge and a KMS request per data "
        "key for messages that hold only object keys and sizes (platform_constructs/json_to_parquet_workflow/"
        "discovery.py argues it)",
        "the S3 event queue and its dead-letter queue (discovery_mode events)",
    ),
    CheckovAcknowledgment(
        "CKV_AWS_157", "AWS::RDS::DBInstance", ("TrackingDatabase/Instance/Resource",),
        "Written only on a single-AZ instance, i.e. dev by design: the production rules require Multi-AZ in prod; "
        "in dev a single AZ halves the database cost and losing it only delays processing (the next listing "
        "registers the files again)",
        "the tracking database where it is single-AZ (dev)",
        applies=_single_az,
    ),
)


def acknowledge_checkov_findings(stack: Any) -> list[tuple[CheckovAcknowledgment, str]]:
    """Write each acknowledgment that :attr:`~CheckovAcknowledgment.applies` into its resources'
    ``Metadata.checkov.skip`` in ``stack`` (a ``Stack``); returns the ``(acknowledgment, logical id)`` pairs written.

    Run it once the stack's constructs exist (``DataPlatformStack`` does, last). A resource may carry several checks;
    an acknowledgment whose paths match nothing writes nothing (the infra tests hold every one to match somewhere).
    """
    from aws_cdk import CfnResource  # here, not at module level: the fast tier reads the table without aws_cdk

    prefix = stack.node.path + "/"
    by_path = {
        construct.node.path.removeprefix(prefix): construct
        for construct in stack.node.find_all()
        if isinstance(construct, CfnResource)
    }
    skips: dict[str, list[dict[str, str]]] = {}
    resources: dict[str, Any] = {}
    written: list[tuple[CheckovAcknowledgment, str]] = []
    for acknowledgment in ACKNOWLEDGMENTS:
        for path in acknowledgment.paths:
            resource = by_path.get(path)
            if resource is None or resource.cfn_resource_type != acknowledgment.resource_type:
                continue
            if not acknowledgment.applies(resource):
                continue
            skips.setdefault(path, []).append({"id": acknowledgment.check, "comment": acknowledgment.reason})
            resources[path] = resource
            written.append((acknowledgment, stack.get_logical_id(resource)))
    for path, entries in skips.items():
        resources[path].add_metadata("checkov", {"skip": entries})
    return written
