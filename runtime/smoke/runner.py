"""One smoke run: upload, run the lister and the processor through Glue, check, clean up, report."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from runtime.errors import UsageError
from runtime.smoke.glue_runs import GlueJobRunner, JobRunReport
from runtime.smoke.iceberg import SmokeTable
from runtime.smoke.plan import POISON, SmokePlan, build_plan
from runtime.smoke.target import SmokeClients, SmokeTarget
from runtime.smoke.verify import Check, Observation, ParquetSources, SmokeBucket, pyarrow_sources
from runtime.storage.base import ObjectStoreError
from runtime.storage.s3 import S3Store

#: Errors of AWS calls that end a smoke run as FAILED (with clean-up), not with a traceback.
AWS_ERRORS = (ClientError, BotoCoreError, ObjectStoreError)


@dataclass
class SmokeOptions:
    """How a smoke run behaves (the command's options).

    Attributes:
        timeout_minutes: how long smoke waits, in all, for the two runs and their outcome.
        poll_seconds: interval of ``get_job_run`` and of the outcome checks while waiting.
        processor_max_minutes: ``--max-minutes`` of the processor run (its drain budget).
        keep: leave the run's objects in the bucket.
        good_only: upload only good files (no dead letters, no quarantined file: no pipeline alarm fires).
        records_per_file: records per good file.
    """

    timeout_minutes: float = 30.0
    poll_seconds: float = 15.0
    processor_max_minutes: float = 10.0
    keep: bool = False
    good_only: bool = False
    records_per_file: int = 25

    def validate(self) -> SmokeOptions:
        if self.timeout_minutes <= 0 or self.processor_max_minutes <= 0:
            raise UsageError("--timeout-minutes and --processor-max-minutes must be positive")
        if self.poll_seconds < 0:
            raise UsageError("--poll-seconds must not be negative")
        return self


@dataclass
class SmokeResult:
    """The report of a smoke run (:meth:`render` for people, :meth:`as_dict` for ``--json``)."""

    target: SmokeTarget
    plan: SmokePlan
    runs: list[JobRunReport]
    checks: list[Check]
    cleanup: dict[str, Any] | None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return all(check.ok is not False for check in self.checks) and any(c.ok for c in self.checks)

    @property
    def reason(self) -> str | None:
        """What failed first (``None`` when the run passed)."""
        for check in self.checks:
            if check.ok is False:
                return f"{check.name}: {check.detail}"
        return None if self.passed else "nothing could be checked"

    @property
    def verdict(self) -> str:
        return "SMOKE PASSED" if self.passed else f"SMOKE FAILED: {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": "PASSED" if self.passed else "FAILED",
            "reason": self.reason,
            "stack": self.target.stack,
            "bucket": self.target.bucket,
            "run_id": self.plan.run_id,
            "prefix": self.plan.prefix,
            "files": [{"key": f.key, "kind": f.kind, "good_records": f.good_records, "bad_records": f.bad_records}
                      for f in self.plan.files],
            "runs": [run.as_dict() for run in self.runs],
            "checks": [check.as_dict() for check in self.checks],
            "cleanup": self.cleanup,
            "notes": self.notes,
            "seconds": round(self.seconds, 1),
        }

    def render(self) -> str:
        target = self.target
        lines = [f"smoke run {self.plan.run_id} against {target.stack or 'the given resources'}: "
                 f"s3://{target.bucket}/{self.plan.prefix} ({len(self.plan.files)} files, "
                 f"{self.plan.good_records} good and {self.plan.bad_records} malformed records)"]
        marks = {True: "[ ok ]", False: "[FAIL]", None: "[ -- ]"}
        lines += [f"  {marks[c.ok]} {c.name}: {c.detail}" for c in self.checks]
        if self.cleanup is None:
            lines.append("clean-up: skipped (--keep): the run's objects stay in the bucket")
        else:
            lines.append(f"clean-up: deleted {self.cleanup['deleted']} object(s) of this run")
            lines += [f"  left {item['key']}: {item['why']}" for item in self.cleanup["left"]]
        lines += [f"note: {note}" for note in self.notes]
        lines.append(f"{self.verdict} ({self.seconds:.0f}s)")
        return "\n".join(lines)


def stderr_say(text: str) -> None:
    """Progress goes to stderr, so ``--json`` keeps stdout to one document."""
    print(text, file=sys.stderr, flush=True)


def run_smoke(target: SmokeTarget, clients: SmokeClients, options: SmokeOptions | None = None, *,
              say: Callable[[str], None] = stderr_say, read_sources: ParquetSources | str | None = "pyarrow",
              clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
              now: datetime | None = None, token: str | None = None,
              table: SmokeTable | None = None) -> SmokeResult:
    """Run one smoke test of ``target`` with ``clients`` and return its report.

    ``read_sources`` reads curated Parquet (``"pyarrow"``: with pyarrow when importable; ``None``: never).
    ``clock``, ``sleep``, ``now`` and ``token`` are injectable for tests, and ``table`` (the Iceberg table the
    run's rows are read from through the catalog: by default the Glue Data Catalog's table the target names, if
    any). A missing Glue job raises
    ``ValueError`` before anything is uploaded; an AWS error after that ends the run FAILED (after clean-up).
    """
    options = (options or SmokeOptions()).validate()
    target.validate()
    if read_sources == "pyarrow":
        read_sources = pyarrow_sources()
    started = clock()
    deadline = started + options.timeout_minutes * 60
    glue = GlueJobRunner(clients.glue, say, options.poll_seconds, clock, sleep, started)
    lister_job = glue.describe_job(target.lister_job)
    processor_job = glue.describe_job(target.processor_job)
    plan = build_plan(target.raw_prefix, now=now, token=token, records_per_file=options.records_per_file,
                      include_bad_inputs=not options.good_only)
    if table is None and target.iceberg_table:
        table = SmokeTable(target.iceberg_table, target.iceberg_warehouse,
                           region=getattr(getattr(clients.glue, "meta", None), "region_name", None))
    bucket = SmokeBucket(S3Store(target.bucket, client=clients.s3), target, plan,
                         read_sources if callable(read_sources) else None, table)
    lister = JobRunReport("lister", target.lister_job)
    processor = JobRunReport("processor", target.processor_job)
    failure: str | None = None
    seen: Observation | None = None
    try:
        say(f"smoke {plan.run_id}: uploading {len(plan.files)} files to s3://{target.bucket}/{plan.prefix}")
        bucket.upload()
        lister = glue.run("lister", target.lister_job, {"--prefixes": plan.prefix}, deadline, lister_job)
        if lister.succeeded:
            processor = glue.run("processor", target.processor_job,
                                 {"--drain": "true", "--max-minutes": _minutes(options.processor_max_minutes)},
                                 deadline, processor_job)
        else:
            processor.error = "the lister run did not succeed"
        if processor.succeeded:
            _wait_for_archive(bucket, glue, deadline)
        seen = bucket.observe()
    except AWS_ERRORS as err:
        failure = f"{type(err).__name__}: {err}"
    checks = _run_checks(lister, processor, failure)
    if seen is not None:
        outcome = bucket.checks(seen)
        if not processor.succeeded:  # the outcome is the processor's: not checked without a successful run
            outcome = [Check(c.name, None, "not checked: the processor run did not succeed") for c in outcome]
        checks += outcome
    cleanup = None if options.keep else _cleanup(bucket, seen, say)
    result = SmokeResult(target, plan, [lister, processor], checks, cleanup,
                         _notes(plan, lister, processor, options), clock() - started)
    return result


def _minutes(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _wait_for_archive(bucket: SmokeBucket, glue: GlueJobRunner, deadline: float) -> None:
    """Wait until every file that must be archived is: a scheduled processor run may have claimed the smoke files
    before smoke's own run (which then found nothing to do) and still be converting them."""
    said = False
    while not bucket.archive_settled() and glue.clock() < deadline:
        if not said:
            glue.say(f"{glue.elapsed()} waiting for the smoke files to be archived (another processor run may "
                     "hold them)")
            said = True
        glue.sleep(max(glue.poll_seconds, 0.1))


def _run_checks(lister: JobRunReport, processor: JobRunReport, failure: str | None) -> list[Check]:
    checks = []
    if failure is not None:
        checks.append(Check("smoke ran to the end", False, failure))
    checks.append(Check("lister run SUCCEEDED", lister.succeeded if lister.run_id or not failure else None,
                        lister.describe()))
    processor_ok: bool | None = processor.succeeded
    if processor.run_id is None and (failure or not lister.succeeded):
        processor_ok = None  # never started because of an earlier failure, reported there
    checks.append(Check("processor run SUCCEEDED", processor_ok, processor.describe()))
    return checks


def _cleanup(bucket: SmokeBucket, seen: Observation | None, say: Callable[[str], None]) -> dict[str, Any]:
    try:
        if seen is None:
            seen = bucket.observe()
        return bucket.cleanup(seen)
    except AWS_ERRORS as err:
        say(f"clean-up failed: {err}")
        return {"deleted": 0, "deleted_keys": [], "left": [{"key": bucket.plan.prefix + "*",
                                                            "why": f"clean-up failed: {err}"}]}


def _notes(plan: SmokePlan, lister: JobRunReport, processor: JobRunReport, options: SmokeOptions) -> list[str]:
    example = plan.files[0].key
    notes = [f"the tracking table keeps one row per smoke file ({len(plan.files)}): smoke cannot reach the private "
             f"RDS. From a host in its VPC: mldp inspect {example} --db <RDS URL> (mldp status counts them)"]
    if plan.of_kind(POISON):
        notes.append(f"the {len(plan.of_kind(POISON))} poison files stay QUARANTINED in the tracking table, so the "
                     "QuarantinedFiles alarm (threshold 1 by default) goes to ALARM, and DeadLetterRecords fires "
                     "for the malformed lines; pass --good-only where those alarms page someone")
    if lister.timed_out or processor.timed_out:
        notes.append("a run was still in progress when smoke stopped waiting: it may yet process (or find "
                     "missing) the smoke files")
    if options.keep:
        notes.append(f"--keep: delete s3://<bucket>/{plan.prefix} and its archive, dead letters and curated files "
                     "by hand when done")
    return notes
