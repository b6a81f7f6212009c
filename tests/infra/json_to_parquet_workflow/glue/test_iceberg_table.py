"""The Iceberg table format on AWS (glue/iceberg_table.py, issue 19): job arguments, the job role's Glue/S3/KMS
grants for pyiceberg's GlueCatalog commits, the three table optimizers and their role, and nothing of it with the
default Parquet format."""

from __future__ import annotations

from typing import Any

import pytest

from platform_contract.table import (
    ICEBERG_DATABASE_ARGUMENT,
    ICEBERG_TABLE_ARGUMENT,
    ICEBERG_WAREHOUSE_ARGUMENT,
    TABLE_FORMAT_ARGUMENT,
)

pytestmark = pytest.mark.infra

ACCOUNT = "${AWS::AccountId}"
GLUE = "arn:${AWS::Partition}:glue:${AWS::Region}:" + ACCOUNT
CATALOG, DATABASE, TABLE = (
    f"{GLUE}:catalog", f"{GLUE}:database/ml_data_platform_dev", f"{GLUE}:table/ml_data_platform_dev/json_parsed")
TABLE_ARGUMENTS = (TABLE_FORMAT_ARGUMENT, ICEBERG_DATABASE_ARGUMENT, ICEBERG_TABLE_ARGUMENT, ICEBERG_WAREHOUSE_ARGUMENT)


@pytest.fixture(scope="module")
def iceberg(build_workflow: Any) -> tuple[Any, Any, dict[str, Any]]:
    """Iceberg with the table optimizers (KMS bucket, environment ``dev``)."""
    return build_workflow(environment_name="dev", table_format="iceberg", iceberg_optimizers=True,
                          iceberg_snapshot_retention_days=7, iceberg_snapshots_to_retain=20,
                          iceberg_orphan_file_retention_days=4)


@pytest.fixture(scope="module")
def iceberg_sse_s3(cdk: Any, build_workflow: Any) -> tuple[Any, Any, dict[str, Any]]:
    """Iceberg without optimizers on an SSE-S3 bucket."""
    return build_workflow(cdk.BucketProps(encryption="S3_MANAGED"), environment_name="dev", table_format="iceberg")


def _statement(statements: list[dict[str, Any]], *actions: str) -> dict[str, Any]:
    (found,) = [s for s in statements if sorted(s["Action"]) == sorted(actions)]
    return found


def _managed_statements(template: dict[str, Any], role: Any, cfn: Any) -> list[dict[str, Any]]:
    """Statements of the customer-managed policies attached to ``role``: CDK moves statements there when the role's
    inline policy would exceed IAM's size limit (the processor's code grants do, with pyiceberg's wheels)."""
    role_ref = {"Ref": cfn.logical_id(role)}
    return [
        {"Action": cfn.as_list(s["Action"]), "Resource": [cfn.render(cfn.subs(r)) for r in cfn.as_list(s["Resource"])]}
        for _, policy in cfn.resources(template, "AWS::IAM::ManagedPolicy") if role_ref in policy["Properties"]["Roles"]
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _wheel_names(job: dict[str, Any], cfn: Any) -> list[str]:
    modules = cfn.render(cfn.subs(job["DefaultArguments"]["--additional-python-modules"]))
    return [url.rsplit("/", 1)[1].split("-")[0].lower() for url in modules.split(",")]


def test_parquet_default_has_no_iceberg_part(default: Any, cfn: Any) -> None:
    _, workflow, template = default
    assert workflow.iceberg is None
    assert cfn.resources(template, "AWS::Glue::TableOptimizer") == []
    for name in ("JsonToParquetBatchProcessor-dev", "JsonToParquetBatchProcessorBackfill-dev"):
        job = cfn.job(template, name)
        assert not set(TABLE_ARGUMENTS) & set(job["DefaultArguments"])
        assert "pyiceberg" not in _wheel_names(job, cfn)
    actions = {a for s in cfn.role_statements(template, workflow.processor_role.role) for a in s["Action"]}
    assert not {"glue:CreateTable", "glue:UpdateTable", "glue:GetTable", "glue:GetDatabase"} & actions


def test_processor_and_backfill_get_the_table_arguments_and_pyiceberg(iceberg: Any, cfn: Any) -> None:
    _, workflow, template = iceberg
    bucket = cfn.logical_id(workflow.props.bucket.bucket)
    for name in ("JsonToParquetBatchProcessor-dev", "JsonToParquetBatchProcessorBackfill-dev"):
        job = cfn.job(template, name)
        arguments = {k: cfn.render(job["DefaultArguments"][k]) for k in TABLE_ARGUMENTS}
        assert arguments == {
            "--table-format": "iceberg",
            "--iceberg-database": "ml_data_platform_dev",
            "--iceberg-table": "json_parsed",
            "--iceberg-warehouse": "s3://${" + bucket + "}/curated-data-lake/iceberg/",
        }
        wheels = _wheel_names(job, cfn)
        assert {"pyiceberg", "pydantic", "pydantic_core", "mmh3", "pyroaring", "boto3"} <= set(wheels)
        assert len(wheels) == len(set(wheels))  # one version of each distribution
    lister = cfn.job(template, "FileListerAndDbPopulator-dev")
    assert not set(TABLE_ARGUMENTS) & set(lister["DefaultArguments"])
    # the processor's role may read every bundled wheel, pyiceberg's included
    role = workflow.processor_role.role
    code = [r for s in cfn.role_statements(template, role) + _managed_statements(template, role, cfn)
            if s["Action"] == ["s3:GetObject"] for r in s["Resource"] if "cdk-hnb659fds-assets" in str(r)]
    bundled = {url.rsplit("/", 1)[1] for url in cfn.render(cfn.subs(
        cfn.job(template, "JsonToParquetBatchProcessor-dev")["DefaultArguments"]["--additional-python-modules"]
    )).split(",")}
    assert any("pyiceberg-0.12.0-" in name for name in bundled)
    assert bundled <= {r.rsplit("/", 1)[1] for r in code}


def test_extra_arguments_cannot_override_the_table_arguments(build_workflow: Any) -> None:
    from platform_constructs._shared.validation import PropsError

    with pytest.raises(PropsError, match=r"'--iceberg-warehouse'.*the bucket"):
        build_workflow(environment_name="dev", table_format="iceberg",
                       extra_processor_arguments={"--iceberg-warehouse": "s3://elsewhere/"})


def test_job_role_gets_exactly_the_glue_catalog_commit_actions(iceberg: Any, cfn: Any) -> None:
    _, workflow, template = iceberg
    statements = cfn.role_statements(template, workflow.processor_role.role)
    assert _statement(statements, "glue:GetDatabase")["Resource"] == [CATALOG, DATABASE]
    table = _statement(statements, "glue:CreateTable", "glue:GetTable", "glue:UpdateTable")
    assert table["Resource"] == [CATALOG, DATABASE, TABLE] and table["Condition"] == {}
    glue_actions = {a for s in statements for a in s["Action"] if a.startswith("glue:")}
    assert glue_actions == {"glue:GetConnection", "glue:GetJobRun", "glue:GetDatabase", "glue:CreateTable",
                            "glue:GetTable", "glue:UpdateTable"}


def test_job_role_reads_writes_and_deletes_the_warehouse_prefix_with_the_bucket_key(iceberg: Any, cfn: Any) -> None:
    _, workflow, template = iceberg
    statements = cfn.role_statements(template, workflow.processor_role.role)
    bucket = "${" + cfn.logical_id(workflow.props.bucket.bucket) + ".Arn}"
    warehouse = bucket + "/curated-data-lake/iceberg/*"
    (objects,) = [s for s in statements if warehouse in s["Resource"]]
    assert sorted(objects["Action"]) == sorted([
        "s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"])
    assert objects["Resource"] == [warehouse] and objects["Condition"] == {}
    key = "${" + cfn.logical_id(workflow.props.bucket.encryption_key) + ".Arn}"
    on_key = {a for s in statements if key in s["Resource"] for a in s["Action"]}
    assert on_key == {"kms:Decrypt", "kms:GenerateDataKey"}


def test_without_a_bucket_key_no_kms_and_without_optimizers_no_optimizer(iceberg_sse_s3: Any, cfn: Any) -> None:
    _, workflow, template = iceberg_sse_s3
    statements = cfn.role_statements(template, workflow.processor_role.role)
    keys = {r for s in statements if any(a.startswith("kms:") for a in s["Action"]) for r in s["Resource"]}
    assert keys == {"${" + cfn.logical_id(workflow.security_configuration.key) + ".Arn}"}  # logs key only
    assert _statement(statements, "glue:CreateTable", "glue:GetTable", "glue:UpdateTable")
    assert cfn.resources(template, "AWS::Glue::TableOptimizer") == []
    assert workflow.iceberg.optimizer_role is None


def test_a_table_without_optimizers_is_a_synth_warning_that_says_what_to_do(
    iceberg: Any, iceberg_sse_s3: Any
) -> None:
    def warnings(stack: Any) -> list[str]:
        from aws_cdk.assertions import Annotations, Match

        return [str(w.entry.data) for w in Annotations.from_stack(stack).find_warning("*", Match.any_value())
                if "Iceberg table" in str(w.entry.data)]

    (warning,) = warnings(iceberg_sse_s3[0])
    assert "ml_data_platform_dev.json_parsed has no table optimizers" in warning
    assert "set workflow.iceberg_optimizers=true and deploy again" in warning
    assert warnings(iceberg[0]) == []


def test_three_optimizers_with_the_retention_settings(iceberg: Any, cfn: Any) -> None:
    _, workflow, template = iceberg
    role = "${" + cfn.logical_id(workflow.iceberg.optimizer_role) + ".Arn}"
    optimizers = {r["Properties"]["Type"]: r for _, r in cfn.resources(template, "AWS::Glue::TableOptimizer")}
    assert set(optimizers) == {"compaction", "retention", "orphan_file_deletion"}
    for optimizer in optimizers.values():
        props = optimizer["Properties"]
        assert (props["DatabaseName"], props["TableName"]) == ("ml_data_platform_dev", "json_parsed")
        assert cfn.render(props["CatalogId"]) == "${AWS::AccountId}"
        configuration = cfn.render(props["TableOptimizerConfiguration"])
        assert configuration["Enabled"] is True and configuration["RoleArn"] == role
        assert cfn.logical_id(workflow.iceberg.optimizer_role) in optimizer["DependsOn"]
    retention = optimizers["retention"]["Properties"]["TableOptimizerConfiguration"]["RetentionConfiguration"]
    assert retention == {"IcebergConfiguration": {
        "SnapshotRetentionPeriodInDays": 7, "NumberOfSnapshotsToRetain": 20, "CleanExpiredFiles": True}}
    orphans = optimizers["orphan_file_deletion"]["Properties"]["TableOptimizerConfiguration"]
    assert orphans["OrphanFileDeletionConfiguration"] == {
        "IcebergConfiguration": {"OrphanFileRetentionPeriodInDays": 4}}


def test_optimizer_role_is_glue_only_and_scoped_to_the_table_and_warehouse(iceberg: Any, cfn: Any) -> None:
    _, workflow, template = iceberg
    role = workflow.iceberg.optimizer_role
    trust = template["Resources"][cfn.logical_id(role)]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "glue.amazonaws.com"}}]
    statements = cfn.role_statements(template, role)
    bucket = "${" + cfn.logical_id(workflow.props.bucket.bucket) + ".Arn}"
    key = "${" + cfn.logical_id(workflow.props.bucket.encryption_key) + ".Arn}"
    logs = "arn:${AWS::Partition}:logs:${AWS::Region}:" + ACCOUNT + ":log-group:/aws-glue/iceberg-"
    expected = [
        (["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], [bucket + "/curated-data-lake/iceberg/*"], {}),
        (["s3:ListBucket"], [bucket],
         {"StringLike": {"s3:prefix": ["curated-data-lake/iceberg", "curated-data-lake/iceberg/*"]}}),
        (["kms:Decrypt", "kms:GenerateDataKey"], [key], {}),
        (["glue:GetTable", "glue:UpdateTable"], [CATALOG, DATABASE, TABLE], {}),
        (["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
         [f"{logs}{kind}/logs:*" for kind in ("compaction", "retention", "orphan-file-deletion")], {}),
    ]
    assert [(s["Action"], s["Resource"], s["Condition"]) for s in statements] == expected


@pytest.mark.parametrize(("settings", "field"), [
    ({"table_format": "delta"}, "table_format"),
    ({"iceberg_optimizers": True}, "iceberg_optimizers"),
    ({"iceberg_snapshot_retention_days": 9}, "iceberg_snapshot_retention_days"),
    ({"table_format": "iceberg", "iceberg_snapshots_to_retain": 0}, "iceberg_snapshots_to_retain"),
    ({"table_format": "iceberg", "iceberg_snapshot_retention_days": 0}, "iceberg_snapshot_retention_days"),
    ({"table_format": "iceberg", "iceberg_orphan_file_retention_days": 1, "lease_seconds": 90000},
     "iceberg_orphan_file_retention_days"),
])
def test_settings_are_validated_with_the_field_to_fix(settings: dict[str, Any], field: str) -> None:
    from platform_constructs._shared.validation import PropsError
    from platform_constructs.json_to_parquet_workflow import JsonToParquetWorkflowSettings

    with pytest.raises(PropsError, match=rf"\.{field}\b") as raised:
        JsonToParquetWorkflowSettings(**settings).validate()
    assert "iceberg" in str(raised.value)


def test_orphan_files_must_outlive_the_lease_message_says_what_to_change() -> None:
    from platform_constructs._shared.validation import PropsError
    from platform_constructs.json_to_parquet_workflow import JsonToParquetWorkflowSettings

    with pytest.raises(PropsError, match=r"must be longer than lease_seconds.*raise it or shorten"):
        JsonToParquetWorkflowSettings(table_format="iceberg", iceberg_orphan_file_retention_days=1,
                                      lease_seconds=86400).validate()
    JsonToParquetWorkflowSettings(table_format="iceberg", iceberg_orphan_file_retention_days=2,
                                  lease_seconds=86400).validate()


def test_grant_read_is_read_only_on_the_table_and_the_warehouse(cdk: Any, cfn: Any) -> None:
    from aws_cdk import aws_iam as iam

    stack = cdk.Stack(cdk.App(), "Reader")
    workflow = cdk.Workflow(stack, "Wf", cdk.Props(
        bucket=cdk.Bucket(stack, "Bucket"), database=cdk.Database(stack, "Db"), environment_name="dev",
        table_format="iceberg"))
    reader = iam.Role(stack, "Trainer", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    workflow.iceberg.grant_read(reader)
    template = cdk.Template.from_stack(stack).to_json()
    bucket = "${" + cfn.logical_id(workflow.props.bucket.bucket) + ".Arn}"
    key = "${" + cfn.logical_id(workflow.props.bucket.encryption_key) + ".Arn}"
    statements = [(sorted(s["Action"]), s["Resource"], s["Condition"]) for s in cfn.role_statements(template, reader)]
    assert statements == [
        (["glue:GetDatabase", "glue:GetTable"], [CATALOG, DATABASE, TABLE], {}),
        (["s3:GetObject"], [bucket + "/curated-data-lake/iceberg/*"], {}),
        (["s3:ListBucket"], [bucket],
         {"StringLike": {"s3:prefix": ["curated-data-lake/iceberg", "curated-data-lake/iceberg/*"]}}),
        (["kms:Decrypt"], [key], {}),
    ]


def test_the_table_is_named_for_the_stack_outputs_smoke_reads(iceberg: Any, cfn: Any) -> None:
    from platform_contract import outputs as out

    _, workflow, _template = iceberg
    outputs = workflow.iceberg.outputs
    assert outputs[out.ICEBERG_TABLE] == "ml_data_platform_dev.json_parsed"
    assert outputs[out.ICEBERG_WAREHOUSE] == workflow.iceberg.warehouse_uri
    assert outputs[out.ICEBERG_WAREHOUSE].endswith("/curated-data-lake/iceberg/")
    assert set(outputs) <= set(out.DESCRIPTIONS)


def test_parquet_names_no_iceberg_table_for_the_outputs(default: Any) -> None:
    _, workflow, _template = default
    assert workflow.iceberg is None  # the stack adds the table's outputs only from an IcebergTableAccess
