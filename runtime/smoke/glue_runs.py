"""Start a Glue job run and watch it to the end: one progress line per state change, the run's error message
and where its logs are."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from runtime.errors import UsageError

#: States after which a run never changes again.
TERMINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT", "ERROR", "EXPIRED"})
#: The state smoke reports for a job it never started (an earlier step failed).
NOT_STARTED = "NOT_STARTED"
#: Default CloudWatch log groups (Glue appends ``/output`` and ``/error``; the stream is the run id) by job
#: command: Python shell jobs and Spark jobs.
DEFAULT_LOG_GROUPS = {"pythonshell": "/aws-glue/python-jobs", "glueetl": "/aws-glue/jobs"}


@dataclass
class JobRunReport:
    """What became of one job run.

    Attributes:
        role: ``lister`` or ``processor``.
        job_name: the Glue job.
        run_id: the run id (``None`` when never started).
        state: the final state, :data:`NOT_STARTED`, or the last state seen when smoke stopped waiting.
        error: Glue's ``ErrorMessage`` of the run, or why it was not started / not awaited.
        seconds: how long smoke watched it.
        log_groups: the CloudWatch log groups of its output and errors (stream: the run id).
        timed_out: smoke's deadline passed before the run ended.
        arguments: the run arguments smoke passed.
    """

    role: str
    job_name: str
    run_id: str | None = None
    state: str = NOT_STARTED
    error: str | None = None
    seconds: float = 0.0
    log_groups: list[str] = field(default_factory=list)
    timed_out: bool = False
    arguments: dict[str, str] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.state == "SUCCEEDED"

    def describe(self) -> str:
        """One line: state, error, and where to look."""
        if self.run_id is None:
            return f"{self.role} not started" + (f": {self.error}" if self.error else "")
        text = f"{self.role} run {self.run_id} of {self.job_name} {self.state}"
        if self.timed_out:
            text += " (still running when smoke's --timeout-minutes ran out)"
        text += f" after {self.seconds:.0f}s"
        if self.error:
            text += f": {self.error}"
        if not self.succeeded and self.log_groups:
            text += f" (logs: CloudWatch {' and '.join(self.log_groups)}, stream {self.run_id})"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {"role": self.role, "job_name": self.job_name, "run_id": self.run_id, "state": self.state,
                "error": self.error, "seconds": round(self.seconds, 1), "log_groups": self.log_groups,
                "timed_out": self.timed_out, "arguments": self.arguments}


def log_groups(job: dict[str, Any] | None, run: dict[str, Any] | None = None) -> list[str]:
    """The output and error log groups of a run: the run's ``LogGroupName`` when Glue reports one (a job with a
    security configuration logs to its own groups), else Glue's defaults for the job's command."""
    base = (run or {}).get("LogGroupName") or ""
    if not base.startswith("/aws-glue/"):
        command = ((job or {}).get("Command") or {}).get("Name", "glueetl")
        base = DEFAULT_LOG_GROUPS.get(command, DEFAULT_LOG_GROUPS["glueetl"])
    base = base.rstrip("/")
    return [f"{base}/output", f"{base}/error"]


class GlueJobRunner:
    """Start runs of Glue jobs and wait for them, reporting progress through ``say``.

    ``clock`` and ``sleep`` are injectable (tests); ``started`` is the origin of the elapsed times shown.
    """

    def __init__(self, glue: Any, say: Callable[[str], None], poll_seconds: float = 15.0,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 started: float | None = None) -> None:
        self.glue = glue
        self.say = say
        self.poll_seconds = max(poll_seconds, 0.0)
        self.clock = clock
        self.sleep = sleep
        self.started = clock() if started is None else started

    def elapsed(self) -> str:
        seconds = int(self.clock() - self.started)
        return f"[{seconds // 60:2d}m{seconds % 60:02d}s]"

    def describe_job(self, job_name: str) -> dict[str, Any]:
        """``get_job``: raises ``ValueError`` naming the job when it does not exist or cannot be read."""
        try:
            return self.glue.get_job(JobName=job_name)["Job"]
        except ClientError as err:
            error = err.response.get("Error", {})
            if error.get("Code") == "EntityNotFoundException":
                raise UsageError(f"Glue job {job_name!r} not found (wrong --region, or not deployed?)") from err
            raise UsageError(f"cannot read Glue job {job_name!r}: {error.get('Message') or err}") from err
        except BotoCoreError as err:  # no credentials, no network
            raise UsageError(f"cannot read Glue job {job_name!r}: {err}") from err

    def run(self, role: str, job_name: str, arguments: dict[str, str], deadline: float,
            job: dict[str, Any] | None = None) -> JobRunReport:
        """Start ``job_name`` with ``arguments`` and wait until the run ends or ``deadline`` (a ``clock`` time)."""
        report = JobRunReport(role, job_name, arguments=dict(arguments), log_groups=log_groups(job))
        begun = self.clock()
        run_id = self._start(report, deadline)
        if run_id is None:
            report.seconds = self.clock() - begun
            return report
        report.run_id = run_id
        self.say(f"{self.elapsed()} {role}: started {job_name} run {run_id}")
        last_state = None
        while True:
            run = self.glue.get_job_run(JobName=job_name, RunId=run_id)["JobRun"]
            state = run.get("JobRunState", "UNKNOWN")
            if state != last_state:
                self.say(f"{self.elapsed()} {role}: {state}")
                last_state = state
            report.state = state
            report.error = run.get("ErrorMessage") or None
            report.log_groups = log_groups(job, run)
            if state in TERMINAL_STATES:
                break
            if self.clock() >= deadline:
                report.timed_out = True
                break
            self.sleep(self.poll_seconds)
        report.seconds = self.clock() - begun
        return report

    def _start(self, report: JobRunReport, deadline: float) -> str | None:
        """``start_job_run``, retried while the job is at its concurrency limit (e.g. a scheduled run)."""
        waiting = False
        while True:
            try:
                return self.glue.start_job_run(JobName=report.job_name, Arguments=report.arguments)["JobRunId"]
            except ClientError as err:
                code = err.response.get("Error", {}).get("Code", "")
                if code != "ConcurrentRunsExceededException":
                    raise
                if self.clock() >= deadline:
                    report.error = ("another run of the job held its concurrency limit until smoke's "
                                    "--timeout-minutes ran out")
                    report.timed_out = True
                    return None
                if not waiting:
                    self.say(f"{self.elapsed()} {report.role}: another run of {report.job_name} is in progress "
                             "(concurrency limit); waiting for it to end")
                    waiting = True
                self.sleep(max(self.poll_seconds, 1.0))
