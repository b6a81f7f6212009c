"""Props of :class:`platform_constructs.tracked_raw_bucket.TrackedRawBucket` and their validation.

Every default is the reference layout and a safe setting. ``existing_bucket`` and the props that shape a bucket
the construct creates (encryption, lifecycle, logging, removal) are mutually exclusive: the construct only grants
on a bucket it does not own, so it refuses those props instead of silently ignoring them.

``staging_expiry_days`` is a former prop: it expired everything under the staging prefix, batch staging included
(see :mod:`.lifecycle` for why batch staging no longer expires). Setting it fails with what to use
instead (``glue_temp_expiry_days``, which expires Glue's ``--TempDir`` only).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import RemovalPolicy
from aws_cdk import aws_s3 as s3

from platform_constructs._shared.validation import (
    PropsError,
    check_at_least,
    check_bucket_name,
    check_disjoint_prefixes,
    check_exclusive,
    check_field_types,
    check_not_destroyed_in_production,
    check_one_of,
    check_prefix,
)
from platform_contract import layout

ENCRYPTION_KMS = "KMS"
"""A customer-managed KMS key with rotation, and an S3 bucket key."""
ENCRYPTION_S3_MANAGED = "S3_MANAGED"
"""SSE-S3 (no key cost)."""
ENCRYPTIONS = (ENCRYPTION_KMS, ENCRYPTION_S3_MANAGED)
#: The folder of the staging prefix that Glue gets as its scratch space (``--TempDir``); no batch reads it, and
#: it can never be a batch's folder (those are named by the batch's UUID). See
#: :attr:`TrackedRawBucketProps.glue_temp_prefix`.
GLUE_TEMP_FOLDER = "_glue_temporary/"
#: The props that shape a bucket the construct creates; refused together with ``existing_bucket``.
CREATED_BUCKET_FIELDS = (
    "bucket_name",
    "encryption",
    "processed_to_intelligent_tiering_days",
    "processed_to_glacier_ir_days",
    "glue_temp_expiry_days",
    "dead_letter_expiry_days",
    "noncurrent_version_expiry_days",
    "raw_noncurrent_version_expiry_days",
    "incomplete_multipart_upload_days",
    "access_log_expiry_days",
    "removal_policy",
    "auto_delete_objects",
)
#: Prefix fields by role (``raw``, ``processed``, ...), in layout order.
PREFIX_FIELDS = ("raw", "processed", "curated", "staging", "dead_letter", "scripts")


@dataclass(frozen=True)
class TrackedRawBucketProps:
    """Props of :class:`~platform_constructs.tracked_raw_bucket.TrackedRawBucket`; see each field's comment."""

    #: Physical bucket name; ``None`` lets CloudFormation generate one (recommended).
    bucket_name: str | None = None
    #: ``"KMS"`` (a customer-managed key with rotation and an S3 bucket key) or ``"S3_MANAGED"`` (SSE-S3).
    encryption: str = ENCRYPTION_KMS
    #: Where raw JSON lands (historical ``all_historical_files/`` and weekly ``YYYY/weekXX/`` folders below it).
    raw_prefix: str = layout.RAW_PREFIX
    #: Where processed raw JSON is archived.
    processed_prefix: str = layout.PROCESSED_PREFIX
    #: The Parquet data lake that readers scan.
    curated_prefix: str = layout.CURATED_PREFIX
    #: Batch scratch space (``<staging_prefix><batch id>/``) and Glue's ``--TempDir`` (:attr:`glue_temp_prefix`);
    #: readers never scan it. A batch's staging never expires: the processor deletes it once the batch is closed.
    staging_prefix: str = layout.STAGING_PREFIX
    #: Records that failed parsing or validation.
    dead_letter_prefix: str = layout.DEAD_LETTER_PREFIX
    #: Glue job scripts, transform specs and bundled libraries.
    scripts_prefix: str = layout.SCRIPTS_PREFIX
    #: Age at which archived raw JSON moves to S3 Intelligent-Tiering (0 = as soon as possible).
    processed_to_intelligent_tiering_days: int = 30
    #: Optional age (60-90 days) at which archived raw JSON moves on to Glacier Instant Retrieval; ``None`` keeps
    #: it in Intelligent-Tiering.
    processed_to_glacier_ir_days: int | None = None
    #: Age at which objects in Glue's scratch space (``--TempDir``, :attr:`glue_temp_prefix`) expire. Nothing else
    #: under the staging prefix expires: a batch's staged Parquet and ``_MANIFEST.json`` stay as long as the batch
    #: is open (held for the operator, or the pipeline paused), and every processor run deletes the staging of the
    #: batches that are closed (:mod:`.lifecycle`).
    glue_temp_expiry_days: int = 3
    #: Optional age at which dead-letter records expire; ``None`` keeps them.
    dead_letter_expiry_days: int | None = None
    #: Age at which non-current object versions are deleted (deleted raw files and overwritten Parquet stay
    #: recoverable for this long).
    noncurrent_version_expiry_days: int = 30
    #: Age at which non-current versions under the raw prefix are deleted (S3 applies the shorter of this and
    #: ``noncurrent_version_expiry_days``). Archiving copies each raw file to the processed prefix before deleting
    #: it, so a non-current raw version is a second copy of an archived file; 3 days covers a weekend for noticing a
    #: wrong delete, where 30 days kept the whole 9 TB backfill twice for a month (:mod:`.lifecycle`).
    raw_noncurrent_version_expiry_days: int = 3
    #: Age at which incomplete multipart uploads are aborted.
    incomplete_multipart_upload_days: int = 7
    #: Age at which server access logs expire.
    access_log_expiry_days: int = 365
    #: What happens to the buckets and the key when the stack is deleted. ``DESTROY`` is reverted to ``RETAIN``
    #: unless the context allows it, and refused with ``production``
    #: (:mod:`platform_constructs._shared.removal_policy`).
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN
    #: Empty the buckets on stack deletion; only allowed with ``DESTROY`` (and dropped when that is reverted).
    auto_delete_objects: bool = False
    #: These props hold production data: ``RemovalPolicy.DESTROY`` is an error, not a reverted warning.
    production: bool = False
    #: Use this bucket instead of creating one (Solutions Constructs style): the construct then only grants, and
    #: ``access_log_bucket`` is ``None``. Refused together with any of :data:`CREATED_BUCKET_FIELDS` (they would
    #: shape a bucket the construct does not create).
    existing_bucket: s3.IBucket | None = None
    #: Former prop, refused: it expired the whole staging prefix, the staging of open batches included. Use
    #: ``glue_temp_expiry_days`` for Glue's scratch space; batch staging no longer expires.
    staging_expiry_days: int | None = None

    @property
    def prefixes(self) -> dict[str, str]:
        """The configured prefixes by role (``raw``, ``processed``, ``curated``, ...)."""
        return {role: getattr(self, f"{role}_prefix") for role in PREFIX_FIELDS}

    @property
    def glue_temp_prefix(self) -> str:
        """Glue's scratch space, ``<staging_prefix>_glue_temporary/``: the processor's ``--TempDir`` and the only
        part of the staging prefix whose current objects expire (after ``glue_temp_expiry_days``)."""
        return f"{self.staging_prefix}{GLUE_TEMP_FOLDER}"

    def validate(self) -> None:
        """Raise :class:`~platform_constructs._shared.validation.PropsError` (a ``ValueError``) naming the field
        to fix."""
        owner = type(self).__name__
        if self.staging_expiry_days is not None:
            raise PropsError(
                owner, "staging_expiry_days",
                "is no longer a prop: batch staging never expires (each processor run deletes the staging of "
                "closed batches; an open batch needs its own); set glue_temp_expiry_days for the expiry of "
                f"Glue's scratch space <staging_prefix>{GLUE_TEMP_FOLDER}",
            )
        check_field_types(self)
        check_exclusive(
            self, "existing_bucket", CREATED_BUCKET_FIELDS,
            "an existing bucket keeps its own name, encryption, lifecycle, logging and removal policy (the "
            "construct only grants on it)",
        )
        check_one_of(owner, "encryption", self.encryption, ENCRYPTIONS)
        check_bucket_name(owner, self.bucket_name)
        for role, prefix in self.prefixes.items():
            check_prefix(owner, f"{role}_prefix", prefix)
        check_disjoint_prefixes(owner, {f"{role}_prefix": prefix for role, prefix in self.prefixes.items()})
        self._validate_days(owner)
        check_not_destroyed_in_production(owner, "removal_policy", self.removal_policy, self.production)
        if self.auto_delete_objects and self.removal_policy != RemovalPolicy.DESTROY:
            raise PropsError(
                owner, "auto_delete_objects",
                "=True requires removal_policy=RemovalPolicy.DESTROY (it would empty a bucket that the stack "
                "otherwise keeps)",
            )

    def _validate_days(self, owner: str) -> None:
        days = {
            "glue_temp_expiry_days": (self.glue_temp_expiry_days, 1),
            "noncurrent_version_expiry_days": (self.noncurrent_version_expiry_days, 1),
            "raw_noncurrent_version_expiry_days": (self.raw_noncurrent_version_expiry_days, 1),
            "incomplete_multipart_upload_days": (self.incomplete_multipart_upload_days, 1),
            "access_log_expiry_days": (self.access_log_expiry_days, 1),
        }
        if self.dead_letter_expiry_days is not None:
            days["dead_letter_expiry_days"] = (self.dead_letter_expiry_days, 1)
        check_at_least(owner, days, unit="day")
        check_at_least(
            owner, {"processed_to_intelligent_tiering_days": (self.processed_to_intelligent_tiering_days, 0)}
        )
        glacier = self.processed_to_glacier_ir_days
        if glacier is None:
            return
        if not 60 <= glacier <= 90:
            raise PropsError(
                owner, "processed_to_glacier_ir_days", f"must be 60-90 days (Glacier IR), or None; got {glacier}"
            )
        if glacier <= self.processed_to_intelligent_tiering_days:
            raise PropsError(
                owner, "processed_to_glacier_ir_days",
                f"must be greater than processed_to_intelligent_tiering_days "
                f"({self.processed_to_intelligent_tiering_days}), got {glacier}",
            )
