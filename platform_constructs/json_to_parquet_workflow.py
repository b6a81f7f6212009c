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
  successful listing), ``MaxConcurrentRuns`` 1. The workflow itself allows one run at a time, so a slow run
  delays the next schedule instead of overlapping it, and one slot is all the schedule ever needs. Do not start
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

This module imports nothing from the ``runtime`` package; it only bundles its files (see ``glue_assets``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from aws_cdk import RemovalPolicy
from aws_cdk import aws_glue as glue
from constructs import Construct

from platform_constructs.catalog_table import DEFAULT_COLUMNS, CuratedCatalogTable, CuratedCatalogTableProps
from platform_constructs.glue_assets import (
    DEFAULT_RUNTIME_DIR,
    DEFAULT_WHEELS_DIR,
    GlueCodeAssets,
    GlueCodeAssetsProps,
)
from platform_constructs.glue_job_role import GlueJobRole, GlueJobRoleProps
from platform_constructs.glue_network import DEFAULT_INTERFACE_ENDPOINTS, GlueNetwork, GlueNetworkProps
from platform_constructs.glue_schedule import validate_glue_cron
from platform_constructs.glue_security_configuration import (
    GlueSecurityConfiguration,
    GlueSecurityConfigurationProps,
)
from platform_constructs.nag import acknowledge, finding_value
from platform_constructs.tracked_raw_bucket import TrackedRawBucket
from platform_constructs.tracking_database import TrackingDatabase

WORKFLOW_NAME = "JsonToParquetProcessingWorkflow"
LISTER_JOB_NAME = "FileListerAndDbPopulator"
PROCESSOR_JOB_NAME = "JsonToParquetBatchProcessor"
BACKFILL_JOB_NAME = "JsonToParquetBatchProcessorBackfill"
#: A backfill run's Glue timeout: its drain budget plus this margin to finish the last batch and archive.
BACKFILL_TIMEOUT_MARGIN_MINUTES = 30
DEFAULT_SCHEDULE = "cron(0/15 * * * ? *)"
#: Worker types a Glue 5.x Spark ETL job accepts.
SPARK_WORKER_TYPES = ("G.1X", "G.2X", "G.4X", "G.8X")
#: DPU settings a Python shell job accepts.
PYTHON_SHELL_CAPACITIES = (0.0625, 1.0)
#: Glue version of Python-shell jobs that run Python 3.9.
PYTHON_SHELL_GLUE_VERSION = "3.0"
_ENV_NAME = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
_NAMESPACE = re.compile(r"^[A-Za-z0-9_./#:-]{1,255}$")
_GLUE_VERSION = re.compile(r"^5\.\d+$")


@dataclass(frozen=True)
class JsonToParquetWorkflowProps:
    """Props of :class:`JsonToParquetWorkflow`; defaults suit a small production pipeline.

    Attributes:
        bucket: the data-lake bucket (layout, grants, key).
        database: the tracking database (secret, network, ``allow_from``).
        environment_name: ``dev``, ``prod``, ...; the ``--environment`` argument and metric dimension.
        name_suffix: appended to every physical name (workflow, jobs, triggers, connection, security
            configuration); default ``-<environment_name>`` so that environments can share an account.
            ``""`` gives the reference names exactly.
        runtime_dir: folder of the ``runtime`` package whose ``glue/`` scripts become the jobs.
        wheels_dir: folder of the vendored dependency wheels (``scripts/fetch-glue-wheels.sh``).
        glue_version: Glue version of the Spark processor (``5.0`` = Spark 3.5, Python 3.11).
        processor_worker_type / processor_number_of_workers: the processor's workers (``G.1X``... , >= 2);
            with auto scaling on, the number is the maximum.
        processor_timeout_minutes: Glue kills a scheduled processor run after this long; must exceed
            ``drain_minutes``. (The scheduled processor allows one run at a time: the workflow never runs two.)
        backfill_max_concurrent_runs: parallel runs of the backfill job (trigger starts and manual
            ``start-job-run``); they never count against the scheduled processor.
        backfill_number_of_workers: maximum workers of a backfill run; ``None`` = ``processor_number_of_workers``
            (same worker type). ``start-job-run --number-of-workers`` overrides it per run.
        lister_max_capacity: DPU of the Python-shell lister (0.0625 or 1.0).
        lister_timeout_minutes: Glue kills a lister run after this long.
        schedule: AWS cron of the workflow's start trigger.
        schedule_enabled: start the scheduled trigger on creation (False: deploy paused).
        batch_size: files claimed per batch (``--batch-size``).
        max_attempts: attempts before a file is quarantined (``--max-attempts``).
        lease_seconds: how long a claimed batch is owned before another run may recover it.
        drain_minutes: time budget of a scheduled processor run (``--max-minutes`` with ``--drain true``);
            keep it below the schedule interval.
        backfill_drain_minutes: time budget of a backfill run (``--max-minutes`` of the backfill job and
            trigger); the backfill job's timeout is this plus :data:`BACKFILL_TIMEOUT_MARGIN_MINUTES`.
        metrics_namespace: CloudWatch namespace of the runtime's custom metrics.
        transform_spec_uri: optional ``s3://`` URI of a transform spec (``--transform-spec``); the processor
            can read it when it lies under the bucket's scripts prefix.
        listing_prefixes: prefixes the lister lists (``--prefixes``); ``None`` = the runtime's default
            (historical and weekly folders under the raw prefix). Each must lie under the raw prefix.
        catalog_database_name: Glue database of the curated table; default ``ml_data_platform_<env>``.
        catalog_table_name: the curated table's name.
        catalog_columns: data columns of the curated table (keep in line with the transform spec).
        mode_values: known ``mode`` partition values (enum projection); ``None`` = injected projection.
        vpc_endpoints: create the jobs' VPC endpoints (S3 gateway; Logs, Monitoring, Glue and, if the
            database has none, Secrets Manager interface endpoints). ``None`` = only when the database
            construct created its VPC (it then also created a Secrets Manager endpoint).
        interface_endpoints: short names of the interface endpoints to create when ``vpc_endpoints``.
        key_removal_policy: removal policy of the logs/bookmarks KMS key.
    """

    bucket: TrackedRawBucket
    database: TrackingDatabase
    environment_name: str
    name_suffix: str | None = None
    runtime_dir: Path = DEFAULT_RUNTIME_DIR
    wheels_dir: Path = DEFAULT_WHEELS_DIR
    glue_version: str = "5.0"
    processor_worker_type: str = "G.1X"
    processor_number_of_workers: int = 2
    processor_timeout_minutes: int = 60
    backfill_max_concurrent_runs: int = 2
    backfill_number_of_workers: int | None = None
    lister_max_capacity: float = 0.0625
    lister_timeout_minutes: int = 30
    schedule: str = DEFAULT_SCHEDULE
    schedule_enabled: bool = True
    batch_size: int = 1000
    max_attempts: int = 3
    lease_seconds: int = 3600
    drain_minutes: int = 12
    backfill_drain_minutes: int = 480
    metrics_namespace: str = "MlDataPlatform"
    transform_spec_uri: str | None = None
    listing_prefixes: tuple[str, ...] | None = None
    catalog_database_name: str | None = None
    catalog_table_name: str = "json_parsed_parquet"
    catalog_columns: tuple[tuple[str, str], ...] = DEFAULT_COLUMNS
    mode_values: tuple[str, ...] | None = None
    vpc_endpoints: bool | None = None
    interface_endpoints: tuple[str, ...] = field(default=DEFAULT_INTERFACE_ENDPOINTS)
    key_removal_policy: RemovalPolicy = RemovalPolicy.RETAIN

    @property
    def suffix(self) -> str:
        """The suffix actually appended to physical names."""
        return f"-{self.environment_name}" if self.name_suffix is None else self.name_suffix

    def validate(self) -> None:
        """Raise ``ValueError`` naming the field to fix when the props are inconsistent."""
        name = "JsonToParquetWorkflowProps"
        if not _ENV_NAME.match(self.environment_name):
            raise ValueError(
                f"{name}.environment_name {self.environment_name!r} must be 1-20 lowercase letters, digits or '-', "
                "starting with a letter (e.g. 'dev', 'prod')"
            )
        if not re.fullmatch(r"[A-Za-z0-9_-]{0,40}", self.suffix):
            raise ValueError(f"{name}.name_suffix {self.suffix!r} may only use letters, digits, '-' and '_' (<= 40)")
        if not _GLUE_VERSION.match(self.glue_version):
            raise ValueError(f"{name}.glue_version {self.glue_version!r} must be a Glue 5.x version such as '5.0'")
        if self.processor_worker_type not in SPARK_WORKER_TYPES:
            raise ValueError(
                f"{name}.processor_worker_type {self.processor_worker_type!r} must be one of {SPARK_WORKER_TYPES}"
            )
        if self.lister_max_capacity not in PYTHON_SHELL_CAPACITIES:
            raise ValueError(
                f"{name}.lister_max_capacity {self.lister_max_capacity} must be one of {PYTHON_SHELL_CAPACITIES} "
                "(the DPU settings of a Python shell job)"
            )
        self._validate_numbers(name)
        validate_glue_cron(self.schedule, f"{name}.schedule")
        if not _NAMESPACE.match(self.metrics_namespace) or self.metrics_namespace.startswith("AWS/"):
            raise ValueError(
                f"{name}.metrics_namespace {self.metrics_namespace!r} must be 1-255 characters of letters, digits "
                "or ._-/#: and must not start with 'AWS/'"
            )
        if self.transform_spec_uri is not None and not self.transform_spec_uri.startswith("s3://"):
            raise ValueError(f"{name}.transform_spec_uri {self.transform_spec_uri!r} must be an s3:// URI")
        raw_prefix = self.bucket.props.raw_prefix
        for prefix in self.listing_prefixes or ():
            if not prefix.startswith(raw_prefix) or "," in prefix:
                raise ValueError(
                    f"{name}.listing_prefixes entry {prefix!r} must lie under the bucket's raw prefix {raw_prefix!r} "
                    "(the lister may only list there) and contain no comma"
                )

    def _validate_numbers(self, name: str) -> None:
        minimums = {
            "processor_number_of_workers": (self.processor_number_of_workers, 2),
            "processor_timeout_minutes": (self.processor_timeout_minutes, 1),
            "backfill_max_concurrent_runs": (self.backfill_max_concurrent_runs, 1),
            "lister_timeout_minutes": (self.lister_timeout_minutes, 1),
            "batch_size": (self.batch_size, 1),
            "max_attempts": (self.max_attempts, 1),
            "lease_seconds": (self.lease_seconds, 60),
            "drain_minutes": (self.drain_minutes, 1),
            "backfill_drain_minutes": (self.backfill_drain_minutes, 1),
        }
        if self.backfill_number_of_workers is not None:
            minimums["backfill_number_of_workers"] = (self.backfill_number_of_workers, 2)
        for field_name, (value, minimum) in minimums.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"{name}.{field_name} must be an integer >= {minimum}, got {value!r}")
        if self.drain_minutes >= self.processor_timeout_minutes:
            raise ValueError(
                f"{name}.drain_minutes ({self.drain_minutes}) must be less than processor_timeout_minutes "
                f"({self.processor_timeout_minutes}): the drain budget has to end before Glue kills the run"
            )


class JsonToParquetWorkflow(Construct):
    """The Glue side of the pipeline.

    Attributes:
        props: the validated props.
        code: the bundled scripts, runtime and wheels (:class:`GlueCodeAssets`).
        network: security group, connection and VPC endpoints (:class:`GlueNetwork`).
        security_configuration: :class:`GlueSecurityConfiguration`.
        lister_role / processor_role: one ``iam.Role`` per job.
        lister_job / processor_job: ``glue.CfnJob``; ``lister_job_name`` / ``processor_job_name`` their names.
            The processor runs only in the workflow (one run at a time).
        backfill_job: ``glue.CfnJob`` that the backfill trigger and manual runs use (same script, role and
            arguments as the processor, ``backfill_max_concurrent_runs`` parallel runs); ``backfill_job_name``.
        workflow: ``glue.CfnWorkflow``; ``workflow_name`` its name.
        schedule_trigger / processor_trigger / backfill_trigger: ``glue.CfnTrigger``.
        catalog: :class:`CuratedCatalogTable`.
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
        self.code = GlueCodeAssets(
            self, "Code", GlueCodeAssetsProps(runtime_dir=props.runtime_dir, wheels_dir=props.wheels_dir)
        )
        self.network = self._network()
        props.database.allow_from(self.network.security_group, include_secrets_endpoint=False)
        self.security_configuration = GlueSecurityConfiguration(
            self,
            "SecurityConfiguration",
            GlueSecurityConfigurationProps(
                name=f"mldp-glue{suffix}",
                s3_key=props.bucket.encryption_key,
                removal_policy=props.key_removal_policy,
            ),
        )
        self.lister_role = self._role("ListerRole", "FileListerAndDbPopulator", (props.metrics_namespace,))
        # Spark jobs with --enable-metrics publish Glue's own job metrics under the "Glue" namespace.
        self.processor_role = self._role(
            "ProcessorRole", "JsonToParquetBatchProcessor", (props.metrics_namespace, "Glue")
        )
        self._grant_lister()
        self._grant_processor()
        self.lister_job = self._lister_job()
        self.processor_job = self._processor_job()
        self.backfill_job = self._backfill_job()
        for job in (self.lister_job, self.processor_job, self.backfill_job):
            # Referenced by name, not by token: make CloudFormation create them first.
            job.add_resource_dependency(self.network.connection)
            job.add_resource_dependency(self.security_configuration.configuration)
        self.workflow = glue.CfnWorkflow(
            self,
            "Workflow",
            name=self.workflow_name,
            description="Every schedule: register new raw JSON files, then convert them to Parquet until drained",
            max_concurrent_runs=1,
        )
        self._triggers()
        self.catalog = CuratedCatalogTable(
            self,
            "Catalog",
            CuratedCatalogTableProps(
                bucket_name=props.bucket.bucket.bucket_name,
                curated_prefix=props.bucket.props.curated_prefix,
                database_name=props.catalog_database_name
                or f"ml_data_platform_{props.environment_name.replace('-', '_')}",
                table_name=props.catalog_table_name,
                columns=props.catalog_columns,
                mode_values=props.mode_values,
            ),
        )

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
                subnets=[self.network.subnet],
                security_groups=[self.network.security_group],
            ),
        )

    def _grant_lister(self) -> None:
        role = self.lister_role.role
        self.props.bucket.grant_lister(role)
        self.props.database.grant_connect(role)
        self.security_configuration.grant_use(role)
        self.code.grant_read(self.code.lister_files, role)

    def _grant_processor(self) -> None:
        role = self.processor_role.role
        self.props.bucket.grant_processor(role)
        self.props.bucket.grant_read_scripts(role)  # transform specs live under the scripts prefix
        self.props.database.grant_connect(role)
        self.security_configuration.grant_use(role)
        self.code.grant_read(self.code.processor_files, role)
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
    def _common_arguments(self) -> dict[str, str]:
        p = self.props
        return {
            "--store": p.bucket.uri,
            "--db-secret-arn": p.database.secret.secret_arn,
            "--environment": p.environment_name,
            "--metrics-namespace": p.metrics_namespace,
            "--job-language": "python",
            # the bucket's layout, so a bucket with its own prefixes is processed where IAM lets the jobs act
            "--raw-prefix": p.bucket.props.raw_prefix,
            "--processed-prefix": p.bucket.props.processed_prefix,
            "--curated-prefix": p.bucket.props.curated_prefix,
            "--staging-prefix": p.bucket.props.staging_prefix,
            "--dead-letter-prefix": p.bucket.props.dead_letter_prefix,
        }

    def _lister_job(self) -> glue.CfnJob:
        p = self.props
        arguments = {
            **self._common_arguments(),
            "--extra-py-files": ",".join(f.s3_url for f in (self.code.runtime_wheel, *self.code.python_shell_wheels)),
            "library-set": "analytics",
        }
        if p.listing_prefixes:
            arguments["--prefixes"] = ",".join(p.listing_prefixes)
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
            connections=glue.CfnJob.ConnectionsListProperty(connections=[self.network.connection_name]),
            security_configuration=self.security_configuration.name,
            default_arguments=arguments,
        )

    def _processor_arguments(self) -> dict[str, str]:
        p = self.props
        arguments = {
            **self._common_arguments(),
            "--batch-size": str(p.batch_size),
            "--max-attempts": str(p.max_attempts),
            "--lease-seconds": str(p.lease_seconds),
            "--max-minutes": str(p.drain_minutes),
            "--drain": "false",
            "--extra-py-files": self.code.runtime_zip.s3_url,
            "--additional-python-modules": ",".join(f.s3_url for f in self.code.spark_wheels),
            "--python-modules-installer-option": "--no-index",
            "--TempDir": p.bucket.uri_for(f"{p.bucket.props.staging_prefix}_glue_temporary/"),
            "--job-bookmark-option": "job-bookmark-disable",
            "--enable-metrics": "true",
            "--enable-observability-metrics": "true",
            "--enable-continuous-cloudwatch-log": "true",
            "--enable-auto-scaling": "true",
        }
        if p.transform_spec_uri is not None:
            arguments["--transform-spec"] = p.transform_spec_uri
        return arguments

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
            connections=glue.CfnJob.ConnectionsListProperty(connections=[self.network.connection_name]),
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
            arguments=self._processor_arguments(),
        )

    def _backfill_job(self) -> glue.CfnJob:
        p = self.props
        # Same arguments as the processor, except that a bare start-job-run drains with the backfill budget
        # (the trigger passes the same two values explicitly).
        arguments = {
            **self._processor_arguments(),
            "--drain": "true",
            "--max-minutes": str(p.backfill_drain_minutes),
        }
        return self._spark_job(
            "BackfillJob",
            name=self.backfill_job_name,
            description="JsonToParquetBatchProcessor for on-demand and backfill runs (backfill trigger, "
            "start-job-run); runs in parallel without taking the scheduled processor's slot",
            number_of_workers=p.backfill_number_of_workers or p.processor_number_of_workers,
            timeout_minutes=p.backfill_drain_minutes + BACKFILL_TIMEOUT_MARGIN_MINUTES,
            max_concurrent_runs=p.backfill_max_concurrent_runs,
            arguments=arguments,
        )

    # ----------------------------------------------------------------------------------------
    # Triggers
    # ----------------------------------------------------------------------------------------
    def _triggers(self) -> None:
        p = self.props
        self.schedule_trigger = glue.CfnTrigger(
            self,
            "ScheduleTrigger",
            name=f"JsonToParquetSchedule{p.suffix}",
            description="Start of the workflow: run the lister on a schedule",
            type="SCHEDULED",
            schedule=p.schedule,
            start_on_creation=p.schedule_enabled,
            workflow_name=self.workflow_name,
            actions=[glue.CfnTrigger.ActionProperty(job_name=self.lister_job_name)],
        )
        self.processor_trigger = glue.CfnTrigger(
            self,
            "ProcessorTrigger",
            name=f"JsonToParquetAfterListing{p.suffix}",
            description="When the lister succeeded: drain the backlog within the time budget",
            type="CONDITIONAL",
            start_on_creation=True,
            workflow_name=self.workflow_name,
            predicate=glue.CfnTrigger.PredicateProperty(
                logical="ANY",
                conditions=[
                    glue.CfnTrigger.ConditionProperty(
                        job_name=self.lister_job_name, logical_operator="EQUALS", state="SUCCEEDED"
                    )
                ],
            ),
            actions=[
                glue.CfnTrigger.ActionProperty(
                    job_name=self.processor_job_name,
                    arguments={"--drain": "true", "--max-minutes": str(p.drain_minutes)},
                )
            ],
        )
        self.backfill_trigger = glue.CfnTrigger(
            self,
            "BackfillTrigger",
            name=f"JsonToParquetBackfill{p.suffix}",
            description="On demand (backfill): drain the backlog with a long budget on the backfill job; start it "
            "once per parallel run",
            type="ON_DEMAND",
            actions=[
                glue.CfnTrigger.ActionProperty(
                    job_name=self.backfill_job_name,
                    arguments={"--drain": "true", "--max-minutes": str(p.backfill_drain_minutes)},
                    timeout=p.backfill_drain_minutes + BACKFILL_TIMEOUT_MARGIN_MINUTES,
                )
            ],
        )
        # Jobs are referenced by name, not by token: make CloudFormation create them first.
        for trigger in (self.schedule_trigger, self.processor_trigger):
            trigger.add_resource_dependency(self.lister_job)
            trigger.add_resource_dependency(self.processor_job)
        self.backfill_trigger.add_resource_dependency(self.backfill_job)
        self.schedule_trigger.add_resource_dependency(self.workflow)
        self.processor_trigger.add_resource_dependency(self.workflow)
