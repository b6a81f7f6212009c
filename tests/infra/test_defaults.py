"""The constructs deploy the runtime's defaults: ``platform_constructs/defaults.py`` equals ``runtime/defaults.py``.

The constructs cannot import the runtime, so the values both sides must agree on are stated once on each side;
this test is what keeps the two in step (and the props default to the constructs' constants, never to literals).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from platform_constructs import defaults, metric_names
from runtime import defaults as runtime_defaults

pytestmark = pytest.mark.infra


def _default(cls: type, name: str) -> Any:
    (f,) = [f for f in dataclasses.fields(cls) if f.name == name]
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def test_every_constructs_default_equals_the_runtimes() -> None:
    assert defaults.__all__, "nothing to compare"
    for name in defaults.__all__:
        assert getattr(defaults, name) == getattr(runtime_defaults, name), name
    assert (defaults.BATCH_SIZE, defaults.MAX_ATTEMPTS, defaults.LEASE_SECONDS) == (1000, 3, 300)


def test_workflow_props_default_to_the_shared_values() -> None:
    from platform_constructs.json_to_parquet_workflow_props import JsonToParquetWorkflowProps

    expected = {
        "batch_size": runtime_defaults.BATCH_SIZE,
        "max_attempts": runtime_defaults.MAX_ATTEMPTS,
        "lease_seconds": runtime_defaults.LEASE_SECONDS,
        "drain_minutes": runtime_defaults.DRAIN_MINUTES,
        "backfill_drain_minutes": runtime_defaults.BACKFILL_DRAIN_MINUTES,
        "metrics_namespace": runtime_defaults.METRICS_NAMESPACE,
    }
    assert {name: _default(JsonToParquetWorkflowProps, name) for name in expected} == expected


def test_alarms_and_metric_contract_use_the_runtime_namespace() -> None:
    from platform_constructs.pipeline_alarms_props import PipelineAlarmsProps

    assert _default(PipelineAlarmsProps, "metrics_namespace") == runtime_defaults.METRICS_NAMESPACE
    assert metric_names.DEFAULT_NAMESPACE == runtime_defaults.METRICS_NAMESPACE


def test_environment_names_follow_the_runtimes_one_rule() -> None:
    from platform_constructs.validation import ENVIRONMENT_NAME

    assert ENVIRONMENT_NAME.pattern == runtime_defaults.ENVIRONMENT_NAME_PATTERN


def test_the_lister_chunk_size_is_left_to_the_runtime() -> None:
    """The constructs set no ``--chunk-size``: the lister registers ``LISTER_CHUNK_SIZE`` keys per transaction."""
    from platform_constructs.json_to_parquet_job_arguments import LISTER_RESERVED

    assert "--chunk-size" not in LISTER_RESERVED
    assert runtime_defaults.LISTER_CHUNK_SIZE > 0
