"""``PipelineAlarms``: the alarm topic, the job-failure rule, the alarms and the dashboard of the pipeline. See
``README.md`` in this folder.

Modules: :mod:`.construct` (the construct), :mod:`.props` (its props and their rules), :mod:`.topic` (the topic and
the failure rule), :mod:`.metrics` (the one metric factory), :mod:`.table` (the alarms as data),
:mod:`.dashboard` (the dashboard).
"""

from __future__ import annotations

from platform_constructs.pipeline_alarms.construct import PipelineAlarms
from platform_constructs.pipeline_alarms.props import PipelineAlarmsProps, PipelineAlarmsSettings

__all__ = ["PipelineAlarms", "PipelineAlarmsProps", "PipelineAlarmsSettings"]
