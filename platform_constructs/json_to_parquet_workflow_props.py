"""Temporary alias of :mod:`platform_constructs.json_to_parquet_workflow.props`.

``stacks/config.py``, ``stacks/config_keys.py`` and ``tests/infra/test_config.py`` import this old path (issue 17:
another branch rewrites them). Delete this module once they import the new one."""

from platform_constructs.json_to_parquet_workflow.props import JsonToParquetWorkflowProps, JsonToParquetWorkflowSettings

__all__ = ["JsonToParquetWorkflowProps", "JsonToParquetWorkflowSettings"]
