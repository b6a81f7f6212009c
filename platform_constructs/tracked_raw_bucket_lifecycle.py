"""The lifecycle rules of :class:`platform_constructs.tracked_raw_bucket.TrackedRawBucket`, per prefix of its layout.

Data bucket, in this order:

* ``TierProcessedRaw``: archived raw JSON to Intelligent-Tiering, optionally on to Glacier Instant Retrieval;
* ``ExpireStaging``: batch scratch space left by crashed runs expires (its non-current versions after a day);
* ``ExpireDeadLetters`` (optional): dead-letter records expire;
* ``AbortIncompleteMultipartUploads`` and ``ExpireNoncurrentVersions`` on the whole bucket (deleted raw files
  and overwritten Parquet stay recoverable for ``noncurrent_version_expiry_days``).

Access-log bucket: ``ExpireAccessLogs``.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_s3 as s3

from platform_constructs.tracked_raw_bucket_props import TrackedRawBucketProps


def processed_transitions(p: TrackedRawBucketProps) -> list[s3.Transition]:
    """Storage-class transitions of archived raw JSON."""
    transitions = [
        s3.Transition(
            storage_class=s3.StorageClass.INTELLIGENT_TIERING,
            transition_after=Duration.days(p.processed_to_intelligent_tiering_days),
        )
    ]
    if p.processed_to_glacier_ir_days is not None:
        transitions.append(
            s3.Transition(
                storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                transition_after=Duration.days(p.processed_to_glacier_ir_days),
            )
        )
    return transitions


def data_bucket_rules(p: TrackedRawBucketProps) -> list[s3.LifecycleRule]:
    """The data bucket's rules (see the module docstring)."""
    rules = [
        s3.LifecycleRule(id="TierProcessedRaw", prefix=p.processed_prefix, transitions=processed_transitions(p)),
        s3.LifecycleRule(
            id="ExpireStaging",
            prefix=p.staging_prefix,
            expiration=Duration.days(p.staging_expiry_days),
            noncurrent_version_expiration=Duration.days(1),
        ),
    ]
    if p.dead_letter_expiry_days is not None:
        rules.append(
            s3.LifecycleRule(
                id="ExpireDeadLetters", prefix=p.dead_letter_prefix, expiration=Duration.days(p.dead_letter_expiry_days)
            )
        )
    rules.append(
        s3.LifecycleRule(
            id="AbortIncompleteMultipartUploads",
            abort_incomplete_multipart_upload_after=Duration.days(p.incomplete_multipart_upload_days),
        )
    )
    rules.append(
        s3.LifecycleRule(
            id="ExpireNoncurrentVersions",
            noncurrent_version_expiration=Duration.days(p.noncurrent_version_expiry_days),
            expired_object_delete_marker=True,
        )
    )
    return rules


def access_log_rules(p: TrackedRawBucketProps) -> list[s3.LifecycleRule]:
    """The access-log bucket's rule: logs expire, their non-current versions after a day."""
    return [
        s3.LifecycleRule(
            id="ExpireAccessLogs",
            expiration=Duration.days(p.access_log_expiry_days),
            noncurrent_version_expiration=Duration.days(1),
            abort_incomplete_multipart_upload_after=Duration.days(p.incomplete_multipart_upload_days),
        )
    ]
