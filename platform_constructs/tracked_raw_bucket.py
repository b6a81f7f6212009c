"""``TrackedRawBucket``: the data-lake bucket of the pipeline, with its layout, lifecycle and grants.

One bucket holds every stage of the pipeline under its own prefix (raw JSON, archived raw
JSON, curated Parquet, staging scratch space, dead-letter records, Glue scripts). The
construct secures it (SSE-KMS with a bucket key or SSE-S3, SSL-only, public access blocked,
versioning, server access logs to a separate bucket), tiers and expires data per prefix,
turns on EventBridge notifications, and hands out *prefix-scoped* grants so that no role
ever gets ``s3:*`` or write access to the whole bucket.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

ENCRYPTION_KMS = "KMS"
ENCRYPTION_S3_MANAGED = "S3_MANAGED"
_ENCRYPTIONS = (ENCRYPTION_KMS, ENCRYPTION_S3_MANAGED)
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")

# Object actions a multipart or managed copy needs on its destination, besides s3:PutObject.
_LOGS_USE_BUCKET_POLICY = "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"
_MULTIPART_ACTIONS = ("s3:AbortMultipartUpload", "s3:ListMultipartUploadParts")


@dataclass(frozen=True)
class TrackedRawBucketProps:
    """Props of :class:`TrackedRawBucket`; every default is the reference layout and a safe setting.

    Attributes:
        bucket_name: physical bucket name; ``None`` lets CloudFormation generate one (recommended).
        encryption: ``"KMS"`` (a customer-managed key with rotation and an S3 bucket key) or
            ``"S3_MANAGED"`` (SSE-S3, no key cost).
        raw_prefix: where raw JSON lands (historical ``all_historical_files/`` and weekly
            ``YYYY/weekXX/`` folders live below it).
        processed_prefix: where processed raw JSON is archived.
        curated_prefix: the Parquet data lake that readers scan.
        staging_prefix: batch scratch space; readers never scan it; objects expire.
        dead_letter_prefix: records that failed parsing or validation.
        scripts_prefix: Glue job scripts and bundled libraries.
        processed_to_intelligent_tiering_days: age at which archived raw JSON moves to
            S3 Intelligent-Tiering (0 = as soon as possible).
        processed_to_glacier_ir_days: optional age (60-90 days) at which archived raw JSON moves
            on to Glacier Instant Retrieval; ``None`` keeps it in Intelligent-Tiering.
        staging_expiry_days: age at which staging objects (left behind by a crashed batch) expire.
        dead_letter_expiry_days: optional age at which dead-letter records expire; ``None`` keeps them.
        noncurrent_version_expiry_days: age at which non-current object versions are deleted
            (deleted raw files and overwritten Parquet stay recoverable for this long).
        incomplete_multipart_upload_days: age at which incomplete multipart uploads are aborted.
        access_log_expiry_days: age at which server access logs expire.
        removal_policy: what happens to the buckets (and key) when the stack is deleted.
        auto_delete_objects: empty the buckets on stack deletion; only allowed with ``DESTROY``.
        existing_bucket: use this bucket instead of creating one (Solutions Constructs style). The
            construct then only adds grants: encryption, lifecycle, logging and notifications are the
            owner's business, and ``access_log_bucket`` is ``None``.
    """

    bucket_name: str | None = None
    encryption: str = ENCRYPTION_KMS
    raw_prefix: str = "raw-json-data/"
    processed_prefix: str = "raw-json-data-processed/"
    curated_prefix: str = "curated-data-lake/json_parsed_parquet/"
    staging_prefix: str = "curated-data-lake/_staging/"
    dead_letter_prefix: str = "error-data-lake/json_malformed_records/"
    scripts_prefix: str = "glue-scripts/"
    processed_to_intelligent_tiering_days: int = 30
    processed_to_glacier_ir_days: int | None = None
    staging_expiry_days: int = 3
    dead_letter_expiry_days: int | None = None
    noncurrent_version_expiry_days: int = 30
    incomplete_multipart_upload_days: int = 7
    access_log_expiry_days: int = 365
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN
    auto_delete_objects: bool = False
    existing_bucket: s3.IBucket | None = None

    @property
    def prefixes(self) -> dict[str, str]:
        """The configured prefixes by role (``raw``, ``processed``, ``curated``, ...)."""
        return {
            "raw": self.raw_prefix,
            "processed": self.processed_prefix,
            "curated": self.curated_prefix,
            "staging": self.staging_prefix,
            "dead_letter": self.dead_letter_prefix,
            "scripts": self.scripts_prefix,
        }

    def validate(self) -> None:
        """Raise ``ValueError`` naming the field to fix when the props are inconsistent."""
        if self.encryption not in _ENCRYPTIONS:
            raise ValueError(
                f"TrackedRawBucketProps.encryption must be one of {_ENCRYPTIONS}, got {self.encryption!r}"
            )
        if (
            self.bucket_name is not None
            and not Token.is_unresolved(self.bucket_name)
            and (not _BUCKET_NAME.match(self.bucket_name) or ".." in self.bucket_name)
        ):
            raise ValueError(
                f"TrackedRawBucketProps.bucket_name {self.bucket_name!r} is not a valid S3 bucket "
                "name: use 3-63 "
                "lowercase letters, digits, dots or hyphens, starting and ending with a letter or digit"
            )
        self._validate_prefixes()
        self._validate_days()
        if self.auto_delete_objects and self.removal_policy != RemovalPolicy.DESTROY:
            raise ValueError(
                "TrackedRawBucketProps.auto_delete_objects=True requires "
                "removal_policy=RemovalPolicy.DESTROY "
                "(it would empty a bucket that the stack otherwise keeps)"
            )

    def _validate_prefixes(self) -> None:
        for role, prefix in self.prefixes.items():
            if not prefix or not prefix.endswith("/") or prefix.startswith("/") or "*" in prefix:
                raise ValueError(
                    f"TrackedRawBucketProps.{role}_prefix {prefix!r} must be a non-empty key prefix "
                    "that ends with "
                    "'/', does not start with '/' and has no '*', e.g. 'raw-json-data/'"
                )
        items = list(self.prefixes.items())
        for i, (role_a, prefix_a) in enumerate(items):
            for role_b, prefix_b in items[i + 1 :]:
                if prefix_a.startswith(prefix_b) or prefix_b.startswith(prefix_a):
                    raise ValueError(
                        f"TrackedRawBucketProps.{role_a}_prefix {prefix_a!r} and "
                        f"{role_b}_prefix {prefix_b!r} "
                        "overlap: each stage needs its own prefix so that lifecycle rules and grants stay "
                        "scoped (readers of the curated prefix must never see staging objects)"
                    )

    def _validate_days(self) -> None:
        positive = {
            "staging_expiry_days": self.staging_expiry_days,
            "noncurrent_version_expiry_days": self.noncurrent_version_expiry_days,
            "incomplete_multipart_upload_days": self.incomplete_multipart_upload_days,
            "access_log_expiry_days": self.access_log_expiry_days,
        }
        if self.dead_letter_expiry_days is not None:
            positive["dead_letter_expiry_days"] = self.dead_letter_expiry_days
        for name, days in positive.items():
            if days < 1:
                raise ValueError(f"TrackedRawBucketProps.{name} must be at least 1 day, got {days}")
        if self.processed_to_intelligent_tiering_days < 0:
            raise ValueError(
                "TrackedRawBucketProps.processed_to_intelligent_tiering_days must be >= 0, "
                f"got {self.processed_to_intelligent_tiering_days}"
            )
        glacier = self.processed_to_glacier_ir_days
        if glacier is not None:
            if not 60 <= glacier <= 90:
                raise ValueError(
                    "TrackedRawBucketProps.processed_to_glacier_ir_days must be between 60 and 90 (or "
                    f"None), got {glacier}"
                )
            if glacier <= self.processed_to_intelligent_tiering_days:
                raise ValueError(
                    "TrackedRawBucketProps.processed_to_glacier_ir_days must be greater than "
                    "processed_to_intelligent_tiering_days "
                    f"({self.processed_to_intelligent_tiering_days}), got {glacier}"
                )


class TrackedRawBucket(Construct):
    """The pipeline's data-lake bucket with the reference prefix layout.

    Attributes:
        props: the validated props.
        bucket: the data bucket (``s3.Bucket``, or the ``existing_bucket`` given in props).
        access_log_bucket: the server-access-log bucket (``None`` with an existing bucket).
        encryption_key: the customer-managed KMS key (``None`` with S3-managed encryption, or the
            existing bucket's key).

    The ``grant_*`` methods add prefix-scoped statements to the grantee's identity policy (and
    KMS permissions when a key is used); none grants ``s3:*`` or object writes on the whole bucket.
    """

    def __init__(
        self, scope: Construct, construct_id: str, props: TrackedRawBucketProps | None = None
    ) -> None:
        super().__init__(scope, construct_id)
        self.props = props or TrackedRawBucketProps()
        self.props.validate()
        self.access_log_bucket: s3.Bucket | None = None
        self.encryption_key: kms.IKey | None = None
        if self.props.existing_bucket is not None:
            self.bucket: s3.IBucket = self.props.existing_bucket
            self.encryption_key = self.props.existing_bucket.encryption_key
            return
        # Grant log delivery through the log bucket's policy, not an ACL, so that the log bucket can
        # disable ACLs (BucketOwnerEnforced). This is the CDK feature flag that selects that behaviour,
        # scoped to this construct's subtree.
        self.node.set_context(_LOGS_USE_BUCKET_POLICY, True)
        self.access_log_bucket = self._create_access_log_bucket()
        if self.props.encryption == ENCRYPTION_KMS:
            self.encryption_key = kms.Key(
                self,
                "Key",
                description="Encrypts the ML data-lake bucket (raw JSON, Parquet, dead letters, scripts)",
                enable_key_rotation=True,
                removal_policy=self.props.removal_policy,
            )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=self.props.bucket_name,
            encryption=s3.BucketEncryption.KMS if self.encryption_key else s3.BucketEncryption.S3_MANAGED,
            encryption_key=self.encryption_key,
            bucket_key_enabled=self.encryption_key is not None,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            server_access_logs_bucket=self.access_log_bucket,
            server_access_logs_prefix="data-bucket/",
            event_bridge_enabled=True,
            lifecycle_rules=self._lifecycle_rules(),
            removal_policy=self.props.removal_policy,
            auto_delete_objects=self.props.auto_delete_objects,
        )

    # ----------------------------------------------------------------------------------------
    # Resources
    # ----------------------------------------------------------------------------------------
    def _create_access_log_bucket(self) -> s3.Bucket:
        # Server access logging only delivers to SSE-S3 buckets, hence S3_MANAGED here.
        return s3.Bucket(
            self,
            "AccessLogBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireAccessLogs",
                    expiration=Duration.days(self.props.access_log_expiry_days),
                    noncurrent_version_expiration=Duration.days(1),
                    abort_incomplete_multipart_upload_after=Duration.days(
                        self.props.incomplete_multipart_upload_days
                    ),
                )
            ],
            removal_policy=self.props.removal_policy,
            auto_delete_objects=self.props.auto_delete_objects,
        )

    def _lifecycle_rules(self) -> list[s3.LifecycleRule]:
        p = self.props
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
        rules = [
            s3.LifecycleRule(id="TierProcessedRaw", prefix=p.processed_prefix, transitions=transitions),
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
                    id="ExpireDeadLetters",
                    prefix=p.dead_letter_prefix,
                    expiration=Duration.days(p.dead_letter_expiry_days),
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

    def _objects(self, prefix: str) -> str:
        return self.bucket.arn_for_objects(f"{prefix}*")

    @staticmethod
    def _list_patterns(prefixes: Sequence[str]) -> list[str]:
        # Hadoop/EMRFS also lists the "directory" without its trailing slash; allow exactly that,
        # not "<prefix>*" (which would also match e.g. raw-json-data-processed/ for raw-json-data/).
        patterns: list[str] = []
        for prefix in prefixes:
            patterns.extend([prefix.rstrip("/"), f"{prefix}*"])
        return patterns

    def _grant(
        self,
        grantee: iam.IGrantable,
        actions: Sequence[str],
        resource_arns: Sequence[str],
        conditions: dict[str, dict[str, object]] | None = None,
    ) -> iam.Grant:
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=list(actions), resource_arns=list(resource_arns), conditions=conditions
        )

    def _grant_list(self, grantee: iam.IGrantable, prefixes: Sequence[str]) -> iam.Grant:
        return self._grant(
            grantee,
            ["s3:ListBucket"],
            [self.bucket.bucket_arn],
            {"StringLike": {"s3:prefix": self._list_patterns(prefixes)}},
        )

    def _grant_list_bucket(self, grantee: iam.IGrantable) -> iam.Grant:
        # Unconditioned: S3 answers 404 (not 403) for a missing key only to a caller with s3:ListBucket on the
        # bucket, and a GET/HEAD carries no s3:prefix, so a prefix-conditioned grant never counts for it.
        return self._grant(grantee, ["s3:ListBucket"], [self.bucket.bucket_arn])

    def _grant_location(self, grantee: iam.IGrantable) -> iam.Grant:
        return self._grant(grantee, ["s3:GetBucketLocation"], [self.bucket.bucket_arn])

    def _grant_key(self, grantee: iam.IGrantable, *, write: bool) -> None:
        # SSE-KMS needs exactly these: Decrypt to read (and to complete multipart uploads),
        # GenerateDataKey to write. No kms:ReEncrypt*, no wildcard actions.
        if self.encryption_key is None:
            return
        actions = ["kms:Decrypt", "kms:GenerateDataKey"] if write else ["kms:Decrypt"]
        self._grant(grantee, actions, [self.encryption_key.key_arn])

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
        grant = self._grant_list(grantee, [self.props.raw_prefix])
        return grant.combine(self._grant_location(grantee))

    def grant_processor(self, grantee: iam.IGrantable) -> iam.Grant:
        """Grant what the batch processor needs, prefix by prefix.

        * the bucket: ``s3:ListBucket`` *without* an ``s3:prefix`` condition (see below) and the location;
        * raw: get, delete (the raw file is removed once archived);
        * processed: put (+ multipart), get (idempotency checks of the archive copy);
        * staging: get, put, delete (+ multipart);
        * curated and dead letter: put, get, delete (overwrite on re-publish) (+ multipart);
        * encrypt/decrypt on the bucket key if there is one.

        Why ``s3:ListBucket`` is unconditioned: the processor must observe absence. It reads the batch manifest
        (absent = staging incomplete), retries publish and archive copies (a source already gone while its
        destination exists = done), checks that claimed raw files still exist (absent = vanished), and on Glue
        Spark's committers check output paths with HEAD requests. S3 answers a GET or HEAD of a missing key with
        404 only when the caller has ``s3:ListBucket`` on the bucket, and 403 AccessDenied otherwise (GetObject
        and HeadObject API reference, "Permissions"); a GET or HEAD carries no ``s3:prefix`` key, so a
        prefix-conditioned grant does not count for it. Without this statement every "missing" would be a 403,
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
        p = self.props
        read_write_delete = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", *_MULTIPART_ACTIONS]
        grant = self._grant_location(grantee)
        grant = grant.combine(self._grant_list_bucket(grantee))
        grant = grant.combine(
            self._grant(grantee, ["s3:GetObject", "s3:DeleteObject"], [self._objects(p.raw_prefix)])
        )
        grant = grant.combine(
            self._grant(
                grantee,
                ["s3:GetObject", "s3:PutObject", *_MULTIPART_ACTIONS],
                [self._objects(p.processed_prefix)],
            )
        )
        grant = grant.combine(
            self._grant(
                grantee,
                read_write_delete,
                [
                    self._objects(p.staging_prefix),
                    self._objects(p.curated_prefix),
                    self._objects(p.dead_letter_prefix),
                ],
            )
        )
        self._grant_key(grantee, write=True)
        return grant

    def grant_read_curated(self, grantee: iam.IGrantable) -> iam.Grant:
        """Grant read-only access to the curated Parquet (list + get), e.g. for Athena or ML jobs."""
        grant = self._grant_location(grantee)
        grant = grant.combine(self._grant_list(grantee, [self.props.curated_prefix]))
        grant = grant.combine(
            self._grant(grantee, ["s3:GetObject"], [self._objects(self.props.curated_prefix)])
        )
        self._grant_key(grantee, write=False)
        return grant

    def grant_read_scripts(self, grantee: iam.IGrantable) -> iam.Grant:
        """Grant read-only access to the Glue scripts prefix (list + get)."""
        grant = self._grant_list(grantee, [self.props.scripts_prefix])
        grant = grant.combine(
            self._grant(grantee, ["s3:GetObject"], [self._objects(self.props.scripts_prefix)])
        )
        self._grant_key(grantee, write=False)
        return grant

    def grant_read_dead_letter(self, grantee: iam.IGrantable) -> iam.Grant:
        """Grant read-only access to the dead-letter records (list + get), e.g. for an operator role."""
        grant = self._grant_list(grantee, [self.props.dead_letter_prefix])
        grant = grant.combine(
            self._grant(grantee, ["s3:GetObject"], [self._objects(self.props.dead_letter_prefix)])
        )
        self._grant_key(grantee, write=False)
        return grant

    def grant_write_raw(self, grantee: iam.IGrantable) -> iam.Grant:
        """Grant an uploader (weekly sync, DataSync, a producer) put access to the raw prefix only."""
        grant = self._grant(
            grantee, ["s3:PutObject", *_MULTIPART_ACTIONS], [self._objects(self.props.raw_prefix)]
        )
        self._grant_key(grantee, write=True)
        return grant
