"""EnvironmentConfig: per-environment invariants, validation messages and CDK-context overrides."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from stacks.config import DEV, PROD, EnvironmentConfig, apply_context_overrides

pytestmark = pytest.mark.infra


def test_dev_is_small_single_az_and_not_destroyable_by_default() -> None:
    from aws_cdk import RemovalPolicy
    from aws_cdk import aws_logs as logs

    assert (DEV.environment_name, DEV.stack_name) == ("dev", "MlDataPlatform-dev")
    assert DEV.database.instance_type == "t4g.micro" and not DEV.database.multi_az
    assert not DEV.database.deletion_protection
    assert DEV.data_removal_policy == RemovalPolicy.RETAIN
    assert DEV.database_removal_policy == RemovalPolicy.SNAPSHOT
    assert DEV.setting("database.cloudwatch_logs_retention") == logs.RetentionDays.ONE_WEEK
    assert PROD.setting("database.cloudwatch_logs_retention") == logs.RetentionDays.THREE_MONTHS
    destroyable = dataclasses.replace(DEV, allow_destroy=True)
    assert destroyable.data_removal_policy == RemovalPolicy.DESTROY
    assert destroyable.database_removal_policy == RemovalPolicy.DESTROY


def test_prod_keeps_data_and_has_larger_workers() -> None:
    from aws_cdk import RemovalPolicy

    assert PROD.production and PROD.database.multi_az and PROD.database.deletion_protection
    assert PROD.data_removal_policy == RemovalPolicy.RETAIN
    assert PROD.database_removal_policy == RemovalPolicy.RETAIN
    assert PROD.bucket.encryption == "KMS"
    assert PROD.workflow.processor_number_of_workers > DEV.workflow.processor_number_of_workers
    assert PROD.workflow.processor_worker_type == "G.2X"
    assert PROD.workflow.backfill_max_concurrent_runs > DEV.workflow.backfill_max_concurrent_runs


def test_backfill_job_settings_default_to_the_processor_workers() -> None:
    assert (DEV.workflow.backfill_max_concurrent_runs, PROD.workflow.backfill_max_concurrent_runs) == (2, 4)
    assert DEV.workflow.backfill_number_of_workers is None and PROD.workflow.backfill_number_of_workers is None
    bigger = PROD.override(**{"workflow.backfill_number_of_workers": 40, "workflow.backfill_max_concurrent_runs": 8})
    assert (bigger.workflow.backfill_number_of_workers, bigger.workflow.backfill_max_concurrent_runs) == (40, 8)


ONCALL = "arn:aws:sns:eu-west-1:123456789012:oncall"


def test_prod_requires_an_alarm_subscriber_and_says_what_to_set() -> None:
    assert PROD.alarm_subscriber_required and not DEV.alarm_subscriber_required
    message = PROD.missing_alarm_subscriber()
    assert message is not None
    assert "EnvironmentConfig('prod').alarms.alarm_emails and alarms.existing_topic_arn are both empty" in message
    assert "-c prod.alarms.alarm_emails=a@example.com" in message
    assert "-c prod.alarms.existing_topic_arn=arn:aws:sns:<region>:<account-id>:<topic>" in message
    assert PROD.override(**{"alarms.alarm_emails": ("oncall@example.com",)}).missing_alarm_subscriber() is None
    assert PROD.override(**{"alarms.existing_topic_arn": ONCALL}).missing_alarm_subscriber() is None
    assert dataclasses.replace(PROD, require_alarm_subscriber=False).missing_alarm_subscriber() is None
    assert DEV.missing_alarm_subscriber() is None
    strict_dev = dataclasses.replace(DEV, require_alarm_subscriber=True).missing_alarm_subscriber()
    assert strict_dev is not None and "-c dev.alarms.alarm_emails=" in strict_dev
    # None (the field default) follows `production`
    other_prod = dataclasses.replace(PROD, environment_name="prod-eu", require_alarm_subscriber=None)
    assert other_prod.missing_alarm_subscriber() is not None
    assert "-c prod-eu.alarms.existing_topic_arn=" in (other_prod.missing_alarm_subscriber() or "")


def test_alarm_topic_arn_accepts_standard_topics_in_any_partition() -> None:
    others = ("arn:aws-cn:sns:cn-north-1:123456789012:alarms", "arn:aws-us-gov:sns:us-gov-west-1:123456789012:a_b-c")
    for arn in (ONCALL, *others):
        assert PROD.override(**{"alarms.existing_topic_arn": arn}).alarms.existing_topic_arn == arn


@pytest.mark.parametrize(
    ("base", "changes", "message"),
    [
        (DEV, {"alarms.alarm_emails": ("not-an-email",)}, r"alarm_emails has 'not-an-email'.*name@domain\.tld"),
        (DEV, {"workflow.schedule": "cron(0/15 * * *)"}, r"schedule .* has 4 fields; AWS cron needs 6"),
        (DEV, {"workflow.schedule": "cron(61 * * * ? *)"}, r"minutes field '61' is invalid"),
        (DEV, {"workflow.schedule": "every 15 minutes"}, r"schedule .* must be an AWS cron expression"),
        (DEV, {"workflow.batch_size": 0}, r"workflow\.batch_size must be >= 1, got 0"),
        (DEV, {"workflow.batch_size": -5}, r"batch_size must be >= 1"),
        (DEV, {"workflow.drain_minutes": 30}, r"drain_minutes \(30\) must be less than processor_timeout_minutes"),
        (DEV, {"workflow.processor_worker_type": "G.3X"}, r"processor_worker_type must be one of"),
        (DEV, {"database.cloudwatch_logs_retention": 10}, r"cloudwatch_logs_retention must be of type RetentionDays"),
        (DEV, {"log_retention_days": 10}, r"log_retention_days is no longer an EnvironmentConfig field: use "
                                          r"database\.cloudwatch_logs_retention \(a logs\.RetentionDays name"),
        (DEV, {"bucket.bucket_name": "Bad_Bucket"}, r"bucket_name 'Bad_Bucket' is not a valid S3 bucket name"),
        (DEV, {"bucket.processed_to_glacier_ir_days": 30}, r"processed_to_glacier_ir_days must be 60-90"),
        (DEV, {"workflow.batch_size": "100"}, r"batch_size must be of type int"),
        (DEV, {"environment_name": "Dev Env"}, r"environment_name 'Dev Env' must be 1-20 lowercase"),
        (PROD, {"database.deletion_protection": False}, r"database\.deletion_protection must be True in production"),
        (PROD, {"database.multi_az": False}, r"database\.multi_az must be True in production"),
        (PROD, {"allow_destroy": True}, r"allow_destroy must be False in production"),
        (PROD, {"alarms.existing_topic_arn": "oncall"},
         r"existing_topic_arn 'oncall' is not an SNS topic ARN.*arn:<partition>:sns"),
        (PROD, {"alarms.existing_topic_arn": "arn:aws:sqs:eu-west-1:123456789012:q"},
         r"existing_topic_arn .* not an SNS topic"),
        (PROD, {"alarms.existing_topic_arn": ONCALL + ".fifo"},
         r"existing_topic_arn .* is a FIFO topic; CloudWatch alarms"),
        (PROD, {"require_alarm_subscriber": "yes"}, r"require_alarm_subscriber must be of type"),
        (DEV, {"workflow.backfill_max_concurrent_runs": 0}, r"backfill_max_concurrent_runs must be >= 1, got 0"),
        (DEV, {"workflow.backfill_number_of_workers": 1}, r"backfill_number_of_workers must be >= 2 .* or None"),
        # a former name fails with the one key to use
        (PROD, {"db_deletion_protection": False}, r"db_deletion_protection is no longer an EnvironmentConfig field: "
                                                  r"use database\.deletion_protection$"),
        (PROD, {"alarm_topic_arn": ONCALL}, r"alarm_topic_arn is no longer .*: use alarms\.existing_topic_arn$"),
        (DEV, {"batch_size": 0}, r"EnvironmentConfig\('dev'\)\.batch_size is not an EnvironmentConfig field: "
                                 r"use workflow\.batch_size"),
    ],
)
def test_invalid_configuration_names_the_field_and_the_fix(
    base: EnvironmentConfig, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        base.override(**changes)


def test_context_overrides_are_typed_and_scoped_per_environment() -> None:
    from aws_cdk import aws_logs as logs

    context = {
        "alarms.alarm_emails": "ops@example.com, oncall@example.com",
        "dev": {"workflow.batch_size": 50},
        "dev.allow_destroy": "true",
        "prod.workflow.processor_number_of_workers": "20",
        "prod.bucket.dead_letter_expiry_days": "none",
        "prod.alarms.existing_topic_arn": ONCALL,
        "prod.workflow.backfill_max_concurrent_runs": "10",
        "prod.workflow.backfill_number_of_workers": "40",
        "dev.require_alarm_subscriber": "true",
        "@aws-cdk/core:someFeatureFlag": True,
    }
    dev = apply_context_overrides(DEV, context)
    prod = apply_context_overrides(PROD, context)
    assert apply_context_overrides(DEV, {"dev.database.cloudwatch_logs_retention": "ONE_DAY"}).setting(
        "database.cloudwatch_logs_retention") == logs.RetentionDays.ONE_DAY
    assert dev.alarms.alarm_emails == prod.alarms.alarm_emails == ("ops@example.com", "oncall@example.com")
    assert (dev.workflow.batch_size, dev.allow_destroy) == (50, True)
    assert prod.workflow.batch_size == PROD.workflow.batch_size and not prod.allow_destroy
    assert prod.workflow.processor_number_of_workers == 20
    assert prod.bucket.dead_letter_expiry_days is None
    assert (prod.alarms.existing_topic_arn, dev.alarms.existing_topic_arn) == (ONCALL, None)
    assert (prod.workflow.backfill_max_concurrent_runs, prod.workflow.backfill_number_of_workers) == (10, 40)
    assert dev.require_alarm_subscriber is True and dev.missing_alarm_subscriber() is None  # it has addresses
    assert apply_context_overrides(PROD, {"prod.require_alarm_subscriber": "none"}).require_alarm_subscriber is None
    assert apply_context_overrides(DEV, {}) is DEV


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"prod.allow_destroy": "true"}, r"allow_destroy must be False in production"),
        ({"prod.database.deletion_protection": "false"}, r"deletion_protection must be True in production"),
        ({"alarms.alarm_emails": "ops@example"}, r"alarm_emails has 'ops@example'"),
        ({"dev.workflow.batch_size": "many"}, r"context dev\.workflow\.batch_size='many' must be a number"),
        ({"dev.workflow.batch_size": "0"}, r"batch_size must be >= 1"),
        ({"dev.allow_destroy": "maybe"}, r"context dev\.allow_destroy='maybe' must be true or false"),
        ({"dev.batchsize": "10"}, r"context dev\.batchsize is not an EnvironmentConfig field.*did you mean "
                                  r"dev\.workflow\.batch_size\?"),
        ({"prod.production": "false"}, r"context prod\.production cannot be overridden"),
        ({"prod.alarms.existing_topic_arn": "arn:aws:sns:eu-west-1:oncall"},
         r"existing_topic_arn .* is not an SNS topic ARN"),
        ({"dev.database.cloudwatch_logs_retention": "TEN_DAYS"},
         r"context dev\.database\.cloudwatch_logs_retention='TEN_DAYS' must be a RetentionDays name: one of"),
        ({"dev.alarms.period": "5"}, r"context dev\.alarms\.period cannot be set from context: a Duration"),
        (
            {"prod.processor_max_concurrent_runs": "5"},
            r"processor_max_concurrent_runs is no longer an EnvironmentConfig field: use "
            r"prod\.workflow\.backfill_max_concurrent_runs",
        ),
        (
            {"prod.staging_expiry_days": "3"},
            r"staging_expiry_days is no longer an EnvironmentConfig field: use prod\.bucket\.glue_temp_expiry_days "
            r"\(batch staging no longer expires",
        ),
        # the former names of every setting, in each place context takes a key: the one right key, never ignored
        ({"prod.alarm_emails": "ops@example.com"}, r"context prod\.alarm_emails .*: use prod\.alarms\.alarm_emails"),
        ({"alarm_emails": "ops@example.com"}, r"context alarm_emails .*: use alarms\.alarm_emails"),
        ({"prod": {"db_instance_type": "m7g.xlarge"}},
         r"context prod\.db_instance_type is no longer .*: use prod\.database\.instance_type"),
        ({"dev.log_retention_days": "7"}, r"context dev\.log_retention_days is no longer .*: use "
                                          r"dev\.database\.cloudwatch_logs_retention"),
        ({"dev.bucket_encryption": "KMS"}, r"use dev\.bucket\.encryption"),
        ({"dev.backlog_age_alarm_seconds": "60"}, r"use dev\.alarms\.backlog_age_seconds"),
        (
            {"prod.bucket.staging_expiry_days": "3"},
            r"bucket\.staging_expiry_days is no longer a prop: batch staging never expires .*set glue_temp_expiry_days",
        ),
        ({"dev.workflow.schedule": "cron(0/15 * * * * *)"}, r"exactly one of day-of-month"),
    ],
)
def test_invalid_context_fails_at_synth_with_a_message(context: dict[str, Any], message: str) -> None:
    base = PROD if any(key.startswith("prod") for key in context) else DEV
    with pytest.raises(ValueError, match=message):
        apply_context_overrides(base, context)


# ------------------------------------------------------------------------------------------------
# Composition: the configuration holds the constructs' own props types plus the production rules
# ------------------------------------------------------------------------------------------------
def test_configuration_is_composed_of_the_constructs_props_types() -> None:
    from platform_constructs import (
        JsonToParquetWorkflowSettings,
        PipelineAlarmsSettings,
        TrackedRawBucketProps,
        TrackingDatabaseProps,
    )
    from stacks.config import CATALOG

    expected = {"bucket": TrackedRawBucketProps, "database": TrackingDatabaseProps,
                "workflow": JsonToParquetWorkflowSettings, "alarms": PipelineAlarmsSettings}
    assert expected == CATALOG.sections
    own = {key for key, setting in CATALOG.settings.items() if setting.section is None}
    fields = {f.name for f in dataclasses.fields(EnvironmentConfig)}
    assert fields == own | set(CATALOG.sections)  # no props field is redeclared
    for config in (DEV, PROD):
        for section, props_type in CATALOG.sections.items():
            assert type(getattr(config, section)) is props_type


def test_production_rules_are_applied_to_the_props() -> None:
    from aws_cdk import RemovalPolicy

    destroyable = DEV.override(allow_destroy=True)
    assert (destroyable.bucket_props().removal_policy, destroyable.bucket_props().auto_delete_objects) == (
        RemovalPolicy.DESTROY, True)
    assert destroyable.database_props().removal_policy == RemovalPolicy.DESTROY
    assert destroyable.workflow_settings().key_removal_policy == RemovalPolicy.DESTROY
    assert not DEV.bucket_props().auto_delete_objects and DEV.database_props().removal_policy == RemovalPolicy.SNAPSHOT
    for props in (PROD.bucket_props(), PROD.database_props(), PROD.workflow_settings()):
        assert props.production
    assert PROD.bucket_props().removal_policy == PROD.database_props().removal_policy == RemovalPolicy.RETAIN
    assert DEV.alarms_settings().lister_heartbeat is True and DEV.alarms_settings().lister_heartbeat_minutes is None
    # issue 18 #8: pausing keeps the heartbeat (the stack disables its actions) instead of deleting it
    assert DEV.override(**{"workflow.schedule_enabled": False}).alarms_settings().lister_heartbeat is True


def test_fields_the_rules_own_stay_at_their_defaults() -> None:
    from aws_cdk import RemovalPolicy

    from platform_constructs.tracked_raw_bucket.props import TrackedRawBucketProps

    with pytest.raises(ValueError, match=r"EnvironmentConfig\('dev'\)\.bucket\.removal_policy is set by the "
                                         r"production rules"):
        dataclasses.replace(DEV, bucket=TrackedRawBucketProps(removal_policy=RemovalPolicy.DESTROY))
    with pytest.raises(ValueError, match=r"database\.production is set by the production rules"):
        DEV.override(**{"database.production": True})


def test_any_props_field_is_a_key_as_section_dot_field() -> None:
    assert DEV.override(**{"database.rotation_days": 7}).database.rotation_days == 7
    context = {"dev.database.rotation_days": "14", "dev.workflow.glue_version": "5.1",
               "dev.alarms.rds_cpu_percent": "90"}
    dev = apply_context_overrides(DEV, context)
    assert (dev.database.rotation_days, dev.workflow.glue_version, dev.alarms.rds_cpu_percent) == (14, "5.1", 90.0)
    assert dev.setting("database.rotation_days") == 14
    with pytest.raises(ValueError, match=r"EnvironmentConfig\('dev'\)\.database\.rotation_days must be between 1 and "
                                         r"365, got 400"):
        apply_context_overrides(DEV, {"dev.database.rotation_days": "400"})
    with pytest.raises(ValueError, match=r"context dev\.database\.no_such_field is not an EnvironmentConfig field"):
        apply_context_overrides(DEV, {"dev.database.no_such_field": "1"})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"database.instance_type": "micro"},
         r"EnvironmentConfig\('dev'\)\.database\.instance_type 'micro' is not an instance"),
        ({"database.allocated_storage_gib": 10},
         r"EnvironmentConfig\('dev'\)\.database\.allocated_storage_gib must be at least 20"),
        ({"bucket.encryption": "AES"}, r"EnvironmentConfig\('dev'\)\.bucket\.encryption must be one of"),
        ({"alarms.backlog_age_seconds": 0}, r"EnvironmentConfig\('dev'\)\.alarms\.backlog_age_seconds must be > 0"),
        ({"workflow.metrics_namespace": "AWS/Glue"},
         r"EnvironmentConfig\('dev'\)\.workflow\.metrics_namespace .* 'AWS/'"),
        ({"database.backup_retention_days": 36},
         r"EnvironmentConfig\('dev'\)\.database\.backup_retention_days must be between"),
        ({"database.cloudwatch_logs_retention": "7"},
         r"EnvironmentConfig\('dev'\)\.database\.cloudwatch_logs_retention must be of type RetentionDays"),
        # the former flat names fail with the key to use
        ({"db_instance_type": "micro"}, r"EnvironmentConfig\('dev'\)\.db_instance_type is no longer an "
                                        r"EnvironmentConfig field: use database\.instance_type$"),
        ({"db_allocated_storage_gib": 10},
         r"db_allocated_storage_gib is no longer .*: use database\.allocated_storage_gib$"),
        ({"bucket_encryption": "AES"}, r"bucket_encryption is no longer .*: use bucket\.encryption$"),
        ({"backlog_age_alarm_seconds": 0},
         r"backlog_age_alarm_seconds is no longer .*: use alarms\.backlog_age_seconds$"),
        ({"metrics_namespace": "AWS/Glue"}, r"metrics_namespace is not an .*: use workflow\.metrics_namespace"),
        ({"db_backup_retention_days": 36}, r"use database\.backup_retention_days$"),
        ({"log_retention_days": "7"}, r"use database\.cloudwatch_logs_retention \(a logs\.RetentionDays name"),
    ],
)
def test_errors_of_the_props_name_the_key_the_user_set(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DEV.override(**changes)


def test_every_key_reads_back_what_it_sets() -> None:
    from aws_cdk import aws_logs as logs

    from stacks.config import CATALOG

    for config in (DEV, PROD):
        for name in CATALOG.settings:
            assert config.override(**{name: config.setting(name)}) == config, name
    assert PROD.setting("database.instance_type") == "m7g.large"
    assert PROD.setting("database.cloudwatch_logs_retention") == logs.RetentionDays.THREE_MONTHS
    with pytest.raises(KeyError, match=r"'db_instance_type' is no longer .*: use database\.instance_type"):
        PROD.setting("db_instance_type")


def test_each_setting_has_one_key_derived_from_the_dataclasses() -> None:
    """Every field of every section is the key ``<section>.<field>`` (the rule-owned ones excepted), every own
    field its name; a former name is no key and points at one."""
    from stacks.config import CATALOG, rule_values
    from stacks.settings import FORMER_KEYS

    expected = {f.name for f in dataclasses.fields(EnvironmentConfig) if f.name not in CATALOG.sections}
    for section, props_type in CATALOG.sections.items():
        owned = set(rule_values(False, False).get(section, {}))
        expected |= {f"{section}.{f.name}" for f in dataclasses.fields(props_type) if f.name not in owned}
    assert set(CATALOG.settings) == expected
    assert CATALOG.rule_owned["bucket"] == ("removal_policy", "auto_delete_objects", "production")
    for former, (key, _note) in FORMER_KEYS.items():
        assert CATALOG.get(former) is None and CATALOG.get(key) is not None, former
    assert all(setting.description for setting in CATALOG.settings.values())


def test_each_environment_has_its_own_vpc_cidr_and_prod_keeps_its_deployed_one() -> None:
    """Issue 18 item 10: dev and prod VPCs do not overlap; prod keeps 10.40.0.0/16 (the props default it was
    deployed with: a changed CIDR replaces the VPC, and with it the database's subnets)."""
    from platform_constructs import TrackingDatabaseProps

    assert PROD.database.vpc_cidr == TrackingDatabaseProps().vpc_cidr == "10.40.0.0/16"
    assert DEV.database.vpc_cidr == "10.41.0.0/16"
    assert DEV.override(**{"database.vpc_cidr": "10.50.0.0/16"}).database.vpc_cidr == "10.50.0.0/16"


def test_prod_uses_the_failover_connection_and_longer_glue_log_retention() -> None:
    from aws_cdk import aws_logs as logs

    assert PROD.workflow.failover_connection and not DEV.workflow.failover_connection
    assert PROD.workflow.glue_log_retention == logs.RetentionDays.THREE_MONTHS
    assert DEV.workflow.glue_log_retention == logs.RetentionDays.ONE_WEEK
    assert PROD.bucket.raw_noncurrent_version_expiry_days == 3
