"""Who owns a batch, and whether that owner is provably gone.

A run records itself on every batch it claims or takes over (:func:`current_owner`): its host name and pid, the
identity of that process on its node (kernel boot id, pid namespace and the process start time, from ``/proc``),
and, on Glue, its job name (the run id is the batch's ``glue_job_run_id``). :class:`OwnerProbe` answers whether
such an owner is *provably* gone, so its batch can be recovered at once instead of after its lease:

* on the same node (same boot and pid namespace): gone when no process has that pid and start time any more (the
  pid is free, reused by another process, or a zombie); alive while it has, unless it is stopped (``T``: Ctrl-Z,
  SIGSTOP, a debugger), when the lease decides (its heartbeat is stopped with it). In this very process (a library
  user or a test running several runs in one process), alive only while the run is registered in :func:`live_run`:
  a run that ended, by a crash or otherwise, holds nothing any more;
* on Glue: gone when ``glue:GetJobRun`` says the run ended (SUCCEEDED, FAILED, STOPPED, TIMEOUT, ERROR, EXPIRED);
  alive while it says the run is starting, running or stopping;
* anywhere else, or when a check cannot be made: not provable, and the lease decides.

:func:`recoverability` is the one rule, for recovery, ``mldp recover`` and ``mldp status``, that says whether an
open batch may be taken over: never one whose owner is provably alive, whatever its lease says.

Python 3.9-compatible, no Spark; the Glue client is injectable (``glue_client``), created only when needed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.db.records import OpenBatch, Owner

log = logging.getLogger(__name__)

#: Glue job run states after which the run holds nothing any more.
GLUE_TERMINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT", "ERROR", "EXPIRED"})
#: How long a verdict "alive" (or "cannot tell") is reused before the owner is checked again.
CACHE_SECONDS = 30.0


@dataclass(frozen=True)
class Verdict:
    """Whether an owner is provably gone, and why (shown by ``mldp status`` and ``mldp recover``); ``alive``: it is
    provably alive (its process runs on this node, or Glue says its run is running), so its batch is never taken
    over, whatever its lease says. Neither gone nor alive: it cannot be told from here, and the lease decides."""

    gone: bool
    why: str
    alive: bool = False
    #: judged from the batch's own row (its lease lapsed, its run handed it back), which the take-over checks
    #: again in the statement that takes it: not a proof that the owner is gone
    by_record: bool = False


_LIVE_RUNS: set[str] = set()
_LIVE_RUNS_LOCK = threading.Lock()


@contextlib.contextmanager
def live_run(job_run_id: str) -> Iterator[None]:
    """Within the block, run ``job_run_id`` of this process is alive (:class:`OwnerProbe` tells another run in this
    process that its batches are not to be taken over); after it, by a crash or otherwise, it holds nothing."""
    with _LIVE_RUNS_LOCK:
        _LIVE_RUNS.add(job_run_id)
    try:
        yield
    finally:
        with _LIVE_RUNS_LOCK:
            _LIVE_RUNS.discard(job_run_id)


def _run_is_live_here(job_run_id: str | None) -> bool:
    with _LIVE_RUNS_LOCK:
        return job_run_id in _LIVE_RUNS


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def node_prefix() -> str | None:
    """``<boot id>/<pid namespace>`` of this process, or ``None`` where ``/proc`` does not tell (not Linux)."""
    boot = _read("/proc/sys/kernel/random/boot_id")
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return None
    return f"{boot}/{namespace}" if boot else None


def process_identity(pid: int, prefix: str | None = None) -> str | None:
    """``<boot id>/<pid namespace>/<start time>`` of the live process ``pid`` as seen from here; ``None`` when no
    such process runs (or it is a zombie: it ended and waits to be reaped) or ``/proc`` does not tell."""
    prefix = prefix or node_prefix()
    stat = _read(f"/proc/{pid}/stat")
    if prefix is None or stat is None:
        return None
    fields = stat[stat.rfind(")") + 2:].split()  # after "pid (comm) ": state is field 3, start time field 22
    if len(fields) < 20 or fields[0] in ("Z", "X"):
        return None
    return f"{prefix}/{fields[19]}"


def _process_state(pid: int) -> str | None:
    """The state letter of process ``pid`` in ``/proc`` (``R``, ``S``, ``T`` stopped, ``t`` traced, ...)."""
    stat = _read(f"/proc/{pid}/stat")
    if stat is None:
        return None
    fields = stat[stat.rfind(")") + 2:].split()
    return fields[0] if fields else None


def glue_job_name(argv: Sequence[str] | None = None) -> str | None:
    """The Glue job name of this run: the ``--JOB_NAME`` argument Glue passes to the job script, else ``None``."""
    args = list(sys.argv if argv is None else argv)
    for i, arg in enumerate(args):
        if arg == "--JOB_NAME" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--JOB_NAME="):
            return arg.split("=", 1)[1]
    return None


def current_owner(job_run_id: str, argv: Sequence[str] | None = None) -> Owner:
    """The owner facts of this process, running as run ``job_run_id``."""
    pid = os.getpid()
    return Owner(job_run_id=job_run_id, host=socket.gethostname(), pid=pid, node=process_identity(pid),
                 glue_job=glue_job_name(argv))


def _local_verdict(owner: Owner, prefix: str | None) -> Verdict | None:
    """The verdict on an owner whose process ran on this node; ``None`` when it ran elsewhere."""
    if owner.pid is None or owner.node is None or prefix is None:
        return None
    if owner.node.rsplit("/", 1)[0] != prefix:
        return None
    if process_identity(owner.pid, prefix) != owner.node:
        return Verdict(True, f"its process (pid {owner.pid} on {owner.host}) has ended")
    if _process_state(owner.pid) in ("T", "t"):  # stopped (Ctrl-Z, SIGSTOP, a debugger): it may never go on
        return Verdict(False, f"its process (pid {owner.pid} on {owner.host}) is stopped: the lease decides")
    if owner.pid == os.getpid() and not _run_is_live_here(owner.job_run_id):
        return Verdict(True, f"its run ended in this process (pid {owner.pid} on {owner.host})")
    return Verdict(False, f"its process (pid {owner.pid} on {owner.host}) is running", alive=True)


class OwnerProbe:
    """Tells whether the owner of a batch is provably gone (see the module docstring).

    ``glue_client``: a factory of the Glue client (``boto3.client("glue")`` by default, created at the first Glue
    owner). A Glue verdict that the run is alive, or cannot be judged, is reused for ``cache_seconds``; "gone" is
    final.
    """

    def __init__(self, glue_client: Callable[[], Any] | None = None, cache_seconds: float = CACHE_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._glue_factory = glue_client or _default_glue_client
        self._glue: Any = None
        self._prefix = node_prefix()
        self._cache: dict[Owner, tuple[float, Verdict]] = {}
        self.cache_seconds = cache_seconds
        self.clock = clock

    def check(self, owner: Owner) -> Verdict:
        """Whether ``owner`` is provably gone; never raises (a failed check is "cannot tell"). A local check reads
        ``/proc`` every time; a Glue verdict is cached (see the class docstring)."""
        verdict = _local_verdict(owner, self._prefix)
        if verdict is not None:
            return verdict
        if not (owner.glue_job and owner.job_run_id):
            return Verdict(False, "its owner cannot be checked from here: the lease decides")
        cached = self._cache.get(owner)
        if cached and (cached[1].gone or self.clock() - cached[0] < self.cache_seconds):
            return cached[1]
        verdict = self._glue_verdict(owner)
        self._cache[owner] = (self.clock(), verdict)
        return verdict

    def _glue_verdict(self, owner: Owner) -> Verdict:
        try:
            if self._glue is None:
                self._glue = self._glue_factory()
            run = self._glue.get_job_run(JobName=owner.glue_job, RunId=owner.job_run_id, PredecessorsIncluded=False)
            state = run["JobRun"]["JobRunState"]
        except Exception as exc:  # no credentials, no permission, throttled: cannot tell
            log.info("cannot check Glue run %s of job %s: %s", owner.job_run_id, owner.glue_job, exc)
            return Verdict(False, f"its Glue run cannot be checked ({type(exc).__name__}): the lease decides")
        if state in GLUE_TERMINAL_STATES:
            return Verdict(True, f"its Glue job run is {state}")
        return Verdict(False, f"its Glue job run is {state}", alive=True)


def recoverability(batch: OpenBatch, probe: OwnerProbe, *, held_is_recoverable: bool = False) -> Verdict:
    """Whether the open ``batch`` may be taken over now, and why: it was handed back by its run; or its owner is not
    provably alive and either its lease expired or its owner is provably gone. A batch held for the operator (no run
    works on it) only with ``held_is_recoverable`` (``mldp recover``). An owner provably alive keeps its batch
    whatever its lease says (a lease that lapsed while its run lives, e.g. while the database was away, is renewed
    by the run's heartbeat)."""
    if batch.held:  # nobody works on a held batch (its heartbeat skips it): only the operator takes it
        why = f"held for the operator after {batch.recovery_attempts} failed recoveries"
        return Verdict(True, f"{why} ({batch.recovery_error})") if held_is_recoverable else Verdict(False, why)
    if batch.released:
        return Verdict(True, "its run handed it back", by_record=True)
    verdict = probe.check(batch.owner)
    if verdict.alive:
        return verdict
    if batch.lease_expired and not verdict.gone:
        return Verdict(True, "its lease expired", by_record=True)
    return verdict


def _default_glue_client() -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("glue", config=Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 2}))
