"""Temporary alias of :mod:`platform_constructs.pipeline_alarms.props`.

``stacks/config.py``, ``stacks/config_keys.py`` and ``tests/infra/test_config.py`` import this old path (issue 17:
another branch rewrites them). Delete this module once they import the new one."""

from platform_constructs.pipeline_alarms.props import PipelineAlarmsProps, PipelineAlarmsSettings

__all__ = ["PipelineAlarmsProps", "PipelineAlarmsSettings"]
