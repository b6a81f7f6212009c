"""The CloudFormation outputs of a deployed ``MlDataPlatform-<env>`` stack: their keys, in one place.

``stacks/data_platform_stack.py`` declares its ``CfnOutput`` s under these keys and ``mldp smoke`` reads them back
with ``describe_stacks``, so the two can never drift apart.

Why the keys live in the runtime and the stack imports them, not the other way round: the runtime runs on Glue,
where ``aws_cdk`` does not exist, so it may not import ``stacks`` (which imports the CDK). The stack, in turn, may
import from the runtime: the layering rule (docs/architecture.md) only keeps the *constructs* free of runtime
imports (so another project can reuse them with its own runtime); the stack is this project's composition and
already bundles this runtime. This
module is plain constants (no imports, Python 3.9-compatible), so importing it costs the synth nothing.
"""

from __future__ import annotations

#: ``--store s3://<this>``: the data-lake bucket.
BUCKET_NAME = "BucketName"
#: The bucket layout (``TrackedRawBucketProps``), each a key prefix ending in ``/``.
RAW_PREFIX = "RawPrefix"
PROCESSED_PREFIX = "ProcessedPrefix"
CURATED_PREFIX = "CuratedPrefix"
STAGING_PREFIX = "StagingPrefix"
DEAD_LETTER_PREFIX = "DeadLetterPrefix"
#: The Glue names.
WORKFLOW_NAME = "WorkflowName"
LISTER_JOB_NAME = "ListerJobName"
PROCESSOR_JOB_NAME = "ProcessorJobName"
BACKFILL_JOB_NAME = "BackfillJobName"
BACKFILL_TRIGGER_NAME = "BackfillTriggerName"
#: The tracking database.
DATABASE_ENDPOINT = "DatabaseEndpoint"
DATABASE_SECRET_ARN = "DatabaseSecretArn"
#: ``database.table`` of the Data Catalog table over the curated Parquet.
CATALOG_TABLE = "CatalogTable"
#: The SNS topic of the pipeline alarms.
ALARM_TOPIC_ARN = "AlarmTopicArn"

#: What each output is (the ``Description`` of its ``CfnOutput``).
DESCRIPTIONS = {
    BUCKET_NAME: "Data-lake bucket (--store s3://<this>)",
    RAW_PREFIX: "Raw JSON prefix of the bucket (--raw-prefix)",
    PROCESSED_PREFIX: "Archive prefix of processed raw files (--processed-prefix)",
    CURATED_PREFIX: "Curated Parquet prefix (--curated-prefix)",
    STAGING_PREFIX: "Batch staging prefix (--staging-prefix)",
    DEAD_LETTER_PREFIX: "Dead-letter prefix of malformed records (--dead-letter-prefix)",
    WORKFLOW_NAME: "Glue workflow (aws glue start-workflow-run --name)",
    LISTER_JOB_NAME: "Glue job that registers raw files",
    PROCESSOR_JOB_NAME: "Glue job that writes Parquet (scheduled runs: one at a time)",
    BACKFILL_JOB_NAME: "Glue job of backfill runs (same code; its own concurrency, never the schedule's slot)",
    BACKFILL_TRIGGER_NAME: "On-demand backfill trigger",
    DATABASE_ENDPOINT: "Tracking database host",
    DATABASE_SECRET_ARN: "Tracking database credentials",
    CATALOG_TABLE: "Athena table over the curated Parquet",
    ALARM_TOPIC_ARN: "SNS topic of the pipeline alarms",
}

#: The outputs ``mldp smoke`` needs (each may instead be given as a command-line option).
SMOKE_OUTPUTS = (BUCKET_NAME, RAW_PREFIX, PROCESSED_PREFIX, CURATED_PREFIX, STAGING_PREFIX, DEAD_LETTER_PREFIX,
                 LISTER_JOB_NAME, PROCESSOR_JOB_NAME, WORKFLOW_NAME)
