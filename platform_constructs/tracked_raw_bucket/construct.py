"""``TrackedRawBucket``: the data-lake bucket of the pipeline, with its layout, lifecycle and grants.

One bucket holds every stage of the pipeline under its own prefix (raw JSON, archived raw
JSON, curated Parquet, staging scratch space, dead-letter records, Glue scripts). The
construct secures it (SSE-KMS with a bucket key or SSE-S3, SSL-only, public access blocked,
versioning, server access logs to a separate bucket), tiers and expires data per prefix,
turns on EventBridge notifications, and hands out *prefix-scoped* grants so that no role
ever gets ``s3:*`` or write access to the whole bucket.

Where things are: the props and their rules in :mod:`.props`, the lifecycle rules in
:mod:`.lifecycle`, the grant statements in :mod:`.grants`, the
removal-policy guard in :mod:`platform_constructs._shared.removal_policy`.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from platform_constructs._shared.removal_policy import guard_removal_policy
from platform_constructs.tracked_raw_bucket.grants import BucketGrants
from platform_constructs.tracked_raw_bucket.inventory import add_raw_inventory
from platform_constructs.tracked_raw_bucket.lifecycle import access_log_rules, data_bucket_rules
from platform_constructs.tracked_raw_bucket.props import (
    ENCRYPTION_KMS,
    ENCRYPTION_S3_MANAGED,
    TrackedRawBucketProps,
)

__all__ = ["ENCRYPTION_KMS", "ENCRYPTION_S3_MANAGED", "TrackedRawBucket", "TrackedRawBucketProps"]

_LOGS_USE_BUCKET_POLICY = "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"
#: Settings both buckets share: TLS only, no public access, no ACLs, versioning.
_SECURE_BUCKET: dict[str, Any] = {
    "enforce_ssl": True,
    "minimum_tls_version": 1.2,
    "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
    "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    "versioned": True,
}


class TrackedRawBucket(Construct):
    """The pipeline's data-lake bucket with the reference prefix layout.

    Attributes:
        props: the validated props.
        bucket: the data bucket (``s3.Bucket``, or the ``existing_bucket`` given in props).
        access_log_bucket: the server-access-log bucket (``None`` with an existing bucket).
        encryption_key: the customer-managed KMS key (``None`` with S3-managed encryption, or the
            existing bucket's key).
        removal_policy: the removal policy actually applied (``props.removal_policy`` after the guard of
            :mod:`platform_constructs._shared.removal_policy`; ``None`` with an existing bucket).

    The ``grant_*`` methods add prefix-scoped statements to the grantee's identity policy (and
    KMS permissions when a key is used); none grants ``s3:*`` or object writes on the whole bucket.
    Each returns one ``iam.Grant`` that covers every statement it added, the KMS one included.
    """

    def __init__(self, scope: Construct, construct_id: str, props: TrackedRawBucketProps | None = None) -> None:
        super().__init__(scope, construct_id)
        self.props = props or TrackedRawBucketProps()
        self.props.validate()
        self.access_log_bucket: s3.Bucket | None = None
        self.encryption_key: kms.IKey | None = None
        self.removal_policy: RemovalPolicy | None = None
        if self.props.existing_bucket is not None:
            self.bucket: s3.IBucket = self.props.existing_bucket
            self.encryption_key = self.props.existing_bucket.encryption_key
        else:
            self.bucket = self._create_buckets()
        self._grants = BucketGrants(self.bucket, self.encryption_key, self.props)
        #: The bucket of the raw prefix's daily S3 Inventory reports (:meth:`enable_raw_inventory`), or ``None``.
        self.inventory_bucket: s3.Bucket | None = None

    def _create_buckets(self) -> s3.Bucket:
        p = self.props
        self.removal_policy = guard_removal_policy(
            self, p.removal_policy, setting=f"{type(p).__name__}.removal_policy", production=p.production
        )
        removal = {
            "removal_policy": self.removal_policy,
            # auto-delete goes with DESTROY, and with it when the guard reverts it
            "auto_delete_objects": p.auto_delete_objects and self.removal_policy == RemovalPolicy.DESTROY,
        }
        # Grant log delivery through the log bucket's policy, not an ACL, so that the log bucket can
        # disable ACLs (BucketOwnerEnforced). This is the CDK feature flag that selects that behaviour,
        # scoped to this construct's subtree.
        self.node.set_context(_LOGS_USE_BUCKET_POLICY, True)
        # Server access logging only delivers to SSE-S3 buckets, hence S3_MANAGED here.
        self.access_log_bucket = s3.Bucket(
            self,
            "AccessLogBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            **_SECURE_BUCKET,
            lifecycle_rules=access_log_rules(p),
            **removal,
        )
        if p.encryption == ENCRYPTION_KMS:
            self.encryption_key = kms.Key(
                self,
                "Key",
                description="Encrypts the ML data-lake bucket (raw JSON, Parquet, dead letters, scripts)",
                enable_key_rotation=True,
                removal_policy=self.removal_policy,
            )
        return s3.Bucket(
            self,
            "Bucket",
            bucket_name=p.bucket_name,
            encryption=s3.BucketEncryption.KMS if self.encryption_key else s3.BucketEncryption.S3_MANAGED,
            encryption_key=self.encryption_key,
            bucket_key_enabled=self.encryption_key is not None,
            **_SECURE_BUCKET,
            server_access_logs_bucket=self.access_log_bucket,
            server_access_logs_prefix="data-bucket/",
            event_bridge_enabled=True,
            lifecycle_rules=data_bucket_rules(p),
            **removal,
        )

    def enable_raw_inventory(self) -> s3.Bucket:
        """Configure the daily Parquet S3 Inventory of the raw prefix into a report bucket of its own (see
        :mod:`.inventory`); idempotent. Returns the report bucket."""
        if self.inventory_bucket is None:
            self.inventory_bucket = add_raw_inventory(self)
        return self.inventory_bucket

    # ----------------------------------------------------------------------------------------
    # Helpers
    # ----------------------------------------------------------------------------------------
    @property
    def uri(self) -> str:
        """``s3://<bucket>`` (a token until deployment), the ``--store`` argument of the jobs."""
        return f"s3://{self.bucket.bucket_name}"

    def uri_for(self, prefix: str) -> str:
        """``s3://<bucket>/<prefix>``."""
        return f"{self.uri}/{prefix}"

    # ----------------------------------------------------------------------------------------
    # Grants
    # ----------------------------------------------------------------------------------------
    def grant_lister(self, grantee: iam.IGrantable) -> iam.Grant:
        """Grant what the file lister needs: list the raw prefix and read the bucket location.

        No object read or write at all (the lister records keys, sizes and ETags from listings). Its only S3
        requests are ``ListObjectsV2`` under the raw prefix, which carry ``s3:prefix``, and it never reads or
        checks a key whose absence it must observe, so its ``s3:ListBucket`` stays conditioned on that prefix
        (unlike the processor's, see :meth:`grant_processor`).
        """
        return self._grants.lister(grantee)

    def grant_processor(self, grantee: iam.IGrantable) -> iam.Grant:
        """Grant what the batch processor needs, prefix by prefix.

        * the bucket: ``s3:ListBucket`` *without* an ``s3:prefix`` condition (see below) and the location;
        * raw: get, delete (the raw file is removed once archived);
        * processed: put (+ multipart), get (idempotency checks of the archive copy);
        * staging: get, put, delete (+ multipart);
        * curated and dead letter: put, get, delete (overwrite on re-publish) (+ multipart);
        * encrypt/decrypt on the bucket key if there is one (part of the returned grant).

        Why ``s3:ListBucket`` is unconditioned: the processor must observe absence. It reads the batch manifest
        (absent = staging incomplete), retries publish and archive copies (a source already gone while its
        destination exists = done), checks that claimed raw files still exist (absent = vanished), and on Glue
        Spark's committers check output paths with HEAD requests. S3 answers a GET or HEAD of a missing key with
        404 only when the caller has ``s3:ListBucket`` on the bucket, and 403 AccessDenied otherwise (GetObject
        and HeadObject API reference, "Permissions"). Whether a prefix-conditioned ``s3:ListBucket`` counts for
        that decision is not documented (Ceph's RGW treats the requested key as ``s3:prefix`` there, "to match
        aws behavior", ceph/ceph#68577); the processor also looks up keys in several prefixes, so it does not rely
        on it. Without a listing grant that counts, every "missing" would be a 403,
        which the runtime (rightly) treats as a permission error that stops the run. The prefix-conditioned
        statement the other grants use would add nothing next to this one, so the processor gets none.

        What it exposes: listing reveals key names, sizes, ETags and dates (never contents) of this one bucket,
        whose pipeline prefixes the role already reads or writes; the only other prefix of the layout is the
        scripts prefix, which the workflow lets the processor read anyway. On an ``existing_bucket`` shared with
        other data, the processor would also see the other key names (still not their contents).

        Alternatives considered: ``StringLikeIfExists`` on ``s3:prefix`` (it lets a GET/HEAD count, but also
        lets any listing without a prefix through, so it restricts nothing while relying on how S3 evaluates
        the condition for its internal 404 decision, which AWS does not document); existence checks by
        ``ListObjectsV2`` with the key as prefix instead of HEAD (works under the conditioned grant, but costs a
        LIST per check and cannot change the HEADs that Glue's S3 committers and EMRFS make); mapping 403 to
        "missing" in the runtime (then a real denial would silently become "vanished" files and skipped work).
        """
        return self._grants.processor(grantee)

    def grant_read_curated(self, grantee: iam.IGrantable, *, list_whole_bucket: bool = False) -> iam.Grant:
        """Grant read-only access to the curated Parquet (list + get, and decrypt), e.g. for Athena or ML jobs.

        By default ``s3:ListBucket`` is conditioned on the curated prefix: the grantee cannot even see the names of
        other keys. That suits readers that only list and get (Athena, ``aws s3 cp``). Readers that look up keys
        which may not exist (Spark's S3A and EMRFS check "directories" with HEAD requests; pyarrow's and fsspec's
        file systems do the same) need a 404 for a missing key, and S3 answers 404 only to a caller allowed
        ``s3:ListBucket`` on the bucket, 403 AccessDenied otherwise. Whether the prefix-conditioned grant counts
        for a key under its prefix is not documented by AWS and not verified here (Ceph's RGW, which follows AWS,
        treats the requested key as ``s3:prefix``: then it does); a key outside the prefix (a parent "directory",
        a ``_SUCCESS`` marker elsewhere) never gets a 404 from it. If a reader meets 403s on missing keys, grant it
        with ``list_whole_bucket=True``: the listing is unconditioned, which reveals the names and sizes of every
        key in the bucket (raw ones included), never their content.
        """
        return self._grants.read_curated(grantee, list_whole_bucket=list_whole_bucket)

    def grant_read_scripts(self, grantee: iam.IGrantable) -> iam.Grant:
        """Grant read-only access to the Glue scripts prefix (list + get)."""
        return self._grants.read_prefix(grantee, self.props.scripts_prefix)

    def grant_read_dead_letter(self, grantee: iam.IGrantable, *, list_whole_bucket: bool = False) -> iam.Grant:
        """Grant read-only access to the dead-letter records (list + get), e.g. for an operator role;
        ``list_whole_bucket`` as for :meth:`grant_read_curated` (Spark or pyarrow readers need it)."""
        return self._grants.read_prefix(grantee, self.props.dead_letter_prefix, list_whole_bucket=list_whole_bucket)

    def grant_write_raw(self, grantee: iam.IGrantable) -> iam.Grant:
        """Grant an uploader (weekly sync, DataSync, a producer) put access to the raw prefix only."""
        return self._grants.write_raw(grantee)
