"""The daily S3 Inventory report of the raw prefix (issue 21), for registration from inventory
(``mldp list --from-inventory``) and as the cheap reconciliation behind event-driven registration.

**Where the reports go: a bucket of their own** (``InventoryBucket``, prefix
:data:`~platform_contract.discovery.INVENTORY_PREFIX`). Delivering them under a prefix of the data bucket itself
cannot be written in CloudFormation without a fixed bucket name: the inventory configuration must name its
destination's ARN, and a bucket's own ``Arn`` (or ``Ref``) inside its own properties is a dependency cycle (tried:
``cdk synth`` refuses the template). Naming the data bucket would replace it on existing stacks. A separate bucket
also settles "never registered" by construction: no listing, inventory run or event of the data bucket's raw prefix
can ever see a report.

The reports: Parquet, daily, current versions only (the pipeline registers the latest version of a key), with the
fields a listing gives (size, last-modified, ETag) plus ``IsLatest``/delete-marker data implied by ``Current``. The
report bucket: SSE-S3 (S3 delivers inventory reports to SSE-S3 buckets without a key policy), TLS only, public
access blocked, ACLs disabled, server access logs to the data bucket's log bucket, and reports expired after
``inventory_expiry_days`` (a report is only useful until the next one). Its bucket policy lets ``s3.amazonaws.com``
put objects under the report prefix only for this account's data bucket (``aws:SourceAccount`` and
``aws:SourceArn``).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from platform_contract.discovery import INVENTORY_ID, INVENTORY_PREFIX

__all__ = ["INVENTORY_EXPIRY_DAYS", "add_raw_inventory"]

#: Reports older than this are deleted (a daily report supersedes the previous one).
INVENTORY_EXPIRY_DAYS = 14
#: The fields each report row carries besides bucket and key: what a listing gives.
OPTIONAL_FIELDS = ("Size", "LastModifiedDate", "ETag")


def add_raw_inventory(owner: Any) -> s3.Bucket:
    """Create the report bucket and the data bucket's daily Parquet inventory of its raw prefix in ``owner`` (a
    :class:`~platform_constructs.tracked_raw_bucket.TrackedRawBucket`, typed loosely: it imports this module);
    returns the report bucket. Only for a bucket the construct creates (an imported bucket cannot be configured)."""
    data = owner.bucket
    if not isinstance(data, s3.Bucket) or owner.access_log_bucket is None:
        raise ValueError("the raw-prefix inventory needs a bucket the construct creates, not an existing_bucket")
    reports = s3.Bucket(
        owner,
        "InventoryBucket",
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        minimum_tls_version=1.2,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        versioned=True,
        server_access_logs_bucket=owner.access_log_bucket,
        server_access_logs_prefix="inventory-bucket/",
        lifecycle_rules=[s3.LifecycleRule(
            id="ExpireInventoryReports",
            expiration=Duration.days(INVENTORY_EXPIRY_DAYS),
            noncurrent_version_expiration=Duration.days(1),
            abort_incomplete_multipart_upload_after=Duration.days(1),
        )],
        removal_policy=owner.removal_policy,
        auto_delete_objects=owner.props.auto_delete_objects and owner.removal_policy == RemovalPolicy.DESTROY,
    )
    stack = Stack.of(owner)
    reports.add_to_resource_policy(iam.PolicyStatement(
        sid="S3InventoryDelivery",
        principals=[iam.ServicePrincipal("s3.amazonaws.com")],
        actions=["s3:PutObject"],
        resources=[reports.arn_for_objects(f"{INVENTORY_PREFIX}*")],
        conditions={
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {"aws:SourceArn": data.bucket_arn},
        },
    ))
    cfn = data.node.default_child
    assert isinstance(cfn, s3.CfnBucket)
    cfn.inventory_configurations = [s3.CfnBucket.InventoryConfigurationProperty(
        id=INVENTORY_ID,
        enabled=True,
        destination=s3.CfnBucket.DestinationProperty(
            bucket_arn=reports.bucket_arn, format="Parquet", prefix=INVENTORY_PREFIX.rstrip("/"),
            bucket_account_id=stack.account,
        ),
        included_object_versions="Current",
        prefix=owner.props.raw_prefix,
        schedule_frequency="Daily",
        optional_fields=list(OPTIONAL_FIELDS),
    )]
    return reports
