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
        "@aws-cdk/core:someFeatureFlag": True,
    }
    dev = apply_context_overrides(DEV, context)
    prod = apply_context_overrides(PROD, context)
    assert dev.alarm_emails == prod.alarm_emails == ("ops@example.com", "oncall@example.com")
    assert (dev.batch_size, dev.allow_destroy) == (50, True)
    assert prod.batch_size == PROD.batch_size and not prod.allow_destroy
    assert prod.processor_number_of_workers == 20
    assert prod.dead_letter_expiry_days is None
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
        ({"dev.schedule": "cron(0/15 * * * * *)"}, r"exactly one of day-of-month"),
    ],
)
def test_invalid_context_fails_at_synth_with_a_message(context: dict[str, Any], message: str) -> None:
    base = PROD if any(key.startswith("prod") for key in context) else DEV
    with pytest.raises(ValueError, match=message):
        apply_context_overrides(base, context)
