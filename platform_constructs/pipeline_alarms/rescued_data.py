"""The optional ``RecordsWithRescuedData`` alarm (issue 20): the raw data brings fields the transform spec does not
read (or values that do not fit their column), kept in ``_rescued_data``. Off by default (a drift is a question for
the data team, not an incident); with ``rescued_records_threshold`` set, it fires when a ``period`` writes at least
that many records with rescued data. ``mldp schema drift`` says which fields."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_cdk import aws_cloudwatch as cloudwatch

from platform_contract import metrics as contract

if TYPE_CHECKING:
    from platform_constructs.pipeline_alarms.metrics import PipelineMetrics
    from platform_constructs.pipeline_alarms.props import PipelineAlarmsProps

#: The alarm's key in :attr:`PipelineAlarms.alarms`.
RECORDS_WITH_RESCUED_DATA = "RecordsWithRescuedData"


def rescued_data_rows(p: PipelineAlarmsProps, m: PipelineMetrics) -> list[tuple[Any, ...]]:
    """The fields of the alarm's :class:`~platform_constructs.pipeline_alarms.table.AlarmRow` (key, metric,
    threshold, comparison, missing data, evaluation periods, notify OK, description), or none when
    ``rescued_records_threshold`` is not set."""
    if p.rescued_records_threshold is None:
        return []
    return [(RECORDS_WITH_RESCUED_DATA, m.custom(contract.RECORDS_WITH_RESCUED_DATA, "Sum"),
             p.rescued_records_threshold, cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
             cloudwatch.TreatMissingData.NOT_BREACHING, 1, False,
             f"At least {p.rescued_records_threshold} record(s) in a period carried fields the transform spec does "
             "not read (kept in _rescued_data): run mldp schema drift")]
