"""One typed, validated configuration per environment (``DEV``, ``PROD``) and CDK-context overrides.

Every field is checked in ``__post_init__``: an invalid configuration fails at synth with a ``ValueError``
that names the field and says what to fix, before any construct is built.

Overrides come from CDK context (``cdk.json`` or ``-c``), see :func:`apply_context_overrides`::

    npx cdk synth -c alarm_emails=ops@example.com             # both environments
    npx cdk synth -c prod.alarm_emails=a@example.com,b@example.com -c dev.allow_destroy=true
    npx cdk synth -c prod.alarm_topic_arn=arn:aws:sns:eu-west-1:123456789012:oncall
    # cdk.json: "context": {"dev": {"batch_size": 100}}

An environment that requires an alarm subscriber (``require_alarm_subscriber``; production by default) refuses to
synthesize without ``alarm_emails`` or ``alarm_topic_arn`` (:meth:`EnvironmentConfig.missing_alarm_subscriber`,
reported by ``DataPlatformStack`` as a synth error). The checked-in ``PROD`` has neither on purpose: the
recipients are given at deploy time.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs

from platform_constructs.glue_schedule import validate_glue_cron
from platform_constructs.pipeline_alarms import sns_topic_arn_problem

_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_ENV_NAME = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_INSTANCE_TYPE = re.compile(r"^(db\.)?[a-z][a-z0-9-]*\.[a-z0-9]+$")
#: Retention periods CloudWatch Logs accepts, in days.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                      2922, 3288, 3653)
SPARK_WORKER_TYPES = ("G.1X", "G.2X", "G.4X", "G.8X")
#: Fields that a bare context key (without ``<env>.``) overrides in every environment.
SHARED_CONTEXT_FIELDS = ("alarm_emails",)
#: Fields that context may not override: they define what the environment *is*.
FIXED_FIELDS = ("environment_name", "production")
#: Former fields: a context key naming one fails with what to use instead.
RENAMED_FIELDS = {
    "processor_max_concurrent_runs": "the scheduled processor now always runs one at a time; set "
    "backfill_max_concurrent_runs for the parallel runs of the backfill job",
}


@dataclass(frozen=True)
class EnvironmentConfig:
    """Everything that differs between environments; see ``docs/infrastructure.md`` for each field.

    Attributes:
        environment_name: ``dev``, ``prod``...; stack ``MlDataPlatform-<name>``, metric dimension, name suffix.
        production: production rules apply: Multi-AZ database, deletion protection, RETAIN, no DESTROY.
        alarm_emails: addresses subscribed to the alarm topic (each confirms by mail).
        alarm_topic_arn: an existing SNS topic (e.g. an on-call topic) to publish the alarms to instead of
            creating one; ``alarm_emails`` are then subscribed to it.
        require_alarm_subscriber: refuse to synthesize without ``alarm_emails`` or ``alarm_topic_arn``;
            ``None`` = required exactly in production.
        allow_destroy: non-production only: delete buckets (emptied) and database with the stack.
        bucket_name: physical bucket name; ``None`` lets CloudFormation generate a unique one.
        bucket_encryption: ``KMS`` (customer-managed key, bucket key on) or ``S3_MANAGED`` (SSE-S3).
        processed_to_intelligent_tiering_days / processed_to_glacier_ir_days: archived raw JSON tiering.
        staging_expiry_days / dead_letter_expiry_days / noncurrent_version_expiry_days: expiry rules.
        db_instance_type / db_multi_az / db_deletion_protection: the tracking database instance.
        db_allocated_storage_gib / db_max_allocated_storage_gib: gp3 storage and its autoscaling ceiling.
        db_backup_retention_days: automated backup window (1-35 days).
        log_retention_days: retention of the database's exported logs and the VPC flow logs.
        schedule / schedule_enabled: the workflow's start trigger (AWS cron) and whether it starts enabled.
        batch_size / max_attempts / lease_seconds: processor claim settings.
        drain_minutes / backfill_drain_minutes: time budgets of scheduled and backfill processor runs.
        processor_worker_type / processor_number_of_workers / processor_timeout_minutes: the Spark processor
            job (scheduled runs, one at a time).
        backfill_max_concurrent_runs / backfill_number_of_workers: the backfill job (same script and worker
            type): parallel runs, and workers per run (``None`` = ``processor_number_of_workers``).
        lister_max_capacity / lister_timeout_minutes: the Python-shell lister job.
        metrics_namespace: CloudWatch namespace of the runtime's custom metrics.
        transform_spec_uri: optional ``s3://`` URI of a transform spec for the processor.
        backlog_age_alarm_seconds: oldest pending file older than this raises the backlog alarm.
    """

    environment_name: str
    production: bool = False
    alarm_emails: tuple[str, ...] = ()
    alarm_topic_arn: str | None = None
    require_alarm_subscriber: bool | None = None
    allow_destroy: bool = False
    bucket_name: str | None = None
    bucket_encryption: str = "KMS"
    processed_to_intelligent_tiering_days: int = 30
    processed_to_glacier_ir_days: int | None = None
    staging_expiry_days: int = 3
    dead_letter_expiry_days: int | None = None
    noncurrent_version_expiry_days: int = 30
    db_instance_type: str = "t4g.micro"
    db_multi_az: bool = False
    db_deletion_protection: bool = False
    db_allocated_storage_gib: int = 20
    db_max_allocated_storage_gib: int = 100
    db_backup_retention_days: int = 7
    log_retention_days: int = 30
    schedule: str = "cron(0/15 * * * ? *)"
    schedule_enabled: bool = True
    batch_size: int = 1000
    max_attempts: int = 3
    lease_seconds: int = 3600
    drain_minutes: int = 12
    backfill_drain_minutes: int = 480
    processor_worker_type: str = "G.1X"
    processor_number_of_workers: int = 2
    processor_timeout_minutes: int = 60
    backfill_max_concurrent_runs: int = 2
    backfill_number_of_workers: int | None = None
    lister_max_capacity: float = 0.0625
    lister_timeout_minutes: int = 30
    metrics_namespace: str = "MlDataPlatform"
    transform_spec_uri: str | None = None
    backlog_age_alarm_seconds: int = 86400

    def __post_init__(self) -> None:
        self._check_types()
        self._check_names()
        self._check_numbers()
        self._check_production()
        validate_glue_cron(self.schedule, self._field("schedule"))

    # ------------------------------------------------------------------------------------------
    # Derived settings
    # ------------------------------------------------------------------------------------------
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
    def log_retention(self) -> logs.RetentionDays:
        """``log_retention_days`` as the CDK enum."""
        return _RETENTION_BY_DAYS[self.log_retention_days]

    @property
    def alarm_subscriber_required(self) -> bool:
        """``require_alarm_subscriber``, or ``production`` when that is ``None``."""
        return self.production if self.require_alarm_subscriber is None else self.require_alarm_subscriber

    def missing_alarm_subscriber(self) -> str | None:
        """The synth error for an environment whose alarms would reach nobody, or ``None``.

        Not checked in ``__post_init__``: the checked-in ``PROD`` has no recipients (they are deployment
        settings), so ``DataPlatformStack`` reports this when it builds the environment's stack.
        """
        if not self.alarm_subscriber_required or self.alarm_emails or self.alarm_topic_arn is not None:
            return None
        env = self.environment_name
        return (
            f"{self._field('alarm_emails')} and alarm_topic_arn are both empty, but environment {env!r} requires an "
            f"alarm subscriber (require_alarm_subscriber): its alarms would reach nobody. Set "
            f"-c {env}.alarm_emails=a@example.com (comma-separated addresses, each confirms by mail) or "
            f"-c {env}.alarm_topic_arn=arn:aws:sns:<region>:<account-id>:<topic> (an existing topic, e.g. your "
            "on-call topic)"
        )

    # ------------------------------------------------------------------------------------------
    # Validation
    # ------------------------------------------------------------------------------------------
    def _field(self, name: str) -> str:
        return f"EnvironmentConfig({self.environment_name!r}).{name}"

    def _check_types(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not _matches(value, hints[f.name]):
                raise ValueError(
                    f"{self._field(f.name)} must be of type {_type_label(hints[f.name])}, got {value!r}"
                )

    def _check_names(self) -> None:
        if not _ENV_NAME.match(self.environment_name):
            raise ValueError(
                f"EnvironmentConfig.environment_name {self.environment_name!r} must be 1-20 lowercase letters, "
                "digits or '-', starting with a letter (e.g. 'dev')"
            )
        for email in self.alarm_emails:
            if not _EMAIL.match(email):
                raise ValueError(
                    f"{self._field('alarm_emails')} has {email!r}, which is not an e-mail address: "
                    "use name@domain.tld"
                )
        if self.bucket_name is not None and (not _BUCKET_NAME.match(self.bucket_name) or ".." in self.bucket_name):
            raise ValueError(
                f"{self._field('bucket_name')} {self.bucket_name!r} is not a valid S3 bucket name: 3-63 lowercase "
                "letters, digits, '.' or '-', or leave it None to let CloudFormation name the bucket"
            )
        if self.bucket_encryption not in ("KMS", "S3_MANAGED"):
            raise ValueError(f"{self._field('bucket_encryption')} must be 'KMS' or 'S3_MANAGED'")
        if not _INSTANCE_TYPE.match(self.db_instance_type):
            raise ValueError(
                f"{self._field('db_instance_type')} {self.db_instance_type!r} must look like 't4g.micro' or "
                "'db.m7g.large'"
            )
        if self.processor_worker_type not in SPARK_WORKER_TYPES:
            raise ValueError(f"{self._field('processor_worker_type')} must be one of {SPARK_WORKER_TYPES}")
        if self.transform_spec_uri is not None and not self.transform_spec_uri.startswith("s3://"):
            raise ValueError(f"{self._field('transform_spec_uri')} must be an s3:// URI or None")
        if self.alarm_topic_arn is not None and (problem := sns_topic_arn_problem(self.alarm_topic_arn)):
            raise ValueError(
                f"{self._field('alarm_topic_arn')} {problem}: give the ARN of an existing standard topic, or None to "
                "create one"
            )

    def _check_numbers(self) -> None:
        minimums = {
            "batch_size": 1, "max_attempts": 1, "lease_seconds": 60, "drain_minutes": 1,
            "backfill_drain_minutes": 1, "processor_number_of_workers": 2, "processor_timeout_minutes": 1,
            "backfill_max_concurrent_runs": 1, "lister_timeout_minutes": 1, "staging_expiry_days": 1,
            "noncurrent_version_expiry_days": 1, "db_allocated_storage_gib": 20, "backlog_age_alarm_seconds": 60,
            "processed_to_intelligent_tiering_days": 0, "db_backup_retention_days": 1,
        }
        for name, minimum in minimums.items():
            value = getattr(self, name)
            if value < minimum:
                raise ValueError(f"{self._field(name)} must be >= {minimum}, got {value}")
        if self.backfill_number_of_workers is not None and self.backfill_number_of_workers < 2:
            raise ValueError(
                f"{self._field('backfill_number_of_workers')} must be >= 2 (a Spark job's minimum) or None to use "
                f"processor_number_of_workers, got {self.backfill_number_of_workers}"
            )
        if self.db_backup_retention_days > 35:
            raise ValueError(f"{self._field('db_backup_retention_days')} must be at most 35 (RDS limit)")
        if self.db_max_allocated_storage_gib < self.db_allocated_storage_gib:
            raise ValueError(
                f"{self._field('db_max_allocated_storage_gib')} ({self.db_max_allocated_storage_gib}) must be >= "
                f"db_allocated_storage_gib ({self.db_allocated_storage_gib})"
            )
        if self.drain_minutes >= self.processor_timeout_minutes:
            raise ValueError(
                f"{self._field('drain_minutes')} ({self.drain_minutes}) must be less than processor_timeout_minutes "
                f"({self.processor_timeout_minutes}) so that a drain ends before Glue kills the run"
            )
        glacier = self.processed_to_glacier_ir_days
        if glacier is not None and not (60 <= glacier <= 90 and glacier > self.processed_to_intelligent_tiering_days):
            raise ValueError(
                f"{self._field('processed_to_glacier_ir_days')} must be 60-90 days and later than "
                f"processed_to_intelligent_tiering_days, or None; got {glacier}"
            )
        if self.dead_letter_expiry_days is not None and self.dead_letter_expiry_days < 1:
            raise ValueError(f"{self._field('dead_letter_expiry_days')} must be >= 1 or None")
        if self.log_retention_days not in _RETENTION_BY_DAYS:
            raise ValueError(
                f"{self._field('log_retention_days')} {self.log_retention_days} is not a CloudWatch Logs retention: "
                f"use one of {LOG_RETENTION_DAYS}"
            )
        if self.lister_max_capacity not in (0.0625, 1.0):
            raise ValueError(f"{self._field('lister_max_capacity')} must be 0.0625 or 1.0 (Python shell DPU)")

    def _check_production(self) -> None:
        if not self.production:
            return
        if not self.db_deletion_protection:
            raise ValueError(
                f"{self._field('db_deletion_protection')} must be True in production: set "
                "db_deletion_protection=True (turn it off by hand only to delete the environment on purpose)"
            )
        if not self.db_multi_az:
            raise ValueError(f"{self._field('db_multi_az')} must be True in production (a standby in a second AZ)")
        if self.allow_destroy:
            raise ValueError(
                f"{self._field('allow_destroy')} must be False in production: production data is always retained"
            )
        if self.db_backup_retention_days < 7:
            raise ValueError(f"{self._field('db_backup_retention_days')} must be at least 7 in production")


def _retention_by_days() -> dict[int, logs.RetentionDays]:
    # jsii enum members carry their names, not the day counts: map them in CloudWatch's order.
    names = ("ONE_DAY", "THREE_DAYS", "FIVE_DAYS", "ONE_WEEK", "TWO_WEEKS", "ONE_MONTH", "TWO_MONTHS",
             "THREE_MONTHS", "FOUR_MONTHS", "FIVE_MONTHS", "SIX_MONTHS", "ONE_YEAR", "THIRTEEN_MONTHS",
             "EIGHTEEN_MONTHS", "TWO_YEARS", "THREE_YEARS", "FIVE_YEARS", "SIX_YEARS", "SEVEN_YEARS",
             "EIGHT_YEARS", "NINE_YEARS", "TEN_YEARS")
    return {days: logs.RetentionDays[name] for days, name in zip(LOG_RETENTION_DAYS, names, strict=True)}


_RETENTION_BY_DAYS = _retention_by_days()


def _matches(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if origin is tuple:
        (item,) = typing.get_args(hint)[:1]
        return isinstance(value, tuple) and all(_matches(v, item) for v in value)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _type_label(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")


# ----------------------------------------------------------------------------------------------
# Context overrides
# ----------------------------------------------------------------------------------------------
def _coerce(value: Any, hint: Any, key: str) -> Any:
    """Turn a context value (``-c`` strings, or JSON from cdk.json) into the field's type."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        is_null = value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "null"))
        if is_null and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], key) if len(inner) == 1 else value
    if typing.get_origin(hint) is tuple:
        items = [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else list(value)
        return tuple(_coerce(v, args[0], key) for v in items)
    if hint is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no"):
            return False
        raise ValueError(f"context {key}={value!r} must be true or false")
    if hint in (int, float) and isinstance(value, str):
        try:
            return hint(value)
        except ValueError:
            raise ValueError(f"context {key}={value!r} must be a number") from None
    return value


def apply_context_overrides(config: EnvironmentConfig, context: Mapping[str, Any]) -> EnvironmentConfig:
    """``config`` with the fields that ``context`` overrides, validated again.

    Looked up, later ones winning: the shared bare keys (:data:`SHARED_CONTEXT_FIELDS`), a ``<env>`` dict
    (``cdk.json``: ``"dev": {"batch_size": 100}``), and ``<env>.<field>`` keys (``-c dev.batch_size=100``).
    """
    hints = typing.get_type_hints(EnvironmentConfig)
    names = {f.name for f in dataclasses.fields(EnvironmentConfig)}
    env = config.environment_name
    raw: dict[str, tuple[str, Any]] = {}
    for name in SHARED_CONTEXT_FIELDS:
        if context.get(name) is not None:
            raw[name] = (name, context[name])
    scoped = context.get(env)
    if scoped is not None:
        if not isinstance(scoped, Mapping):
            raise ValueError(f"context {env!r} must be an object of EnvironmentConfig fields, got {scoped!r}")
        for name, value in scoped.items():
            raw[name] = (f"{env}.{name}", value)
    for key, value in context.items():
        if key.startswith(f"{env}."):
            raw[key[len(env) + 1:]] = (key, value)
    overrides: dict[str, Any] = {}
    for name, (key, value) in raw.items():
        if name in RENAMED_FIELDS:
            raise ValueError(f"context {key} is no longer an EnvironmentConfig field: {RENAMED_FIELDS[name]}")
        if name not in names:
            raise ValueError(f"context {key} is not an EnvironmentConfig field; fields: {sorted(names)}")
        if name in FIXED_FIELDS:
            raise ValueError(f"context {key} cannot be overridden: it defines the environment itself")
        overrides[name] = _coerce(value, hints[name], key)
    return dataclasses.replace(config, **overrides) if overrides else config


#: Development: cheap and disposable (with ``allow_destroy``), small workers, short retention.
DEV = EnvironmentConfig(
    environment_name="dev",
    production=False,
    bucket_encryption="S3_MANAGED",
    staging_expiry_days=2,
    dead_letter_expiry_days=30,
    noncurrent_version_expiry_days=7,
    db_instance_type="t4g.micro",
    db_multi_az=False,
    db_deletion_protection=False,
    db_allocated_storage_gib=20,
    db_max_allocated_storage_gib=50,
    db_backup_retention_days=1,
    log_retention_days=7,
    batch_size=200,
    drain_minutes=12,
    backfill_drain_minutes=120,
    processor_worker_type="G.1X",
    processor_number_of_workers=2,
    processor_timeout_minutes=30,
    backfill_max_concurrent_runs=2,
    lister_timeout_minutes=20,
)

#: Production: data retained, Multi-AZ database with deletion protection, KMS, larger workers. Requires an alarm
#: subscriber (``alarm_emails`` or ``alarm_topic_arn`` from context) to synthesize.
PROD = EnvironmentConfig(
    environment_name="prod",
    production=True,
    require_alarm_subscriber=True,
    bucket_encryption="KMS",
    processed_to_intelligent_tiering_days=30,
    processed_to_glacier_ir_days=90,
    staging_expiry_days=3,
    dead_letter_expiry_days=None,
    noncurrent_version_expiry_days=30,
    db_instance_type="m7g.large",
    db_multi_az=True,
    db_deletion_protection=True,
    db_allocated_storage_gib=100,
    db_max_allocated_storage_gib=500,
    db_backup_retention_days=14,
    log_retention_days=90,
    batch_size=2000,
    drain_minutes=12,
    backfill_drain_minutes=480,
    processor_worker_type="G.2X",
    processor_number_of_workers=10,
    processor_timeout_minutes=60,
    backfill_max_concurrent_runs=4,
    lister_timeout_minutes=60,
)

#: Every environment ``app.py`` builds, in order.
ENVIRONMENTS: tuple[EnvironmentConfig, ...] = (DEV, PROD)
