"""Props of :class:`platform_constructs.pipeline_alarms.PipelineAlarms` and their validation.

Two layers, as for the workflow: :class:`PipelineAlarmsSettings` is what an environment chooses (recipients,
topic ARN, thresholds, periods), each field with a default; :class:`PipelineAlarmsProps` adds what ties the
alarms to one app (environment name, job names, namespace, database instance, topic object). ``existing_topic``
and ``existing_topic_arn`` are mutually exclusive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns

from platform_constructs._shared.validation import (
    PropsError,
    check_email_addresses,
    check_environment_name,
    check_exclusive,
    check_field_types,
    check_metrics_namespace,
    check_sns_topic_arn,
)
from platform_constructs.pipeline_alarms.instance_memory import instance_memory_bytes, known_families
from platform_contract import defaults
from platform_contract.table import DEFAULT_TABLE_FORMAT, TABLE_FORMATS

MIB = 1024 * 1024
GIB = 1024 * MIB
#: Heartbeat window when the props do not say how long a lister cycle can take (no timeouts or schedule given).
FALLBACK_HEARTBEAT_MINUTES = 60
#: The longest heartbeat window (CloudWatch: one period of at most 7 days when it is an hour or longer).
MAX_HEARTBEAT_MINUTES = 7 * 24 * 60
#: Glue job states an EventBridge ``Glue Job State Change`` event can report as a failure.
GLUE_JOB_STATES = ("FAILED", "TIMEOUT", "ERROR", "STOPPED")


@dataclass(frozen=True)
class PipelineAlarmsSettings:
    """What an environment chooses for its alarms; see each field's comment."""

    #: E-mail addresses subscribed to the topic (each must confirm by mail).
    alarm_emails: tuple[str, ...] = ()
    #: Publish to this existing standard SNS topic (e.g. an on-call topic from configuration) instead of creating
    #: one; its encryption and policy are then the owner's business. Refused together with ``existing_topic``.
    existing_topic_arn: str | None = None
    #: Glue job states reported as failures (subset of FAILED, TIMEOUT, ERROR, STOPPED).
    failure_states: tuple[str, ...] = ("FAILED", "TIMEOUT", "ERROR")
    #: Aggregation period of the event-like alarms (job failures, dead letters, lister duration).
    period: Duration = field(default_factory=lambda: Duration.minutes(15))
    #: Aggregation period of the backlog gauges (longer than the lister schedule).
    gauge_period: Duration = field(default_factory=lambda: Duration.minutes(30))
    #: Fewest dead-lettered records in a ``period`` that can count towards the alarm (below it, a period is OK
    #: whatever its share).
    dead_letter_records_threshold: int = 1
    #: Share of the records (dead-lettered / (dead-lettered + good), in %) above which a period breaches.
    dead_letter_percent: float = 1.0
    #: Consecutive breaching periods before ``DeadLetterRecords`` fires (a sustained rate, not one bad file).
    dead_letter_evaluation_periods: int = 3
    #: Average CPU above which (for ``rds_evaluation_periods`` periods) to alarm.
    rds_cpu_percent: float = 80
    #: Freeable memory below which to alarm, as a share (%) of the instance class's memory.
    rds_freeable_memory_percent: float = 10
    #: Freeable memory below which to alarm, in bytes, instead of ``rds_freeable_memory_percent`` (needed for an
    #: instance class :mod:`.instance_memory` does not list).
    rds_freeable_memory_bytes: int | None = None
    #: Average disk queue depth above which to alarm.
    rds_disk_queue_depth: float = 20
    #: Free storage below which to alarm (storage autoscaling kicks in at 10 % free, so this is the "autoscaling
    #: hit its ceiling" signal).
    rds_free_storage_bytes: int = 2 * GIB
    #: Consecutive 5-minute periods before the CPU, memory and disk-queue alarms fire.
    rds_evaluation_periods: int = 3
    #: A lister run longer than this raises the alarm.
    lister_duration_seconds: int = 900
    #: Alarm when no lister run reported within the heartbeat window; False disables the heartbeat (e.g. a
    #: deployment that only runs on demand).
    lister_heartbeat: bool = True
    #: Heartbeat window; ``None`` derives it: processor timeout + lister timeout + the longest schedule interval,
    #: rounded up to 5 minutes. A window shorter than that is refused.
    lister_heartbeat_minutes: int | None = None
    #: Oldest pending file older than this raises the alarm.
    backlog_age_seconds: int = 86400
    #: This many quarantined files raise the alarm.
    quarantined_files_threshold: int = 1
    #: Records with rescued data (fields the spec does not read) in a ``period`` that raise the optional
    #: ``RecordsWithRescuedData`` alarm; ``None`` (default): no such alarm.
    rescued_records_threshold: int | None = None
    #: Physical dashboard name; ``None`` lets CloudFormation generate one.
    dashboard_name: str | None = None

    def validate(self) -> None:
        """Raise :class:`~platform_constructs._shared.validation.PropsError` (a ``ValueError``) naming the field
        to fix."""
        owner = type(self).__name__
        check_email_addresses(owner, self.alarm_emails)
        check_field_types(self, only=PipelineAlarmsSettings.__dataclass_fields__)
        check_sns_topic_arn(owner, self.existing_topic_arn, "existing_topic_arn")
        unknown = set(self.failure_states) - set(GLUE_JOB_STATES)
        if not self.failure_states or unknown:
            raise PropsError(
                owner, "failure_states", f"must be a non-empty subset of {GLUE_JOB_STATES}, got {self.failure_states}"
            )
        self._validate_thresholds(owner)

    def _validate_thresholds(self, owner: str) -> None:
        positive = {
            "dead_letter_records_threshold": self.dead_letter_records_threshold,
            "dead_letter_percent": self.dead_letter_percent,
            "dead_letter_evaluation_periods": self.dead_letter_evaluation_periods,
            "rds_cpu_percent": self.rds_cpu_percent,
            "rds_freeable_memory_percent": self.rds_freeable_memory_percent,
            "rds_disk_queue_depth": self.rds_disk_queue_depth,
            "rds_free_storage_bytes": self.rds_free_storage_bytes,
            "rds_evaluation_periods": self.rds_evaluation_periods,
            "lister_duration_seconds": self.lister_duration_seconds,
            "backlog_age_seconds": self.backlog_age_seconds,
            "quarantined_files_threshold": self.quarantined_files_threshold,
        }
        for name in ("lister_heartbeat_minutes", "rds_freeable_memory_bytes", "rescued_records_threshold"):
            if getattr(self, name) is not None:
                positive[name] = getattr(self, name)
        for name, value in positive.items():
            if value <= 0:
                raise PropsError(owner, name, f"must be > 0, got {value}")
        for name in ("rds_cpu_percent", "rds_freeable_memory_percent", "dead_letter_percent"):
            if getattr(self, name) > 100:
                raise PropsError(owner, name, f"must be <= 100, got {getattr(self, name)}")
        if self.lister_heartbeat_minutes is not None and self.lister_heartbeat_minutes % 5:
            raise PropsError(
                owner, "lister_heartbeat_minutes",
                f"must be a multiple of 5 (a CloudWatch alarm period), got {self.lister_heartbeat_minutes}",
            )
        for name in ("period", "gauge_period"):
            seconds = getattr(self, name).to_seconds()
            if seconds < 60 or seconds % 60:
                raise PropsError(owner, name, f"must be a whole number of minutes, got {seconds} s")

    def settings_fields(self) -> dict[str, Any]:
        """The settings as keyword arguments (for :meth:`PipelineAlarmsProps.of`)."""
        return {name: getattr(self, name) for name in PipelineAlarmsSettings.__dataclass_fields__}


@dataclass(frozen=True, kw_only=True)
class PipelineAlarmsProps(PipelineAlarmsSettings):
    """Props of :class:`~platform_constructs.pipeline_alarms.PipelineAlarms`: the settings of
    :class:`PipelineAlarmsSettings` plus the environment, jobs and resources they watch."""

    #: Required. Value of the ``Environment`` dimension the runtime publishes (``dev``, ``prod``).
    environment_name: str
    #: Required. The lister's Glue job name, whose failures are reported.
    lister_job_name: str
    #: Required. The processor's Glue job name, whose failures are reported.
    processor_job_name: str
    #: The workflow's backfill job, whose failures and timeouts are reported too; ``None`` when there is none.
    backfill_job_name: str | None = None
    #: More Glue jobs whose failed runs are reported the same way, e.g. the ``FileEventConsumer`` of
    #: ``discovery_mode`` events (docs/discovery.md); each a different name.
    extra_job_names: tuple[str, ...] = ()
    #: Namespace of the runtime's custom metrics (the workflow's ``metrics_namespace``).
    metrics_namespace: str = defaults.METRICS_NAMESPACE
    #: The tracking database; ``None`` skips the RDS alarms and graphs.
    database_instance: rds.IDatabaseInstance | None = None
    #: Publish to this topic instead of creating one (its encryption and policy are then the owner's business).
    #: Refused together with ``existing_topic_arn``.
    existing_topic: sns.ITopic | None = None
    #: The database's instance class (``t4g.micro``, ``db.m7g.large``): the memory threshold is a share of it.
    database_instance_class: str | None = None
    #: The lister's and the processor's Glue timeouts and the longest interval between two scheduled starts
    #: (minutes), from which the heartbeat window is derived; ``None`` when unknown.
    lister_timeout_minutes: int | None = None
    processor_timeout_minutes: int | None = None
    schedule_interval_minutes: int | None = None
    #: The curated table's format (the workflow's ``table_format``): ``iceberg`` adds the ``IcebergCommitFailures``
    #: alarm and graph.
    table_format: str = DEFAULT_TABLE_FORMAT
    #: Whether the workflow's schedule runs (``schedule_enabled``): while it is paused the heartbeat alarm stays,
    #: with its actions disabled (no run would report, and pausing is no incident).
    schedule_enabled: bool = True

    @classmethod
    def of(cls, settings: PipelineAlarmsSettings, **references: Any) -> PipelineAlarmsProps:
        """Props from ``settings`` (e.g. an environment's configuration) and the references of this class."""
        return cls(**settings.settings_fields(), **references)

    @property
    def job_names(self) -> tuple[str, ...]:
        """The Glue jobs whose failed runs are reported: lister, processor, the backfill if given, then
        ``extra_job_names``."""
        names = (self.lister_job_name, self.processor_job_name)
        names = names if self.backfill_job_name is None else (*names, self.backfill_job_name)
        return (*names, *self.extra_job_names)

    def minimum_heartbeat_minutes(self) -> int | None:
        """Processor timeout + lister timeout + one schedule interval, rounded up to 5 minutes (a workflow run
        holds the next schedule for at most that long); ``None`` when the props do not give all three."""
        parts = (self.processor_timeout_minutes, self.lister_timeout_minutes, self.schedule_interval_minutes)
        if any(part is None for part in parts):
            return None
        total = sum(parts)  # type: ignore[arg-type]
        return -(-total // 5) * 5

    @property
    def heartbeat_minutes(self) -> int | None:
        """The heartbeat window: ``lister_heartbeat_minutes``, else the derived minimum (else
        :data:`FALLBACK_HEARTBEAT_MINUTES`); ``None`` without a heartbeat."""
        if not self.lister_heartbeat:
            return None
        if self.lister_heartbeat_minutes is not None:
            return self.lister_heartbeat_minutes
        return self.minimum_heartbeat_minutes() or FALLBACK_HEARTBEAT_MINUTES

    @property
    def freeable_memory_threshold_bytes(self) -> int | None:
        """``rds_freeable_memory_bytes``, else ``rds_freeable_memory_percent`` of the instance class's memory;
        ``None`` when neither is known."""
        if self.rds_freeable_memory_bytes is not None:
            return self.rds_freeable_memory_bytes
        memory = None if self.database_instance_class is None else instance_memory_bytes(self.database_instance_class)
        return None if memory is None else int(memory * self.rds_freeable_memory_percent / 100)

    def _validate_heartbeat(self, owner: str) -> None:
        if not self.lister_heartbeat:
            return
        if self.schedule_interval_minutes is None and None not in (self.processor_timeout_minutes,
                                                                   self.lister_timeout_minutes):
            raise PropsError(
                owner, "lister_heartbeat",
                "cannot be derived: the schedule repeats neither daily nor weekly, so its longest interval is "
                "unknown; set lister_heartbeat=False or give a daily or weekly schedule",
            )
        minimum = self.minimum_heartbeat_minutes()
        window = self.heartbeat_minutes
        if minimum is not None and window is not None and window < minimum:
            raise PropsError(
                owner, "lister_heartbeat_minutes",
                f"must be at least {minimum} (processor_timeout_minutes {self.processor_timeout_minutes} + "
                f"lister_timeout_minutes {self.lister_timeout_minutes} + schedule interval "
                f"{self.schedule_interval_minutes}, rounded up to 5): a shorter window pages while a processor run "
                f"holds the workflow; got {window}. Set it to {minimum} or more, or leave it unset (derived)",
            )
        if window is not None and window > MAX_HEARTBEAT_MINUTES:
            raise PropsError(
                owner, "lister_heartbeat_minutes",
                f"must be at most {MAX_HEARTBEAT_MINUTES} (7 days, CloudWatch's longest alarm window), got {window}; "
                "shorten the schedule interval or the timeouts, or set lister_heartbeat=False",
            )

    def _validate_memory(self, owner: str) -> None:
        if self.database_instance is None or self.freeable_memory_threshold_bytes is not None:
            return
        if self.database_instance_class is None:
            raise PropsError(
                owner, "database_instance_class",
                "must name the database's instance class (e.g. 't4g.micro') for the memory alarm's threshold, "
                "or set rds_freeable_memory_bytes",
            )
        raise PropsError(
            owner, "database_instance_class",
            f"{self.database_instance_class!r} is not an instance class of known memory (families "
            f"{', '.join(known_families())}): set rds_freeable_memory_bytes to the alarm threshold in bytes",
        )

    def validate(self) -> None:
        """The settings' rules plus the environment, the job names, the namespace and the topic."""
        owner = type(self).__name__
        check_environment_name(owner, self.environment_name)
        for name in ("lister_job_name", "processor_job_name"):
            if not getattr(self, name):
                raise PropsError(owner, name, "must name the Glue job to watch")
        if self.backfill_job_name is not None and not self.backfill_job_name:
            raise PropsError(owner, "backfill_job_name", "must name the Glue job to watch, or be None")
        if any(not name for name in self.extra_job_names):
            raise PropsError(owner, "extra_job_names", f"must each name a Glue job, got {self.extra_job_names}")
        if len(set(self.job_names)) != len(self.job_names):
            core = self.job_names[:len(self.job_names) - len(self.extra_job_names)]
            if len(set(core)) == len(core):
                raise PropsError(owner, "extra_job_names", f"repeats a job: job names must differ, got "
                                 f"{self.job_names}")
            raise PropsError(
                owner, "backfill_job_name" if self.backfill_job_name in self.job_names[:2] else "processor_job_name",
                f"repeats another job: job names must differ, got {self.job_names}: lister_job_name, "
                "processor_job_name and backfill_job_name must each name a different Glue job",
            )
        check_exclusive(
            self, "existing_topic", ["existing_topic_arn"], "give the topic once (as an object or by ARN)"
        )
        check_metrics_namespace(owner, self.metrics_namespace)
        if self.table_format not in TABLE_FORMATS:
            raise PropsError(owner, "table_format", f"must be one of {TABLE_FORMATS} (the workflow's table_format), "
                             f"got {self.table_format!r}")
        super().validate()
        self._validate_heartbeat(owner)
        self._validate_memory(owner)
