"""JsonToParquetWorkflow's Glue jobs: the lister, the processor and the backfill job, their settings and arguments."""

from __future__ import annotations

import re
from typing import Any

import pytest

pytestmark = pytest.mark.infra


def test_lister_is_a_python_shell_39_job_with_contract_arguments(default: Any, cfn: Any) -> None:
    _, workflow, template = default
    job = cfn.job(template, "FileListerAndDbPopulator-dev")
    assert job["Command"]["Name"] == "pythonshell"
    assert job["Command"]["PythonVersion"] == "3.9"
    assert job["GlueVersion"] == "3.0"
    assert job["MaxCapacity"] == 0.0625
    assert job["Timeout"] == 30
    assert job["MaxRetries"] == 0
    assert job["ExecutionProperty"] == {"MaxConcurrentRuns": 1}
    assert "WorkerType" not in job and "NumberOfWorkers" not in job
    assert job["Connections"] == {"Connections": ["mldp-glue-network-dev"]}
    assert job["SecurityConfiguration"] == workflow.security_configuration.name
    assert workflow.security_configuration.name.startswith("mldp-glue-dev-")
    args = cfn.render(cfn.subs(job["DefaultArguments"]))
    bucket_id = cfn.logical_id(workflow.props.bucket.bucket)
    assert args["--store"] == "s3://${" + bucket_id + "}"
    assert args["--db-secret-arn"].startswith("${DbMasterSecretAttachment")
    assert args["--environment"] == "dev"
    assert args["--metrics-namespace"] == "MlDataPlatform"
    assert args["library-set"] == "analytics"
    assert "--prefixes" not in args  # the runtime's reference prefixes
    files = [url.rsplit("/", 1)[1] for url in args["--extra-py-files"].split(",")]
    assert files[0].startswith("mldp_runtime-0.1.0-1x") and files[0].endswith("-py3-none-any.whl")
    assert files[1].startswith("psycopg2_binary-2.9.10-cp39-cp39-manylinux")
    assert files[2].startswith("PyYAML-6.0.2-cp39-cp39-manylinux")
    assert job["Command"]["ScriptLocation"]["Fn::Sub"].split("/")[-1].startswith("file_lister_and_db_populator-")


def test_processor_is_a_glue_5_spark_job_with_contract_arguments(default: Any, cfn: Any) -> None:
    _, workflow, template = default
    job = cfn.job(template, "JsonToParquetBatchProcessor-dev")
    assert job["Command"]["Name"] == "glueetl"
    assert job["Command"]["PythonVersion"] == "3"
    assert job["GlueVersion"] == "5.0"
    assert (job["WorkerType"], job["NumberOfWorkers"], job["Timeout"]) == ("G.1X", 2, 60)
    assert job["MaxRetries"] == 0
    assert job["ExecutionProperty"] == {"MaxConcurrentRuns": 1}  # the workflow's runs only, one at a time
    assert job["SecurityConfiguration"] == workflow.security_configuration.name
    args = cfn.render(cfn.subs(job["DefaultArguments"]))
    expected = {
        "--environment": "dev", "--metrics-namespace": "MlDataPlatform", "--batch-size": "1000",
        "--max-attempts": "3", "--lease-seconds": "300", "--max-minutes": "12", "--drain": "false",
        "--python-modules-installer-option": "--no-index", "--job-bookmark-option": "job-bookmark-disable",
        "--enable-metrics": "true", "--enable-continuous-cloudwatch-log": "true",
    }
    assert {k: args[k] for k in expected} == expected
    assert "--transform-spec" not in args
    bucket_id = cfn.logical_id(workflow.props.bucket.bucket)
    assert args["--TempDir"] == "s3://${" + bucket_id + "}/curated-data-lake/_staging/_glue_temporary/"
    modules = [url.rsplit("/", 1)[1] for url in args["--additional-python-modules"].split(",")]
    assert [m.split("-")[0] for m in modules] == ["psycopg2_binary", "PyYAML", "boto3", "botocore", "s3transfer",
                                                  "jmespath", "python_dateutil", "six", "urllib3"]
    assert all("-cp311-cp311-manylinux" in m for m in modules[:2])
    assert all(m.endswith("-none-any.whl") for m in modules[2:])  # the pinned SDK (issue 18, item 4)
    assert args["--extra-py-files"].rsplit("/", 1)[1].startswith("runtime-")
    assert args["--extra-py-files"].endswith(".zip")
    # the one-parse JSON reader's JVM class (runtime.spark.native_json), named by its content's digest
    assert re.fullmatch(r"mldp-native-[0-9a-f]+\.jar", args["--extra-jars"].rsplit("/", 1)[1])


def test_overridden_job_settings(custom: Any, cfn: Any) -> None:
    _, _, template = custom
    lister = cfn.job(template, "FileListerAndDbPopulator")
    assert lister["MaxCapacity"] == 1.0
    assert cfn.render(cfn.subs(lister["DefaultArguments"]))["--prefixes"] == (
        "raw-json-data/all_historical_files/,raw-json-data/2024/"
    )
    processor = cfn.job(template, "JsonToParquetBatchProcessor")
    assert (processor["WorkerType"], processor["NumberOfWorkers"], processor["Timeout"]) == ("G.2X", 10, 90)
    assert processor["ExecutionProperty"] == {"MaxConcurrentRuns": 1}
    backfill = cfn.job(template, "JsonToParquetBatchProcessorBackfill")
    assert (backfill["WorkerType"], backfill["NumberOfWorkers"], backfill["Timeout"]) == ("G.2X", 20, 630)
    assert backfill["ExecutionProperty"] == {"MaxConcurrentRuns": 5}
    assert backfill["DefaultArguments"]["--max-minutes"] == "600"
    assert backfill["DefaultArguments"]["--transform-spec"] == "s3://some-bucket/glue-scripts/spec.json"
    args = cfn.render(cfn.subs(processor["DefaultArguments"]))
    assert (args["--batch-size"], args["--max-attempts"], args["--lease-seconds"]) == ("5000", "5", "7200")
    assert args["--transform-spec"] == "s3://some-bucket/glue-scripts/spec.json"
    assert args["--metrics-namespace"] == "OtherNamespace"
    assert args["--environment"] == "prod"


def test_backfill_job_is_the_processor_with_its_own_concurrency(default: Any, cfn: Any) -> None:
    _, workflow, template = default
    processor = cfn.job(template, "JsonToParquetBatchProcessor-dev")
    backfill = cfn.job(template, "JsonToParquetBatchProcessorBackfill-dev")
    assert workflow.backfill_job_name == workflow.backfill_job.name == "JsonToParquetBatchProcessorBackfill-dev"
    assert cfn.render(backfill["Role"]) == "${" + cfn.logical_id(workflow.processor_role.role) + ".Arn}"
    # same script, role, network, security configuration, Glue version and workers
    for key in ("Command", "Role", "Connections", "SecurityConfiguration", "GlueVersion", "WorkerType",
                "NumberOfWorkers", "MaxRetries", "ExecutionClass"):
        assert backfill[key] == processor[key], key
    assert backfill["ExecutionProperty"] == {"MaxConcurrentRuns": 2}
    assert backfill["Timeout"] == 480 + 30  # backfill_drain_minutes + margin
    # same default arguments, except that a bare start-job-run drains with the backfill budget
    scheduled_args, backfill_args = processor["DefaultArguments"], backfill["DefaultArguments"]
    assert set(backfill_args) == set(scheduled_args)
    assert {k for k in scheduled_args if backfill_args[k] != scheduled_args[k]} == {"--drain", "--max-minutes"}
    assert (backfill["DefaultArguments"]["--drain"], backfill["DefaultArguments"]["--max-minutes"]) == ("true", "480")


def test_extra_job_arguments_and_spark_conf_reach_their_jobs(default: Any, cfn: Any, build_workflow: Any) -> None:
    """The escape hatch: extra DefaultArguments per job, Spark properties as Glue's ``--conf``; the construct's own
    arguments stay as they are (overriding one of them is refused, see the validation cases)."""
    _, _, template = build_workflow(
        environment_name="dev",
        extra_lister_arguments={"--enable-job-insights": "true"},
        extra_processor_arguments={"--enable-spark-ui": "true", "--spark-event-logs-path": "s3://logs/spark/"},
        spark_conf={"spark.sql.shuffle.partitions": "64", "spark.sql.adaptive.enabled": "true"},
    )
    lister = cfn.job(template, "FileListerAndDbPopulator-dev")["DefaultArguments"]
    assert lister["--enable-job-insights"] == "true"
    assert "--conf" not in lister and "--enable-spark-ui" not in lister
    defaults = cfn.job(default[2], "JsonToParquetBatchProcessor-dev")["DefaultArguments"]
    row_cache = "spark.sql.cache.serializer=mldp.spark.RowCacheSerializer"
    assert defaults["--conf"] == row_cache  # the runtime jar's row cache (the jar is the job's --extra-jars)
    for name in ("JsonToParquetBatchProcessor-dev", "JsonToParquetBatchProcessorBackfill-dev"):
        arguments = cfn.job(template, name)["DefaultArguments"]
        assert arguments["--conf"] == (f"{row_cache} --conf spark.sql.shuffle.partitions=64 "
                                       "--conf spark.sql.adaptive.enabled=true")
        assert (arguments["--enable-spark-ui"], arguments["--spark-event-logs-path"]) == ("true", "s3://logs/spark/")
        assert "--enable-job-insights" not in arguments
        added = {"--conf", "--enable-spark-ui", "--spark-event-logs-path"}
        # --extra-py-files names the runtime by a digest of its files: leave it out, the runtime may change between
        # the two builds (the bundling tests cover it)
        unchanged = {k: v for k, v in arguments.items() if k not in added | {"--extra-py-files"}}
        expected = cfn.job(default[2], name)["DefaultArguments"]
        assert unchanged == {k: v for k, v in expected.items() if k not in {"--conf", "--extra-py-files"}}



def test_jobs_are_told_the_bucket_layout(cdk: Any, cfn: Any, build_workflow: Any) -> None:
    """A bucket with its own prefixes: both jobs get them as arguments, so the runtime acts where IAM allows."""
    prefixes = {"raw_prefix": "incoming/", "processed_prefix": "done/", "curated_prefix": "lake/parquet/",
                "staging_prefix": "lake/_staging/", "dead_letter_prefix": "lake/errors/"}
    _, workflow, template = build_workflow(cdk.BucketProps(**prefixes), environment_name="dev")
    expected = {f"--{name.replace('_prefix', '').replace('_', '-')}-prefix": value for name, value in prefixes.items()}
    for job in (workflow.lister_job_name, workflow.processor_job_name, workflow.backfill_job_name):
        arguments = cfn.job(template, job)["DefaultArguments"]
        assert {k: arguments[k] for k in expected} == expected


def test_jobs_connect_as_the_application_role_and_verify_the_server_with_the_ca_bundle(
        default: Any, cfn: Any, build_workflow: Any) -> None:
    """IAM database authentication (the database's default): every job connects as ``mldp_app`` with a token per
    connection; a configured RDS CA bundle is passed to every job, which may read that object and nothing more."""
    bundle = "s3://certs-bucket/rds/global-bundle.pem"
    _, workflow, template = build_workflow(environment_name="dev", database_ca_bundle=bundle)
    for job in (workflow.lister_job_name, workflow.processor_job_name, workflow.backfill_job_name):
        arguments = cfn.job(template, job)["DefaultArguments"]
        assert (arguments["--db-iam-user"], arguments["--db-ca-bundle"]) == ("mldp_app", bundle)
        assert "--db-ca-bundle" not in cfn.job(default[2], job)["DefaultArguments"]
    for role in (workflow.lister_role.role, workflow.processor_role.role):
        statements = cfn.role_statements(template, role)
        reads = [s for s in statements if "s3:GetObject" in s["Action"]]
        assert any(r.endswith(":s3:::certs-bucket/rds/global-bundle.pem") for s in reads for r in s["Resource"])
