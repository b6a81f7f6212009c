"""The settings keys of :class:`stacks.config.EnvironmentConfig`: what ``-c <env>.<key>=...`` can set, and how.

An environment's configuration holds the constructs' own props types (``bucket``, ``database``, ``workflow``,
``alarms``); a *key* names one field of one of them. The documented keys (``docs/infrastructure.md``, the table of
:data:`DOCUMENTED_KEYS`) keep the flat names operators use (``batch_size``, ``db_instance_type``,
``log_retention_days``); any other props field is reachable as ``<section>.<field>`` (``database.rotation_days``).
The configuration's own fields (``production``, ``allow_destroy``, ...) are keys too. Nothing here re-declares a
rule or a default: the value goes to the props field, and the props' ``validate()`` judges it.

:func:`apply_context_overrides` reads keys from CDK context (``cdk.json`` or ``-c``), turning strings into the
field's type; an unknown or fixed key fails with the key in the message.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_cdk import aws_logs as logs

from platform_constructs.json_to_parquet_workflow_props import JsonToParquetWorkflowSettings
from platform_constructs.pipeline_alarms_props import PipelineAlarmsSettings
from platform_constructs.tracked_raw_bucket_props import TrackedRawBucketProps
from platform_constructs.tracking_database_props import TrackingDatabaseProps

if TYPE_CHECKING:
    from stacks.config import EnvironmentConfig

#: The props types an environment's configuration is composed of, by section name.
SECTIONS: dict[str, type] = {
    "bucket": TrackedRawBucketProps,
    "database": TrackingDatabaseProps,
    "workflow": JsonToParquetWorkflowSettings,
    "alarms": PipelineAlarmsSettings,
}
#: The configuration's own fields (identity and production rules), keys of their own.
OWN_FIELDS = ("environment_name", "production", "require_alarm_subscriber", "allow_destroy")
#: Props fields that the production rules set (``production``, ``allow_destroy``); a configuration leaves them at
#: their defaults.
RULE_FIELDS: dict[str, tuple[str, ...]] = {
    "bucket": ("removal_policy", "auto_delete_objects", "production"),
    "database": ("removal_policy", "production"),
    "workflow": ("key_removal_policy", "production"),
    "alarms": (),
}
#: Keys that a bare context key (without ``<env>.``) overrides in every environment.
SHARED_CONTEXT_FIELDS = ("alarm_emails",)
#: Keys that context may not override: they define what the environment *is*.
FIXED_FIELDS = ("environment_name", "production")
#: Former keys: a context key naming one fails with what to use instead.
RENAMED_FIELDS = {
    "processor_max_concurrent_runs": "the scheduled processor now always runs one at a time; set "
    "backfill_max_concurrent_runs for the parallel runs of the backfill job",
    "staging_expiry_days": "batch staging no longer expires (each processor run deletes the staging of closed "
    "batches; an open batch needs its own); set glue_temp_expiry_days for the expiry of Glue's scratch space "
    "(<staging_prefix>_glue_temporary/)",
}
#: Retention periods CloudWatch Logs accepts, in days, and their ``logs.RetentionDays`` members.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                      2922, 3288, 3653)
_RETENTION_NAMES = ("ONE_DAY", "THREE_DAYS", "FIVE_DAYS", "ONE_WEEK", "TWO_WEEKS", "ONE_MONTH", "TWO_MONTHS",
                    "THREE_MONTHS", "FOUR_MONTHS", "FIVE_MONTHS", "SIX_MONTHS", "ONE_YEAR", "THIRTEEN_MONTHS",
                    "EIGHTEEN_MONTHS", "TWO_YEARS", "THREE_YEARS", "FIVE_YEARS", "SIX_YEARS", "SEVEN_YEARS",
                    "EIGHT_YEARS", "NINE_YEARS", "TEN_YEARS")
# jsii enum members carry their names, not the day counts: map them in CloudWatch's order.
RETENTION_BY_DAYS: dict[int, logs.RetentionDays] = {
    days: logs.RetentionDays[name] for days, name in zip(LOG_RETENTION_DAYS, _RETENTION_NAMES, strict=True)
}


def retention_from_days(days: Any) -> logs.RetentionDays:
    """``log_retention_days`` -> ``logs.RetentionDays``; a ``ValueError`` with the problem for other values."""
    if isinstance(days, bool) or not isinstance(days, int) or days not in RETENTION_BY_DAYS:
        raise ValueError(f"{days!r} is not a CloudWatch Logs retention: use one of {LOG_RETENTION_DAYS}")
    return RETENTION_BY_DAYS[days]


def retention_days(retention: logs.RetentionDays) -> int:
    """``logs.RetentionDays`` -> days."""
    return next(days for days, member in RETENTION_BY_DAYS.items() if member == retention)


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Key:
    """One settings key: the field it sets, and how its value maps to the field's (``log_retention_days``)."""

    #: The key as written in context (``db_instance_type``, ``database.rotation_days``).
    name: str
    #: ``bucket``, ``database``, ``workflow``, ``alarms``, or ``None`` for the configuration's own fields.
    section: str | None
    #: The field of that section (or of the configuration).
    field: str
    #: Value of the key -> value of the field; raises ``ValueError(problem)`` for a value that has none.
    to_field: Callable[[Any], Any] = _same
    #: Value of the field -> value of the key.
    from_field: Callable[[Any], Any] = _same
    #: Type of the key's value, when it differs from the field's (context strings are coerced to it).
    hint: Any = None

    def type_hint(self, config_type: type) -> Any:
        """The type context values of this key are coerced to."""
        if self.hint is not None:
            return self.hint
        owner = config_type if self.section is None else SECTIONS[self.section]
        return typing.get_type_hints(owner)[self.field]


def _keys(section: str, *fields: str, prefix: str = "") -> dict[str, Key]:
    return {f"{prefix}{name}": Key(f"{prefix}{name}", section, name) for name in fields}


#: The documented keys (``docs/infrastructure.md``), by name.
DOCUMENTED_KEYS: dict[str, Key] = {
    **{name: Key(name, None, name) for name in OWN_FIELDS},
    "alarm_emails": Key("alarm_emails", "alarms", "alarm_emails"),
    "alarm_topic_arn": Key("alarm_topic_arn", "alarms", "existing_topic_arn"),
    "backlog_age_alarm_seconds": Key("backlog_age_alarm_seconds", "alarms", "backlog_age_seconds"),
    "bucket_name": Key("bucket_name", "bucket", "bucket_name"),
    "bucket_encryption": Key("bucket_encryption", "bucket", "encryption"),
    **_keys("bucket", "processed_to_intelligent_tiering_days", "processed_to_glacier_ir_days",
            "glue_temp_expiry_days", "dead_letter_expiry_days", "noncurrent_version_expiry_days"),
    **_keys("database", "instance_type", "multi_az", "deletion_protection", "allocated_storage_gib",
            "max_allocated_storage_gib", "backup_retention_days", prefix="db_"),
    "log_retention_days": Key("log_retention_days", "database", "cloudwatch_logs_retention",
                              to_field=retention_from_days, from_field=retention_days, hint=int),
    **_keys("workflow", "schedule", "schedule_enabled", "batch_size", "max_attempts", "lease_seconds",
            "drain_minutes", "backfill_drain_minutes", "processor_worker_type", "processor_number_of_workers",
            "processor_timeout_minutes", "backfill_max_concurrent_runs", "backfill_number_of_workers",
            "lister_max_capacity", "lister_timeout_minutes", "metrics_namespace", "transform_spec_uri"),
}


def key(name: str) -> Key | None:
    """The key ``name``: a documented key, or ``<section>.<field>`` of a props field; ``None`` if neither."""
    if name in DOCUMENTED_KEYS:
        return DOCUMENTED_KEYS[name]
    section, dot, field = name.partition(".")
    if dot and section in SECTIONS and field in SECTIONS[section].__dataclass_fields__:
        return Key(name, section, field)
    return None


def key_name(section: str | None, field: str) -> str:
    """The name operators know the field by: its documented key, else ``<section>.<field>``."""
    for documented in DOCUMENTED_KEYS.values():
        if (documented.section, documented.field) == (section, field):
            return documented.name
    return field if section is None else f"{section}.{field}"


# ------------------------------------------------------------------------------------------------------------
# Context
# ------------------------------------------------------------------------------------------------------------
def coerce(value: Any, hint: Any, context_key: str) -> Any:
    """Turn a context value (``-c`` strings, or JSON from cdk.json) into the type ``hint``."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        is_null = value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "null"))
        if is_null and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return coerce(value, inner[0], context_key) if len(inner) == 1 else value
    if typing.get_origin(hint) is tuple:
        items = [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else list(value)
        return tuple(coerce(v, args[0], context_key) for v in items)
    if hint is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no"):
            return False
        raise ValueError(f"context {context_key}={value!r} must be true or false")
    if hint in (int, float) and isinstance(value, str):
        try:
            return hint(value)
        except ValueError:
            raise ValueError(f"context {context_key}={value!r} must be a number") from None
    return value


def apply_context_overrides(config: EnvironmentConfig, context: Mapping[str, Any]) -> EnvironmentConfig:
    """``config`` with the keys that ``context`` overrides, validated again.

    Looked up, later ones winning: the shared bare keys (:data:`SHARED_CONTEXT_FIELDS`), a ``<env>`` dict
    (``cdk.json``: ``"dev": {"batch_size": 100}``), and ``<env>.<key>`` keys (``-c dev.batch_size=100``).
    """
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
    for context_key, value in context.items():
        if context_key.startswith(f"{env}."):
            raw[context_key[len(env) + 1:]] = (context_key, value)
    overrides: dict[str, Any] = {}
    for name, (context_key, value) in raw.items():
        if name in RENAMED_FIELDS:
            raise ValueError(f"context {context_key} is no longer an EnvironmentConfig field: {RENAMED_FIELDS[name]}")
        found = key(name)
        if found is None:
            raise ValueError(
                f"context {context_key} is not an EnvironmentConfig field; fields: {sorted(DOCUMENTED_KEYS)} "
                f"or <section>.<field> of {sorted(SECTIONS)}"
            )
        if name in FIXED_FIELDS:
            raise ValueError(f"context {context_key} cannot be overridden: it defines the environment itself")
        overrides[name] = coerce(value, found.type_hint(type(config)), context_key)
    return config.override(**overrides) if overrides else config
