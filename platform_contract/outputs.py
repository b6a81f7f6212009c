"""The CloudFormation outputs of a deployed ``MlDataPlatform-<env>`` stack: their keys, in one place.

``stacks/data_platform_stack.py`` declares its ``CfnOutput`` s under these keys and ``mldp smoke`` reads them back
with ``describe_stacks``, so the two can never drift apart. They live in the contract, which both import: the
runtime runs on Glue, where ``aws_cdk`` does not exist, so it may not import ``stacks``, and the stack does not
import the runtime. Plain constants (no imports, Python 3.9-compatible), so importing them costs the synth nothing.
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
#: Discovery (``workflow.discovery_mode``; docs/discovery.md): the S3 event queue the ``FileEventConsumer`` drains
#: (events), the bucket of the raw prefix's S3 Inventory reports and the folder the scheduled lister reads them
#: from (inventory and events). Only in the modes that create them (:data:`OPTIONAL_OUTPUTS`).
EVENT_QUEUE_URL = "EventQueueUrl"
INVENTORY_BUCKET_NAME = "InventoryBucketName"
INVENTORY_LOCATION = "InventoryLocation"
#: ``database.table`` of the curated Iceberg table in the Glue Data Catalog, and its warehouse URI (only with
#: ``workflow.table_format=iceberg``; ``mldp smoke`` reads the smoke run's rows back through the catalog).
ICEBERG_TABLE = "IcebergTable"
ICEBERG_WAREHOUSE = "IcebergWarehouse"

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
    EVENT_QUEUE_URL: "SQS queue of the raw prefix's S3 Object Created events (mldp list --from-queue <this>)",
    INVENTORY_BUCKET_NAME: "Bucket of the raw prefix's daily S3 Inventory reports",
    INVENTORY_LOCATION: "Folder of the inventory reports the lister reads (mldp list --inventory-location <this>)",
    ICEBERG_TABLE: "Curated Iceberg table in the Glue Data Catalog (database.table; --iceberg-database)",
    ICEBERG_WAREHOUSE: "Warehouse of the curated Iceberg table (--iceberg-warehouse)",
}

#: Outputs only the discovery modes that create their resources have (the others are in every stack).
OPTIONAL_OUTPUTS = (EVENT_QUEUE_URL, INVENTORY_BUCKET_NAME, INVENTORY_LOCATION)

#: The outputs of a stack in the Iceberg format only (``workflow.table_format=iceberg``).
ICEBERG_OUTPUTS = (ICEBERG_TABLE, ICEBERG_WAREHOUSE)

#: The outputs ``mldp smoke`` needs (each may instead be given as a command-line option).
SMOKE_OUTPUTS = (BUCKET_NAME, RAW_PREFIX, PROCESSED_PREFIX, CURATED_PREFIX, STAGING_PREFIX, DEAD_LETTER_PREFIX,
                 LISTER_JOB_NAME, PROCESSOR_JOB_NAME, WORKFLOW_NAME)
