"""Reusable AWS CDK constructs of the tracked JSON -> Parquet platform.

``from platform_constructs import TrackedRawBucket, TrackingDatabase, JsonToParquetWorkflow, PipelineAlarms``
(and their ``*Props``). The construct modules are imported lazily (PEP 562), so that
``platform_constructs.metric_names`` - the metric contract shared with the runtime - can be
imported without loading aws_cdk.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from platform_constructs.json_to_parquet_workflow import JsonToParquetWorkflow, JsonToParquetWorkflowProps
    from platform_constructs.pipeline_alarms import PipelineAlarms, PipelineAlarmsProps
    from platform_constructs.tracked_raw_bucket import TrackedRawBucket, TrackedRawBucketProps
    from platform_constructs.tracking_database import TrackingDatabase, TrackingDatabaseProps

_EXPORTS: dict[str, str] = {
    "TrackedRawBucket": "platform_constructs.tracked_raw_bucket",
    "TrackedRawBucketProps": "platform_constructs.tracked_raw_bucket",
    "TrackingDatabase": "platform_constructs.tracking_database",
    "TrackingDatabaseProps": "platform_constructs.tracking_database",
    "PipelineAlarms": "platform_constructs.pipeline_alarms",
    "PipelineAlarmsProps": "platform_constructs.pipeline_alarms",
    "JsonToParquetWorkflow": "platform_constructs.json_to_parquet_workflow",
    "JsonToParquetWorkflowProps": "platform_constructs.json_to_parquet_workflow",
}

__all__ = [
    "JsonToParquetWorkflow",
    "JsonToParquetWorkflowProps",
    "PipelineAlarms",
    "PipelineAlarmsProps",
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
