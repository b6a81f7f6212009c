"""MlDataPlatform-dev and -prod as app.py builds them: what differs per environment, and what must hold in both."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.infra

DEV, PROD = "MlDataPlatform-dev", "MlDataPlatform-prod"
ONCALL_TOPIC = "arn:aws:sns:eu-west-1:123456789012:oncall"


def _resources(template: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [r for r in template["Resources"].values() if r["Type"] == resource_type]


@pytest.fixture(scope="module")
def dev(platform_templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return platform_templates[DEV]


@pytest.fixture(scope="module")
def prod(platform_templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return platform_templates[PROD]


@pytest.fixture(scope="module")
def variant_assembly() -> Any:
    """app.py with ``-c dev.allow_destroy=true -c alarms.alarm_emails=... -c prod.alarms.existing_topic_arn=...``
    (context as the CLI passes it)."""
    from aws_cdk import App

    import app as cdk_app

    context = {**cdk_app.cdk_json_context(), "dev.allow_destroy": "true",
               "alarms.alarm_emails": "ops@example.com,oncall@example.com",
               "prod.alarms.existing_topic_arn": ONCALL_TOPIC}
    return cdk_app.build_app(App(context=context)).synth()


@pytest.fixture(scope="module")
def destroyable_dev(variant_assembly: Any) -> dict[str, Any]:
    """The dev stack of ``variant_assembly``: ``allow_destroy`` and two alarm e-mails."""
    return variant_assembly.get_stack_by_name(DEV).template


@pytest.fixture(scope="module")
def prod_with_oncall_topic(variant_assembly: Any) -> dict[str, Any]:
    """The prod stack of ``variant_assembly``: alarms go to an existing on-call topic (plus the two e-mails)."""
    return variant_assembly.get_stack_by_name(PROD).template


@pytest.fixture(scope="module")
def unsubscribed_app() -> Any:
    """app.py with cdk.json's context only, as a bare ``cdk synth`` builds it (constructed, not synthesized)."""
    import app as cdk_app

    return cdk_app.build_app()


def test_app_builds_both_environment_stacks(platform_templates: dict[str, dict[str, Any]]) -> None:
    assert set(platform_templates) == {DEV, PROD}


def test_bucket_encryption_per_environment(dev: dict[str, Any], prod: dict[str, Any]) -> None:
    def algorithms(template: dict[str, Any]) -> list[str]:
        return sorted(
            rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
            for b in _resources(template, "AWS::S3::Bucket")
            for rule in b["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        )

    assert algorithms(dev) == ["AES256", "AES256"]  # data bucket (S3_MANAGED) and access-log bucket
    # access logs must stay SSE-S3; prod's inventory reports (discovery_mode events) too
    assert algorithms(prod) == ["AES256", "AES256", "aws:kms"]
    kms_bucket = next(b for b in _resources(prod, "AWS::S3::Bucket") if "aws:kms" in str(b["Properties"]))
    rule = kms_bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["BucketKeyEnabled"] is True


def test_removal_policies_per_environment(
    dev: dict[str, Any], prod: dict[str, Any], destroyable_dev: dict[str, Any]
) -> None:
    def policies(template: dict[str, Any], resource_type: str) -> set[str]:
        return {r.get("DeletionPolicy", "Delete") for r in _resources(template, resource_type)}

    assert policies(dev, "AWS::S3::Bucket") == {"Retain"}
    assert policies(dev, "AWS::RDS::DBInstance") == {"Snapshot"}
    # production keeps its data on every update and delete, not on the rollback of a failed first create (issue 18)
    assert policies(prod, "AWS::S3::Bucket") == {"RetainExceptOnCreate"}
    assert policies(prod, "AWS::RDS::DBInstance") == {"RetainExceptOnCreate"}
    assert policies(prod, "AWS::KMS::Key") == {"RetainExceptOnCreate"}
    # DESTROY only behind the explicit flag, and then the buckets are emptied first
    assert policies(destroyable_dev, "AWS::S3::Bucket") == {"Delete"}
    assert policies(destroyable_dev, "AWS::RDS::DBInstance") == {"Delete"}
    assert len(_resources(destroyable_dev, "Custom::S3AutoDeleteObjects")) == 2
    assert not _resources(dev, "Custom::S3AutoDeleteObjects")


def test_database_availability_and_protection_per_environment(dev: dict[str, Any], prod: dict[str, Any]) -> None:
    (dev_db,) = _resources(dev, "AWS::RDS::DBInstance")
    (prod_db,) = _resources(prod, "AWS::RDS::DBInstance")
    assert dev_db["Properties"]["MultiAZ"] is False
    assert dev_db["Properties"]["DeletionProtection"] is False
    assert dev_db["Properties"]["DBInstanceClass"] == "db.t4g.micro"
    assert prod_db["Properties"]["MultiAZ"] is True
    assert prod_db["Properties"]["DeletionProtection"] is True
    assert prod_db["Properties"]["DBInstanceClass"] == "db.m7g.large"
    for db in (dev_db, prod_db):
        assert db["Properties"]["StorageEncrypted"] is True
        assert db["Properties"]["PubliclyAccessible"] is False
    assert dev_db["Properties"]["BackupRetentionPeriod"] == 1
    assert prod_db["Properties"]["BackupRetentionPeriod"] == 14


def _job(template: dict[str, Any], name: str) -> dict[str, Any]:
    (job,) = [j["Properties"] for j in _resources(template, "AWS::Glue::Job") if j["Properties"]["Name"] == name]
    return job


def test_glue_jobs_per_environment(dev: dict[str, Any], prod: dict[str, Any]) -> None:
    def processor(template: dict[str, Any]) -> dict[str, Any]:
        env = "prod" if template is prod else "dev"
        return _job(template, f"JsonToParquetBatchProcessor-{env}")

    assert processor(dev)["Name"] == "JsonToParquetBatchProcessor-dev"
    assert (processor(dev)["WorkerType"], processor(dev)["NumberOfWorkers"]) == ("G.1X", 2)
    assert processor(prod)["Name"] == "JsonToParquetBatchProcessor-prod"
    assert (processor(prod)["WorkerType"], processor(prod)["NumberOfWorkers"]) == ("G.2X", 10)
    assert processor(dev)["DefaultArguments"]["--batch-size"] == "200"
    assert processor(prod)["DefaultArguments"]["--batch-size"] == "2000"
    assert processor(prod)["DefaultArguments"]["--environment"] == "prod"
    for template in (dev, prod):
        assert {j["Properties"]["GlueVersion"] for j in _resources(template, "AWS::Glue::Job")} == {"3.0", "5.0"}


def test_backfill_runs_have_their_own_job_and_never_take_the_schedule_slot(
    dev: dict[str, Any], prod: dict[str, Any]
) -> None:
    for template, env, backfill_runs, workers, budget in ((dev, "dev", 2, 2, 120), (prod, "prod", 4, 10, 480)):
        scheduled = _job(template, f"JsonToParquetBatchProcessor-{env}")
        backfill = _job(template, f"JsonToParquetBatchProcessorBackfill-{env}")
        assert scheduled["ExecutionProperty"] == {"MaxConcurrentRuns": 1}
        assert backfill["ExecutionProperty"] == {"MaxConcurrentRuns": backfill_runs}
        assert backfill["NumberOfWorkers"] == workers and backfill["WorkerType"] == scheduled["WorkerType"]
        assert (backfill["Timeout"], backfill["DefaultArguments"]["--max-minutes"]) == (budget + 30, str(budget))
        for key in ("Role", "Command", "SecurityConfiguration", "Connections"):
            assert backfill[key] == scheduled[key], key
        triggers = {t["Properties"]["Name"]: t["Properties"] for t in _resources(template, "AWS::Glue::Trigger")}
        assert [a["JobName"] for a in triggers[f"JsonToParquetBackfill-{env}"]["Actions"]] == [backfill["Name"]]
        assert [a["JobName"] for a in triggers[f"JsonToParquetAfterListing-{env}"]["Actions"]] == [scheduled["Name"]]
        (rule,) = [r for r in _resources(template, "AWS::Events::Rule") if "jobName" in str(r)]
        assert rule["Properties"]["EventPattern"]["detail"]["jobName"][:3] == [  # then prod's event consumer
            f"FileListerAndDbPopulator-{env}", scheduled["Name"], backfill["Name"]]


@pytest.mark.parametrize(("env", "glue_temp_days"), [("dev", 2), ("prod", 3)])
def test_lifecycle_expires_the_processors_temp_dir_and_never_batch_staging(
    env: str, glue_temp_days: int, platform_templates: dict[str, dict[str, Any]], cfn: Any, lifecycle: Any
) -> None:
    """Batch staging (``<staging-prefix><batch uuid>/``, with ``_MANIFEST.json``) is needed while the batch is open,
    held or paused for days: no rule of the data bucket expires current objects under the staging prefix except
    Glue's scratch space, which is exactly the processor's (and backfill job's) ``--TempDir``, and expires after the
    configured days. Non-current staging versions still expire after a day; multipart uploads are still aborted."""
    from stacks.config import DEV as DEV_CONFIG
    from stacks.config import PROD as PROD_CONFIG

    template = platform_templates[f"MlDataPlatform-{env}"]
    temp_dirs, stores, stagings = set(), set(), set()
    for name in (f"JsonToParquetBatchProcessor-{env}", f"JsonToParquetBatchProcessorBackfill-{env}"):
        arguments = cfn.render(_job(template, name)["DefaultArguments"])
        stores.add(arguments["--store"])
        stagings.add(arguments["--staging-prefix"])
        temp_dirs.add(arguments["--TempDir"])
    ((store,), (staging,), (temp_dir,)) = (stores, stagings, temp_dirs)
    assert store.startswith("s3://${") and temp_dir.startswith(f"{store}/")
    glue_temp_prefix = temp_dir[len(store) + 1:]
    assert glue_temp_prefix == f"{staging}_glue_temporary/"
    bucket = template["Resources"][store[len("s3://${"):-1]]
    rules = bucket["Properties"]["LifecycleConfiguration"]["Rules"]

    assert lifecycle.rules_expiring_staging(rules, staging, glue_temp_prefix) == []
    (glue_temp,) = [r for r in rules
                    if lifecycle.expires_current_objects(r) and lifecycle.rule_prefix(r) == glue_temp_prefix]
    config = DEV_CONFIG if env == "dev" else PROD_CONFIG
    assert glue_temp["ExpirationInDays"] == glue_temp_days == config.setting("bucket.glue_temp_expiry_days")
    assert [r["NoncurrentVersionExpiration"] for r in rules
            if lifecycle.rule_prefix(r) == staging and "NoncurrentVersionExpiration" in r] == [{"NoncurrentDays": 1}]
    assert [lifecycle.rule_prefix(r) for r in rules if "AbortIncompleteMultipartUpload" in r] == [""]


def test_security_configuration_name_carries_a_content_hash(dev: dict[str, Any], prod: dict[str, Any]) -> None:
    names = {}
    for template, env in ((dev, "dev"), (prod, "prod")):
        (config,) = _resources(template, "AWS::Glue::SecurityConfiguration")
        name = config["Properties"]["Name"]
        assert name.startswith(f"mldp-glue-{env}-") and len(name) == len(f"mldp-glue-{env}-") + 8
        assert {j["Properties"]["SecurityConfiguration"] for j in _resources(template, "AWS::Glue::Job")} == {name}
        names[env] = name
    assert names["dev"][-8:] != names["prod"][-8:]  # SSE-S3 bucket in dev, SSE-KMS in prod


def test_every_alarm_notifies_the_encrypted_topic(dev: dict[str, Any], prod: dict[str, Any]) -> None:
    for template in (dev, prod):
        ((topic_id, topic),) = [(k, v) for k, v in template["Resources"].items() if v["Type"] == "AWS::SNS::Topic"]
        assert "KmsMasterKeyId" in topic["Properties"]
        alarms = _resources(template, "AWS::CloudWatch::Alarm")
        assert len(alarms) >= 10
        for alarm in alarms:
            if " ended in " in alarm["Properties"]["AlarmDescription"]:  # JobFailures: the failure rule notifies
                assert "AlarmActions" not in alarm["Properties"]
                continue
            assert {"Ref": topic_id} in alarm["Properties"]["AlarmActions"], alarm["Properties"].get("AlarmName")
        # issue 18 #6: one failure, one notification (the EventBridge rule's message; the alarm has no action)
        rules = [r for r in _resources(template, "AWS::Events::Rule")
                 if r["Properties"].get("EventPattern", {}).get("detail-type") == ["Glue Job State Change"]]
        assert [t["Arn"] for r in rules for t in r["Properties"]["Targets"]] == [{"Ref": topic_id}]


def test_alarm_emails_come_from_context(
    dev: dict[str, Any], prod: dict[str, Any], destroyable_dev: dict[str, Any]
) -> None:
    assert not _resources(dev, "AWS::SNS::Subscription")
    endpoints = sorted(s["Properties"]["Endpoint"] for s in _resources(destroyable_dev, "AWS::SNS::Subscription"))
    assert endpoints == ["oncall@example.com", "ops@example.com"]
    # the shared test app passes a prod address, as `make synth` does
    assert [s["Properties"]["Endpoint"] for s in _resources(prod, "AWS::SNS::Subscription")] == [
        "prod-alarms@example.com"]


def test_prod_can_publish_to_an_existing_oncall_topic(prod_with_oncall_topic: dict[str, Any]) -> None:
    template = prod_with_oncall_topic
    assert not _resources(template, "AWS::SNS::Topic")
    alarms = _resources(template, "AWS::CloudWatch::Alarm")
    # every alarm but JobFailures, whose failures the EventBridge rule reports (one failure, one notification)
    assert alarms and all(a["Properties"].get("AlarmActions", [ONCALL_TOPIC]) == [ONCALL_TOPIC] for a in alarms)
    assert sum("AlarmActions" not in a["Properties"] for a in alarms) == 1
    (rule,) = [r for r in _resources(template, "AWS::Events::Rule") if "jobName" in str(r)]  # not the S3 events'
    assert [t["Arn"] for t in rule["Properties"]["Targets"]] == [ONCALL_TOPIC]
    subscriptions = _resources(template, "AWS::SNS::Subscription")
    assert {s["Properties"]["TopicArn"] for s in subscriptions} == {ONCALL_TOPIC}
    assert template["Outputs"]["AlarmTopicArn"]["Value"] == ONCALL_TOPIC


def test_prod_without_an_alarm_subscriber_fails_synth_with_what_to_set(unsubscribed_app: Any) -> None:
    """A bare ``cdk synth``: the prod stack carries an error (the CLI fails every command that selects it, and
    ``python app.py`` exits 1); dev, which does not require a subscriber, has none and still deploys alone."""
    from aws_cdk import Stack

    def errors(stack_name: str) -> list[str]:
        stack = next(c for c in unsubscribed_app.node.children if isinstance(c, Stack) and c.stack_name == stack_name)
        return [str(e.data) for c in stack.node.find_all() for e in c.node.metadata if e.type == "aws:cdk:error"]

    assert errors(DEV) == []
    (message,) = errors(PROD)
    assert "-c prod.alarms.alarm_emails=a@example.com" in message
    assert "-c prod.alarms.existing_topic_arn=arn:" in message


def test_app_main_takes_cli_style_context_options() -> None:
    import app as cdk_app

    with pytest.raises(SystemExit):
        cdk_app.main(["-c", "prod.alarms.alarm_emails"])  # not KEY=VALUE: argparse error before anything is built


def test_stacks_export_what_operators_need(dev: dict[str, Any]) -> None:
    assert {"BucketName", "WorkflowName", "ListerJobName", "ProcessorJobName", "BackfillTriggerName",
            "DatabaseEndpoint", "DatabaseSecretArn", "CatalogTable", "AlarmTopicArn"} <= set(dev["Outputs"])
    assert dev["Outputs"]["WorkflowName"]["Value"] == "JsonToParquetProcessingWorkflow-dev"
    assert dev["Outputs"]["CatalogTable"]["Value"] == "ml_data_platform_dev.json_parsed_parquet"


def test_no_policy_grants_s3_star_or_whole_bucket_writes(dev: dict[str, Any], prod: dict[str, Any]) -> None:
    for template in (dev, prod):
        for policy in _resources(template, "AWS::IAM::Policy"):
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                assert "s3:*" not in actions and "*" not in actions, statement


def test_pausing_the_schedule_stops_the_live_trigger_and_silences_only_the_heartbeat() -> None:
    """Issue 18 #8 on the deployed shape: ``-c dev.workflow.schedule_enabled=false`` makes the schedule-state
    custom resource stop the trigger on update, and keeps the heartbeat alarm with its actions disabled."""
    import json

    from aws_cdk import App

    import app as cdk_app

    context = {**cdk_app.cdk_json_context(), "dev.workflow.schedule_enabled": "false"}
    template = cdk_app.build_app(App(context=context)).synth().get_stack_by_name(DEV).template
    custom = {k: r for k, r in template["Resources"].items() if r["Type"] == "Custom::AWS"}
    (state,) = [r for k, r in custom.items() if k.startswith("WorkflowScheduleState")]
    assert '"action":"stopTrigger"' in json.dumps(state["Properties"]["Update"]).replace("\\", "")
    (seed,) = [r for k, r in custom.items() if k.startswith("AlarmsHeartbeatSeed")]  # re-seeds on the flip
    assert "lister-heartbeat-seed/paused" in json.dumps(seed["Properties"]["Update"])
    alarms = _resources(template, "AWS::CloudWatch::Alarm")
    silenced = [a["Properties"]["AlarmDescription"] for a in alarms if a["Properties"].get("ActionsEnabled") is False]
    assert len(silenced) == 1 and "run reported in" in silenced[0]


def test_failed_event_consumer_runs_are_mailed_by_the_job_failure_rule(dev: dict[str, Any],
                                                                       prod: dict[str, Any]) -> None:
    """discovery_mode events (prod): the FileEventConsumer's FAILED/TIMEOUT/ERROR runs reach the alarm topic through
    the same Glue job-state rule as the lister's, one notification per run; dev (listing) has no consumer."""
    def failure_rule_jobs(template: dict[str, Any]) -> list[str]:
        (rule,) = [r for r in _resources(template, "AWS::Events::Rule")
                   if r["Properties"].get("EventPattern", {}).get("source") == ["aws.glue"]]
        return rule["Properties"]["EventPattern"]["detail"]["jobName"]

    consumers = [j["Properties"]["Name"] for j in _resources(prod, "AWS::Glue::Job")
                 if j["Properties"]["Name"].startswith("FileEventConsumer")]
    assert consumers == ["FileEventConsumer-prod"]
    assert failure_rule_jobs(prod)[-1] == "FileEventConsumer-prod"
    assert failure_rule_jobs(prod)[:3] == ["FileListerAndDbPopulator-prod", "JsonToParquetBatchProcessor-prod",
                                           "JsonToParquetBatchProcessorBackfill-prod"]
    assert not any(name.startswith("FileEventConsumer") for name in failure_rule_jobs(dev))
