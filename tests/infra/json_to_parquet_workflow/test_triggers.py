"""JsonToParquetWorkflow's Glue workflow and triggers: scheduled start, conditional drain, on-demand backfill."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.infra


def test_workflow_has_one_scheduled_start_then_a_conditional_drain(default: Any, cfn: Any) -> None:
    _, _, template = default
    workflow = cfn.one(template, "AWS::Glue::Workflow")["Properties"]
    assert workflow["Name"] == "JsonToParquetProcessingWorkflow-dev"
    assert workflow["MaxConcurrentRuns"] == 1
    triggers = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::Glue::Trigger"]
    in_workflow = [t for t in triggers if t.get("WorkflowName") == workflow["Name"]]
    starts = [t for t in in_workflow if t["Type"] in ("SCHEDULED", "ON_DEMAND", "EVENT")]
    assert len(starts) == 1
    start = starts[0]
    assert (start["Type"], start["Schedule"], start["StartOnCreation"]) == ("SCHEDULED", "cron(0/15 * * * ? *)", True)
    assert start["Actions"] == [{"JobName": "FileListerAndDbPopulator-dev"}]
    (conditional,) = [t for t in in_workflow if t["Type"] == "CONDITIONAL"]
    assert conditional["StartOnCreation"] is True
    assert conditional["Predicate"]["Logical"] == "ANY"
    assert conditional["Predicate"]["Conditions"] == [
        {"JobName": "FileListerAndDbPopulator-dev", "LogicalOperator": "EQUALS", "State": state}
        for state in ("SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED")
    ]
    assert conditional["Actions"] == [
        {"JobName": "JsonToParquetBatchProcessor-dev", "Arguments": {"--drain": "true", "--max-minutes": "12"}}
    ]


def test_backfill_is_an_on_demand_trigger_outside_the_workflow(default: Any, cfn: Any) -> None:
    _, _, template = default
    backfill = cfn.one(template, "AWS::Glue::Trigger", Name="JsonToParquetBackfill-dev")["Properties"]
    assert backfill["Type"] == "ON_DEMAND"
    assert "WorkflowName" not in backfill
    assert backfill["Actions"] == [
        {
            "JobName": "JsonToParquetBatchProcessorBackfill-dev",
            "Arguments": {"--drain": "true", "--max-minutes": "480"},
            "Timeout": 510,
        }
    ]
    # no trigger of the workflow starts the backfill job, and the backfill trigger starts nothing else
    triggers = cfn.resources(template, "AWS::Glue::Trigger")
    started = [a["JobName"] for _, t in triggers for a in t["Properties"]["Actions"]]
    assert started.count("JsonToParquetBatchProcessorBackfill-dev") == 1
    assert started.count("JsonToParquetBatchProcessor-dev") == 1


def test_custom_schedule_can_start_paused(custom: Any, cfn: Any) -> None:
    _, _, template = custom
    start = cfn.one(template, "AWS::Glue::Trigger", Type="SCHEDULED")["Properties"]
    assert (start["Schedule"], start["StartOnCreation"]) == ("cron(0 * * * ? *)", False)
    assert start["WorkflowName"] == "JsonToParquetProcessingWorkflow"


def test_a_lister_that_times_out_or_fails_still_starts_the_processor(default: Any, cfn: Any) -> None:
    """Issue 18 #7: the lister commits each chunk it registers, so the processor drains after any final state of the
    lister; a timed-out first listing does not starve processing."""
    _, _, template = default
    (conditional,) = [r["Properties"] for _, r in cfn.resources(template, "AWS::Glue::Trigger")
                      if r["Properties"]["Type"] == "CONDITIONAL"]
    predicate = conditional["Predicate"]
    watched = {(c["JobName"], c["LogicalOperator"], c["State"]) for c in predicate["Conditions"]}
    assert predicate["Logical"] == "ANY"  # any one of the final states is enough
    for state in ("TIMEOUT", "FAILED", "STOPPED", "SUCCEEDED"):
        assert ("FileListerAndDbPopulator-dev", "EQUALS", state) in watched
    assert [a["JobName"] for a in conditional["Actions"]] == ["JsonToParquetBatchProcessor-dev"]


def test_the_workflow_triggers_are_created_one_after_the_other(default: Any, cfn: Any) -> None:
    """Issue 18 #5: Glue can fail two triggers added to one workflow in parallel ("Workflow ... was modified while
    adding trigger"); the conditional trigger DependsOn the scheduled one."""
    _, _, template = default
    ids = {r["Properties"]["Type"]: logical_id for logical_id, r in cfn.resources(template, "AWS::Glue::Trigger")}
    conditional = template["Resources"][ids["CONDITIONAL"]]
    assert ids["SCHEDULED"] in conditional.get("DependsOn", [])
    assert ids["CONDITIONAL"] not in template["Resources"][ids["SCHEDULED"]].get("DependsOn", [])


def _schedule_state(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    ((logical_id, resource),) = [(k, v) for k, v in template["Resources"].items() if v["Type"] == "Custom::AWS"]
    return logical_id, resource


def test_schedule_enabled_starts_or_stops_the_live_trigger(default: Any, custom: Any, cfn: Any) -> None:
    """Issue 18 #8: StartOnCreation is ignored on updates, so a custom resource calls glue:StartTrigger or
    glue:StopTrigger when schedule_enabled changes (its Update call changes with it); on create it only reads."""
    for built, action in ((default, "startTrigger"), (custom, "stopTrigger")):
        _, _, template = built
        schedule_id = next(k for k, r in cfn.resources(template, "AWS::Glue::Trigger")
                           if r["Properties"]["Type"] == "SCHEDULED")
        name = template["Resources"][schedule_id]["Properties"]["Name"]
        _, resource = _schedule_state(template)
        update = json.loads(cfn.render(resource["Properties"]["Update"]))
        create = json.loads(cfn.render(resource["Properties"]["Create"]))
        assert (update["service"], update["action"], update["parameters"]) == ("Glue", action, {"Name": name})
        assert (create["action"], create["parameters"]) == ("getTrigger", {"Name": name})
        assert update["physicalResourceId"] == create["physicalResourceId"]  # an update, never a replacement
        assert schedule_id in resource["DependsOn"]


def test_the_schedule_state_policy_is_scoped_to_the_trigger(default: Any, cfn: Any) -> None:
    _, _, template = default
    logical_id, _ = _schedule_state(template)
    policies = [r for _, r in cfn.resources(template, "AWS::IAM::Policy")
                if "glue:StartTrigger" in json.dumps(r["Properties"]["PolicyDocument"])]
    assert all(logical_id not in p.get("DependsOn", []) for p in policies)
    statements = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]
    (statement,) = statements
    assert sorted(statement["Action"]) == ["glue:GetTrigger", "glue:StartTrigger", "glue:StopTrigger"]
    assert cfn.render(statement["Resource"]).endswith(":trigger/JsonToParquetSchedule-dev")
