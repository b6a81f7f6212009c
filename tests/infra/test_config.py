"""EnvironmentConfig: per-environment invariants, validation messages and CDK-context overrides."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from stacks.config import DEV, PROD, EnvironmentConfig, apply_context_overrides

pytestmark = pytest.mark.infra


def test_dev_is_small_single_az_and_not_destroyable_by_default() -> None:
    from aws_cdk import RemovalPolicy

    assert (DEV.environment_name, DEV.stack_name) == ("dev", "MlDataPlatform-dev")
    assert DEV.db_instance_type == "t4g.micro" and not DEV.db_multi_az and not DEV.db_deletion_protection
    assert DEV.data_removal_policy == RemovalPolicy.RETAIN
    assert DEV.database_removal_policy == RemovalPolicy.SNAPSHOT
    assert DEV.log_retention_days < PROD.log_retention_days
    destroyable = dataclasses.replace(DEV, allow_destroy=True)
    assert destroyable.data_removal_policy == RemovalPolicy.DESTROY
    assert destroyable.database_removal_policy == RemovalPolicy.DESTROY


def test_prod_keeps_data_and_has_larger_workers() -> None:
    from aws_cdk import RemovalPolicy

    assert PROD.production and PROD.db_multi_az and PROD.db_deletion_protection
    assert PROD.data_removal_policy == RemovalPolicy.RETAIN
    assert PROD.database_removal_policy == RemovalPolicy.RETAIN
    assert PROD.bucket_encryption == "KMS"
    assert PROD.processor_number_of_workers > DEV.processor_number_of_workers
    assert PROD.processor_worker_type == "G.2X"
    assert PROD.backfill_max_concurrent_runs > DEV.backfill_max_concurrent_runs


def test_backfill_job_settings_default_to_the_processor_workers() -> None:
    assert (DEV.backfill_max_concurrent_runs, PROD.backfill_max_concurrent_runs) == (2, 4)
    assert DEV.backfill_number_of_workers is None and PROD.backfill_number_of_workers is None
    bigger = dataclasses.replace(PROD, backfill_number_of_workers=40, backfill_max_concurrent_runs=8)
    assert (bigger.backfill_number_of_workers, bigger.backfill_max_concurrent_runs) == (40, 8)


ONCALL = "arn:aws:sns:eu-west-1:123456789012:oncall"


def test_prod_requires_an_alarm_subscriber_and_says_what_to_set() -> None:
    assert PROD.alarm_subscriber_required and not DEV.alarm_subscriber_required
    message = PROD.missing_alarm_subscriber()
    assert message is not None
    assert "EnvironmentConfig('prod').alarm_emails and alarm_topic_arn are both empty" in message
    assert "-c prod.alarm_emails=a@example.com" in message
    assert "-c prod.alarm_topic_arn=arn:aws:sns:<region>:<account-id>:<topic>" in message
    assert dataclasses.replace(PROD, alarm_emails=("oncall@example.com",)).missing_alarm_subscriber() is None
    assert dataclasses.replace(PROD, alarm_topic_arn=ONCALL).missing_alarm_subscriber() is None
    assert dataclasses.replace(PROD, require_alarm_subscriber=False).missing_alarm_subscriber() is None
    assert DEV.missing_alarm_subscriber() is None
    strict_dev = dataclasses.replace(DEV, require_alarm_subscriber=True).missing_alarm_subscriber()
    assert strict_dev is not None and "-c dev.alarm_emails=" in strict_dev
    # None (the field default) follows `production`
    other_prod = dataclasses.replace(PROD, environment_name="prod-eu", require_alarm_subscriber=None)
    assert other_prod.missing_alarm_subscriber() is not None
    assert "-c prod-eu.alarm_topic_arn=" in (other_prod.missing_alarm_subscriber() or "")


def test_alarm_topic_arn_accepts_standard_topics_in_any_partition() -> None:
    others = ("arn:aws-cn:sns:cn-north-1:123456789012:alarms", "arn:aws-us-gov:sns:us-gov-west-1:123456789012:a_b-c")
    for arn in (ONCALL, *others):
        assert dataclasses.replace(PROD, alarm_topic_arn=arn).alarm_topic_arn == arn


@pytest.mark.parametrize(
    ("base", "changes", "message"),
    [
        (DEV, {"alarm_emails": ("not-an-email",)}, r"alarm_emails has 'not-an-email'.*name@domain\.tld"),
        (DEV, {"schedule": "cron(0/15 * * *)"}, r"schedule .* has 4 fields; AWS cron needs 6"),
        (DEV, {"schedule": "cron(61 * * * ? *)"}, r"minutes field '61' is invalid"),
        (DEV, {"schedule": "every 15 minutes"}, r"schedule .* must be an AWS cron expression"),
        (DEV, {"batch_size": 0}, r"batch_size must be >= 1, got 0"),
        (DEV, {"batch_size": -5}, r"batch_size must be >= 1"),
        (DEV, {"drain_minutes": 30}, r"drain_minutes \(30\) must be less than processor_timeout_minutes"),
        (DEV, {"processor_worker_type": "G.3X"}, r"processor_worker_type must be one of"),
        (DEV, {"log_retention_days": 10}, r"log_retention_days 10 is not a CloudWatch Logs retention"),
        (DEV, {"bucket_name": "Bad_Bucket"}, r"bucket_name 'Bad_Bucket' is not a valid S3 bucket name"),
        (DEV, {"processed_to_glacier_ir_days": 30}, r"processed_to_glacier_ir_days must be 60-90"),
        (DEV, {"batch_size": "100"}, r"batch_size must be of type int"),
        (DEV, {"environment_name": "Dev Env"}, r"environment_name 'Dev Env' must be 1-20 lowercase"),
        (PROD, {"db_deletion_protection": False}, r"db_deletion_protection must be True in production"),
        (PROD, {"db_multi_az": False}, r"db_multi_az must be True in production"),
        (PROD, {"allow_destroy": True}, r"allow_destroy must be False in production"),
        (PROD, {"alarm_topic_arn": "oncall"}, r"alarm_topic_arn 'oncall' is not an SNS topic ARN.*arn:<partition>:sns"),
        (PROD, {"alarm_topic_arn": "arn:aws:sqs:eu-west-1:123456789012:q"}, r"alarm_topic_arn .* not an SNS topic"),
        (PROD, {"alarm_topic_arn": ONCALL + ".fifo"}, r"alarm_topic_arn .* is a FIFO topic; CloudWatch alarms"),
        (PROD, {"require_alarm_subscriber": "yes"}, r"require_alarm_subscriber must be of type"),
        (DEV, {"backfill_max_concurrent_runs": 0}, r"backfill_max_concurrent_runs must be >= 1, got 0"),
        (DEV, {"backfill_number_of_workers": 1}, r"backfill_number_of_workers must be >= 2 .* or None"),
    ],
)
def test_invalid_configuration_names_the_field_and_the_fix(
    base: EnvironmentConfig, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(base, **changes)


def test_context_overrides_are_typed_and_scoped_per_environment() -> None:
    context = {
        "alarm_emails": "ops@example.com, oncall@example.com",
        "dev": {"batch_size": 50},
        "dev.allow_destroy": "true",
        "prod.processor_number_of_workers": "20",
        "prod.dead_letter_expiry_days": "none",
        "prod.alarm_topic_arn": ONCALL,
        "prod.backfill_max_concurrent_runs": "10",
        "prod.backfill_number_of_workers": "40",
        "dev.require_alarm_subscriber": "true",
        "@aws-cdk/core:someFeatureFlag": True,
    }
    dev = apply_context_overrides(DEV, context)
    prod = apply_context_overrides(PROD, context)
    assert dev.alarm_emails == prod.alarm_emails == ("ops@example.com", "oncall@example.com")
    assert (dev.batch_size, dev.allow_destroy) == (50, True)
    assert prod.batch_size == PROD.batch_size and not prod.allow_destroy
    assert prod.processor_number_of_workers == 20
    assert prod.dead_letter_expiry_days is None
    assert (prod.alarm_topic_arn, dev.alarm_topic_arn) == (ONCALL, None)
    assert (prod.backfill_max_concurrent_runs, prod.backfill_number_of_workers) == (10, 40)
    assert dev.require_alarm_subscriber is True and dev.missing_alarm_subscriber() is None  # it has addresses
    assert apply_context_overrides(PROD, {"prod.require_alarm_subscriber": "none"}).require_alarm_subscriber is None
    assert apply_context_overrides(DEV, {}) is DEV


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"prod.allow_destroy": "true"}, r"allow_destroy must be False in production"),
        ({"prod.db_deletion_protection": "false"}, r"db_deletion_protection must be True in production"),
        ({"alarm_emails": "ops@example"}, r"alarm_emails has 'ops@example'"),
        ({"dev.batch_size": "many"}, r"context dev\.batch_size='many' must be a number"),
        ({"dev.batch_size": "0"}, r"batch_size must be >= 1"),
        ({"dev.allow_destroy": "maybe"}, r"context dev\.allow_destroy='maybe' must be true or false"),
        ({"dev.batchsize": "10"}, r"context dev\.batchsize is not an EnvironmentConfig field"),
        ({"prod.production": "false"}, r"context prod\.production cannot be overridden"),
        ({"prod.alarm_topic_arn": "arn:aws:sns:eu-west-1:oncall"}, r"alarm_topic_arn .* is not an SNS topic ARN"),
        (
            {"prod.processor_max_concurrent_runs": "5"},
            r"processor_max_concurrent_runs is no longer an EnvironmentConfig field: .*backfill_max_concurrent_runs",
        ),
        ({"dev.schedule": "cron(0/15 * * * * *)"}, r"exactly one of day-of-month"),
    ],
)
def test_invalid_context_fails_at_synth_with_a_message(context: dict[str, Any], message: str) -> None:
    base = PROD if any(key.startswith("prod") for key in context) else DEV
    with pytest.raises(ValueError, match=message):
        apply_context_overrides(base, context)
