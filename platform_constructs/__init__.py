"""Reusable AWS CDK constructs of the tracked JSON -> Parquet platform.

``from platform_constructs import TrackedRawBucket, TrackingDatabase, JsonToParquetWorkflow, PipelineAlarms``
(and their ``*Props``; ``*Settings`` for the workflow and alarms are their props without the constructs they are
wired to). The construct packages are imported lazily (PEP 562), so that importing this package does not load
aws_cdk.

Layout: one folder per construct, each with its ``README.md`` (what it creates, its props, a usage example):

* ``tracked_raw_bucket/``: ``construct``, ``props``, ``lifecycle``, ``grants``;
* ``tracking_database/``: ``construct``, ``props``;
* ``json_to_parquet_workflow/``: ``construct``, ``props``, ``job_arguments``, ``reserved_arguments``,
  ``triggers``, and ``glue/``, the workflow's private Glue parts (``assets`` and the vendored ``wheels/``,
  ``job_role``, ``network``, ``schedule``, ``security_configuration``, ``catalog_table``);
* ``pipeline_alarms/``: ``construct``, ``props``, ``topic``, ``metrics``, ``table``, ``dashboard``;
* ``_shared/`` (internal): ``validation`` (rules several props share), ``removal_policy`` (the ``DESTROY`` guard),
  ``nag``, ``vpc_endpoints``.

The values the constructs share with the runtime (defaults, metric names, the environment-name rule, the layout
prefixes) are not here but in the ``platform_contract`` package, which both import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from platform_constructs.json_to_parquet_workflow.construct import JsonToParquetWorkflow
    from platform_constructs.json_to_parquet_workflow.props import (
        JsonToParquetWorkflowProps,
        JsonToParquetWorkflowSettings,
    )
    from platform_constructs.pipeline_alarms.construct import PipelineAlarms
    from platform_constructs.pipeline_alarms.props import PipelineAlarmsProps, PipelineAlarmsSettings
    from platform_constructs.tracked_raw_bucket.construct import TrackedRawBucket
    from platform_constructs.tracked_raw_bucket.props import TrackedRawBucketProps
    from platform_constructs.tracking_database.construct import TrackingDatabase
    from platform_constructs.tracking_database.props import TrackingDatabaseProps

_EXPORTS: dict[str, str] = {
    "TrackedRawBucket": "platform_constructs.tracked_raw_bucket",
    "TrackedRawBucketProps": "platform_constructs.tracked_raw_bucket",
    "TrackingDatabase": "platform_constructs.tracking_database",
    "TrackingDatabaseProps": "platform_constructs.tracking_database",
    "PipelineAlarms": "platform_constructs.pipeline_alarms",
    "PipelineAlarmsProps": "platform_constructs.pipeline_alarms",
    "PipelineAlarmsSettings": "platform_constructs.pipeline_alarms",
    "JsonToParquetWorkflow": "platform_constructs.json_to_parquet_workflow",
    "JsonToParquetWorkflowProps": "platform_constructs.json_to_parquet_workflow",
    "JsonToParquetWorkflowSettings": "platform_constructs.json_to_parquet_workflow",
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
