"""One configuration per environment (``DEV``, ``PROD``): the constructs' own props plus the production rules.

:class:`EnvironmentConfig` is composed of the props types of the constructs it configures, not a copy of their
fields: ``bucket`` (:class:`~platform_constructs.TrackedRawBucketProps`), ``database``
(:class:`~platform_constructs.TrackingDatabaseProps`), ``workflow``
(:class:`~platform_constructs.json_to_parquet_workflow.props.JsonToParquetWorkflowSettings`, the workflow's props
without the constructs it is wired to) and ``alarms``
(:class:`~platform_constructs.pipeline_alarms.props.PipelineAlarmsSettings`). Their defaults and rules are the
props' own. What the configuration adds is the environment itself (``environment_name``, ``production``) and the
**production rules**:

* production: Multi-AZ database with deletion protection and >= 7 days of backups, never ``allow_destroy``,
  data retained (``RETAIN``), and an alarm subscriber (``require_alarm_subscriber``);
* removal policies: buckets and keys ``RETAIN`` (``DESTROY`` only with ``allow_destroy`` outside production), the
  database ``RETAIN`` in production and ``SNAPSHOT`` elsewhere; the props fields these rules own
  (:func:`rule_values`, which sets them) stay at their defaults in a configuration and are set by
  :meth:`EnvironmentConfig.bucket_props` and its siblings;
* while the schedule is paused, the lister heartbeat alarm stays but its actions are disabled (the stack passes
  ``schedule_enabled`` to the alarms).

Every setting has one key (:mod:`stacks.settings`): an own field by its name (``allow_destroy``), a props field
as ``<section>.<field>`` (``workflow.batch_size``); ``docs/configuration.md`` lists them all
(``python -m stacks.config_doc`` writes it). Everything is checked in ``__post_init__``: an invalid configuration
fails at synth with a ``ValueError`` that names the key (``EnvironmentConfig('dev').workflow.batch_size must be
>= 1, got 0``) and says what to fix, before any construct is built. Overrides come from CDK context (``cdk.json``
or ``-c``, see :func:`apply_context_overrides`) or from Python (:meth:`EnvironmentConfig.override`)::

    npx cdk synth -c alarms.alarm_emails=ops@example.com      # a key without <env>.: every environment
    npx cdk synth -c prod.alarms.alarm_emails=a@example.com,b@example.com -c dev.allow_destroy=true
    npx cdk synth -c prod.alarms.existing_topic_arn=arn:aws:sns:eu-west-1:123456789012:oncall
    npx cdk synth -c dev.database.rotation_days=7
    # cdk.json: "context": {"dev": {"workflow.batch_size": 100}}

A name that is no longer a key (``-c prod.alarm_emails``, ``db_instance_type``) fails with the key to use.
An environment that requires an alarm subscriber refuses to synthesize without ``alarms.alarm_emails`` or
``alarms.existing_topic_arn`` (:meth:`EnvironmentConfig.missing_alarm_subscriber`, reported by
``DataPlatformStack`` as a synth error). The checked-in ``PROD`` has neither on purpose: the recipients are given
at deploy time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs

from platform_constructs import (
    JsonToParquetWorkflowSettings,
    PipelineAlarmsSettings,
    TrackedRawBucketProps,
    TrackingDatabaseProps,
)
from platform_constructs._shared.validation import PropsError, changed_fields, check_environment_name, check_field_types
from stacks.settings import FIXED, Catalog, coerce

__all__ = ["CATALOG", "DEV", "ENVIRONMENTS", "PROD", "EnvironmentConfig", "apply_context_overrides", "rule_values"]


def _data_removal_policy(allow_destroy: bool) -> RemovalPolicy:
    return RemovalPolicy.DESTROY if allow_destroy else RemovalPolicy.RETAIN


def _database_removal_policy(production: bool, allow_destroy: bool) -> RemovalPolicy:
    if production:
        return RemovalPolicy.RETAIN
    return RemovalPolicy.DESTROY if allow_destroy else RemovalPolicy.SNAPSHOT


def rule_values(production: bool, allow_destroy: bool) -> dict[str, dict[str, Any]]:
    """The props fields the production rules set, by section, and their values: these fields are no keys."""
    data = _data_removal_policy(allow_destroy)
    return {
        "bucket": {"removal_policy": data, "auto_delete_objects": allow_destroy, "production": production},
        "database": {"removal_policy": _database_removal_policy(production, allow_destroy), "production": production},
        "workflow": {"key_removal_policy": data, "production": production},
    }


@dataclass(frozen=True)
class EnvironmentConfig:
    """Everything that differs between environments; ``docs/configuration.md`` lists each key."""

    #: Required. ``dev``, ``prod``...; stack ``MlDataPlatform-<name>``, suffix of Glue names, ``--environment``
    #: argument and ``Environment`` metric dimension.
    environment_name: str = field(metadata={FIXED: True})
    #: Production rules apply: Multi-AZ database, deletion protection, >= 7 days of backups, RETAIN, no DESTROY.
    production: bool = field(default=False, metadata={FIXED: True})
    #: Refuse to synthesize without ``alarms.alarm_emails`` or ``alarms.existing_topic_arn``; ``None`` = required
    #: exactly in production.
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
        for section, owned_fields in CATALOG.rule_owned.items():
            props = getattr(self, section)
            owned = changed_fields(props, owned_fields)
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
    # Keys: an own field's name, or <section>.<field> (stacks.settings)
    # ------------------------------------------------------------------------------------------
    def _label(self) -> str:
        return f"EnvironmentConfig({self.environment_name!r})"

    def key_label(self, section: str | None, field_name: str) -> str:
        """``EnvironmentConfig('<env>').<key>`` of a field, as error messages name it."""
        return f"{self._label()}.{field_name if section is None else f'{section}.{field_name}'}"

    def setting(self, name: str) -> Any:
        """The value of the key ``name`` (``allow_destroy``, ``workflow.batch_size``)."""
        found = CATALOG.get(name)
        if found is None:
            raise KeyError(f"{name!r} {CATALOG.unknown(name)}")
        return found.read(self)

    def override(self, **settings: Any) -> EnvironmentConfig:
        """A copy with the keys in ``settings`` set, validated: ``DEV.override(allow_destroy=True)``,
        ``DEV.override(**{"workflow.batch_size": 100, "database.multi_az": True})``."""
        own: dict[str, Any] = {}
        sections: dict[str, dict[str, Any]] = {section: {} for section in CATALOG.sections}
        for name, value in settings.items():
            found = CATALOG.get(name)
            if found is None:
                raise ValueError(f"{self._label()}.{name} {CATALOG.unknown(name)}")
            if found.section is None:
                own[found.field] = value
            else:
                sections[found.section][found.field] = value
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
                "database.deletion_protection=true (turn it off by hand only to delete the environment on purpose)"
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
        return _data_removal_policy(self.allow_destroy)

    @property
    def database_removal_policy(self) -> RemovalPolicy:
        """Database: RETAIN in production, SNAPSHOT elsewhere, DESTROY only with ``allow_destroy``."""
        return _database_removal_policy(self.production, self.allow_destroy)

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
            f"{self.key_label('alarms', 'alarm_emails')} and alarms.existing_topic_arn are both empty, but "
            f"environment {env!r} requires an alarm subscriber (require_alarm_subscriber): its alarms would reach "
            f"nobody. Set -c {env}.alarms.alarm_emails=a@example.com (comma-separated addresses, each confirms by "
            f"mail) or -c {env}.alarms.existing_topic_arn=arn:aws:sns:<region>:<account-id>:<topic> (an existing "
            "topic, e.g. your on-call topic)"
        )

    # ------------------------------------------------------------------------------------------
    # The props the stack builds its constructs with: the sections with the production rules applied
    # ------------------------------------------------------------------------------------------
    def _with_rules(self, section: str) -> Any:
        rules = rule_values(self.production, self.allow_destroy)[section]
        return dataclasses.replace(getattr(self, section), **rules)

    def bucket_props(self) -> TrackedRawBucketProps:
        """``bucket`` with the data removal policy (auto-delete exactly with ``allow_destroy``)."""
        return self._with_rules("bucket")

    def database_props(self) -> TrackingDatabaseProps:
        """``database`` with the database removal policy."""
        return self._with_rules("database")

    def workflow_settings(self) -> JsonToParquetWorkflowSettings:
        """``workflow`` with the data removal policy for its key."""
        return self._with_rules("workflow")

    def alarms_settings(self) -> PipelineAlarmsSettings:
        """``alarms`` (the heartbeat is kept while the schedule is paused: the stack disables its actions)."""
        return self.alarms


#: Every key of an environment's configuration (``docs/configuration.md``), derived from the dataclasses.
CATALOG = Catalog.of(EnvironmentConfig, {section: tuple(rules) for section, rules in rule_values(False, False).items()})


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
        # Not prod's 10.40.0.0/16 (the props default, kept so that the deployed prod VPC is not replaced): the two
        # VPCs can be peered or share a transit gateway. Changing a VPC's CIDR replaces the VPC and the database.
        vpc_cidr="10.41.0.0/16",
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
        glue_log_retention=logs.RetentionDays.ONE_WEEK,
    ),
)

#: Production: data retained, Multi-AZ database with deletion protection, KMS, larger workers. Requires an alarm
#: subscriber (``alarms.alarm_emails`` or ``alarms.existing_topic_arn`` from context) to synthesize.
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
        glue_log_retention=logs.RetentionDays.THREE_MONTHS,
        failover_connection=True,
        # weekly drops PENDING within minutes, the daily inventory and the scheduled listing as reconciliation
        discovery_mode="events",
    ),
)

#: Every environment ``app.py`` builds, in order.
ENVIRONMENTS: tuple[EnvironmentConfig, ...] = (DEV, PROD)


def apply_context_overrides(config: EnvironmentConfig, context: Mapping[str, Any]) -> EnvironmentConfig:
    """``config`` with the keys that ``context`` (``cdk.json``, ``-c``) sets, coerced to their types and validated.

    Looked up, later ones winning: a key without ``<env>.`` (``-c alarms.alarm_emails=...``: every environment),
    a ``<env>`` object (``cdk.json``: ``"dev": {"workflow.batch_size": 100}``), and ``<env>.<key>`` keys
    (``-c dev.workflow.batch_size=100``). A name that is no longer a key fails with the key to use; other context
    keys without ``<env>.`` (feature flags) are not the configuration's.
    """
    env = config.environment_name
    raw: dict[str, tuple[str, str, Any]] = {}
    for context_key, value in context.items():
        if CATALOG.get(context_key) is not None or CATALOG.former(context_key) is not None:
            raw[context_key] = ("", context_key, value)
    scoped = context.get(env)
    if scoped is not None:
        if not isinstance(scoped, Mapping):
            raise ValueError(f"context {env!r} must be an object of EnvironmentConfig keys, got {scoped!r}")
        for name, value in scoped.items():
            raw[name] = (f"{env}.", f"{env}.{name}", value)
    for context_key, value in context.items():
        if context_key.startswith(f"{env}."):
            raw[context_key[len(env) + 1:]] = (f"{env}.", context_key, value)
    overrides: dict[str, Any] = {}
    for name, (scope, context_key, value) in raw.items():
        found = CATALOG.get(name)
        if found is None:
            raise ValueError(f"context {context_key} {CATALOG.unknown(name, scope)}")
        if found.fixed:
            raise ValueError(f"context {context_key} cannot be overridden: it defines the environment itself")
        overrides[name] = coerce(value, found.hint, context_key)
    return config.override(**overrides) if overrides else config
