"""Reusable AWS CDK constructs of the tracked JSON -> Parquet platform.

``from platform_constructs import TrackedRawBucket, TrackingDatabase, JsonToParquetWorkflow, PipelineAlarms``
(and their ``*Props``; ``*Settings`` for the workflow and alarms are their props without the constructs they are
wired to). The construct modules are imported lazily (PEP 562), so that ``platform_contract.metrics`` - the
metric contract shared with the runtime - and ``platform_constructs.defaults`` can be imported without loading
aws_cdk.

Layout: each public construct ``X`` lives in ``x.py``, its props and their rules in ``x_props.py``, and the parts of
a long construct in ``x_<part>.py`` (``pipeline_alarms_topic``, ``_metrics``, ``_table``, ``_dashboard``;
``json_to_parquet_job_arguments``, ``_triggers``; ``tracked_raw_bucket_lifecycle``, ``_grants``). Rules several
props share are in ``validation.py``, defaults shared with the runtime in ``defaults.py``, the removal-policy guard in
``removal_policy.py``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from platform_constructs.json_to_parquet_workflow import JsonToParquetWorkflow
    from platform_constructs.json_to_parquet_workflow_props import (
        JsonToParquetWorkflowProps,
        JsonToParquetWorkflowSettings,
    )
    from platform_constructs.pipeline_alarms import PipelineAlarms
    from platform_constructs.pipeline_alarms_props import PipelineAlarmsProps, PipelineAlarmsSettings
    from platform_constructs.tracked_raw_bucket import TrackedRawBucket
    from platform_constructs.tracked_raw_bucket_props import TrackedRawBucketProps
    from platform_constructs.tracking_database import TrackingDatabase
    from platform_constructs.tracking_database_props import TrackingDatabaseProps

_EXPORTS: dict[str, str] = {
    "TrackedRawBucket": "platform_constructs.tracked_raw_bucket",
    "TrackedRawBucketProps": "platform_constructs.tracked_raw_bucket_props",
    "TrackingDatabase": "platform_constructs.tracking_database",
    "TrackingDatabaseProps": "platform_constructs.tracking_database_props",
    "PipelineAlarms": "platform_constructs.pipeline_alarms",
    "PipelineAlarmsProps": "platform_constructs.pipeline_alarms_props",
    "PipelineAlarmsSettings": "platform_constructs.pipeline_alarms_props",
    "JsonToParquetWorkflow": "platform_constructs.json_to_parquet_workflow",
    "JsonToParquetWorkflowProps": "platform_constructs.json_to_parquet_workflow_props",
    "JsonToParquetWorkflowSettings": "platform_constructs.json_to_parquet_workflow_props",
}

__all__ = [
    "JsonToParquetWorkflow",
    "JsonToParquetWorkflowProps",
    "JsonToParquetWorkflowSettings",
    "PipelineAlarms",
    "PipelineAlarmsProps",
    "PipelineAlarmsSettings",
    "TrackedRawBucket",
    "TrackedRawBucketProps",
    "TrackingDatabase",
    "TrackingDatabaseProps",
]


def __getattr__(name: str) -> Any:
    """Import the construct module that defines ``name`` on first access."""
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'platform_constructs' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
