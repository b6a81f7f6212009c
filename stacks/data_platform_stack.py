"""``DataPlatformStack``: the four platform constructs composed from one :class:`EnvironmentConfig`."""

from __future__ import annotations

from typing import Any

from aws_cdk import Annotations, CfnOutput, Stack
from constructs import Construct

from platform_constructs.json_to_parquet_workflow import JsonToParquetWorkflow, JsonToParquetWorkflowProps
from platform_constructs.pipeline_alarms import PipelineAlarms, PipelineAlarmsProps
from platform_constructs.tracked_raw_bucket import TrackedRawBucket, TrackedRawBucketProps
from platform_constructs.tracking_database import TrackingDatabase, TrackingDatabaseProps
from runtime import deployment as out
from stacks.config import EnvironmentConfig
from stacks.nag_acknowledgments import acknowledge_stack_findings


class DataPlatformStack(Stack):
    """Bucket, tracking database, Glue workflow and alarms of one environment.

    Attributes:
        config: the environment's validated configuration.
        bucket: :class:`TrackedRawBucket`.
        database: :class:`TrackingDatabase`.
        workflow: :class:`JsonToParquetWorkflow`.
        alarms: :class:`PipelineAlarms`.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, **kwargs: Any) -> None:
        kwargs.setdefault("description", f"ML data platform ({config.environment_name}): tracked JSON -> Parquet on S3")
        kwargs.setdefault("termination_protection", config.production)
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        c = config
        if (missing_subscriber := c.missing_alarm_subscriber()) is not None:
            # a synth error of this stack only: `cdk synth/deploy` of another stack still works
            Annotations.of(self).add_error(missing_subscriber)
        self.bucket = TrackedRawBucket(
            self,
            "DataLake",
            TrackedRawBucketProps(
                bucket_name=c.bucket_name,
                encryption=c.bucket_encryption,
                processed_to_intelligent_tiering_days=c.processed_to_intelligent_tiering_days,
                processed_to_glacier_ir_days=c.processed_to_glacier_ir_days,
                staging_expiry_days=c.staging_expiry_days,
                dead_letter_expiry_days=c.dead_letter_expiry_days,
                noncurrent_version_expiry_days=c.noncurrent_version_expiry_days,
                removal_policy=c.data_removal_policy,
                auto_delete_objects=c.allow_destroy,
            ),
        )
        self.database = TrackingDatabase(
            self,
            "TrackingDatabase",
            TrackingDatabaseProps(
                instance_type=c.db_instance_type,
                allocated_storage_gib=c.db_allocated_storage_gib,
                max_allocated_storage_gib=c.db_max_allocated_storage_gib,
                multi_az=c.db_multi_az,
                deletion_protection=c.db_deletion_protection,
                removal_policy=c.database_removal_policy,
                backup_retention_days=c.db_backup_retention_days,
                cloudwatch_logs_retention=c.log_retention,
            ),
        )
        self.workflow = JsonToParquetWorkflow(
            self,
            "Workflow",
            JsonToParquetWorkflowProps(
                bucket=self.bucket,
                database=self.database,
                environment_name=c.environment_name,
                processor_worker_type=c.processor_worker_type,
                processor_number_of_workers=c.processor_number_of_workers,
                processor_timeout_minutes=c.processor_timeout_minutes,
                backfill_max_concurrent_runs=c.backfill_max_concurrent_runs,
                backfill_number_of_workers=c.backfill_number_of_workers,
                lister_max_capacity=c.lister_max_capacity,
                lister_timeout_minutes=c.lister_timeout_minutes,
                schedule=c.schedule,
                schedule_enabled=c.schedule_enabled,
                batch_size=c.batch_size,
                max_attempts=c.max_attempts,
                lease_seconds=c.lease_seconds,
                drain_minutes=c.drain_minutes,
                backfill_drain_minutes=c.backfill_drain_minutes,
                metrics_namespace=c.metrics_namespace,
                transform_spec_uri=c.transform_spec_uri,
                key_removal_policy=c.data_removal_policy,
            ),
        )
        self.alarms = PipelineAlarms(
            self,
            "Alarms",
            PipelineAlarmsProps(
                environment_name=c.environment_name,
                lister_job_name=self.workflow.lister_job_name,
                processor_job_name=self.workflow.processor_job_name,
                backfill_job_name=self.workflow.backfill_job_name,
                alarm_emails=c.alarm_emails,
                existing_topic_arn=c.alarm_topic_arn,
                metrics_namespace=c.metrics_namespace,
                database_instance=self.database.instance,
                lister_heartbeat_minutes=60 if c.schedule_enabled else None,
                backlog_age_seconds=c.backlog_age_alarm_seconds,
            ),
        )
        self._outputs()
        acknowledge_stack_findings(self)

    def _outputs(self) -> None:
        """The stack's outputs, under the keys of :mod:`runtime.deployment` (``mldp smoke`` reads them back).

        The stack imports that one constants module from the runtime (never the other way round: Glue has no CDK);
        the constructs themselves still import nothing from the runtime. See the module's docstring.
        """
        layout = self.bucket.props
        outputs = {
            out.BUCKET_NAME: self.bucket.bucket.bucket_name,
            out.RAW_PREFIX: layout.raw_prefix,
            out.PROCESSED_PREFIX: layout.processed_prefix,
            out.CURATED_PREFIX: layout.curated_prefix,
            out.STAGING_PREFIX: layout.staging_prefix,
            out.DEAD_LETTER_PREFIX: layout.dead_letter_prefix,
            out.WORKFLOW_NAME: self.workflow.workflow_name,
            out.LISTER_JOB_NAME: self.workflow.lister_job_name,
            out.PROCESSOR_JOB_NAME: self.workflow.processor_job_name,
            out.BACKFILL_JOB_NAME: self.workflow.backfill_job_name,
            out.BACKFILL_TRIGGER_NAME: self.workflow.backfill_trigger.name or "",
            out.DATABASE_ENDPOINT: self.database.endpoint,
            out.DATABASE_SECRET_ARN: self.database.secret.secret_arn,
            out.CATALOG_TABLE: f"{self.workflow.catalog.database_name}.{self.workflow.catalog.table_name}",
            out.ALARM_TOPIC_ARN: self.alarms.topic.topic_arn,
        }
        for output_id, value in outputs.items():
            CfnOutput(self, output_id, value=value, description=out.DESCRIPTIONS[output_id])
