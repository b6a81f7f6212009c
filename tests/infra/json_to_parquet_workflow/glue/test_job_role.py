"""JsonToParquetWorkflow's IAM roles (glue/job_role.py): one role per job, least privilege, prefix-scoped S3."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.infra


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    return {a for s in statements for a in s["Action"]}


def test_one_role_per_job_and_no_wildcard_actions(default: Any, cfn: Any) -> None:
    _, workflow, template = default
    lister = cfn.logical_id(workflow.lister_role.role)
    processor = cfn.logical_id(workflow.processor_role.role)
    jobs = {
        r["Properties"]["Name"]: cfn.render(r["Properties"]["Role"])
        for _, r in cfn.resources(template, "AWS::Glue::Job")
    }
    assert jobs == {"FileListerAndDbPopulator-dev": "${" + lister + ".Arn}",
                    "JsonToParquetBatchProcessor-dev": "${" + processor + ".Arn}",
                    "JsonToParquetBatchProcessorBackfill-dev": "${" + processor + ".Arn}"}
    for role in (lister, processor):
        role_props = template["Resources"][role]["Properties"]
        assert "ManagedPolicyArns" not in role_props
        actions = _actions(cfn.role_statements(template, role))
        assert not [a for a in actions if a == "*" or a.endswith(":*")], actions


def test_lister_role_only_lists_the_raw_prefix(default: Any, cfn: Any) -> None:
    _, workflow, template = default
    statements = cfn.role_statements(template, workflow.lister_role.role)
    s3 = [s for s in statements if any(a.startswith("s3:") for a in s["Action"])]
    bucket_arn = "${" + cfn.logical_id(workflow.props.bucket.bucket) + ".Arn}"
    (listing,) = [s for s in s3 if s["Action"] == ["s3:ListBucket"]]
    assert listing["Resource"] == [bucket_arn]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["raw-json-data", "raw-json-data/*"]}}
    s3_actions = _actions(s3)
    assert s3_actions == {"s3:ListBucket", "s3:GetBucketLocation", "s3:GetObject"}
    # s3:GetObject only on the lister's own code objects in the CDK asset bucket
    (code,) = [s for s in s3 if s["Action"] == ["s3:GetObject"]]
    assert all("cdk-hnb659fds-assets" in r for r in code["Resource"])
    assert sorted(r.rsplit("/", 1)[1].split("-")[0] for r in code["Resource"]) == [
        "PyYAML", "file_lister_and_db_populator", "mldp_runtime", "psycopg2_binary"]


def test_processor_role_is_prefix_scoped(default: Any, cfn: Any) -> None:
    _, workflow, template = default
    statements = cfn.role_statements(template, workflow.processor_role.role)
    bucket_arn = "${" + cfn.logical_id(workflow.props.bucket.bucket) + ".Arn}"
    writes = {"s3:PutObject", "s3:DeleteObject"}
    for statement in statements:
        if writes & set(statement["Action"]):
            for resource in statement["Resource"]:
                assert resource.startswith(bucket_arn + "/") and resource.endswith("/*"), resource
                prefix = resource[len(bucket_arn) + 1:]
                assert prefix in {
                    "raw-json-data/*", "raw-json-data-processed/*", "curated-data-lake/_staging/*",
                    "curated-data-lake/json_parsed_parquet/*", "error-data-lake/json_malformed_records/*",
                }, prefix
    put_targets = {r for s in statements if "s3:PutObject" in s["Action"] for r in s["Resource"]}
    assert bucket_arn + "/raw-json-data/*" not in put_targets  # raw files are read and deleted, never written
    asset_reads = [r for s in statements if s["Action"] == ["s3:GetObject"] for r in s["Resource"]
                   if "cdk-hnb659fds-assets" in r]
    assert sorted(r.rsplit("/", 1)[1].split("-")[0] for r in asset_reads) == sorted([
        "PyYAML", "json_to_parquet_batch_processor", "mldp", "psycopg2_binary", "runtime", "boto3", "botocore",
        "s3transfer", "jmespath", "python_dateutil", "six", "urllib3"])


def test_only_the_processor_role_lists_the_bucket_without_a_prefix_condition(default: Any, cfn: Any) -> None:
    """The processor observes missing keys (manifest, retried copies, vanished files, Spark's output checks): S3
    answers it 404 rather than 403 only with an unconditioned s3:ListBucket on the bucket. The lister never reads
    a key, so it keeps its raw-prefix condition."""
    _, workflow, template = default
    bucket_arn = "${" + cfn.logical_id(workflow.props.bucket.bucket) + ".Arn}"
    processor = [s for s in cfn.role_statements(template, workflow.processor_role.role)
                 if "s3:ListBucket" in s["Action"] and s["Resource"] == [bucket_arn]]
    assert {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [bucket_arn], "Condition": {}} in processor
    lister = [s for s in cfn.role_statements(template, workflow.lister_role.role) if "s3:ListBucket" in s["Action"]]
    assert lister and all(s["Condition"] for s in lister)


def test_the_processor_role_reads_the_state_of_its_own_job_runs_only(default: Any, cfn: Any) -> None:
    """A run recovers at once a batch whose owner's Glue run ended (glue:GetJobRun); nothing wider."""
    _, workflow, template = default
    statements = [s for s in cfn.role_statements(template, workflow.processor_role.role)
                  if "glue:GetJobRun" in s["Action"]]
    assert [s["Action"] for s in statements] == [["glue:GetJobRun"]]
    names = sorted(r.rsplit(":job/", 1)[1] for r in statements[0]["Resource"])
    assert names == sorted([workflow.processor_job_name, workflow.backfill_job_name])
    lister = cfn.role_statements(template, workflow.lister_role.role)
    assert not any("glue:GetJobRun" in s["Action"] for s in lister)


def test_roles_share_scoped_metrics_logs_secret_and_network_statements(default: Any, cfn: Any) -> None:
    _, workflow, template = default
    secret = cfn.render({"Ref": cfn.logical_id(workflow.props.database.secret)})
    for role, namespaces in ((workflow.lister_role.role, ["MlDataPlatform"]),
                             (workflow.processor_role.role, ["MlDataPlatform", "Glue"])):
        statements = cfn.role_statements(template, role)
        (metrics,) = [s for s in statements if s["Action"] == ["cloudwatch:PutMetricData"]]
        assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": namespaces}}
        (logs,) = [s for s in statements if "logs:PutLogEvents" in s["Action"]]
        assert all(":log-group:/aws-glue/*" in r for r in logs["Resource"])
        secret_reads = [s for s in statements if "secretsmanager:GetSecretValue" in s["Action"]]
        # the lister alone reads the master secret (to migrate as the owner); the processor holds no password
        assert [s["Resource"] for s in secret_reads] == ([[secret]] if role is workflow.lister_role.role else [])
        (connection,) = [s for s in statements if s["Action"] == ["glue:GetConnection"]]
        assert connection["Resource"][1].endswith(":connection/mldp-glue-network-dev")
        (eni,) = [s for s in statements if s["Action"] == ["ec2:CreateNetworkInterface"]]
        subnet = cfn.render({"Ref": cfn.logical_id(workflow.network.subnet)})
        assert any(r.endswith(":subnet/" + subnet) for r in eni["Resource"])
        (tags,) = [s for s in statements if "ec2:CreateTags" in s["Action"]]
        assert tags["Condition"] == {"ForAllValues:StringEquals": {"aws:TagKeys": ["aws-glue-service-resource"]}}
