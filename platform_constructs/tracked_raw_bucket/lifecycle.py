"""The lifecycle rules of :class:`platform_constructs.tracked_raw_bucket.TrackedRawBucket`, per prefix of its layout.

Data bucket, in this order:

* ``TierProcessedRaw``: archived raw JSON to Intelligent-Tiering, optionally on to Glacier Instant Retrieval;
* ``ExpireGlueTemporary``: Glue's scratch space, the processor's ``--TempDir``
  (``<staging_prefix>_glue_temporary/``, :attr:`~.TrackedRawBucketProps.glue_temp_prefix`), expires after
  ``glue_temp_expiry_days``;
* ``ExpireStagingNoncurrentVersions``: non-current versions under the staging prefix expire after a day;
* ``ExpireRawNoncurrentVersions``: non-current versions under the raw prefix (the versions an archive's delete
  leaves behind; the processed prefix holds the same bytes) expire after ``raw_noncurrent_version_expiry_days``
  (where rules overlap, S3 applies the shorter expiry);
* ``ExpireDeadLetters`` (optional): dead-letter records expire;
* ``AbortIncompleteMultipartUploads`` and ``ExpireNoncurrentVersions`` on the whole bucket (deleted raw files
  and overwritten Parquet stay recoverable for ``noncurrent_version_expiry_days``; the whole-bucket rule also
  removes delete markers left without versions, such as those of cleaned staging).

Access-log bucket: ``ExpireAccessLogs``.

**Batch staging never expires.** A batch's staging folder (``<staging_prefix><batch uuid>/``: its staged Parquet,
dead letters and the ``_MANIFEST.json`` completion marker) is needed for as long as the batch is open: recovery rolls
a batch with a manifest forward from it, and a batch stays open (CLAIMED) for as long as it must, held for the
operator after failed recoveries or while the pipeline is paused after a crash mid-publish. An age-based expiry of
that folder (the former ``ExpireStaging`` rule, 3 days in prod) deleted the manifest of such a batch, and recovery
then took a batch whose rows may be published for one that never completed. A lifecycle rule cannot know whether
a batch is open (it sees only key prefixes, tags, sizes and ages); the tracking database does. So the staging of a
batch is deleted by the runtime once its batch is closed: at the end of the batch, and, for a run that stopped
before that, by every processor run (``Recovery.clean_finished_staging``), which deletes the staging of each batch
folder whose batch is not open, including folders of batch ids the database does not know.

What the lifecycle still does under the staging prefix touches no current object a batch needs: it expires Glue's
own scratch space, a folder that no batch reads and that cannot be a batch's folder (those are named by UUIDs), and
non-current versions (deleting staged objects after a publish leaves them behind in this versioned bucket; a
non-current version is never what a batch reads). Incomplete multipart uploads are still aborted bucket-wide: an
upload that was never completed is not an object any batch can read.

Alternatives considered: a longer expiry (30 or 90 days) only moves the cliff, and a batch held for the operator
over a holiday still loses its manifest; an expiry by tag (the runtime tags a closed batch's objects, a rule expires
tagged ones) is still the runtime deciding, one ``PutObjectTagging`` per object instead of deleting them directly;
an expiry of "orphaned" staging only cannot be written, since what makes staging orphaned is in the database.
The price of the choice: the staging of a batch that stays open stays stored, and staging of closed batches waits
for the next processor run.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_s3 as s3

from platform_constructs.tracked_raw_bucket.props import TrackedRawBucketProps


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
            id="ExpireGlueTemporary",
            prefix=p.glue_temp_prefix,
            expiration=Duration.days(p.glue_temp_expiry_days),
        ),
        # No expiration of current objects here: see "Batch staging never expires" in the module docstring.
        s3.LifecycleRule(
            id="ExpireStagingNoncurrentVersions",
            prefix=p.staging_prefix,
            noncurrent_version_expiration=Duration.days(1),
        ),
        s3.LifecycleRule(
            id="ExpireRawNoncurrentVersions",
            prefix=p.raw_prefix,
            noncurrent_version_expiration=Duration.days(p.raw_noncurrent_version_expiry_days),
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
