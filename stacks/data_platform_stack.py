"""``DataPlatformStack``: the four platform constructs composed from one :class:`EnvironmentConfig`.

The configuration holds the constructs' own props (with the production rules applied by
``EnvironmentConfig.bucket_props`` and its siblings); the stack only wires them to each other: the bucket and
database into the workflow, the workflow's job names and namespace and the database instance into the alarms.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Annotations, CfnOutput, RemovalPolicy, Stack
from constructs import Construct

from platform_constructs._shared.removal_policy import DESTROY_CONTEXT_KEY, retain_except_on_create
from platform_constructs.json_to_parquet_workflow import JsonToParquetWorkflow, JsonToParquetWorkflowProps
from platform_constructs.json_to_parquet_workflow.discovery import discovery_outputs
from platform_constructs.json_to_parquet_workflow.glue.schedule import max_interval_minutes
from platform_constructs.pipeline_alarms import PipelineAlarms, PipelineAlarmsProps
from platform_constructs.tracked_raw_bucket import TrackedRawBucket
from platform_constructs.tracking_database import TrackingDatabase
from platform_contract import outputs as out
from stacks.checkov_acknowledgments import CheckovAcknowledgment, acknowledge_checkov_findings
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
        checkov_acknowledgments: the checkov findings acknowledged in this stack's template, as
            ``(acknowledgment, logical id)`` pairs (:mod:`stacks.checkov_acknowledgments`).
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, **kwargs: Any) -> None:
        kwargs.setdefault("description", f"ML data platform ({config.environment_name}): tracked JSON -> Parquet on S3")
        kwargs.setdefault("termination_protection", config.production)
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        c = config
        if c.allow_destroy:
            # the constructs' removal-policy guard lets DESTROY through only where the context allows it
            self.node.set_context(DESTROY_CONTEXT_KEY, True)
        if (missing_subscriber := c.missing_alarm_subscriber()) is not None:
            # a synth error of this stack only: `cdk synth/deploy` of another stack still works
            Annotations.of(self).add_error(missing_subscriber)
        self.bucket = TrackedRawBucket(self, "DataLake", c.bucket_props())
        self.database = TrackingDatabase(self, "TrackingDatabase", c.database_props())
        self.workflow = JsonToParquetWorkflow(
            self,
            "Workflow",
            JsonToParquetWorkflowProps.of(
                c.workflow_settings(),
                bucket=self.bucket,
                database=self.database,
                environment_name=c.environment_name,
            ),
        )
        self.alarms = PipelineAlarms(
            self,
            "Alarms",
            PipelineAlarmsProps.of(
                c.alarms_settings(),
                environment_name=c.environment_name,
                lister_job_name=self.workflow.lister_job_name,
                processor_job_name=self.workflow.processor_job_name,
                backfill_job_name=self.workflow.backfill_job_name,
                # discovery_mode events: the event consumer's failed runs are mailed like the other jobs'
                extra_job_names=() if self.workflow.discovery is None else (self.workflow.discovery.job_name,),
                metrics_namespace=c.workflow.metrics_namespace,
                database_instance=self.database.instance,
                database_instance_class=c.database.resolved_instance_type.to_string(),
                lister_timeout_minutes=c.workflow.lister_timeout_minutes,
                processor_timeout_minutes=c.workflow.processor_timeout_minutes,
                schedule_interval_minutes=max_interval_minutes(c.workflow.schedule),
                schedule_enabled=c.workflow.schedule_enabled,
                table_format=c.workflow.table_format,
            ),
        )
        if self.workflow.discovery is not None:  # the event queue's alarms notify the alarm topic too
            self.workflow.discovery.notify(self.alarms.topic)
        if c.production and self.alarms.topic_key is not None:
            # the alarm topic's key, like the other production keys: kept on update and delete, not on a failed create
            self.alarms.topic_key.apply_removal_policy(
                retain_except_on_create(RemovalPolicy.RETAIN, production=True)
            )
        self._outputs()
        acknowledge_stack_findings(self)
        self.checkov_acknowledgments: list[tuple[CheckovAcknowledgment, str]] = acknowledge_checkov_findings(self)

    def _outputs(self) -> None:
        """The stack's outputs, under the keys of :mod:`platform_contract.outputs` (``mldp smoke`` reads them back).

        The keys live in the contract package that the runtime imports too (Glue has no CDK, so the runtime may not
        import ``stacks``); neither the stack nor the constructs import the runtime.
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
            **(self.workflow.iceberg.outputs if self.workflow.iceberg is not None else {}),
        }
        outputs.update(discovery_outputs(self.workflow))
        for output_id, value in outputs.items():
            CfnOutput(self, output_id, value=value, description=out.DESCRIPTIONS[output_id])
