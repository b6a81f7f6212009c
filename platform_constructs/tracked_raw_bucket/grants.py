"""The prefix-scoped IAM grants of :class:`platform_constructs.tracked_raw_bucket.TrackedRawBucket`.

Each grant adds statements to the grantee's identity policy, scoped to the prefixes of the bucket's layout, plus
the KMS actions on the bucket key when the bucket has one. The returned ``iam.Grant`` combines every part, the
KMS statement included, so a caller can ``apply_before`` or inspect ``principal_statements`` of the whole grant.
No grant hands out ``s3:*`` or object writes on the whole bucket.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from platform_constructs.tracked_raw_bucket.props import TrackedRawBucketProps

#: Object actions a multipart or managed copy needs on its destination, besides ``s3:PutObject``.
MULTIPART_ACTIONS = ("s3:AbortMultipartUpload", "s3:ListMultipartUploadParts")
#: SSE-KMS: ``kms:Decrypt`` to read (and to complete multipart uploads), ``kms:GenerateDataKey`` to write.
KEY_READ_ACTIONS = ("kms:Decrypt",)
KEY_WRITE_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")


def list_patterns(prefixes: Sequence[str]) -> list[str]:
    """``s3:prefix`` patterns that allow listing ``prefixes``.

    Hadoop/EMRFS also lists the "directory" without its trailing slash; allow exactly that, not ``<prefix>*``
    (which would also match e.g. ``raw-json-data-processed/`` for ``raw-json-data/``).
    """
    patterns: list[str] = []
    for prefix in prefixes:
        patterns.extend([prefix.rstrip("/"), f"{prefix}*"])
    return patterns


class BucketGrants:
    """The statements behind ``TrackedRawBucket.grant_*`` for one bucket, its key and its layout.

    Args:
        bucket: the data bucket (created or existing).
        key: its KMS key, ``None`` with SSE-S3.
        layout: the props whose prefixes scope every statement.
    """

    def __init__(self, bucket: s3.IBucket, key: kms.IKey | None, layout: TrackedRawBucketProps) -> None:
        self.bucket = bucket
        self.key = key
        self.layout = layout

    # ------------------------------------------------------------------------------------------------------
    # Building blocks
    # ------------------------------------------------------------------------------------------------------
    def objects(self, prefix: str) -> str:
        """ARN of every object under ``prefix``."""
        return self.bucket.arn_for_objects(f"{prefix}*")

    @staticmethod
    def statement(
        grantee: iam.IGrantable,
        actions: Sequence[str],
        resource_arns: Sequence[str],
        conditions: dict[str, dict[str, object]] | None = None,
    ) -> iam.Grant:
        """One identity-policy statement for ``grantee``."""
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=list(actions), resource_arns=list(resource_arns), conditions=conditions
        )

    def list_prefixes(self, grantee: iam.IGrantable, prefixes: Sequence[str]) -> iam.Grant:
        """``s3:ListBucket`` conditioned on ``s3:prefix`` (:func:`list_patterns`)."""
        return self.statement(
            grantee, ["s3:ListBucket"], [self.bucket.bucket_arn], {"StringLike": {"s3:prefix": list_patterns(prefixes)}}
        )

    def list_bucket(self, grantee: iam.IGrantable) -> iam.Grant:
        """Unconditioned ``s3:ListBucket`` (see ``TrackedRawBucket.grant_processor`` for why the processor needs it)."""
        return self.statement(grantee, ["s3:ListBucket"], [self.bucket.bucket_arn])

    def location(self, grantee: iam.IGrantable) -> iam.Grant:
        """``s3:GetBucketLocation``."""
        return self.statement(grantee, ["s3:GetBucketLocation"], [self.bucket.bucket_arn])

    def with_key(self, grant: iam.Grant, grantee: iam.IGrantable, *, write: bool) -> iam.Grant:
        """``grant`` combined with the bucket key's actions (read, or read and write); ``grant`` alone with SSE-S3.

        Exactly these actions, on this one key: no ``kms:ReEncrypt*``, no wildcard actions.
        """
        if self.key is None:
            return grant
        actions = KEY_WRITE_ACTIONS if write else KEY_READ_ACTIONS
        return grant.combine(self.statement(grantee, actions, [self.key.key_arn]))

    def read_prefix(self, grantee: iam.IGrantable, prefix: str, *, list_whole_bucket: bool = False) -> iam.Grant:
        """List and get under ``prefix``, and decrypt with the bucket key. ``list_whole_bucket``: the listing is
        unconditioned, so a missing key is a 404, not a 403 (see ``TrackedRawBucket.grant_read_curated``)."""
        grant = self.list_bucket(grantee) if list_whole_bucket else self.list_prefixes(grantee, [prefix])
        grant = grant.combine(self.statement(grantee, ["s3:GetObject"], [self.objects(prefix)]))
        return self.with_key(grant, grantee, write=False)

    # ------------------------------------------------------------------------------------------------------
    # The grants of the pipeline's roles
    # ------------------------------------------------------------------------------------------------------
    def lister(self, grantee: iam.IGrantable) -> iam.Grant:
        """List the raw prefix and read the bucket location; no object access, so no key."""
        return self.list_prefixes(grantee, [self.layout.raw_prefix]).combine(self.location(grantee))

    def processor(self, grantee: iam.IGrantable) -> iam.Grant:
        """Location, unconditioned listing, and per prefix: raw get/delete; processed get/put; staging, curated and
        dead letter get/put/delete (multipart actions wherever it puts); the key's read and write actions."""
        p = self.layout
        read_write_delete = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", *MULTIPART_ACTIONS]
        grant = self.location(grantee)
        grant = grant.combine(self.list_bucket(grantee))
        grant = grant.combine(
            self.statement(grantee, ["s3:GetObject", "s3:DeleteObject"], [self.objects(p.raw_prefix)])
        )
        grant = grant.combine(
            self.statement(
                grantee, ["s3:GetObject", "s3:PutObject", *MULTIPART_ACTIONS], [self.objects(p.processed_prefix)]
            )
        )
        grant = grant.combine(
            self.statement(
                grantee,
                read_write_delete,
                [self.objects(p.staging_prefix), self.objects(p.curated_prefix), self.objects(p.dead_letter_prefix)],
            )
        )
        return self.with_key(grant, grantee, write=True)

    def read_curated(self, grantee: iam.IGrantable, *, list_whole_bucket: bool = False) -> iam.Grant:
        """The bucket location, then list and get the curated prefix (and decrypt)."""
        return self.location(grantee).combine(
            self.read_prefix(grantee, self.layout.curated_prefix, list_whole_bucket=list_whole_bucket))

    def write_raw(self, grantee: iam.IGrantable) -> iam.Grant:
        """Put (and multipart) under the raw prefix, and encrypt with the key."""
        grant = self.statement(
            grantee, ["s3:PutObject", *MULTIPART_ACTIONS], [self.objects(self.layout.raw_prefix)]
        )
        return self.with_key(grant, grantee, write=True)
