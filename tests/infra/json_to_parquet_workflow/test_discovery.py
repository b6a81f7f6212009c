"""``discovery_mode`` (issue 21): the raw prefix's daily Parquet inventory, and in ``events`` mode the EventBridge
rule, the encrypted queue and its dead-letter queue, the consumer job on the lister's bundle with least privilege,
its schedule and the queue alarms; cdk-nag clean."""

from __future__ import annotations

from typing import Any

import pytest

from platform_constructs._shared.validation import PropsError
from platform_contract.discovery import INVENTORY_ID, INVENTORY_PREFIX

pytestmark = pytest.mark.infra

RAW = "raw-json-data/"


@pytest.fixture(scope="module")
def events_mode(build_workflow: Any) -> tuple[Any, Any, dict[str, Any]]:
    return build_workflow(environment_name="dev", discovery_mode="events")


@pytest.fixture(scope="module")
def inventory_mode(build_workflow: Any) -> tuple[Any, Any, dict[str, Any]]:
    return build_workflow(environment_name="dev", discovery_mode="inventory")


def _types(template: dict[str, Any]) -> list[str]:
    return [r["Type"] for r in template["Resources"].values()]


def test_listing_mode_adds_nothing(default):
    _, workflow, template = default
    assert workflow.discovery is None and workflow.props.bucket.inventory_bucket is None
    assert "AWS::SQS::Queue" not in _types(template)
    assert all("InventoryConfigurations" not in r.get("Properties", {}) for r in template["Resources"].values())


def test_inventory_mode_configures_a_daily_parquet_inventory_of_the_raw_prefix(inventory_mode, cfn):
    _, workflow, template = inventory_mode
    assert workflow.discovery is None and "AWS::SQS::Queue" not in _types(template)
    bucket = workflow.props.bucket
    data = template["Resources"][cfn.logical_id(bucket.bucket)]["Properties"]
    (config,) = data["InventoryConfigurations"]
    reports_id = cfn.logical_id(bucket.inventory_bucket)
    assert cfn.render(config) == {
        "Id": INVENTORY_ID, "Enabled": True, "Prefix": RAW, "ScheduleFrequency": "Daily",
        "IncludedObjectVersions": "Current", "OptionalFields": ["Size", "LastModifiedDate", "ETag"],
        "Destination": {"BucketArn": "${" + reports_id + ".Arn}", "Format": "Parquet",
                        "Prefix": INVENTORY_PREFIX.rstrip("/"), "BucketAccountId": "${AWS::AccountId}"},
    }
    assert not INVENTORY_PREFIX.startswith(RAW)  # never registered: outside the raw prefix (and another bucket)


def test_only_s3_of_this_account_and_bucket_may_deliver_reports(inventory_mode, cfn):
    _, workflow, template = inventory_mode
    bucket = workflow.props.bucket
    reports_id = cfn.logical_id(bucket.inventory_bucket)
    (policy,) = [r for _, r in cfn.resources(template, "AWS::S3::BucketPolicy")
                 if r["Properties"]["Bucket"] == {"Ref": reports_id}]
    (delivery,) = [s for s in policy["Properties"]["PolicyDocument"]["Statement"]
                   if s.get("Sid") == "S3InventoryDelivery"]
    assert delivery["Principal"] == {"Service": "s3.amazonaws.com"} and delivery["Action"] == "s3:PutObject"
    assert cfn.render(delivery["Resource"]) == "${" + reports_id + ".Arn}/" + INVENTORY_PREFIX + "*"
    assert cfn.render(delivery["Condition"]) == {
        "StringEquals": {"aws:SourceAccount": "${AWS::AccountId}"},
        "ArnLike": {"aws:SourceArn": "${" + cfn.logical_id(bucket.bucket) + ".Arn}"},
    }
    reports = template["Resources"][reports_id]["Properties"]
    assert reports["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"}
    assert reports["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 14


def test_the_lister_may_read_the_reports_and_nothing_more_of_their_bucket(inventory_mode, cfn):
    _, workflow, template = inventory_mode
    reports_arn = "${" + cfn.logical_id(workflow.props.bucket.inventory_bucket) + ".Arn}"
    granted = {(a, r) for s in cfn.role_statements(template, workflow.lister_role.role) for a in s["Action"]
               for r in s["Resource"] if r.startswith(reports_arn)}
    assert granted == {("s3:GetObject", reports_arn + "/" + INVENTORY_PREFIX + "*"), ("s3:ListBucket", reports_arn)}


def test_the_rule_routes_object_created_under_the_raw_prefix_of_this_bucket_to_the_queue(events_mode, cfn):
    _, workflow, template = events_mode
    d = workflow.discovery
    rule = template["Resources"][cfn.logical_id(d.rule)]["Properties"]
    assert cfn.render(rule["EventPattern"]) == {
        "source": ["aws.s3"], "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": ["${" + cfn.logical_id(workflow.props.bucket.bucket) + "}"]},
                   "object": {"key": [{"prefix": RAW}]}},
    }
    (target,) = rule["Targets"]
    assert cfn.render(target["Arn"]) == "${" + cfn.logical_id(d.queue) + ".Arn}"
    # the bucket sends its events to EventBridge
    (notifications,) = [r["Properties"] for _, r in cfn.resources(template, "Custom::S3BucketNotifications")]
    assert notifications["BucketName"] == {"Ref": cfn.logical_id(workflow.props.bucket.bucket)}
    assert notifications["NotificationConfiguration"]["EventBridgeConfiguration"] == {}


def test_the_queue_is_encrypted_with_a_dead_letter_queue_and_only_the_rule_may_send(events_mode, cfn):
    _, workflow, template = events_mode
    d = workflow.discovery
    queue = template["Resources"][cfn.logical_id(d.queue)]["Properties"]
    dlq = template["Resources"][cfn.logical_id(d.dead_letter_queue)]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True and dlq["SqsManagedSseEnabled"] is True
    assert (queue["VisibilityTimeout"], queue["MessageRetentionPeriod"], dlq["MessageRetentionPeriod"]) == (
        900, 4 * 86400, 14 * 86400)
    assert queue["VisibilityTimeout"] > 600  # the consumer's --max-seconds
    assert cfn.render(queue["RedrivePolicy"]) == {
        "deadLetterTargetArn": "${" + cfn.logical_id(d.dead_letter_queue) + ".Arn}", "maxReceiveCount": 5}
    policies = [r["Properties"] for _, r in cfn.resources(template, "AWS::SQS::QueuePolicy")
                if {"Ref": cfn.logical_id(d.queue)} in r["Properties"]["Queues"]]
    (policy,) = policies
    sends = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert len(sends) == 1
    assert sends[0]["Principal"] == {"Service": "events.amazonaws.com"}
    rule_arn = "${" + cfn.logical_id(d.rule) + ".Arn}"
    assert cfn.render(sends[0]["Condition"]) == {"ArnEquals": {"aws:SourceArn": rule_arn}}
    denies = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert denies and all(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)


def test_the_consumer_job_reuses_the_lister_bundle_and_drains_the_queue(events_mode, cfn):
    _, workflow, template = events_mode
    d = workflow.discovery
    job = cfn.job(template, d.job_name)
    lister = cfn.job(template, workflow.lister_job_name)
    assert job["Command"] == lister["Command"] and job["Connections"] == lister["Connections"]
    args = job["DefaultArguments"]
    assert cfn.render(args["--from-queue"]) == "${" + cfn.logical_id(d.queue) + "}"
    assert (args["--max-seconds"], args["--poll-seconds"]) == ("600", "20")
    assert args["--extra-py-files"] == lister["DefaultArguments"]["--extra-py-files"]
    assert job["ExecutionProperty"] == {"MaxConcurrentRuns": 1} and job["Timeout"] == 15
    trigger = cfn.one(template, "AWS::Glue::Trigger", Name="FileEventConsumerSchedule-dev")["Properties"]
    assert (trigger["Type"], trigger["Schedule"]) == ("SCHEDULED", "cron(0/5 * * * ? *)")
    assert trigger["Actions"] == [{"JobName": d.job_name}]


def test_the_consumer_role_has_least_privilege(events_mode, cfn):
    _, workflow, template = events_mode
    d = workflow.discovery
    statements = cfn.role_statements(template, d.role)
    queue_arn = "${" + cfn.logical_id(d.queue) + ".Arn}"
    sqs_actions = {a for s in statements for a in s["Action"] if a.startswith("sqs:")}
    assert sqs_actions == {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                           "sqs:GetQueueAttributes"}
    assert all(s["Resource"] == [queue_arn] for s in statements if any(a.startswith("sqs:") for a in s["Action"]))
    bucket_arn = "${" + cfn.logical_id(workflow.props.bucket.bucket) + ".Arn}"
    objects = {r for s in statements if "s3:GetObject" in s["Action"] for r in s["Resource"]
               if r.startswith(bucket_arn)}
    assert objects == {bucket_arn + "/" + RAW + "*"}
    s3_actions = {a for s in statements for a in s["Action"] if a.startswith("s3:")}
    assert not s3_actions & {"s3:PutObject", "s3:DeleteObject", "s3:*"}
    assert all("*" not in a.split(":")[1] or a.startswith(("kms:", "logs:")) for s in statements for a in s["Action"]
               if a.startswith(("sqs:", "s3:")))
    assert any("kms:Decrypt" in s["Action"] for s in statements)  # the bucket key (HeadObject of SSE-KMS objects)


def test_the_alarms_watch_the_oldest_message_and_the_dead_letter_queue(events_mode, cfn):
    _, workflow, template = events_mode
    d = workflow.discovery
    age = template["Resources"][cfn.logical_id(d.oldest_message_alarm)]["Properties"]
    assert (age["MetricName"], age["Namespace"], age["Threshold"]) == (
        "ApproximateAgeOfOldestMessage", "AWS/SQS", 1800)
    assert cfn.render(age["Dimensions"]) == [
        {"Name": "QueueName", "Value": "${" + cfn.logical_id(d.queue) + ".QueueName}"}]
    dead = template["Resources"][cfn.logical_id(d.dead_letter_alarm)]["Properties"]
    assert (dead["MetricName"], dead["Threshold"], dead["ComparisonOperator"], dead["Statistic"]) == (
        "ApproximateNumberOfMessagesVisible", 0, "GreaterThanThreshold", "Maximum")


def test_an_sqs_endpoint_admits_the_jobs(events_mode, cfn):
    _, workflow, template = events_mode
    endpoint = template["Resources"][cfn.logical_id(workflow.discovery.sqs_endpoint)]["Properties"]
    assert "sqs" in str(endpoint["ServiceName"]) and endpoint["PrivateDnsEnabled"] is True


@pytest.mark.parametrize("mode", ["events", "inventory"])
def test_a_mode_beyond_listing_needs_a_bucket_the_stack_creates(build_workflow, cdk, mode):
    from aws_cdk import App, Stack
    from aws_cdk import aws_s3 as s3

    existing = s3.Bucket.from_bucket_name(Stack(App(), "Other"), "Existing", "some-bucket")
    with pytest.raises(PropsError, match="discovery_mode"):
        build_workflow(cdk.BucketProps(existing_bucket=existing), environment_name="dev", discovery_mode=mode)


@pytest.mark.parametrize(("field", "value"), [("discovery_mode", "notifications"),
                                              ("event_consumer_schedule", "rate(5 minutes)"),
                                              ("event_queue_age_alarm_minutes", 1)])
def test_settings_are_validated_at_synth(field, value):
    from platform_constructs.json_to_parquet_workflow import JsonToParquetWorkflowSettings

    with pytest.raises(PropsError, match=field):
        JsonToParquetWorkflowSettings(**{field: value}).validate()


def test_events_mode_is_cdk_nag_clean(events_mode):
    from cdk_nag import AwsSolutionsChecks

    stack = events_mode[0]
    report = AwsSolutionsChecks().validate_scope(stack)
    findings = [f"{v.rule_name} at {r.construct_path}" for v in report.violations for r in v.violating_resources
                if "EventDiscovery" in r.construct_path or "InventoryBucket" in r.construct_path]
    assert findings == []


@pytest.mark.parametrize("mode", ["inventory", "events"])
def test_the_scheduled_lister_registers_from_the_reports_and_lists_as_the_safety_net(request, cfn, mode):
    _, workflow, template = request.getfixturevalue(f"{mode}_mode")
    bucket = workflow.props.bucket
    args = cfn.render(cfn.job(template, workflow.lister_job_name)["DefaultArguments"])
    # the config's folder in AWS's layout <destination prefix>/<source bucket>/<config id>/
    assert args["--inventory-location"] == (
        "s3://${" + cfn.logical_id(bucket.inventory_bucket) + "}/" + INVENTORY_PREFIX
        + "${" + cfn.logical_id(bucket.bucket) + "}/" + INVENTORY_ID + "/")
    assert args["--full-listing-hours"] == "168"
    # the lister's role may list the report bucket and read the report prefix (the location lies under it)
    reports_arn = "${" + cfn.logical_id(bucket.inventory_bucket) + ".Arn}"
    granted = {(a, r) for s in cfn.role_statements(template, workflow.lister_role.role) for a in s["Action"]
               for r in s["Resource"] if r.startswith(reports_arn)}
    assert {("s3:GetObject", reports_arn + "/" + INVENTORY_PREFIX + "*"), ("s3:ListBucket", reports_arn)} <= granted
    if workflow.discovery is not None:  # the event consumer drains its queue, it never reads reports
        consumer = cfn.render(cfn.job(template, workflow.discovery.job_name)["DefaultArguments"])
        assert "--inventory-location" not in consumer


def test_listing_mode_lists_on_every_run(default, cfn):
    _, workflow, template = default
    args = cfn.job(template, workflow.lister_job_name)["DefaultArguments"]
    assert "--inventory-location" not in args and "--full-listing-hours" not in args


def test_full_listing_hours_is_passed_and_validated(build_workflow, cfn):
    from platform_constructs.json_to_parquet_workflow import JsonToParquetWorkflowSettings

    _, workflow, template = build_workflow(environment_name="dev", discovery_mode="inventory", full_listing_hours=0)
    assert cfn.job(template, workflow.lister_job_name)["DefaultArguments"]["--full-listing-hours"] == "0"
    with pytest.raises(PropsError, match="full_listing_hours"):
        JsonToParquetWorkflowSettings(full_listing_hours=-1).validate()
    with pytest.raises(PropsError, match="--inventory-location"):
        JsonToParquetWorkflowSettings(extra_lister_arguments={"--inventory-location": "s3://x/"}).validate()
