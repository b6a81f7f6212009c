"""Props of :class:`platform_constructs.json_to_parquet_workflow.JsonToParquetWorkflow` and their validation.

Two layers, so that a configuration can hold the settings without holding constructs:

* :class:`JsonToParquetWorkflowSettings`: everything an environment chooses (workers, schedule, claim settings,
  catalog, endpoints, extra job arguments...), each field with a default;
* :class:`JsonToParquetWorkflowProps`: the settings plus what ties them to one app, the ``bucket``, the
  ``database`` and the ``environment_name`` (keyword-only and required).

The defaults the runtime shares (batch size, attempts, lease, drain budgets, namespace) come from
:mod:`platform_contract.defaults`, the contract the runtime's options default to as well.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs

from platform_constructs._shared.validation import (
    PropsError,
    changed_fields,
    check_at_least,
    check_environment_name,
    check_exclusive,
    check_field_types,
    check_metrics_namespace,
    check_name_suffix,
    check_not_destroyed_in_production,
    check_one_of,
)
from platform_constructs.json_to_parquet_workflow.glue.assets import (
    DEFAULT_RUNTIME_DIR,
    DEFAULT_WHEELS_DIR,
    GlueCodeAssetsProps,
)
from platform_constructs.json_to_parquet_workflow.glue.catalog_table import DEFAULT_COLUMNS
from platform_constructs.json_to_parquet_workflow.glue.network import DEFAULT_INTERFACE_ENDPOINTS
from platform_constructs.json_to_parquet_workflow.glue.schedule import glue_cron_problem
from platform_constructs.json_to_parquet_workflow.reserved_arguments import check_extra_arguments, check_spark_conf
from platform_constructs.tracked_raw_bucket.construct import TrackedRawBucket
from platform_constructs.tracking_database.construct import TrackingDatabase
from platform_contract import defaults
from platform_contract.discovery import DEFAULT_FULL_LISTING_HOURS, MODE_LISTING
from platform_contract.discovery import MODES as DISCOVERY_MODES
from platform_contract.table import DEFAULT_TABLE_FORMAT, ICEBERG, TABLE_FORMATS

#: The workflow's start trigger: every 15 minutes.
DEFAULT_SCHEDULE = "cron(0/15 * * * ? *)"
#: Worker types a Glue 5.x Spark ETL job accepts.
SPARK_WORKER_TYPES = ("G.1X", "G.2X", "G.4X", "G.8X")
#: DPU settings a Python shell job accepts.
PYTHON_SHELL_CAPACITIES = (0.0625, 1.0)
_GLUE_VERSION = re.compile(r"^5\.\d+$")


@dataclass(frozen=True)
class JsonToParquetWorkflowSettings:
    """What an environment chooses for the workflow; defaults suit a small production pipeline."""

    #: Appended to every physical name (workflow, jobs, triggers, connection, security configuration);
    #: ``None`` = ``-<environment_name>`` so that environments can share an account; ``""`` gives the reference
    #: names exactly.
    name_suffix: str | None = None
    #: Folder of the ``runtime`` package whose ``glue/`` scripts become the jobs.
    runtime_dir: Path = DEFAULT_RUNTIME_DIR
    #: Folder of the vendored dependency wheels (``scripts/fetch-glue-wheels.sh``).
    wheels_dir: Path = DEFAULT_WHEELS_DIR
    #: Glue version of the Spark processor (``5.0`` = Spark 3.5, Python 3.11).
    glue_version: str = "5.0"
    #: Worker type of the processor and backfill jobs (``G.1X``, ``G.2X``, ``G.4X``, ``G.8X``).
    processor_worker_type: str = "G.1X"
    #: Workers of a scheduled processor run (>= 2; with auto scaling on, the maximum).
    processor_number_of_workers: int = 2
    #: Glue kills a scheduled processor run after this long; must exceed ``drain_minutes``. (The scheduled
    #: processor allows one run at a time: the workflow never runs two.)
    processor_timeout_minutes: int = 60
    #: Parallel runs of the backfill job (trigger starts and manual ``start-job-run``); they never count against
    #: the scheduled processor.
    backfill_max_concurrent_runs: int = 2
    #: Maximum workers of a backfill run; ``None`` = ``processor_number_of_workers`` (same worker type).
    #: ``start-job-run --number-of-workers`` overrides it per run.
    backfill_number_of_workers: int | None = None
    #: DPU of the Python-shell lister (0.0625 or 1.0).
    lister_max_capacity: float = 0.0625
    #: Glue kills a lister run after this long.
    lister_timeout_minutes: int = 30
    #: AWS cron of the workflow's start trigger.
    schedule: str = DEFAULT_SCHEDULE
    #: Whether the scheduled trigger runs; False pauses it, at creation and on a live stack (ScheduleState).
    schedule_enabled: bool = True
    #: Files claimed per batch (``--batch-size``).
    batch_size: int = defaults.BATCH_SIZE
    #: Attempts before a file is quarantined (``--max-attempts``).
    max_attempts: int = defaults.MAX_ATTEMPTS
    #: How long a claimed batch is owned before another run may recover it (``--lease-seconds``).
    lease_seconds: int = defaults.LEASE_SECONDS
    #: Time budget of a scheduled processor run (``--max-minutes`` with ``--drain true``); keep it below the
    #: schedule interval.
    drain_minutes: int = defaults.DRAIN_MINUTES
    #: Time budget of a backfill run (``--max-minutes`` of the backfill job and trigger); the backfill job's
    #: timeout is this plus ``BACKFILL_TIMEOUT_MARGIN_MINUTES``.
    backfill_drain_minutes: int = defaults.BACKFILL_DRAIN_MINUTES
    #: CloudWatch namespace of the runtime's custom metrics (``--metrics-namespace``).
    metrics_namespace: str = defaults.METRICS_NAMESPACE
    #: Optional ``s3://`` URI of a transform spec (``--transform-spec``); the processor can read it when it lies
    #: under the bucket's scripts prefix.
    transform_spec_uri: str | None = None
    #: ``s3://bucket/key`` of an RDS CA bundle (``global-bundle.pem``, https://truststore.pki.rds.amazonaws.com)
    #: the jobs verify the database server's certificate with (``--db-ca-bundle``, ``sslmode=verify-full``; they
    #: get ``s3:GetObject`` on that object); ``None``: the RDS CA bundle shipped in the runtime (27 regions, see
    #: ``runtime/db/rds-ca-bundle.provenance.json``), also ``verify-full``.
    database_ca_bundle: str | None = None
    #: Prefixes the lister lists (``--prefixes``); ``None`` = the runtime's default (historical and weekly folders
    #: under the raw prefix). Each must lie under the bucket's raw prefix.
    listing_prefixes: tuple[str, ...] | None = None
    #: Glue database of the curated table; ``None`` = ``ml_data_platform_<env>``.
    catalog_database_name: str | None = None
    #: The curated table's name.
    catalog_table_name: str = "json_parsed_parquet"
    #: Data columns of the curated table (keep in line with the transform spec).
    catalog_columns: tuple[tuple[str, str], ...] = DEFAULT_COLUMNS
    #: Known ``mode`` partition values (enum projection); ``None`` = injected projection.
    mode_values: tuple[str, ...] | None = None
    #: Format of the curated table: ``parquet`` (loose Parquet files under the curated prefix, read through the
    #: partition-projected catalog table) or ``iceberg`` (an Apache Iceberg table ``json_parsed`` in the same Glue
    #: database, one atomic commit per batch; the processor creates it on its first run, and the job role may
    #: commit to that one table only). See docs/infrastructure.md, "The Iceberg table".
    table_format: str = DEFAULT_TABLE_FORMAT
    #: Iceberg only: declare the Glue table optimizers (compaction, snapshot retention, orphan-file deletion) and
    #: their role. The table must exist when they are created: deploy with ``table_format=iceberg`` first, let one
    #: processor run create the table, then turn this on and deploy again.
    iceberg_optimizers: bool = False
    #: Iceberg only: the retention optimizer expires snapshots older than this many days (tagged snapshots, the
    #: pinned training sets, are never expired).
    iceberg_snapshot_retention_days: int = 5
    #: Iceberg only: the retention optimizer always keeps at least this many of the newest snapshots.
    iceberg_snapshots_to_retain: int = 1
    #: Iceberg only: the orphan-file optimizer deletes files under the table location that no snapshot references
    #: once they are older than this many days; must exceed ``lease_seconds`` (a crashed batch's published, not yet
    #: committed files wait for its replay at most that long).
    iceberg_orphan_file_retention_days: int = 3
    #: Create the jobs' VPC endpoints (S3 gateway; Logs, Monitoring, Glue and, if the database has none, Secrets
    #: Manager interface endpoints). ``None`` = only when the database construct created its VPC (it then also
    #: created a Secrets Manager endpoint). ``False`` refuses a changed ``interface_endpoints``.
    vpc_endpoints: bool | None = None
    #: Short names of the interface endpoints to create when endpoints are created.
    interface_endpoints: tuple[str, ...] = DEFAULT_INTERFACE_ENDPOINTS
    #: Extra ``DefaultArguments`` of the lister job (e.g. ``{"--enable-job-insights": "true"}``); an argument the
    #: construct sets itself is refused (change its prop instead).
    extra_lister_arguments: Mapping[str, str] = field(default_factory=dict)
    #: Extra ``DefaultArguments`` of the processor and backfill jobs (same code, same arguments); arguments the
    #: construct sets itself, ``--conf`` included, are refused.
    extra_processor_arguments: Mapping[str, str] = field(default_factory=dict)
    #: Spark properties of the processor and backfill jobs (``{"spark.sql.shuffle.partitions": "64"}``), passed
    #: as Glue's ``--conf`` argument, after the processor's own ``spark.sql.cache.serializer`` (the runtime jar's
    #: cache of binary rows), which a key of the same name here overrides.
    spark_conf: Mapping[str, str] = field(default_factory=dict)
    #: Retention of the jobs' Glue log groups (``/aws-glue/jobs/<security configuration>-role/<role>/output`` and
    #: ``/error``), which the stack creates encrypted with the security configuration's key.
    glue_log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    #: Add a second Glue connection in another AZ (the database's second subnet) to every job: Glue checks a job's
    #: connections in order at each run start and uses the first healthy one, so a run starts in the second AZ
    #: when the first is impaired or out of IP addresses. The interface endpoints then span both subnets (one
    #: more ENI per endpoint, about $7.50 a month each). Off by default (one connection, one AZ); production
    #: turns it on (``stacks/config.py``).
    failover_connection: bool = False
    #: How raw files are discovered (docs/discovery.md): ``listing`` (the scheduled listing only), ``inventory``
    #: (plus a daily Parquet S3 Inventory report of the raw prefix, for ``mldp list --from-inventory``) or
    #: ``events`` (plus S3 events -> EventBridge -> SQS, drained by the FileEventConsumer job every
    #: ``event_consumer_schedule``; the inventory and the scheduled listing reconcile what events miss).
    discovery_mode: str = MODE_LISTING
    #: AWS cron of the FileEventConsumer job (``events`` mode): the longest an uploaded file waits to be PENDING.
    event_consumer_schedule: str = "cron(0/5 * * * ? *)"
    #: Alarm when the oldest event waiting in the queue is older than this (``events`` mode): the consumer is not
    #: draining (failing, or skipped while a long listing holds the lister lock).
    event_queue_age_alarm_minutes: int = 30
    #: With an inventory (``discovery_mode`` inventory or events) the scheduled lister registers from each new daily
    #: report and lists the whole raw prefix only when its last listing is older than this many hours (or no
    #: recent report exists): the safety net behind the events and the inventory. 0 lists on every run that
    #: registers no report (docs/discovery.md argues the weekly default).
    full_listing_hours: int = DEFAULT_FULL_LISTING_HOURS
    #: Removal policy of the logs/bookmarks KMS key (``DESTROY`` is guarded, see
    #: :mod:`platform_constructs._shared.removal_policy`).
    key_removal_policy: RemovalPolicy = RemovalPolicy.RETAIN
    #: The workflow processes production data: ``key_removal_policy=DESTROY`` is an error.
    production: bool = False

    def validate(self) -> None:
        """Raise :class:`~platform_constructs._shared.validation.PropsError` (a ``ValueError``) naming the field
        to fix."""
        owner = type(self).__name__
        check_field_types(self, only=JsonToParquetWorkflowSettings.__dataclass_fields__)
        if self.name_suffix is not None:
            check_name_suffix(owner, self.name_suffix)
        if not _GLUE_VERSION.match(self.glue_version):
            raise PropsError(owner, "glue_version", f"{self.glue_version!r} must be a Glue 5.x version such as '5.0'")
        check_one_of(owner, "processor_worker_type", self.processor_worker_type, SPARK_WORKER_TYPES)
        check_one_of(owner, "discovery_mode", self.discovery_mode, DISCOVERY_MODES)
        if (problem := glue_cron_problem(self.event_consumer_schedule)) is not None:
            raise PropsError(owner, "event_consumer_schedule", problem)
        check_one_of(
            owner, "lister_max_capacity", self.lister_max_capacity, PYTHON_SHELL_CAPACITIES,
            " (the DPU settings of a Python shell job)",
        )
        self._validate_numbers(owner)
        if (problem := glue_cron_problem(self.schedule)) is not None:
            raise PropsError(owner, "schedule", problem)
        check_metrics_namespace(owner, self.metrics_namespace)
        if self.database_ca_bundle is not None and not re.match(r"^s3://[^/]+/.+", self.database_ca_bundle):
            raise PropsError(owner, "database_ca_bundle",
                             f"{self.database_ca_bundle!r} must be s3://bucket/key or None")
        if self.transform_spec_uri is not None and not self.transform_spec_uri.startswith("s3://"):
            raise PropsError(owner, "transform_spec_uri", f"{self.transform_spec_uri!r} must be an s3:// URI or None")
        if self.vpc_endpoints is False:
            check_exclusive(
                self, "vpc_endpoints", ["interface_endpoints"], "vpc_endpoints=False creates no endpoint", owner
            )
        check_extra_arguments(owner, "extra_lister_arguments", self.extra_lister_arguments, job="lister")
        check_extra_arguments(owner, "extra_processor_arguments", self.extra_processor_arguments, job="processor")
        check_spark_conf(owner, "spark_conf", self.spark_conf)
        check_not_destroyed_in_production(owner, "key_removal_policy", self.key_removal_policy, self.production)
        self._validate_table_format(owner)

    def _validate_table_format(self, owner: str) -> None:
        check_one_of(owner, "table_format", self.table_format, TABLE_FORMATS,
                     " (parquet: today's layout; iceberg: an Iceberg table in the Glue Data Catalog)")
        iceberg_only = ["iceberg_optimizers", "iceberg_snapshot_retention_days", "iceberg_snapshots_to_retain",
                        "iceberg_orphan_file_retention_days"]
        if self.table_format != ICEBERG and (changed := changed_fields(self, iceberg_only)):
            raise PropsError(
                owner, changed[0],
                f"applies to the Iceberg table only, but table_format is {self.table_format!r}: set "
                f"table_format='iceberg' or leave {', '.join(changed)} at the default",
            )
        check_at_least(owner, {
            "iceberg_snapshot_retention_days": (self.iceberg_snapshot_retention_days, 1),
            "iceberg_snapshots_to_retain": (self.iceberg_snapshots_to_retain, 1),
            "iceberg_orphan_file_retention_days": (self.iceberg_orphan_file_retention_days, 1),
        })
        if self.iceberg_orphan_file_retention_days * 86400 <= self.lease_seconds:
            raise PropsError(
                owner, "iceberg_orphan_file_retention_days",
                f"({self.iceberg_orphan_file_retention_days} days) must be longer than lease_seconds "
                f"({self.lease_seconds} s): files a crashed batch published but did not commit must outlive the "
                "lease, so that its replay still finds them; raise it or shorten lease_seconds",
            )

    def _validate_numbers(self, owner: str) -> None:
        check_at_least(owner, {
            "processor_number_of_workers": (self.processor_number_of_workers, 2),
            "processor_timeout_minutes": (self.processor_timeout_minutes, 1),
            "backfill_max_concurrent_runs": (self.backfill_max_concurrent_runs, 1),
            "lister_timeout_minutes": (self.lister_timeout_minutes, 1),
            "batch_size": (self.batch_size, 1),
            "max_attempts": (self.max_attempts, 1),
            "lease_seconds": (self.lease_seconds, 60),
            "drain_minutes": (self.drain_minutes, 1),
            "backfill_drain_minutes": (self.backfill_drain_minutes, 1),
            "event_queue_age_alarm_minutes": (self.event_queue_age_alarm_minutes, 5),
            "full_listing_hours": (self.full_listing_hours, 0),
        })
        if self.backfill_number_of_workers is not None and self.backfill_number_of_workers < 2:
            raise PropsError(
                owner, "backfill_number_of_workers",
                f"must be >= 2 (a Spark job's minimum) or None to use processor_number_of_workers, got "
                f"{self.backfill_number_of_workers}",
            )
        if self.drain_minutes >= self.processor_timeout_minutes:
            raise PropsError(
                owner, "drain_minutes",
                f"({self.drain_minutes}) must be less than processor_timeout_minutes "
                f"({self.processor_timeout_minutes}): the drain budget has to end before Glue kills the run",
            )

    def code_assets_props(self) -> GlueCodeAssetsProps:
        """What the jobs bundle: the runtime, the wheels and, for the Iceberg format, pyiceberg's wheels."""
        return GlueCodeAssetsProps(
            runtime_dir=self.runtime_dir, wheels_dir=self.wheels_dir, iceberg_wheels=self.table_format == ICEBERG
        )

    def settings_fields(self) -> dict[str, Any]:
        """The settings as keyword arguments (for :meth:`JsonToParquetWorkflowProps.of`)."""
        return {name: getattr(self, name) for name in JsonToParquetWorkflowSettings.__dataclass_fields__}


@dataclass(frozen=True, kw_only=True)
class JsonToParquetWorkflowProps(JsonToParquetWorkflowSettings):
    """Props of :class:`~platform_constructs.json_to_parquet_workflow.JsonToParquetWorkflow`: the settings of
    :class:`JsonToParquetWorkflowSettings` plus the constructs and the environment they belong to."""

    #: Required. The data-lake bucket (layout, grants, key).
    bucket: TrackedRawBucket
    #: Required. The tracking database (secret, network, ``allow_from``).
    database: TrackingDatabase
    #: Required. ``dev``, ``prod``, ...; the ``--environment`` argument, metric dimension and default name suffix.
    environment_name: str

    @classmethod
    def of(
        cls,
        settings: JsonToParquetWorkflowSettings,
        *,
        bucket: TrackedRawBucket,
        database: TrackingDatabase,
        environment_name: str,
    ) -> JsonToParquetWorkflowProps:
        """Props from ``settings`` (e.g. an environment's configuration) and the constructs they apply to."""
        return cls(bucket=bucket, database=database, environment_name=environment_name, **settings.settings_fields())

    @property
    def catalog_database(self) -> str:
        """The Glue database of the curated tables (Parquet and Iceberg): ``catalog_database_name`` or
        ``ml_data_platform_<env>``."""
        return self.catalog_database_name or f"ml_data_platform_{self.environment_name.replace('-', '_')}"

    @property
    def suffix(self) -> str:
        """The suffix actually appended to physical names."""
        return f"-{self.environment_name}" if self.name_suffix is None else self.name_suffix

    def validate(self) -> None:
        """The settings' rules, the environment name, and the listing prefixes against the bucket's layout."""
        owner = type(self).__name__
        check_environment_name(owner, self.environment_name)
        super().validate()
        raw_prefix = self.bucket.props.raw_prefix
        if self.discovery_mode != MODE_LISTING and self.bucket.props.existing_bucket is not None:
            raise PropsError(owner, "discovery_mode", f"{self.discovery_mode!r} configures the bucket's inventory and "
                             "events, which an existing_bucket cannot get from this stack: use 'listing'")
        for prefix in self.listing_prefixes or ():
            if not prefix.startswith(raw_prefix) or "," in prefix:
                raise PropsError(
                    owner, "listing_prefixes",
                    f"entry {prefix!r} must lie under the bucket's raw prefix {raw_prefix!r} (the lister may only "
                    "list there) and contain no comma",
                )
