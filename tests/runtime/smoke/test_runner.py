"""``mldp smoke`` against an emulated deployment: moto S3, moto Glue whose job runs really execute, the test's
real PostgreSQL as the tracking database and the session's local Spark.

moto's Glue records ``start_job_run`` but never runs a script, and its runs advance STARTING -> RUNNING ->
SUCCEEDED on their own, whatever the script would have done. :class:`GlueEmulator` fills the gap on the Glue
client smoke uses (botocore events):

* ``after-call.glue.StartJobRun`` runs the job for real, in-process: it builds the ``sys.argv`` Glue would pass
  (the script path, ``--JOB_ID``/``--JOB_RUN_ID``/``--JOB_NAME``, then the job's DefaultArguments merged with
  the run's Arguments), hands it to the entry script named by the job's ScriptLocation
  (``runtime/glue/<name>.py``'s ``cli_argv``) and runs ``runtime.cli.main`` on the result against the moto
  bucket (``--store s3://bucket``) and the test database (``--db``, or a moto Secrets Manager secret);
* ``before-call.glue.GetJobRun`` answers with the recorded outcome instead of moto's clock: RUNNING on the first
  poll, then SUCCEEDED, or FAILED with the error line the job printed (Glue's ``ErrorMessage``).

What this cannot emulate: Glue itself (its Python 3.9 shell image, Glue 5.0's Spark and EMRFS, the wheels
installed from the assets, worker sizes, timeouts), IAM (every call is allowed), networking (the VPC, the Glue
connection, the endpoints, the route to RDS and its TLS), CloudWatch log groups, and the stack itself: moto's
CloudFormation needs moto's ``cloudformation`` extra, which the dev requirements do not install, so
``describe_stacks`` is answered by botocore's Stubber (validated against the service model) instead.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import posixpath
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import psycopg2
import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber

from platform_contract import outputs as out
from runtime.cli import build_parser, main
from runtime.commands import smoke as smoke_command
from runtime.layout import Layout
from runtime.smoke.glue_runs import log_groups
from runtime.smoke.plan import MALFORMED, POISON, build_plan, hidden_segments
from runtime.smoke.runner import SmokeOptions, run_smoke
from runtime.smoke.target import SmokeClients, SmokeTarget

REGION = "us-east-1"
STACK = "MlDataPlatform-dev"
BUCKET = "mldp-dev-datalake"
LISTER = "FileListerAndDbPopulator-dev"
PROCESSOR = "JsonToParquetBatchProcessor-dev"
LAYOUT = Layout()
ASSETS = "s3://cdk-hnb659fds-assets-123456789012-us-east-1"


# ------------------------------------------------------------------------------------------------------------
# The emulated deployment
# ------------------------------------------------------------------------------------------------------------
@dataclass
class EmulatedRun:
    """One job run the emulator executed."""

    job_name: str
    argv: list[str]
    cli_argv: list[str]
    state: str
    error: str | None = None
    polls: int = 0


@dataclass
class GlueEmulator:
    """Executes the Glue jobs of the moto account for real (see the module docstring)."""

    glue: Any
    runs: dict[str, EmulatedRun] = field(default_factory=dict)
    #: job names whose runs report SUCCEEDED without doing anything (a run that changes nothing)
    idle_jobs: set[str] = field(default_factory=set)
    #: job name -> how many more StartJobRun calls fail with ConcurrentRunsExceededException (another run holds
    #: the job's concurrency limit; moto's own limit cannot be held: its runs advance whenever they are read)
    busy: dict[str, float] = field(default_factory=dict)

    def install(self, client: Any) -> None:
        events = client.meta.events
        events.register("before-parameter-build.glue.StartJobRun", self._remember_request)
        events.register("before-parameter-build.glue.GetJobRun", self._remember_request)
        events.register("before-call.glue.StartJobRun", self._refuse_when_busy)
        events.register("after-call.glue.StartJobRun", self._execute)
        events.register("before-call.glue.GetJobRun", self._report)

    @staticmethod
    def _remember_request(params: dict, context: dict, **_: Any) -> None:
        context["emulated_request"] = dict(params)

    def _refuse_when_busy(self, context: dict, **_: Any) -> tuple[AWSResponse, dict] | None:
        job_name = context["emulated_request"]["JobName"]
        if self.busy.get(job_name, 0) <= 0:
            return None
        self.busy[job_name] -= 1
        error = {"Code": "ConcurrentRunsExceededException", "Message": f"Concurrent runs exceeded for {job_name}"}
        return AWSResponse("https://glue.us-east-1.amazonaws.com/", 400, {}, None), {"Error": error}

    def _execute(self, parsed: dict, context: dict, **_: Any) -> None:
        if "JobRunId" not in parsed:
            return
        request = context["emulated_request"]
        run_id, job_name = parsed["JobRunId"], request["JobName"]
        job = self.glue.get_job(JobName=job_name)["Job"]
        script = job["Command"]["ScriptLocation"]
        arguments = {**job.get("DefaultArguments", {}), **request.get("Arguments", {})}
        argv = [posixpath.basename(script), "--JOB_ID", f"j_{job_name}", "--JOB_RUN_ID", run_id,
                "--JOB_NAME", job_name]
        for name, value in arguments.items():
            argv += [name, value]
        entry = importlib.import_module(f"runtime.glue.{posixpath.splitext(posixpath.basename(script))[0]}")
        cli_argv = entry.cli_argv(argv)
        run = EmulatedRun(job_name, argv, cli_argv, "SUCCEEDED")
        self.runs[run_id] = run
        if job_name in self.idle_jobs:
            return
        stderr = io.StringIO()
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(stderr):
                code = main(cli_argv)
        except Exception as exc:  # Glue reports the script's exception as the run's ErrorMessage
            run.state, run.error = "FAILED", f"{type(exc).__name__}: {exc}"
            return
        if code != 0:
            lines = [line for line in stderr.getvalue().splitlines() if line.strip()]
            run.state, run.error = "FAILED", lines[-1] if lines else f"exit status {code}"

    def _report(self, context: dict, **_: Any) -> tuple[AWSResponse, dict]:
        request = context["emulated_request"]
        run = self.runs[request["RunId"]]
        run.polls += 1
        state = "RUNNING" if run.polls == 1 else run.state
        job_run = {"Id": request["RunId"], "JobName": run.job_name, "JobRunState": state, "Attempt": 0,
                   "StartedOn": datetime.now(UTC)}
        if state == "FAILED":
            job_run["ErrorMessage"] = run.error
        return AWSResponse("https://glue.us-east-1.amazonaws.com/", 200, {}, None), {"JobRun": job_run}

    def runs_of(self, job_name: str) -> list[EmulatedRun]:
        return [run for run in self.runs.values() if run.job_name == job_name]


def common_arguments(store: str) -> dict[str, str]:
    """The job arguments the stack gives both jobs (``_common_arguments`` of the workflow construct)."""
    return {"--store": store, "--environment": "dev", "--metrics-namespace": "MlDataPlatform",
            "--job-language": "python", "--raw-prefix": LAYOUT.raw_prefix,
            "--processed-prefix": LAYOUT.processed_prefix, "--curated-prefix": LAYOUT.curated_prefix,
            "--staging-prefix": LAYOUT.staging_prefix, "--dead-letter-prefix": LAYOUT.dead_letter_prefix}


def create_jobs(glue: Any, lister_db: dict[str, str], processor_db: dict[str, str]) -> None:
    """The two jobs, shaped like the stack's (names, commands, script names, arguments, concurrency)."""
    store = f"s3://{BUCKET}"
    glue.create_job(
        Name=LISTER, Role="arn:aws:iam::123456789012:role/ListerRole",
        Command={"Name": "pythonshell", "PythonVersion": "3.9",
                 "ScriptLocation": f"{ASSETS}/glue-scripts/file_lister_and_db_populator.py"},
        DefaultArguments={**common_arguments(store), **lister_db, "library-set": "analytics"},
        ExecutionProperty={"MaxConcurrentRuns": 1}, MaxCapacity=0.0625, GlueVersion="3.0", MaxRetries=0)
    glue.create_job(
        Name=PROCESSOR, Role="arn:aws:iam::123456789012:role/ProcessorRole",
        Command={"Name": "glueetl", "PythonVersion": "3",
                 "ScriptLocation": f"{ASSETS}/glue-scripts/json_to_parquet_batch_processor.py"},
        DefaultArguments={**common_arguments(store), **processor_db, "--batch-size": "200", "--max-attempts": "3",
                          "--lease-seconds": "3600", "--max-minutes": "12", "--drain": "false",
                          "--TempDir": f"{store}/{LAYOUT.staging_prefix}_glue_temporary/",
                          "--job-bookmark-option": "job-bookmark-disable", "--enable-metrics": "true"},
        ExecutionProperty={"MaxConcurrentRuns": 2}, GlueVersion="5.0", WorkerType="G.1X", NumberOfWorkers=2,
        MaxRetries=0)


def stubbed_stack(outputs: dict[str, str] | None = None) -> Any:
    """A CloudFormation client whose ``describe_stacks`` answers like the deployed stack."""
    if outputs is None:
        outputs = {out.BUCKET_NAME: BUCKET, out.RAW_PREFIX: LAYOUT.raw_prefix,
                   out.PROCESSED_PREFIX: LAYOUT.processed_prefix, out.CURATED_PREFIX: LAYOUT.curated_prefix,
                   out.STAGING_PREFIX: LAYOUT.staging_prefix, out.DEAD_LETTER_PREFIX: LAYOUT.dead_letter_prefix,
                   out.LISTER_JOB_NAME: LISTER, out.PROCESSOR_JOB_NAME: PROCESSOR,
                   out.WORKFLOW_NAME: "JsonToParquetProcessingWorkflow-dev"}
    client = boto3.client("cloudformation", region_name=REGION)
    stubber = Stubber(client)
    stubber.add_response("describe_stacks", {"Stacks": [{
        "StackName": STACK, "CreationTime": datetime(2026, 1, 1, tzinfo=UTC),
        "StackStatus": "CREATE_COMPLETE",
        "Outputs": [{"OutputKey": k, "OutputValue": v, "Description": out.DESCRIPTIONS[k]}
                    for k, v in outputs.items()]}]}, {"StackName": STACK})
    stubber.activate()
    return client


@pytest.fixture
def deployment(s3_client: Any) -> Any:
    """The moto side of a deployment: the bucket, and a Glue client with the emulator installed."""
    s3_client.create_bucket(Bucket=BUCKET)
    glue = boto3.client("glue", region_name=REGION)
    emulator = GlueEmulator(glue)
    emulator.install(glue)
    return emulator


class SimulatedClock:
    """Smoke's clock in tests: a sleep moves simulated time on at once, so waiting out a poll interval or
    ``--timeout-minutes`` costs no wall-clock time and does not depend on the machine's load."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def now(self) -> float:
        return self.seconds

    def sleep(self, seconds: float) -> None:
        self.seconds += seconds


def smoke(argv: list[str], emulator: GlueEmulator, s3_client: Any, cloudformation: Any = None,
          capsys: pytest.CaptureFixture | None = None, as_json: bool = True) -> tuple[int, Any, str]:
    """``mldp smoke ARGV`` with the emulated clients: the exit status, the parsed ``--json`` output (the text
    printed when ``as_json`` is false) and the progress lines (stderr)."""
    args = build_parser().parse_args(["smoke", *argv, *(["--json"] if as_json else [])])
    clients = SmokeClients(s3=s3_client, glue=emulator.glue,
                           cloudformation=cloudformation or boto3.client("cloudformation", region_name=REGION))
    clock = SimulatedClock()
    code = smoke_command.run(args, clients=clients, clock=clock.now, sleep=clock.sleep)
    assert capsys is not None
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if as_json else captured.out, captured.err


def all_keys(s3_client: Any) -> list[str]:
    pages = s3_client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    return [obj["Key"] for page in pages for obj in page.get("Contents", [])]


def tracked_states(db_url: str, prefix: str) -> dict[str, str]:
    conn = psycopg2.connect(db_url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT s3_key, processing_status FROM file_processing_status WHERE s3_key LIKE %s",
                        (prefix + "%",))
            return dict(cur.fetchall())
    finally:
        conn.close()


def checks_by_name(result: dict) -> dict[str, dict]:
    return {check["name"]: check for check in result["checks"]}


# ------------------------------------------------------------------------------------------------------------
# Whole runs
# ------------------------------------------------------------------------------------------------------------
@pytest.mark.spark
def test_smoke_passes_against_a_working_deployment_and_cleans_up(deployment, s3_client, db_url, spark, capsys):
    create_jobs(deployment.glue, {"--db": db_url}, {"--db": db_url})
    code, result, progress = smoke(["--stack", STACK, "--region", REGION], deployment, s3_client, stubbed_stack(),
                         capsys)

    assert code == 0, result
    assert result["verdict"] == "PASSED" and result["reason"] is None
    assert all(check["ok"] for check in result["checks"]), result["checks"]
    checks = checks_by_name(result)
    good = sum(f["good_records"] for f in result["files"])
    assert good == 3 * 25 + 7
    assert f"{good} rows = {good} expected" in checks["curated Parquet holds the good records"]["detail"]
    assert "2 record(s) naming malformed-lines.jsonl" in checks["malformed lines dead-lettered with their source"][
        "detail"]
    prefix = result["prefix"]
    assert prefix.startswith(f"{LAYOUT.raw_prefix}smoke/") and not hidden_segments(prefix[len(LAYOUT.raw_prefix):])
    # the Glue runs got smoke's arguments, through the entry scripts, with Glue's run id
    (lister_run,) = deployment.runs_of(LISTER)
    (processor_run,) = deployment.runs_of(PROCESSOR)
    assert lister_run.cli_argv[0] == "list" and lister_run.cli_argv[lister_run.cli_argv.index("--prefixes") + 1] \
        == prefix
    assert processor_run.cli_argv[0] == "process" and "--drain" in processor_run.cli_argv
    assert processor_run.cli_argv[processor_run.cli_argv.index("--max-minutes") + 1] == "10"
    job_run_ids = {run.cli_argv[run.cli_argv.index("--job-run-id") + 1] for run in (lister_run, processor_run)}
    assert job_run_ids == {r["run_id"] for r in result["runs"]}
    # every object of the run is gone (the bucket held nothing else); the tracking rows stay, as smoke says
    assert all_keys(s3_client) == []
    # 2 poison files left under raw, 4 archives, 1 curated Parquet file, 1 dead-letter file
    assert result["cleanup"]["left"] == [] and result["cleanup"]["deleted"] == 2 + 4 + 1 + 1
    tracked = tracked_states(db_url, prefix)
    assert sorted(tracked.values()) == ["QUARANTINED"] * 2 + ["SUCCEEDED"] * 4
    assert any("mldp inspect" in note for note in result["notes"])
    # one progress line per state change of each run, with the elapsed time
    states = [line.split("] ", 1)[1] for line in progress.splitlines() if line.startswith("[")]
    assert [s for s in states if not s.startswith(("lister: started", "processor: started"))] == [
        "lister: RUNNING", "lister: SUCCEEDED", "processor: RUNNING", "processor: SUCCEEDED"]


@pytest.mark.spark
def test_smoke_without_pyarrow_checks_batch_files_and_leaves_them(deployment, s3_client, db_url, spark, capsys,
                                                                   monkeypatch):
    """Explicit resources instead of --stack; without pyarrow the curated rows are not counted, and curated
    files (which could hold other rows) are left in place and reported."""
    monkeypatch.setattr("runtime.smoke.runner.pyarrow_sources", lambda: None)
    create_jobs(deployment.glue, {"--db": db_url}, {"--db": db_url})
    code, result, _ = smoke(["--bucket", BUCKET, "--lister-job", LISTER, "--processor-job", PROCESSOR,
                             "--good-only"], deployment, s3_client, capsys=capsys)

    assert code == 0, result
    checks = checks_by_name(result)
    assert "row count NOT checked (pyarrow is not installed)" in checks["curated Parquet holds the good records"][
        "detail"]
    assert checks["poison files quarantined"]["ok"] is None  # --good-only
    assert [f["kind"] for f in result["files"]] == ["good"] * 3
    left = [item["key"] for item in result["cleanup"]["left"]]
    assert left and all(k.startswith(LAYOUT.curated_prefix) and "/mode=smoke/" in k for k in left)
    assert sorted(all_keys(s3_client)) == sorted(left)
    assert not any("QUARANTINED" in note for note in result["notes"])


def test_smoke_fails_naming_the_processor_when_it_cannot_reach_the_database(deployment, s3_client, db_url,
                                                                            capsys):
    """The processor's secret names a host it cannot reach (as a missing route or security-group rule to RDS)."""
    secrets = boto3.client("secretsmanager", region_name=REGION)
    arn = secrets.create_secret(Name="tracking-db", SecretString=json.dumps(
        {"host": "127.0.0.1", "port": 1, "username": "mldp", "password": "x", "dbname": "data_platform_db"}))["ARN"]
    create_jobs(deployment.glue, {"--db": db_url}, {"--db-secret-arn": arn})
    code, result, _ = smoke(["--stack", STACK], deployment, s3_client, stubbed_stack(), capsys)

    assert code == 1
    assert result["verdict"] == "FAILED"
    assert result["reason"].startswith("processor run SUCCEEDED: processor run jr_")
    processor = checks_by_name(result)["processor run SUCCEEDED"]["detail"]
    assert "FAILED" in processor and "127.0.0.1" in processor and "x@" not in processor  # never the password
    assert "/aws-glue/jobs/output and /aws-glue/jobs/error" in processor
    assert checks_by_name(result)["lister run SUCCEEDED"]["ok"] is True
    outcome = [c for c in result["checks"] if "run SUCCEEDED" not in c["name"]]
    assert outcome and all(c["ok"] is None for c in outcome)
    assert all_keys(s3_client) == []  # the uploaded raw files are removed all the same
    assert sorted(tracked_states(db_url, result["prefix"]).values()) == ["PENDING"] * 6


def test_smoke_fails_naming_the_lister_and_never_starts_the_processor(deployment, s3_client, capsys):
    create_jobs(deployment.glue, {"--db": "postgresql://mldp@127.0.0.1:1/nowhere"}, {})
    code, result, _ = smoke(["--stack", STACK], deployment, s3_client, stubbed_stack(), capsys)

    assert code == 1
    assert result["reason"].startswith("lister run SUCCEEDED: lister run jr_")
    assert "/aws-glue/python-jobs/output and /aws-glue/python-jobs/error" in result["reason"]
    assert deployment.runs_of(PROCESSOR) == []
    assert checks_by_name(result)["processor run SUCCEEDED"]["ok"] is None
    assert all_keys(s3_client) == []


def test_smoke_fails_when_a_successful_run_processed_nothing(deployment, s3_client, db_url, capsys):
    """The processor run reports SUCCEEDED but the files are never archived: smoke waits for them until its
    timeout, then fails on what is missing in S3."""
    create_jobs(deployment.glue, {"--db": db_url}, {"--db": db_url})
    deployment.idle_jobs.add(PROCESSOR)
    code, result, _ = smoke(["--stack", STACK, "--timeout-minutes", "1"], deployment, s3_client,
                         stubbed_stack(), capsys)

    assert code == 1
    assert result["reason"].startswith("good and malformed files archived: not under raw-json-data-processed/")
    checks = checks_by_name(result)
    assert checks["curated Parquet holds the good records"]["ok"] is False
    assert checks["poison files quarantined"]["ok"] is True  # still under raw, not archived
    assert all_keys(s3_client) == []


def test_smoke_keep_leaves_the_run_s_objects_and_the_text_report_ends_with_the_verdict(deployment, s3_client,
                                                                                        db_url, capsys):
    """``--keep`` leaves every object of the run in the bucket; without ``--json`` the report is text whose last
    line is the verdict with its reason."""
    create_jobs(deployment.glue, {"--db": db_url}, {"--db": db_url})
    deployment.idle_jobs.update({LISTER, PROCESSOR})
    code, out, _ = smoke(["--stack", STACK, "--timeout-minutes", "1", "--keep"], deployment, s3_client,
                         stubbed_stack(), capsys, as_json=False)

    assert code == 1
    assert out.strip().splitlines()[-1].startswith("SMOKE FAILED: good and malformed files archived: ")
    kept = all_keys(s3_client)
    assert len(kept) == 6 and all(key.startswith(f"{LAYOUT.raw_prefix}smoke/") for key in kept)


def test_smoke_waits_while_another_run_holds_the_concurrency_limit(deployment, s3_client, db_url, capsys):
    """A scheduled lister run holds the lister's one concurrent run for a while: smoke waits, then starts its own.
    The processor stays busy until smoke's timeout: smoke gives up and says why."""
    create_jobs(deployment.glue, {"--db": db_url}, {"--db": db_url})
    deployment.busy.update({LISTER: 1, PROCESSOR: float("inf")})
    code, result, progress = smoke(["--stack", STACK, "--timeout-minutes", "1"], deployment, s3_client,
                                   stubbed_stack(), capsys)

    assert code == 1
    assert checks_by_name(result)["lister run SUCCEEDED"]["ok"] is True
    assert result["reason"].startswith("processor run SUCCEEDED: processor not started: another run of the job "
                                       "held its concurrency limit")
    assert f"lister: another run of {LISTER} is in progress (concurrency limit); waiting" in progress
    assert all_keys(s3_client) == []


# ------------------------------------------------------------------------------------------------------------
# Errors before anything is uploaded
# ------------------------------------------------------------------------------------------------------------
def test_stack_without_the_outputs_is_a_one_line_error(deployment, s3_client, capsys):
    args = build_parser().parse_args(["smoke", "--stack", STACK])
    clients = SmokeClients(s3_client, deployment.glue, stubbed_stack({out.BUCKET_NAME: BUCKET}))
    with pytest.raises(ValueError, match=r"has no output ListerJobName, ProcessorJobName"):
        smoke_command.run(args, clients=clients)


def test_a_stack_with_a_backfill_job_is_smoked_through_it_never_through_the_schedules_job(aws_credentials):
    from runtime.smoke.target import target_from_stack

    outputs = {out.BUCKET_NAME: BUCKET, out.LISTER_JOB_NAME: LISTER, out.PROCESSOR_JOB_NAME: PROCESSOR,
               out.BACKFILL_JOB_NAME: "JsonToParquetBatchProcessorBackfill-dev"}
    assert target_from_stack(stubbed_stack(outputs), STACK).processor_job == "JsonToParquetBatchProcessorBackfill-dev"
    del outputs[out.BACKFILL_JOB_NAME]
    assert target_from_stack(stubbed_stack(outputs), STACK).processor_job == PROCESSOR


def test_the_discovery_outputs_reach_the_target_when_the_stack_has_them(aws_credentials):
    from runtime.smoke.target import target_from_stack

    outputs = {out.BUCKET_NAME: BUCKET, out.LISTER_JOB_NAME: LISTER, out.PROCESSOR_JOB_NAME: PROCESSOR}
    assert target_from_stack(stubbed_stack(outputs), STACK).event_queue == ""  # discovery_mode listing
    queue = "https://sqs.us-east-1.amazonaws.com/123456789012/events"
    outputs.update({out.EVENT_QUEUE_URL: queue, out.INVENTORY_LOCATION: "s3://reports/s3-inventory/b/c/"})
    target = target_from_stack(stubbed_stack(outputs), STACK)
    assert (target.event_queue, target.inventory_location) == (queue, "s3://reports/s3-inventory/b/c/")


def test_missing_glue_job_is_an_error_before_any_upload(deployment, s3_client):
    clients = SmokeClients(s3_client, deployment.glue, None)
    target = SmokeTarget(bucket=BUCKET, lister_job=LISTER, processor_job=PROCESSOR)
    with pytest.raises(ValueError, match=r"Glue job 'FileListerAndDbPopulator-dev' not found"):
        run_smoke(target, clients, SmokeOptions(poll_seconds=0), say=lambda text: None)
    assert all_keys(s3_client) == []


def test_without_stack_or_resources_the_cli_says_what_to_give(aws_credentials, capsys):
    assert main(["smoke", "--region", REGION]) == 2
    assert "smoke needs --bucket, --lister-job, --processor-job" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------------------
# Pieces
# ------------------------------------------------------------------------------------------------------------
def test_plan_lives_under_a_unique_visible_prefix_with_known_outcomes():
    now = datetime(2026, 3, 7, 9, 30, 5, tzinfo=UTC)
    plan = build_plan("raw/", now=now, token="abc123", records_per_file=5)
    assert plan.prefix == "raw/smoke/20260307T093005Z-abc123/"
    assert plan.curated_partition == "year=2026/month=3/day=7/mode=smoke/"
    assert all(f.key.startswith(plan.prefix) and not hidden_segments(f.key) for f in plan.files)
    assert [f.kind for f in plan.files] == ["good", "good", "good", MALFORMED, POISON, POISON]
    assert (plan.good_records, plan.bad_records) == (3 * 5 + 7, 2)
    assert build_plan("raw/", now=now).prefix != build_plan("raw/", now=now).prefix
    records = [json.loads(line) for line in plan.files[0].body.decode().splitlines()]
    assert {(r["DATE"], r["MODE"]) for r in records} == {("2026-03-07", "smoke")}
    with pytest.raises(ValueError):
        build_plan("raw")


def test_log_groups_follow_the_run_or_the_job_command():
    assert log_groups({"Command": {"Name": "pythonshell"}}) == ["/aws-glue/python-jobs/output",
                                                                "/aws-glue/python-jobs/error"]
    assert log_groups({"Command": {"Name": "glueetl"}}, {"LogGroupName": "/aws-glue/jobs/sec-role/ProcRole/"}) == [
        "/aws-glue/jobs/sec-role/ProcRole/output", "/aws-glue/jobs/sec-role/ProcRole/error"]


@pytest.mark.spark
def test_smoke_fails_naming_a_raw_file_the_archive_copied_but_did_not_delete(deployment, s3_client, db_url, spark,
                                                                            capsys, monkeypatch):
    """The archive's delete of one raw file fails (as on Glue with an SDK too old for conditional deletes, or a
    denied s3:DeleteObject): it is archived but still under raw, and smoke says so."""
    from runtime.storage.s3 import S3Store

    delete_many = S3Store.delete_many

    def keep_good_2(self, keys, if_match=None):  # only the archive's deletes are conditional
        keys = list(keys)
        kept = [k for k in keys if if_match and k.endswith("/good-2.jsonl")]
        return delete_many(self, [k for k in keys if k not in kept], if_match=if_match) + kept

    monkeypatch.setattr(S3Store, "delete_many", keep_good_2)
    create_jobs(deployment.glue, {"--db": db_url}, {"--db": db_url})
    code, result, _ = smoke(["--stack", STACK, "--region", REGION], deployment, s3_client, stubbed_stack(), capsys)

    assert code == 1
    checks = checks_by_name(result)
    assert checks["good and malformed files archived"]["ok"] is True
    deleted = checks["archived files deleted from raw"]
    assert deleted["ok"] is False and "still under raw: good-2.jsonl" in deleted["detail"]
    assert "ArchiveDeleteFailures" in deleted["detail"]
    assert result["reason"].startswith("archived files deleted from raw: archived but still under raw: good-2.jsonl")
