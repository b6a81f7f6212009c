"""The Glue triggers of :class:`platform_constructs.json_to_parquet_workflow.JsonToParquetWorkflow`.

A Glue workflow has exactly one start trigger, so the chain is::

    JsonToParquetSchedule<suffix>       SCHEDULED, in the workflow: start the lister
    JsonToParquetAfterListing<suffix>   CONDITIONAL, in the workflow: when the lister ended, in any final state
                                        (SUCCEEDED, FAILED, TIMEOUT, STOPPED), drain the backlog with the processor
                                        within drain_minutes
    JsonToParquetBackfill<suffix>       ON_DEMAND, outside the workflow: one backfill run per start, draining
                                        within backfill_drain_minutes

The triggers are created in the workflow construct's own scope (their logical ids do not change with this
module), and refer to jobs and workflow by name, so each gets a resource dependency on what it names.

The processor runs after a lister that failed or timed out too: the lister registers in chunks, each committed in
its own transaction (``runtime.db.registration.register_page``), so whatever it registered before it stopped is
processable, and a first listing that outlives its timeout cannot starve processing. A separate processor schedule
would do the same, but outside the one-at-a-time workflow it would overlap the lister; ``ANY`` over the final
states keeps the two in sequence.

The conditional trigger depends on the scheduled one (``node.add_dependency``): CloudFormation creates them one
after the other, since Glue can reject a trigger added while another is being added to the same workflow
("Workflow ... was modified while adding trigger").
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_glue as glue
from constructs import Construct

from platform_constructs.json_to_parquet_workflow.job_arguments import drain_arguments
from platform_constructs.json_to_parquet_workflow.props import JsonToParquetWorkflowProps

#: The lister's final states after which the processor drains (every state a Glue trigger condition can watch).
LISTER_FINAL_STATES: tuple[str, ...] = ("SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED")

#: A backfill run's Glue timeout: its drain budget plus this margin to finish the last batch and archive.
BACKFILL_TIMEOUT_MARGIN_MINUTES = 30


def backfill_timeout_minutes(p: JsonToParquetWorkflowProps) -> int:
    """Glue timeout of a backfill run (job default and trigger action)."""
    return p.backfill_drain_minutes + BACKFILL_TIMEOUT_MARGIN_MINUTES


@dataclass(frozen=True)
class WorkflowTriggers:
    """The three triggers (``glue.CfnTrigger``)."""

    schedule: glue.CfnTrigger
    processor: glue.CfnTrigger
    backfill: glue.CfnTrigger


def create_triggers(
    scope: Construct,
    p: JsonToParquetWorkflowProps,
    *,
    workflow: glue.CfnWorkflow,
    lister_job: glue.CfnJob,
    processor_job: glue.CfnJob,
    backfill_job: glue.CfnJob,
) -> WorkflowTriggers:
    """Create the schedule, the conditional drain and the on-demand backfill trigger in ``scope``."""
    workflow_name = workflow.name
    schedule = glue.CfnTrigger(
        scope,
        "ScheduleTrigger",
        name=f"JsonToParquetSchedule{p.suffix}",
        description="Start of the workflow: run the lister on a schedule",
        type="SCHEDULED",
        schedule=p.schedule,
        start_on_creation=p.schedule_enabled,
        workflow_name=workflow_name,
        actions=[glue.CfnTrigger.ActionProperty(job_name=lister_job.name)],
    )
    processor = glue.CfnTrigger(
        scope,
        "ProcessorTrigger",
        name=f"JsonToParquetAfterListing{p.suffix}",
        description="When the lister ended (any final state): drain the backlog within the time budget",
        type="CONDITIONAL",
        start_on_creation=True,
        workflow_name=workflow_name,
        predicate=glue.CfnTrigger.PredicateProperty(
            logical="ANY",
            conditions=[
                glue.CfnTrigger.ConditionProperty(job_name=lister_job.name, logical_operator="EQUALS", state=state)
                for state in LISTER_FINAL_STATES
            ],
        ),
        actions=[
            glue.CfnTrigger.ActionProperty(job_name=processor_job.name, arguments=drain_arguments(p.drain_minutes))
        ],
    )
    backfill = glue.CfnTrigger(
        scope,
        "BackfillTrigger",
        name=f"JsonToParquetBackfill{p.suffix}",
        description="On demand (backfill): drain the backlog with a long budget on the backfill job; start it "
        "once per parallel run",
        type="ON_DEMAND",
        actions=[
            glue.CfnTrigger.ActionProperty(
                job_name=backfill_job.name,
                arguments=drain_arguments(p.backfill_drain_minutes),
                timeout=backfill_timeout_minutes(p),
            )
        ],
    )
    # Jobs are referenced by name, not by token: make CloudFormation create them first.
    for trigger in (schedule, processor):
        trigger.add_resource_dependency(lister_job)
        trigger.add_resource_dependency(processor_job)
    backfill.add_resource_dependency(backfill_job)
    schedule.add_resource_dependency(workflow)
    processor.add_resource_dependency(workflow)
    # One trigger at a time into the workflow (Glue: "Workflow ... was modified while adding trigger").
    processor.node.add_dependency(schedule)
    return WorkflowTriggers(schedule=schedule, processor=processor, backfill=backfill)
