"""``PipelineAlarmsProps`` default to the contract: the namespace the runtime publishes under."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from platform_contract import defaults

pytestmark = pytest.mark.infra


def _default(cls: type, name: str) -> Any:
    (f,) = [f for f in dataclasses.fields(cls) if f.name == name]
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def test_alarms_use_the_contracts_namespace() -> None:
    from platform_constructs.pipeline_alarms.props import PipelineAlarmsProps

    assert _default(PipelineAlarmsProps, "metrics_namespace") == defaults.METRICS_NAMESPACE
