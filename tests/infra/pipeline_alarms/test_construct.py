"""Assertion tests of ``PipelineAlarms`` on bare stacks, with default and overridden props."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Template

from platform_constructs import PipelineAlarms, PipelineAlarmsProps
from platform_contract import metrics as m

pytestmark = pytest.mark.infra

LISTER = "FileListerAndDbPopulator-dev"
PROCESSOR = "JsonToParquetBatchProcessor-dev"
BACKFILL = "JsonToParquetBatchProcessorBackfill-dev"
EMAILS = ("data-oncall@example.com", "lead@example.org")
DB_ID = "tracking-db-dev"


@dataclass
class Built:
    """A synthesized bare stack with one PipelineAlarms."""

    stack: Stack
    template: Template
    construct: PipelineAlarms


@pytest.fixture(scope="module")
def default() -> Built:
    stack = Stack(App(), "AlarmStack")
    instance = rds.DatabaseInstance.from_database_instance_attributes(
        stack,
        "Db",
        instance_identifier=DB_ID,
        instance_endpoint_address="db.internal",
        port=5432,
        security_groups=[],
    )
    construct = PipelineAlarms(
        stack,
        "Alarms",
        PipelineAlarmsProps(
            environment_name="dev",
            lister_job_name=LISTER,
            processor_job_name=PROCESSOR,
            backfill_job_name=BACKFILL,
            alarm_emails=EMAILS,
            database_instance=instance,
            database_instance_class="m7g.large",
            lister_timeout_minutes=30,
            processor_timeout_minutes=60,
            schedule_interval_minutes=15,
        ),
    )
    return Built(stack, Template.from_stack(stack), construct)


EXISTING_TOPIC = "arn:aws:sns:eu-west-1:111122223333:their-topic"


@pytest.fixture(scope="module")
def custom() -> Built:
    stack = Stack(App(), "CustomAlarmStack")
    construct = PipelineAlarms(
        stack,
        "Alarms",
        PipelineAlarmsProps(
            environment_name="prod",
            lister_job_name="lister",
            processor_job_name="processor",
            metrics_namespace="TeamX/Pipeline",
            existing_topic=sns.Topic.from_topic_arn(stack, "Theirs", EXISTING_TOPIC),
            failure_states=("FAILED", "TIMEOUT", "STOPPED"),
            lister_heartbeat=False,
            dead_letter_records_threshold=100,
            backlog_age_seconds=3600,
            quarantined_files_threshold=5,
            lister_duration_seconds=300,
            dashboard_name="team-x-pipeline",
        ),
    )
    return Built(stack, Template.from_stack(stack), construct)


ONCALL_TOPIC = "arn:aws:sns:eu-west-1:123456789012:oncall"


@pytest.fixture(scope="module")
def by_arn() -> Built:
    """An existing topic given by ARN (``existing_topic_arn``), with one e-mail subscribed to it."""
    stack = Stack(App(), "ArnAlarmStack")
    construct = PipelineAlarms(
        stack,
        "Alarms",
        PipelineAlarmsProps(
            environment_name="prod",
            lister_job_name="lister",
            processor_job_name="processor",
            backfill_job_name="backfill",
            existing_topic_arn=ONCALL_TOPIC,
            alarm_emails=("oncall@example.com",),
        ),
    )
    return Built(stack, Template.from_stack(stack), construct)


def _alarm(built: Built, cfn: Any, key: str) -> dict[str, Any]:
    return built.template.to_json()["Resources"][cfn.logical_id(built.construct.alarms[key])]["Properties"]


def _topic_ref(built: Built, cfn: Any) -> str:
    return "${" + cfn.logical_id(built.construct.topic) + "}"


def _custom(name: str, env: str = "dev", namespace: str = "MlDataPlatform") -> dict[str, Any]:
    return {"Namespace": namespace, "MetricName": name, "Dimensions": [{"Name": "Environment", "Value": env}]}


def _rds(name: str) -> dict[str, Any]:
    return {
        "Namespace": "AWS/RDS",
        "MetricName": name,
        "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": DB_ID}],
    }


GTE = "GreaterThanOrEqualToThreshold"
GT = "GreaterThanThreshold"
LT = "LessThanThreshold"

# key -> (metric, statistic, period, threshold, comparison, missing data, evaluation periods, notifies OK)
DEFAULT_ALARMS: dict[str, tuple[dict[str, Any], str, int, float, str, str, int, bool]] = {
    # 105 minutes = processor timeout 60 + lister timeout 30 + schedule interval 15 (derived)
    "ListerHeartbeat": (_custom(m.LISTER_DURATION_SECONDS), "SampleCount", 6300, 1, LT, "breaching", 1, True),
    "ListerDuration": (_custom(m.LISTER_DURATION_SECONDS), "Maximum", 900, 900, GT, "notBreaching", 1, True),
    "BacklogAge": (_custom(m.OLDEST_PENDING_AGE_SECONDS), "Maximum", 1800, 86400, GT, "ignore", 1, True),
    "QuarantinedFiles": (_custom(m.QUARANTINED_FILES_TOTAL), "Maximum", 1800, 1, GTE, "ignore", 1, True),
    "ArchiveDeleteFailures": (_custom(m.ARCHIVE_DELETE_FAILURES), "Sum", 900, 1, GTE, "notBreaching", 1, False),
    "RdsCpu": (_rds("CPUUtilization"), "Average", 300, 80, GT, "missing", 3, True),
    # 10 % of an m7g.large's 8 GiB
    "RdsFreeableMemory": (_rds("FreeableMemory"), "Average", 300, int(0.8 * 1024**3), LT, "missing", 3, True),
    "RdsDiskQueueDepth": (_rds("DiskQueueDepth"), "Average", 300, 20, GT, "missing", 3, True),
    "RdsFreeStorage": (_rds("FreeStorageSpace"), "Minimum", 300, 2 * 1024**3, LT, "missing", 1, True),
}


# --------------------------------------------------------------------------------------------
# Topic
# --------------------------------------------------------------------------------------------
def test_topic_is_encrypted_with_a_rotating_key_that_cloudwatch_and_eventbridge_may_use(
    default: Built, cfn: Any
) -> None:
    resources = default.template.to_json()["Resources"]
    key = default.construct.topic_key
    assert key is not None
    topic = resources[cfn.logical_id(default.construct.topic)]["Properties"]
    assert cfn.render(topic["KmsMasterKeyId"]) == "${" + cfn.logical_id(key) + ".Arn}"
    key_props = resources[cfn.logical_id(key)]["Properties"]
    assert key_props["EnableKeyRotation"] is True
    services: set[str] = set()
    for statement in key_props["KeyPolicy"]["Statement"]:
        principal = statement["Principal"]
        if "Service" in principal:
            assert sorted(cfn.as_list(statement["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey*"]
            services.update(cfn.as_list(principal["Service"]))
    assert services == {"cloudwatch.amazonaws.com", "events.amazonaws.com"}


def test_topic_policy_denies_publishing_without_tls_and_admits_alarms_and_the_rule(
    default: Built, cfn: Any
) -> None:
    (_, policy), *rest = cfn.resources(default.template, "AWS::SNS::TopicPolicy")
    assert rest == []
    topic = _topic_ref(default, cfn)
    assert cfn.render(policy["Properties"]["Topics"]) == [topic]
    statements = [cfn.render(s) for s in policy["Properties"]["PolicyDocument"]["Statement"]]
    deny = [s for s in statements if s["Effect"] == "Deny"]
    assert deny == [
        {
            "Sid": "AllowPublishThroughSSLOnly",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sns:Publish",
            "Resource": topic,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]
    allowed = {s["Principal"]["Service"] for s in statements if s["Effect"] == "Allow"}
    assert allowed == {"cloudwatch.amazonaws.com", "events.amazonaws.com"}
    (alarms,) = [s for s in statements if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    assert alarms["Condition"]["ArnLike"]["aws:SourceArn"].endswith(":alarm:*")


def test_email_subscriptions(default: Built, cfn: Any) -> None:
    subscriptions = [
        cfn.render(r["Properties"]) for _, r in cfn.resources(default.template, "AWS::SNS::Subscription")
    ]
    assert sorted((s["Protocol"], s["Endpoint"], s["TopicArn"]) for s in subscriptions) == sorted(
        ("email", e, _topic_ref(default, cfn)) for e in EMAILS
    )


def test_existing_topic_is_used_and_none_is_created(custom: Built) -> None:
    custom.template.resource_count_is("AWS::SNS::Topic", 0)
    custom.template.resource_count_is("AWS::KMS::Key", 0)
    custom.template.resource_count_is("AWS::SNS::Subscription", 0)
    assert custom.construct.topic_key is None
    for alarm in custom.template.find_resources("AWS::CloudWatch::Alarm").values():
        if alarm["Properties"]["AlarmDescription"].startswith("[prod] A run of"):  # JobFailures: the rule notifies
            assert "AlarmActions" not in alarm["Properties"]
            continue
        assert alarm["Properties"]["AlarmActions"] == [EXISTING_TOPIC]


def test_existing_topic_by_arn_gets_every_notification_and_the_subscriptions(by_arn: Built, cfn: Any) -> None:
    by_arn.template.resource_count_is("AWS::SNS::Topic", 0)
    by_arn.template.resource_count_is("AWS::SNS::TopicPolicy", 0)
    by_arn.template.resource_count_is("AWS::KMS::Key", 0)
    assert by_arn.construct.topic_key is None and by_arn.construct.topic.topic_arn == ONCALL_TOPIC
    alarms = by_arn.template.find_resources("AWS::CloudWatch::Alarm").values()
    # every alarm but JobFailures (the rule notifies its failures: one failure, one notification)
    assert alarms and all(a["Properties"].get("AlarmActions", [ONCALL_TOPIC]) == [ONCALL_TOPIC] for a in alarms)
    assert sum("AlarmActions" not in a["Properties"] for a in alarms) == 1
    rule = by_arn.template.to_json()["Resources"][cfn.logical_id(by_arn.construct.job_state_rule)]["Properties"]
    assert [t["Arn"] for t in rule["Targets"]] == [ONCALL_TOPIC]
    (_, subscription), *rest = cfn.resources(by_arn.template, "AWS::SNS::Subscription")
    assert rest == []
    assert subscription["Properties"] == {"Protocol": "email", "Endpoint": "oncall@example.com",
                                          "TopicArn": ONCALL_TOPIC}


# --------------------------------------------------------------------------------------------
# EventBridge rule
# --------------------------------------------------------------------------------------------
def test_job_state_rule_reports_failed_runs_of_every_job_to_the_topic(default: Built, cfn: Any) -> None:
    rule = default.template.to_json()["Resources"][cfn.logical_id(default.construct.job_state_rule)][
        "Properties"
    ]
    assert rule["State"] == "ENABLED"
    assert rule["EventPattern"] == {
        "source": ["aws.glue"],
        "detail-type": ["Glue Job State Change"],
        "detail": {"jobName": [LISTER, PROCESSOR, BACKFILL], "state": ["FAILED", "TIMEOUT", "ERROR"]},
    }
    (target,) = rule["Targets"]
    assert cfn.render(target["Arn"]) == _topic_ref(default, cfn)
    transformer = target["InputTransformer"]
    assert transformer["InputPathsMap"] == {
        "detail-jobName": "$.detail.jobName",
        "detail-jobRunId": "$.detail.jobRunId",
        "detail-state": "$.detail.state",
        "detail-message": "$.detail.message",
    }
    assert transformer["InputTemplate"].startswith('"[dev] Glue job <detail-jobName> run <detail-jobRunId>')


def test_custom_failure_states(custom: Built, cfn: Any) -> None:
    rule = custom.template.to_json()["Resources"][cfn.logical_id(custom.construct.job_state_rule)][
        "Properties"
    ]
    assert rule["EventPattern"]["detail"] == {
        "jobName": ["lister", "processor"],
        "state": ["FAILED", "TIMEOUT", "STOPPED"],
    }
    assert rule["Targets"][0]["Arn"] == EXISTING_TOPIC


def test_job_failures_alarm_counts_the_rule_matches(default: Built, cfn: Any) -> None:
    alarm = _alarm(default, cfn, "JobFailures")
    assert alarm["Namespace"] == "AWS/Events"
    assert alarm["MetricName"] == "TriggeredRules"
    assert cfn.render(alarm["Dimensions"]) == [
        {"Name": "RuleName", "Value": "${" + cfn.logical_id(default.construct.job_state_rule) + "}"}
    ]
    assert (alarm["Statistic"], alarm["Period"], alarm["Threshold"]) == ("Sum", 900, 1)
    assert (alarm["ComparisonOperator"], alarm["TreatMissingData"]) == (GTE, "notBreaching")
    # one failure, one notification: the rule sends it; the alarm only shows the state (it notified too before)
    assert "AlarmActions" not in alarm and "OKActions" not in alarm
    assert all(job in alarm["AlarmDescription"] for job in (LISTER, PROCESSOR, BACKFILL))


def test_backfill_job_is_optional(custom: Built, by_arn: Built, cfn: Any) -> None:
    def job_names(built: Built) -> list[str]:
        rule = built.template.to_json()["Resources"][cfn.logical_id(built.construct.job_state_rule)]
        return rule["Properties"]["EventPattern"]["detail"]["jobName"]

    assert job_names(custom) == ["lister", "processor"]  # no backfill_job_name: the two jobs only
    assert job_names(by_arn) == ["lister", "processor", "backfill"]


def test_extra_jobs_such_as_the_event_consumer_are_reported_by_the_one_rule(cfn: Any) -> None:
    stack = Stack(App(), "ConsumerAlarmStack")
    construct = PipelineAlarms(stack, "Alarms", PipelineAlarmsProps(
        environment_name="prod", lister_job_name="lister", processor_job_name="processor",
        backfill_job_name="backfill", extra_job_names=("FileEventConsumer-prod",)))
    template = Template.from_stack(stack).to_json()
    rule = template["Resources"][cfn.logical_id(construct.job_state_rule)]["Properties"]
    assert rule["EventPattern"]["detail"]["jobName"] == ["lister", "processor", "backfill", "FileEventConsumer-prod"]
    assert len(rule["Targets"]) == 1  # one notification per failed run, whichever job
    failures = template["Resources"][cfn.logical_id(construct.alarms["JobFailures"])]["Properties"]
    assert "FileEventConsumer-prod" in failures["AlarmDescription"]


# --------------------------------------------------------------------------------------------
# Alarms
# --------------------------------------------------------------------------------------------
def test_exactly_the_documented_alarms_exist(default: Built) -> None:
    assert set(default.construct.alarms) == {"JobFailures", "DeadLetterRecords", *DEFAULT_ALARMS}
    default.template.resource_count_is("AWS::CloudWatch::Alarm", len(DEFAULT_ALARMS) + 2)


@pytest.mark.parametrize("key", sorted(DEFAULT_ALARMS))
def test_alarm_metric_threshold_and_actions(default: Built, cfn: Any, key: str) -> None:
    metric, statistic, period, threshold, comparison, missing, periods, notify_ok = DEFAULT_ALARMS[key]
    alarm = _alarm(default, cfn, key)
    assert {k: alarm[k] for k in metric} == metric
    assert (alarm["Statistic"], alarm["Period"], alarm["Threshold"]) == (statistic, period, threshold)
    assert (alarm["ComparisonOperator"], alarm["TreatMissingData"]) == (comparison, missing)
    assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (periods, periods)
    assert "Unit" not in alarm  # a unit would make the alarm ignore datapoints published without one
    topic = [_topic_ref(default, cfn)]
    assert cfn.render(alarm["AlarmActions"]) == topic
    assert (cfn.render(alarm.get("OKActions")) == topic) is notify_ok
    assert alarm["AlarmDescription"].startswith("[dev] ")


def test_overridden_thresholds_namespace_and_no_database(custom: Built, cfn: Any) -> None:
    assert set(custom.construct.alarms) == {
        "JobFailures",
        "ListerDuration",
        "DeadLetterRecords",
        "BacklogAge",
        "QuarantinedFiles",
        "ArchiveDeleteFailures",
    }
    expected = {
        "ListerDuration": (m.LISTER_DURATION_SECONDS, 300),
        "BacklogAge": (m.OLDEST_PENDING_AGE_SECONDS, 3600),
        "QuarantinedFiles": (m.QUARANTINED_FILES_TOTAL, 5),
    }
    for key, (name, threshold) in expected.items():
        alarm = _alarm(custom, cfn, key)
        assert {k: alarm[k] for k in ("Namespace", "MetricName", "Dimensions")} == _custom(
            name, "prod", "TeamX/Pipeline"
        )
        assert alarm["Threshold"] == threshold


# --------------------------------------------------------------------------------------------
# Dashboard and metric names
# --------------------------------------------------------------------------------------------
def test_dashboard_shows_every_custom_metric_and_the_database(default: Built, cfn: Any) -> None:
    (_, dashboard), *rest = cfn.resources(default.template, "AWS::CloudWatch::Dashboard")
    assert rest == []
    body = cfn.render(dashboard["Properties"]["DashboardBody"])
    widgets = json.loads(body)["widgets"]
    graphed = {
        tuple(row[:2]) for w in widgets if w["type"] == "metric" for row in w["properties"].get("metrics", [])
        if isinstance(row[0], str)  # not a metric-math row ([{"expression": ...}])
    }
    # every metric but the Iceberg format's (test_iceberg_alarm.py graphs those with table_format iceberg)
    assert {("MlDataPlatform", name) for name in m.ALL_METRICS - set(m.ICEBERG_RUN_METRICS)} <= graphed
    assert ("MlDataPlatform", m.ICEBERG_COMMIT_FAILURES) not in graphed
    assert {
        ("AWS/RDS", n) for n in ("CPUUtilization", "FreeableMemory", "DiskQueueDepth", "FreeStorageSpace")
    } <= graphed
    (status,) = [w for w in widgets if w["type"] == "alarm"]
    assert len(status["properties"]["alarms"]) == len(default.construct.alarms)


def _graphs(built: Built, cfn: Any) -> list[dict[str, Any]]:
    (_, dashboard), *_ = cfn.resources(built.template, "AWS::CloudWatch::Dashboard")
    widgets = json.loads(cfn.render(dashboard["Properties"]["DashboardBody"]))["widgets"]
    return [w["properties"] for w in widgets if w["type"] == "metric"]


@pytest.mark.parametrize("which", ["default", "custom"])
def test_every_alarm_is_drawn_with_its_threshold_on_a_graph_of_its_own_metric(
    which: str, request: pytest.FixtureRequest, cfn: Any
) -> None:
    """Each metric is built once: the alarm and its dashboard graph share the object, so the graph shows what the
    alarm judges (statistic and period), with the alarm's threshold as a horizontal annotation."""
    built: Built = request.getfixturevalue(which)
    graphs = _graphs(built, cfn)
    for key, alarm in built.construct.alarms.items():
        if key == "DeadLetterRecords":  # metric math: test_dead_letter_alarm_is_a_sustained_share_of_the_records
            continue
        factory_metric = getattr(built.construct.metrics, _METRIC_ATTRIBUTES[key])
        resolve = built.stack.resolve
        assert resolve(alarm.metric.to_metric_config()) == resolve(factory_metric.to_metric_config()), key
        props = _alarm(built, cfn, key)
        options = {"period": props["Period"]} if props["Period"] != 300 else {}
        if props["Statistic"] != "Average":
            options["stat"] = props["Statistic"]
        row = [props["Namespace"], props["MetricName"]]
        row += [part for d in cfn.render(props["Dimensions"]) for part in (d["Name"], d["Value"])]
        row += [options] if options else []
        drawn = [g for g in graphs if row in g["metrics"]]
        assert len(drawn) == 1, (key, row)
        thresholds = [a["value"] for a in drawn[0].get("annotations", {}).get("horizontal", [])]
        assert thresholds == [props["Threshold"]], key


_METRIC_ATTRIBUTES = {
    "JobFailures": "job_failures", "ListerHeartbeat": "lister_heartbeat", "ListerDuration": "lister_duration",
    "DeadLetterRecords": "dead_letter_records", "BacklogAge": "backlog_age", "QuarantinedFiles": "quarantined_files",
    "RdsCpu": "rds_cpu", "RdsFreeableMemory": "rds_freeable_memory", "RdsDiskQueueDepth": "rds_disk_queue_depth",
    "RdsFreeStorage": "rds_free_storage", "ArchiveDeleteFailures": "archive_delete_failures",
}


def test_free_storage_graph_plots_the_minimum_its_alarm_watches(default: Built, cfn: Any) -> None:
    (graph,) = [g for g in _graphs(default, cfn) if g["title"] == "RDS free storage"]
    assert graph["metrics"] == [["AWS/RDS", "FreeStorageSpace", "DBInstanceIdentifier", DB_ID, {"stat": "Minimum"}]]
    assert graph["annotations"]["horizontal"][0]["value"] == 2 * 1024**3


def test_custom_dashboard_name(custom: Built, cfn: Any) -> None:
    (_, dashboard), *_ = cfn.resources(custom.template, "AWS::CloudWatch::Dashboard")
    assert dashboard["Properties"]["DashboardName"] == "team-x-pipeline"


def test_metric_names_contract() -> None:
    assert m.PROCESSOR_METRICS == (
        "FilesSucceeded",
        "FilesFailed",
        "FilesQuarantined",
        "RecordsGood",
        "RecordsDeadLettered",
        "RecordsWithRescuedData",
        "BytesProcessed",
        "BatchDurationSeconds",
    )
    assert m.LISTER_METRICS == ("FilesListed", "FilesRegistered", "FilesIgnored", "ListerDurationSeconds")
    assert m.BACKLOG_METRICS == ("BacklogFiles", "OldestPendingAgeSeconds", "QuarantinedFilesTotal")
    assert m.PROCESSOR_RUN_METRICS == ("ArchiveDeleteFailures",)
    assert m.ICEBERG_RUN_METRICS == ("IcebergCommitFailures",)
    assert set(m.UNITS) == m.ALL_METRICS and len(m.ALL_METRICS) == 17
    assert {m.UNITS[n] for n in m.ALL_METRICS} == {"Count", "Bytes", "Seconds"}


def test_custom_metric_rejects_unknown_names(default: Built) -> None:
    with pytest.raises(ValueError, match=r"not a metric of platform_contract\.metrics"):
        default.construct.custom_metric("FilesSucceded", "Sum")


# --------------------------------------------------------------------------------------------
# Issue 18 #6: alarms that mean something
# --------------------------------------------------------------------------------------------
def _props(**overrides: Any) -> PipelineAlarmsProps:
    base: dict[str, Any] = {"environment_name": "dev", "lister_job_name": "l", "processor_job_name": "p"}
    return PipelineAlarmsProps(**{**base, **overrides})


def test_dead_letter_alarm_is_a_sustained_share_of_the_records(default: Built, custom: Built, cfn: Any) -> None:
    """A ratio of dead-lettered to all records (metric math), over 3 consecutive periods, from a minimum count on:
    one bad file during a backfill no longer flips the alarm every period."""
    alarm = _alarm(default, cfn, "DeadLetterRecords")
    assert "MetricName" not in alarm
    (expression,) = [q for q in alarm["Metrics"] if "Expression" in q]
    assert expression["Expression"] == (
        "IF(FILL(dead, 0) >= 1, 100 * FILL(dead, 0) / (FILL(dead, 0) + FILL(good, 0)), 0)"
    )
    used = {q["Id"]: q["MetricStat"] for q in alarm["Metrics"] if "MetricStat" in q}
    assert {i: (s["Metric"]["MetricName"], s["Stat"], s["Period"]) for i, s in used.items()} == {
        "dead": (m.RECORDS_DEAD_LETTERED, "Sum", 900), "good": (m.RECORDS_GOOD, "Sum", 900)}
    assert (alarm["Threshold"], alarm["ComparisonOperator"], alarm["TreatMissingData"]) == (1, GT, "notBreaching")
    assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (3, 3)
    assert "OKActions" not in alarm and cfn.render(alarm["AlarmActions"]) == [_topic_ref(default, cfn)]
    custom_alarm = _alarm(custom, cfn, "DeadLetterRecords")
    assert next(q["Expression"] for q in custom_alarm["Metrics"] if "Expression" in q).startswith(
        "IF(FILL(dead, 0) >= 100,")


def test_heartbeat_window_is_derived_from_the_timeouts_and_the_schedule() -> None:
    props = _props(lister_timeout_minutes=30, processor_timeout_minutes=61, schedule_interval_minutes=15)
    assert props.minimum_heartbeat_minutes() == 110 and props.heartbeat_minutes == 110  # 106 rounded up to 5
    assert _props().heartbeat_minutes == 60  # nothing to derive from: the fallback
    assert _props(lister_heartbeat=False).heartbeat_minutes is None


def test_a_heartbeat_shorter_than_a_workflow_cycle_is_refused_at_synth() -> None:
    props = _props(lister_timeout_minutes=30, processor_timeout_minutes=60, schedule_interval_minutes=15,
                   lister_heartbeat_minutes=60)
    with pytest.raises(ValueError, match=r"lister_heartbeat_minutes must be at least 105 \(processor_timeout_minutes "
                                         r"60 \+ lister_timeout_minutes 30 \+ schedule interval 15"):
        PipelineAlarms(Stack(App(), "Short"), "Alarms", props)
    longer = dataclasses.replace(props, lister_heartbeat_minutes=120)
    alarms = PipelineAlarms(Stack(App(), "Long"), "Alarms", longer)
    assert alarms.metrics.lister_heartbeat is not None
    assert alarms.metrics.lister_heartbeat.period.to_minutes() == 120


def test_a_schedule_of_unknown_interval_needs_the_heartbeat_off() -> None:
    props = _props(lister_timeout_minutes=30, processor_timeout_minutes=60, schedule_interval_minutes=None)
    with pytest.raises(ValueError, match=r"lister_heartbeat cannot be derived"):
        PipelineAlarms(Stack(App(), "Monthly"), "Alarms", props)
    PipelineAlarms(Stack(App(), "MonthlyOff"), "Alarms", dataclasses.replace(props, lister_heartbeat=False))


@pytest.mark.parametrize(("instance_class", "gib"), [
    ("t4g.micro", 1), ("db.t3.medium", 4), ("m7g.large", 8), ("m6g.2xlarge", 32), ("r7g.xlarge", 32),
    ("db.r6g.4xlarge", 128),
])
def test_memory_threshold_is_a_share_of_the_instance_class(instance_class: str, gib: int) -> None:
    stack = Stack(App(), "Mem")
    instance = rds.DatabaseInstance.from_database_instance_attributes(
        stack, "Db", instance_identifier="db", instance_endpoint_address="db.internal", port=5432, security_groups=[])
    alarms = PipelineAlarms(stack, "Alarms", _props(database_instance=instance, database_instance_class=instance_class))
    threshold = Template.from_stack(stack).to_json()["Resources"][
        stack.get_logical_id(alarms.alarms["RdsFreeableMemory"].node.default_child)]["Properties"]["Threshold"]
    assert threshold == int(gib * 1024**3 * 0.1)


def test_an_unknown_instance_class_fails_at_synth_with_what_to_set() -> None:
    stack = Stack(App(), "Unknown")
    instance = rds.DatabaseInstance.from_database_instance_attributes(
        stack, "Db", instance_identifier="db", instance_endpoint_address="db.internal", port=5432, security_groups=[])
    with pytest.raises(ValueError, match=r"database_instance_class 'x2g.large' is not an instance class of known "
                                         r"memory .*set rds_freeable_memory_bytes"):
        PipelineAlarms(stack, "Alarms", _props(database_instance=instance, database_instance_class="x2g.large"))
    explicit = _props(database_instance=instance, database_instance_class="x2g.large", rds_freeable_memory_bytes=5)
    assert explicit.freeable_memory_threshold_bytes == 5


def test_a_paused_schedule_keeps_the_heartbeat_with_its_actions_disabled(default: Built, cfn: Any) -> None:
    """Issue 18 #8: pausing used to delete the heartbeat alarm; now it stays (state, history, dashboard) and
    notifies nobody until the schedule is resumed. The other alarms keep their actions."""
    assert _alarm(default, cfn, "ListerHeartbeat").get("ActionsEnabled", True) is True
    stack = Stack(App(), "Paused")
    paused = PipelineAlarms(stack, "Alarms", _props(schedule_enabled=False))
    resources = Template.from_stack(stack).to_json()["Resources"]

    def alarm(key: str) -> dict[str, Any]:
        return resources[stack.get_logical_id(paused.alarms[key].node.default_child)]["Properties"]

    assert alarm("ListerHeartbeat")["ActionsEnabled"] is False and alarm("ListerHeartbeat")["AlarmActions"]
    assert alarm("ListerDuration").get("ActionsEnabled", True) is True


def test_the_rescued_data_alarm_is_off_by_default_and_watches_the_metric_when_set(default: Built) -> None:
    """Issue 20: ``RecordsWithRescuedData`` only with ``rescued_records_threshold``."""
    assert "RecordsWithRescuedData" not in default.construct.alarms
    stack = Stack(App(), "RescuedAlarmStack")
    construct = PipelineAlarms(stack, "Alarms", PipelineAlarmsProps(
        environment_name="dev", lister_job_name=LISTER, processor_job_name=PROCESSOR, rescued_records_threshold=100))
    assert "RecordsWithRescuedData" in construct.alarms
    Template.from_stack(stack).has_resource_properties("AWS::CloudWatch::Alarm", {
        "MetricName": m.RECORDS_WITH_RESCUED_DATA, "Statistic": "Sum", "Threshold": 100,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "notBreaching"})
