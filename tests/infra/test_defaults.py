"""The constructs deploy the contract's defaults: the props default to :mod:`platform_contract.defaults`, which the
runtime's options default to as well (one copy, imported by both halves)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from platform_contract import defaults

pytestmark = pytest.mark.infra


def _default(cls: type, name: str) -> Any:
    (f,) = [f for f in dataclasses.fields(cls) if f.name == name]
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def test_workflow_props_default_to_the_shared_values() -> None:
    from platform_constructs.json_to_parquet_workflow.props import JsonToParquetWorkflowProps

    expected = {
        "batch_size": defaults.BATCH_SIZE,
        "max_attempts": defaults.MAX_ATTEMPTS,
        "lease_seconds": defaults.LEASE_SECONDS,
        "drain_minutes": defaults.DRAIN_MINUTES,
        "backfill_drain_minutes": defaults.BACKFILL_DRAIN_MINUTES,
        "metrics_namespace": defaults.METRICS_NAMESPACE,
    }
    assert {name: _default(JsonToParquetWorkflowProps, name) for name in expected} == expected


def test_alarms_use_the_contracts_namespace() -> None:
    from platform_constructs.pipeline_alarms.props import PipelineAlarmsProps

    assert _default(PipelineAlarmsProps, "metrics_namespace") == defaults.METRICS_NAMESPACE


def test_the_lister_chunk_size_is_left_to_the_runtime() -> None:
    """The constructs set no ``--chunk-size``: the lister registers ``LISTER_CHUNK_SIZE`` keys per transaction."""
    from platform_constructs.json_to_parquet_workflow.job_arguments import LISTER_RESERVED

    assert "--chunk-size" not in LISTER_RESERVED
    assert defaults.LISTER_CHUNK_SIZE > 0
