"""``JsonToParquetWorkflow``: the Glue workflow that lists raw JSON, registers it in the tracking database and
converts it to Parquet in batches. See ``README.md`` in this folder.

Modules: :mod:`.construct` (the construct: jobs, wiring), :mod:`.props` (its props and their rules),
:mod:`.job_arguments` (the jobs' argument maps), :mod:`.reserved_arguments` (the arguments the construct sets
itself and the escape hatch's rules), :mod:`.triggers` (schedule, conditional and backfill triggers), and the
workflow's private Glue parts in :mod:`.glue` (bundled code, job roles, network, schedule, security
configuration, Data Catalog table).
"""

from __future__ import annotations

from platform_constructs.json_to_parquet_workflow.construct import JsonToParquetWorkflow
from platform_constructs.json_to_parquet_workflow.props import (
    JsonToParquetWorkflowProps,
    JsonToParquetWorkflowSettings,
)

__all__ = ["JsonToParquetWorkflow", "JsonToParquetWorkflowProps", "JsonToParquetWorkflowSettings"]
