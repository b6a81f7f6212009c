"""One configuration per environment (``DEV``, ``PROD``): the constructs' own props plus the production rules.

:class:`EnvironmentConfig` is composed of the props types of the constructs it configures, not a copy of their
fields: ``bucket`` (:class:`~platform_constructs.TrackedRawBucketProps`), ``database``
(:class:`~platform_constructs.TrackingDatabaseProps`), ``workflow``
(:class:`~platform_constructs.json_to_parquet_workflow_props.JsonToParquetWorkflowSettings`, the workflow's props
without the constructs it is wired to) and ``alarms``
(:class:`~platform_constructs.pipeline_alarms_props.PipelineAlarmsSettings`). Their defaults and rules are the
props' own. What the configuration adds is the environment itself (``environment_name``, ``production``) and the
**production rules**:

* production: Multi-AZ database with deletion protection and >= 7 days of backups, never ``allow_destroy``,
  data retained (``RETAIN``), and an alarm subscriber (``require_alarm_subscriber``);
* removal policies: buckets and keys ``RETAIN`` (``DESTROY`` only with ``allow_destroy`` outside production), the
  database ``RETAIN`` in production and ``SNAPSHOT`` elsewhere; the props fields these rules own
  (:data:`stacks.config_keys.RULE_FIELDS`) stay at their defaults in a configuration and are set by
  :meth:`EnvironmentConfig.bucket_props` and its siblings;
* no lister heartbeat alarm while the schedule is paused.

Everything is checked in ``__post_init__``: an invalid configuration fails at synth with a ``ValueError`` that
names the key (``EnvironmentConfig('dev').batch_size must be >= 1, got 0``) and says what to fix, before any
construct is built. Overrides come from CDK context (``cdk.json`` or ``-c``, see
:func:`stacks.config_keys.apply_context_overrides`) or from Python (:meth:`EnvironmentConfig.override`)::

    npx cdk synth -c alarm_emails=ops@example.com             # both environments
    npx cdk synth -c prod.alarm_emails=a@example.com,b@example.com -c dev.allow_destroy=true
    npx cdk synth -c prod.alarm_topic_arn=arn:aws:sns:eu-west-1:123456789012:oncall
    npx cdk synth -c dev.database.rotation_days=7              # any props field as <section>.<field>
    # cdk.json: "context": {"dev": {"batch_size": 100}}

An environment that requires an alarm subscriber refuses to synthesize without ``alarm_emails`` or
``alarm_topic_arn`` (:meth:`EnvironmentConfig.missing_alarm_subscriber`, reported by ``DataPlatformStack`` as a
synth error). The checked-in ``PROD`` has neither on purpose: the recipients are given at deploy time.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs

from platform_constructs.json_to_parquet_workflow_props import JsonToParquetWorkflowSettings
from platform_constructs.pipeline_alarms_props import PipelineAlarmsSettings
from platform_constructs.tracked_raw_bucket_props import TrackedRawBucketProps
from platform_constructs.tracking_database_props import TrackingDatabaseProps
from platform_constructs.validation import PropsError, changed_fields, check_environment_name, check_field_types
from stacks.config_keys import (
    FIXED_FIELDS,
    LOG_RETENTION_DAYS,
    RENAMED_FIELDS,
    RULE_FIELDS,
    SECTIONS,
    SHARED_CONTEXT_FIELDS,
    apply_context_overrides,
    key,
    key_name,
)

__all__ = [
    "DEV",
    "ENVIRONMENTS",
    "FIXED_FIELDS",
    "LOG_RETENTION_DAYS",
    "PROD",
    "RENAMED_FIELDS",
    "SHARED_CONTEXT_FIELDS",
    "EnvironmentConfig",
    "apply_context_overrides",
]


@dataclass(frozen=True)
class EnvironmentConfig:
    """Everything that differs between environments; ``docs/infrastructure.md`` lists each key."""

    #: Required. ``dev``, ``prod``...; stack ``MlDataPlatform-<name>``, metric dimension, name suffix.
    environment_name: str
    #: Production rules apply: Multi-AZ database, deletion protection, >= 7 days of backups, RETAIN, no DESTROY.
    production: bool = False
    #: Refuse to synthesize without ``alarms.alarm_emails`` or ``alarms.existing_topic_arn`` (keys
    #: ``alarm_emails``, ``alarm_topic_arn``); ``None`` = required exactly in production.
    require_alarm_subscriber: bool | None = None
    #: Non-production only: delete buckets (emptied), keys and database with the stack.
    allow_destroy: bool = False
    #: The data-lake bucket's props (the rule-owned removal fields stay at their defaults).
    bucket: TrackedRawBucketProps = field(default_factory=TrackedRawBucketProps)
    #: The tracking database's props (the rule-owned removal fields stay at their defaults).
    database: TrackingDatabaseProps = field(default_factory=TrackingDatabaseProps)
    #: The workflow's settings: its props without the bucket, database and environment name.
    workflow: JsonToParquetWorkflowSettings = field(default_factory=JsonToParquetWorkflowSettings)
    #: The alarms' settings: their props without the environment, jobs and resources they watch.
    alarms: PipelineAlarmsSettings = field(default_factory=PipelineAlarmsSettings)

    def __post_init__(self) -> None:
        label = self._label()
        check_field_types(self, owner=label)
        check_environment_name(type(self).__name__, self.environment_name)
        for section in SECTIONS:
            props = getattr(self, section)
            owned = changed_fields(props, RULE_FIELDS[section])
            if owned:
                raise ValueError(
                    f"{label}.{section}.{owned[0]} is set by the production rules (production, allow_destroy): "
                    "leave it at its default"
                )
            try:
                props.validate()
            except PropsError as error:
                raise ValueError(PropsError.say(self.key_label(section, error.field), error.problem)) from error
        self._check_production()

    # ------------------------------------------------------------------------------------------
    # Keys
    # ------------------------------------------------------------------------------------------
    def _label(self) -> str:
        return f"EnvironmentConfig({self.environment_name!r})"

    def key_label(self, section: str | None, field_name: str) -> str:
        """``EnvironmentConfig('<env>').<key>`` of a field, as error messages name it."""
        return f"{self._label()}.{key_name(section, field_name)}"

    def setting(self, name: str) -> Any:
        """The value of the key ``name`` (``batch_size``, ``log_retention_days``, ``database.rotation_days``)."""
        found = key(name)
        if found is None:
            raise KeyError(f"{name!r} is not an EnvironmentConfig key")
        holder = self if found.section is None else getattr(self, found.section)
        return found.from_field(getattr(holder, found.field))

    def override(self, **settings: Any) -> EnvironmentConfig:
        """A copy with the keys in ``settings`` set (``DEV.override(batch_size=100, db_multi_az=True)``), validated.

        Keys are the documented ones and ``<section>.<field>`` (pass those as ``**{"database.port": 5433}``).
        """
        own: dict[str, Any] = {}
        sections: dict[str, dict[str, Any]] = {section: {} for section in SECTIONS}
        for name, value in settings.items():
            found = key(name)
            if found is None:
                raise ValueError(f"{self._label()}.{name} is not an EnvironmentConfig key")
            if found.section is None:
                own[found.field] = value
                continue
            try:
                sections[found.section][found.field] = found.to_field(value)
            except ValueError as error:
                raise ValueError(f"{self._label()}.{name} {error}") from None
        changes = {
            section: dataclasses.replace(getattr(self, section), **fields)
            for section, fields in sections.items()
            if fields
        }
        return dataclasses.replace(self, **own, **changes)

    # ------------------------------------------------------------------------------------------
    # Production rules
    # ------------------------------------------------------------------------------------------
    def _check_production(self) -> None:
        if not self.production:
            return
        if not self.database.deletion_protection:
            raise ValueError(
                f"{self.key_label('database', 'deletion_protection')} must be True in production: set "
                "db_deletion_protection=True (turn it off by hand only to delete the environment on purpose)"
            )
        if not self.database.multi_az:
            raise ValueError(
                f"{self.key_label('database', 'multi_az')} must be True in production (a standby in a second AZ)"
            )
        if self.allow_destroy:
            raise ValueError(
                f"{self.key_label(None, 'allow_destroy')} must be False in production: production data is always "
                "retained"
            )
        if self.database.backup_retention_days < 7:
            raise ValueError(f"{self.key_label('database', 'backup_retention_days')} must be at least 7 in production")

    @property
    def stack_name(self) -> str:
        """``MlDataPlatform-<environment_name>``."""
        return f"MlDataPlatform-{self.environment_name}"

    @property
    def data_removal_policy(self) -> RemovalPolicy:
        """Buckets and keys: RETAIN, or DESTROY only with ``allow_destroy`` outside production."""
        return RemovalPolicy.DESTROY if self.allow_destroy else RemovalPolicy.RETAIN

    @property
    def database_removal_policy(self) -> RemovalPolicy:
        """Database: RETAIN in production, SNAPSHOT elsewhere, DESTROY only with ``allow_destroy``."""
        if self.production:
            return RemovalPolicy.RETAIN
        return RemovalPolicy.DESTROY if self.allow_destroy else RemovalPolicy.SNAPSHOT

    @property
    def alarm_subscriber_required(self) -> bool:
        """``require_alarm_subscriber``, or ``production`` when that is ``None``."""
        return self.production if self.require_alarm_subscriber is None else self.require_alarm_subscriber

    def missing_alarm_subscriber(self) -> str | None:
        """The synth error for an environment whose alarms would reach nobody, or ``None``.

        Not checked in ``__post_init__``: the checked-in ``PROD`` has no recipients (they are deployment
        settings), so ``DataPlatformStack`` reports this when it builds the environment's stack.
        """
        alarms = self.alarms
        if not self.alarm_subscriber_required or alarms.alarm_emails or alarms.existing_topic_arn is not None:
            return None
        env = self.environment_name
        return (
            f"{self.key_label('alarms', 'alarm_emails')} and alarm_topic_arn are both empty, but environment {env!r} "
            f"requires an alarm subscriber (require_alarm_subscriber): its alarms would reach nobody. Set "
            f"-c {env}.alarm_emails=a@example.com (comma-separated addresses, each confirms by mail) or "
            f"-c {env}.alarm_topic_arn=arn:aws:sns:<region>:<account-id>:<topic> (an existing topic, e.g. your "
            "on-call topic)"
        )

    # ------------------------------------------------------------------------------------------
    # The props the stack builds its constructs with: the sections with the production rules applied
    # ------------------------------------------------------------------------------------------
    def bucket_props(self) -> TrackedRawBucketProps:
        """``bucket`` with the data removal policy (auto-delete exactly with ``allow_destroy``)."""
        return dataclasses.replace(
            self.bucket,
            removal_policy=self.data_removal_policy,
            auto_delete_objects=self.allow_destroy,
            production=self.production,
        )

    def database_props(self) -> TrackingDatabaseProps:
        """``database`` with the database removal policy."""
        return dataclasses.replace(
            self.database, removal_policy=self.database_removal_policy, production=self.production
        )

    def workflow_settings(self) -> JsonToParquetWorkflowSettings:
        """``workflow`` with the data removal policy for its key."""
        return dataclasses.replace(
            self.workflow, key_removal_policy=self.data_removal_policy, production=self.production
        )

    def alarms_settings(self) -> PipelineAlarmsSettings:
        """``alarms``, without the lister heartbeat while the schedule is paused (no run would report)."""
        if self.workflow.schedule_enabled:
            return self.alarms
        return dataclasses.replace(self.alarms, lister_heartbeat_minutes=None)


#: Development: cheap and disposable (with ``allow_destroy``), small workers, short retention.
DEV = EnvironmentConfig(
    environment_name="dev",
    production=False,
    bucket=TrackedRawBucketProps(
        encryption="S3_MANAGED",
        glue_temp_expiry_days=2,
        dead_letter_expiry_days=30,
        noncurrent_version_expiry_days=7,
    ),
    database=TrackingDatabaseProps(
        instance_type="t4g.micro",
        multi_az=False,
        deletion_protection=False,
        allocated_storage_gib=20,
        max_allocated_storage_gib=50,
        backup_retention_days=1,
        cloudwatch_logs_retention=logs.RetentionDays.ONE_WEEK,
    ),
    workflow=JsonToParquetWorkflowSettings(
        batch_size=200,
        drain_minutes=12,
        backfill_drain_minutes=120,
        processor_worker_type="G.1X",
        processor_number_of_workers=2,
        processor_timeout_minutes=30,
        backfill_max_concurrent_runs=2,
        lister_timeout_minutes=20,
    ),
)

#: Production: data retained, Multi-AZ database with deletion protection, KMS, larger workers. Requires an alarm
#: subscriber (``alarm_emails`` or ``alarm_topic_arn`` from context) to synthesize.
PROD = EnvironmentConfig(
    environment_name="prod",
    production=True,
    require_alarm_subscriber=True,
    bucket=TrackedRawBucketProps(
        encryption="KMS",
        processed_to_intelligent_tiering_days=30,
        processed_to_glacier_ir_days=90,
        glue_temp_expiry_days=3,
        dead_letter_expiry_days=None,
        noncurrent_version_expiry_days=30,
    ),
    database=TrackingDatabaseProps(
        instance_type="m7g.large",
        multi_az=True,
        deletion_protection=True,
        allocated_storage_gib=100,
        max_allocated_storage_gib=500,
        backup_retention_days=14,
        cloudwatch_logs_retention=logs.RetentionDays.THREE_MONTHS,
    ),
    workflow=JsonToParquetWorkflowSettings(
        batch_size=2000,
        drain_minutes=12,
        backfill_drain_minutes=480,
        processor_worker_type="G.2X",
        processor_number_of_workers=10,
        processor_timeout_minutes=60,
        backfill_max_concurrent_runs=4,
        lister_timeout_minutes=60,
    ),
)

#: Every environment ``app.py`` builds, in order.
ENVIRONMENTS: tuple[EnvironmentConfig, ...] = (DEV, PROD)
