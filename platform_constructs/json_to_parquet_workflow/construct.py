"""``JsonToParquetWorkflow``: the Glue workflow, its jobs, their triggers, network and catalog table.

Orchestration (a Glue workflow has exactly one start trigger)::

    SCHEDULED (every 15 min, started on creation)
        -> FileListerAndDbPopulator        Python shell 3.9, 1/16 DPU: list raw prefixes, register new files
        -> CONDITIONAL (lister SUCCEEDED)
        -> JsonToParquetBatchProcessor     Glue 5.0 Spark: claim batches until the backlog is empty or the
                                           --max-minutes budget is spent (--drain true)

    ON_DEMAND backfill trigger (outside the workflow)
        -> JsonToParquetBatchProcessorBackfill
                                           the same script, role and arguments as a job of its own, --drain true
                                           with the long ``backfill_drain_minutes`` budget. Start the trigger (or
                                           `aws glue start-job-run` with more workers) several times in parallel
                                           for the 9 TB backfill: claims use FOR UPDATE SKIP LOCKED, so runs never
                                           share a file.

Which runs use which job, and how many may run at once:

* ``JsonToParquetBatchProcessor<suffix>`` runs only inside the workflow (the conditional trigger after a
  successful listing), ``MaxConcurrentRuns`` 1. The workflow itself allows one run at a time: a scheduled start
  while a run is still active is skipped, not queued (Glue refuses a start beyond ``MaxConcurrentRuns`` with
  ``ConcurrentRunsExceededException``), and one slot is all the schedule ever needs. Do not start
  this job by hand: a manual run would hold the schedule's only slot.
* ``JsonToParquetBatchProcessorBackfill<suffix>`` runs everything started on demand: the backfill trigger
  (``aws glue start-trigger --name JsonToParquetBackfill<suffix>``, once per parallel run) and manual
  ``aws glue start-job-run --job-name JsonToParquetBatchProcessorBackfill<suffix>`` runs with their own worker
  fleet. At most ``backfill_max_concurrent_runs`` of them run at once; one more start fails with
  ``ConcurrentRunsExceededException`` and leaves the schedule untouched.

Glue counts concurrent runs per job, so backfill runs can never take the scheduled processor's slot (with one
shared job, three backfill runs made every scheduled start fail). Both jobs claim from the same tracking table, so
scheduled and backfill runs share the backlog without sharing a file.

Why the lister is a Python-shell job: it only pages through S3 listings and bulk-inserts keys, which needs no
Spark. 1/16 DPU for about a minute every 15 minutes costs about $0.05 a day; the smallest Glue 5.0 Spark job
(2 G.1X workers, 1-minute minimum) would cost about $1.40 a day for the same work. The price is that every
``runtime`` module the lister imports must stay Python 3.9-compatible (``tests/infra`` checks it with vermin).

Where things are: the props and their rules in :mod:`.props`, the jobs' argument maps
(and the extra-argument / Spark ``--conf`` escape hatch) in :mod:`.job_arguments`, the triggers in
:mod:`.triggers`; this module builds the jobs and wires code, network, roles and grants.

This module imports nothing from the ``runtime`` package; it only bundles its files (see ``glue/assets.py``).
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from constructs import Construct

from platform_constructs._shared.nag import acknowledge, finding_value
from platform_constructs.json_to_parquet_workflow.database_access import grant_database_access
from platform_constructs.json_to_parquet_workflow.discovery import add_discovery
from platform_constructs.json_to_parquet_workflow.glue.assets import GlueCodeAssets
from platform_constructs.json_to_parquet_workflow.glue.catalog_table import (
    CuratedCatalogTable,
    CuratedCatalogTableProps,
)
from platform_constructs.json_to_parquet_workflow.glue.iceberg_table import iceberg_table_access
from platform_constructs.json_to_parquet_workflow.glue.job_role import GlueJobRole, GlueJobRoleProps
from platform_constructs.json_to_parquet_workflow.glue.network import GlueNetwork, GlueNetworkProps
from platform_constructs.json_to_parquet_workflow.glue.security_configuration import (
    GlueSecurityConfiguration,
    GlueSecurityConfigurationProps,
)
from platform_constructs.json_to_parquet_workflow.job_arguments import (
    backfill_arguments,
    lister_arguments,
    processor_arguments,
)
from platform_constructs.json_to_parquet_workflow.props import (
    DEFAULT_SCHEDULE,
    PYTHON_SHELL_CAPACITIES,
    SPARK_WORKER_TYPES,
    JsonToParquetWorkflowProps,
    JsonToParquetWorkflowSettings,
)
from platform_constructs.json_to_parquet_workflow.schedule_state import schedule_state
from platform_constructs.json_to_parquet_workflow.triggers import (
    BACKFILL_TIMEOUT_MARGIN_MINUTES,
    backfill_timeout_minutes,
    create_triggers,
)

__all__ = [
    "BACKFILL_JOB_NAME",
    "BACKFILL_TIMEOUT_MARGIN_MINUTES",
    "DEFAULT_SCHEDULE",
    "LISTER_JOB_NAME",
    "PROCESSOR_JOB_NAME",
    "PYTHON_SHELL_CAPACITIES",
    "PYTHON_SHELL_GLUE_VERSION",
    "SPARK_WORKER_TYPES",
    "WORKFLOW_NAME",
    "JsonToParquetWorkflow",
    "JsonToParquetWorkflowProps",
    "JsonToParquetWorkflowSettings",
]

WORKFLOW_NAME = "JsonToParquetProcessingWorkflow"
LISTER_JOB_NAME = "FileListerAndDbPopulator"
PROCESSOR_JOB_NAME = "JsonToParquetBatchProcessor"
BACKFILL_JOB_NAME = "JsonToParquetBatchProcessorBackfill"
#: Glue version of Python-shell jobs that run Python 3.9.
PYTHON_SHELL_GLUE_VERSION = "3.0"


class JsonToParquetWorkflow(Construct):
    """The Glue side of the pipeline.

    Attributes:
        props: the validated props.
        code: the bundled scripts, runtime and wheels (:class:`GlueCodeAssets`).
        network: security group, connection and VPC endpoints (:class:`GlueNetwork`).
        security_configuration: :class:`GlueSecurityConfiguration`.
        log_groups: the jobs' Glue log groups (``output`` and ``error`` per role), with ``glue_log_retention``.
        lister_role / processor_role: one ``iam.Role`` per job.
        lister_job / processor_job: ``glue.CfnJob``; ``lister_job_name`` / ``processor_job_name`` their names.
            The processor runs only in the workflow (one run at a time).
        backfill_job: ``glue.CfnJob`` that the backfill trigger and manual runs use (same script, role and
            arguments as the processor, ``backfill_max_concurrent_runs`` parallel runs); ``backfill_job_name``.
        workflow: ``glue.CfnWorkflow``; ``workflow_name`` its name.
        schedule_trigger / processor_trigger / backfill_trigger: ``glue.CfnTrigger``.
        catalog: :class:`CuratedCatalogTable`. iceberg: :class:`IcebergTableAccess` (``table_format`` iceberg) or None.
    """

    def __init__(self, scope: Construct, construct_id: str, props: JsonToParquetWorkflowProps) -> None:
        super().__init__(scope, construct_id)
        props.validate()
        self.props = props
        suffix = props.suffix
        self.workflow_name = f"{WORKFLOW_NAME}{suffix}"
        self.lister_job_name = f"{LISTER_JOB_NAME}{suffix}"
        self.processor_job_name = f"{PROCESSOR_JOB_NAME}{suffix}"
        self.backfill_job_name = f"{BACKFILL_JOB_NAME}{suffix}"
        self.code = GlueCodeAssets(self, "Code", props.code_assets_props())
        self.network = self._network()
        props.database.allow_from(self.network.security_group, include_secrets_endpoint=False)
        self.security_configuration = GlueSecurityConfiguration(
            self,
            "SecurityConfiguration",
            GlueSecurityConfigurationProps(
                name=f"mldp-glue{suffix}",
                s3_key=props.bucket.encryption_key,
                removal_policy=props.key_removal_policy,
                production=props.production,
            ),
        )
        self.lister_role = self._role("ListerRole", "FileListerAndDbPopulator", (props.metrics_namespace,))
        # Spark jobs with --enable-metrics publish Glue's own job metrics under the "Glue" namespace.
        self.processor_role = self._role(
            "ProcessorRole", "JsonToParquetBatchProcessor", (props.metrics_namespace, "Glue")
        )
        self._grant_lister()
        self._grant_processor()
        self.iceberg = iceberg_table_access(self, props, props.bucket, self.processor_role.role)
        self.log_groups = [
            *self.security_configuration.add_job_log_groups("Lister", self.lister_role.role, props.glue_log_retention),
            *self.security_configuration.add_job_log_groups(
                "Processor", self.processor_role.role, props.glue_log_retention
            ),
        ]
        self.lister_job = self._lister_job()
        self.processor_job = self._processor_job()
        self.backfill_job = self._backfill_job()
        for job in (self.lister_job, self.processor_job, self.backfill_job):
            # Referenced by name, not by token: make CloudFormation create them first.
            job.add_resource_dependency(self.network.connection)
            if self.network.failover is not None:
                job.add_resource_dependency(self.network.failover)
            job.add_resource_dependency(self.security_configuration.configuration)
        self.workflow = glue.CfnWorkflow(
            self,
            "Workflow",
            name=self.workflow_name,
            description="Every schedule: register new raw JSON files, then convert them to Parquet until drained",
            max_concurrent_runs=1,
        )
        triggers = create_triggers(
            self,
            props,
            workflow=self.workflow,
            lister_job=self.lister_job,
            processor_job=self.processor_job,
            backfill_job=self.backfill_job,
        )
        self.schedule_trigger = triggers.schedule
        #: Starts or stops ``schedule_trigger`` when ``schedule_enabled`` changes on a live stack (schedule_state).
        self.schedule_state = schedule_state(self, triggers.schedule, props.schedule_enabled)
        self.processor_trigger = triggers.processor
        self.backfill_trigger = triggers.backfill
        self.catalog = CuratedCatalogTable(
            self,
            "Catalog",
            CuratedCatalogTableProps(
                bucket_name=props.bucket.bucket.bucket_name,
                curated_prefix=props.bucket.props.curated_prefix,
                database_name=props.catalog_database,
                table_name=props.catalog_table_name,
                columns=props.catalog_columns,
                mode_values=props.mode_values,
            ),
        )
        self.discovery = add_discovery(self)  # discovery_mode: inventory, and the event path (.discovery)

    # ----------------------------------------------------------------------------------------
    # Network and roles
    # ----------------------------------------------------------------------------------------
    def _network(self) -> GlueNetwork:
        p = self.props
        database = p.database
        create_endpoints = (
            database.secrets_manager_endpoint is not None if p.vpc_endpoints is None else p.vpc_endpoints
        )
        return GlueNetwork(
            self,
            "Network",
            GlueNetworkProps(
                vpc=database.vpc,
                subnets=list(database.subnets.subnets),
                connection_name=f"mldp-glue-network{p.suffix}",
                secrets_manager_endpoint=database.secrets_manager_endpoint,
                create_secrets_manager_endpoint=create_endpoints,
                interface_endpoints=p.interface_endpoints if create_endpoints else (),
                create_s3_gateway_endpoint=create_endpoints,
                failover_connection=p.failover_connection,
            ),
        )

    def _role(self, construct_id: str, job: str, namespaces: tuple[str, ...]) -> GlueJobRole:
        return GlueJobRole(
            self,
            construct_id,
            GlueJobRoleProps(
                description=f"Glue job {job}{self.props.suffix}: least-privilege role",
                metrics_namespaces=namespaces,
                connection_arn=self.network.connection_arn,
                extra_connection_arns=tuple(self.network.connection_arns[1:]),
                subnets=list(self.network.subnets),
                security_groups=[self.network.security_group],
            ),
        )

    def _grant_ca_bundle(self, role: iam.IRole) -> None:
        """``s3:GetObject`` on the RDS CA bundle the jobs verify the database with, when one is configured."""
        if self.props.database_ca_bundle:
            bucket, _, key = self.props.database_ca_bundle[len("s3://"):].partition("/")
            role.add_to_principal_policy(iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[Stack.of(self).format_arn(service="s3", region="", account="", resource=bucket,
                                                     resource_name=key)],
            ))

    def _grant_lister(self) -> None:
        role = self.lister_role.role
        self._grant_ca_bundle(role)
        self.props.bucket.grant_lister(role)
        grant_database_access(self.props, role, migrates=True)
        self.security_configuration.grant_use(role)
        self.code.grant_read(self.code.lister_files, role)

    def _grant_processor(self) -> None:
        role = self.processor_role.role
        self._grant_ca_bundle(role)
        self.props.bucket.grant_processor(role)
        self.props.bucket.grant_read_scripts(role)  # transform specs live under the scripts prefix
        grant_database_access(self.props, role, migrates=False)  # no secret with IAM authentication
        self.security_configuration.grant_use(role)
        self.code.grant_read(self.code.processor_files, role)
        # a run recovers at once a batch whose owner's Glue run has ended (runtime/jobs/owner.py): it reads the
        # state of runs of the two jobs that own batches, nothing else
        stack = Stack.of(self)
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["glue:GetJobRun"],
            resources=[stack.format_arn(service="glue", resource="job", resource_name=name)
                       for name in (self.processor_job_name, self.backfill_job_name)],
        ))
        self._acknowledge_processor_grants()

    def _acknowledge_processor_grants(self) -> None:
        bucket = self.props.bucket
        role = self.processor_role.role
        layout = bucket.props
        reasons = {
            layout.raw_prefix: "reads and, once archived, deletes raw JSON files whose keys come from the "
            "tracking table at run time",
            layout.processed_prefix: "archives each processed raw file under its own key (copy, then "
            "idempotency checks with get)",
            layout.staging_prefix: "writes, reads and cleans each batch's scratch Parquet under a batch id "
            "chosen at run time (also Glue's --TempDir)",
            layout.curated_prefix: "publishes Parquet files named after the batch id into Hive partitions "
            "(year=/month=/day=/mode=) known only at run time, overwriting them on re-publish",
            layout.dead_letter_prefix: "writes dead-letter records under paths derived from the batch and the "
            "source file, overwritten on retry",
            layout.scripts_prefix: "reads the optional transform spec (--transform-spec) stored under the "
            "scripts prefix (read only)",
        }
        for prefix, why in reasons.items():
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::{finding_value(role, bucket.bucket.arn_for_objects(prefix + '*'))}]",
                f"Object-level grant limited to the {prefix} prefix: the processor {why}",
            )
        if bucket.encryption_key is not None:
            for action in ("kms:ReEncrypt*", "kms:GenerateDataKey*"):
                acknowledge(
                    role,
                    f"AwsSolutions-IAM5[Action::{action}]",
                    "The processor reads and writes SSE-KMS objects under the bucket key; S3 needs these data-key "
                    "actions (granted on that one key only) for multipart uploads and copies",
                )

    # ----------------------------------------------------------------------------------------
    # Jobs
    # ----------------------------------------------------------------------------------------
    def _lister_job(self) -> glue.CfnJob:
        p = self.props
        return glue.CfnJob(
            self,
            "ListerJob",
            name=self.lister_job_name,
            description="Lists the raw JSON prefixes and registers new or changed files as PENDING (Python shell)",
            role=self.lister_role.role.role_arn,
            command=glue.CfnJob.JobCommandProperty(
                name="pythonshell", python_version="3.9", script_location=self.code.lister_script.s3_url
            ),
            glue_version=PYTHON_SHELL_GLUE_VERSION,
            max_capacity=p.lister_max_capacity,
            timeout=p.lister_timeout_minutes,
            max_retries=0,
            execution_property=glue.CfnJob.ExecutionPropertyProperty(max_concurrent_runs=1),
            connections=glue.CfnJob.ConnectionsListProperty(connections=list(self.network.connection_names)),
            security_configuration=self.security_configuration.name,
            default_arguments=lister_arguments(p, self.code),
        )

    def _spark_job(
        self,
        construct_id: str,
        *,
        name: str,
        description: str,
        number_of_workers: int,
        timeout_minutes: int,
        max_concurrent_runs: int,
        arguments: dict[str, str],
    ) -> glue.CfnJob:
        p = self.props
        return glue.CfnJob(
            self,
            construct_id,
            name=name,
            description=description,
            role=self.processor_role.role.role_arn,
            command=glue.CfnJob.JobCommandProperty(
                name="glueetl", python_version="3", script_location=self.code.processor_script.s3_url
            ),
            glue_version=p.glue_version,
            worker_type=p.processor_worker_type,
            number_of_workers=number_of_workers,
            timeout=timeout_minutes,
            max_retries=0,
            execution_class="STANDARD",
            execution_property=glue.CfnJob.ExecutionPropertyProperty(max_concurrent_runs=max_concurrent_runs),
            connections=glue.CfnJob.ConnectionsListProperty(connections=list(self.network.connection_names)),
            security_configuration=self.security_configuration.name,
            default_arguments=arguments,
        )

    def _processor_job(self) -> glue.CfnJob:
        p = self.props
        return self._spark_job(
            "ProcessorJob",
            name=self.processor_job_name,
            description="Claims batches of registered JSON files and publishes them as partitioned Parquet (Spark); "
            "scheduled runs only (workflow)",
            number_of_workers=p.processor_number_of_workers,
            timeout_minutes=p.processor_timeout_minutes,
            # the workflow runs one at a time; on-demand runs use the backfill job and never take this slot
            max_concurrent_runs=1,
            arguments=processor_arguments(p, self.code),
        )

    def _backfill_job(self) -> glue.CfnJob:
        p = self.props
        return self._spark_job(
            "BackfillJob",
            name=self.backfill_job_name,
            description="JsonToParquetBatchProcessor for on-demand and backfill runs (backfill trigger, "
            "start-job-run); runs in parallel without taking the scheduled processor's slot",
            number_of_workers=p.backfill_number_of_workers or p.processor_number_of_workers,
            timeout_minutes=backfill_timeout_minutes(p),
            max_concurrent_runs=p.backfill_max_concurrent_runs,
            arguments=backfill_arguments(p, self.code),
        )
