"""Which job reads the database secret (platform_constructs/json_to_parquet_workflow/database_access.py): with IAM
database authentication only the lister, which migrates as the owner; the processor and backfill jobs get the
endpoint as non-secret arguments, connect as mldp_app with IAM tokens, and their role cannot read the secret."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.infra

DB_ARGUMENTS = ("--db-host", "--db-port", "--db-name", "--db-iam-user", "--db-secret-arn", "--db-ca-bundle")


def db_arguments(cfn: Any, template: dict, job_name: str) -> dict[str, str]:
    args = cfn.render(cfn.subs(cfn.job(template, job_name)["DefaultArguments"]))
    return {key: value for key, value in args.items() if key in DB_ARGUMENTS}


def secret_statements(cfn: Any, template: dict, role: Any) -> list[dict]:
    return [s for s in cfn.role_statements(template, role)
            if any(a.startswith("secretsmanager:") for a in s["Action"])]


def test_the_processor_role_cannot_read_the_master_secret(default: Any, cfn: Any) -> None:
    _, workflow, template = default
    assert secret_statements(cfn, template, workflow.processor_role.role) == []
    (connect,) = [s for s in cfn.role_statements(template, workflow.processor_role.role)
                  if s["Action"] == ["rds-db:connect"]]
    assert [r.rsplit("/", 1)[1] for r in connect["Resource"]] == ["mldp_app"]
    secret = cfn.render({"Ref": cfn.logical_id(workflow.props.database.secret)})
    assert [s["Resource"] for s in secret_statements(cfn, template, workflow.lister_role.role)] == [[secret]]
    # no statement of the processor's policy names the secret, whatever its action
    assert not any(secret in r for s in cfn.role_statements(template, workflow.processor_role.role)
                   for r in s["Resource"])


def test_the_long_running_jobs_get_the_endpoint_and_no_secret(default: Any, cfn: Any) -> None:
    _, workflow, template = default
    instance = cfn.logical_id(workflow.props.database.instance)
    endpoint = {"--db-host": "${" + instance + ".Endpoint.Address}",
                "--db-port": "${" + instance + ".Endpoint.Port}",
                "--db-name": "data_platform_db", "--db-iam-user": "mldp_app"}
    for job in (workflow.processor_job_name, workflow.backfill_job_name):
        assert db_arguments(cfn, template, job) == endpoint
    lister = db_arguments(cfn, template, workflow.lister_job_name)
    assert lister.pop("--db-secret-arn").startswith("${DbMasterSecretAttachment")
    assert lister == endpoint


def test_without_iam_authentication_every_job_reads_the_secret(cdk: Any, cfn: Any) -> None:
    from platform_constructs.tracking_database import TrackingDatabaseProps

    stack = cdk.Stack(cdk.App(), "Bare")
    database = cdk.Database(stack, "Db", TrackingDatabaseProps(iam_authentication=False))
    workflow = cdk.Workflow(stack, "Wf", cdk.Props(bucket=cdk.Bucket(stack, "Bucket", None), database=database,
                                                   environment_name="dev",
                                                   database_ca_bundle="s3://certs/global-bundle.pem"))
    template = cdk.Template.from_stack(stack).to_json()
    for job in (workflow.lister_job_name, workflow.processor_job_name, workflow.backfill_job_name):
        args = db_arguments(cfn, template, job)
        assert set(args) == {"--db-secret-arn", "--db-ca-bundle"}  # a password is the only credential there is
    assert secret_statements(cfn, template, workflow.processor_role.role)
