"""Listing processes: the key ranges of a parallel listing (:mod:`runtime.jobs.parallel_listing`) listed by several
processes of threads, the pages streamed back to the caller's process.

**Why.** Listing costs the client 5-8 CPU-milliseconds a page of 1,000 keys (the request in botocore and urllib3,
the parse, the ``ObjectInfo`` objects), all under one interpreter's GIL: 16 threads of one process cannot list a
million keys in less than 7-8 CPU-seconds, whatever the latency, and their GIL hand-offs add a third. Processes
each have their own interpreter, so the listing uses every usable CPU.

**How many** (:func:`process_count`): ``min(usable CPUs, parallelism // 8)``
(:data:`~platform_contract.defaults.LISTER_THREADS_PER_PROCESS`), unless asked (``mldp list --listing-processes``);
one means no process at all: the threads of :mod:`runtime.jobs.parallel_listing`. The usable CPUs are the affinity
mask capped by a cgroup CPU quota (a container's share: a Glue Python shell of 1/16 DPU gets one, so no process).
A store that cannot be opened again in a child (``ObjectStore.worker_factory()`` is ``None``: a local directory, an
S3 store given a client) and a daemonic process (which may have no children) keep the threads.

**The protocol.** The processes are *spawned* (never forked: the lister holds a database connection and threads)
before the plan is made, so that their start (importing boto3, about half a CPU-second each) overlaps its round
trips. The parent puts the planned ranges, coarsest first, on one task queue, then an end marker per thread: every
thread of every process takes the next range when it is done with one (nothing is dealt in advance, so no process
idles while another lists a tail). A thread lists its range through its process's store as rows
(``ObjectStore.list_range_rows``: ``(key, size, last_modified, etag)`` tuples made straight from the response's
entries) and sends each page of them on its process's own pipe (a send blocks while the pipe is full: memory is
bounded by a page per thread); the parent
makes the ``ObjectInfo`` objects, through their ``__dict__`` (0.5 ms a page of 1,000 with the unpickling, against
0.6 ms for unpickling ready ``ObjectInfo`` objects, which cost the worker about 1 ms more to make and pickle).

**Stopping.** An error in a worker is sent to the parent, which stops every worker and raises it (an exception that
cannot be pickled arrives as an :class:`~runtime.storage.base.ObjectStoreError` naming it); a worker that dies
without a word (killed, even in the middle of a page: its pipe ends, and no other process holds it) is an error
too. Closing the parent's generator (or an error in it) stops the workers, waits
for them a few seconds and terminates what is left: no process outlives the listing. A worker whose parent died
stops by itself, and ignores Ctrl-C (the parent's to handle).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import queue
import resource
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any, Protocol

from platform_contract import defaults
from runtime.storage.base import ObjectInfo, ObjectStore, ObjectStoreError

__all__ = ["THREADS_PER_PROCESS", "ListingProcesses", "WorkerUsage", "process_count", "start", "usable_cpus"]

log = logging.getLogger(__name__)

#: Listing threads per process of the default rule (:func:`process_count`).
THREADS_PER_PROCESS = defaults.LISTER_THREADS_PER_PROCESS
#: How often a waiting worker looks whether it should stop (its parent gone, or the listing stopped).
POLL_SECONDS = 0.1
#: How long a stopped listing waits for its processes before terminating them.
JOIN_SECONDS = 5.0
#: cgroup files of a CPU quota (v2: ``quota period`` or ``max period``; v1: the quota, -1 for none).
CGROUP_CPU_MAX = "/sys/fs/cgroup/cpu.max"
CGROUP_V1 = ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.cfs_period_us")

_PAGE, _DONE, _ERROR = 0, 1, 2


class KeyRange(Protocol):
    """What a listing process reads of a :class:`runtime.jobs.parallel_listing.KeyRange` (which imports this
    module)."""

    prefix: str
    start_after: str | None
    end: str | None
    depth: int


@dataclass(frozen=True)
class WorkerUsage:
    """What one listing process used, sent when it is done (the benchmark sums them)."""

    pid: int
    cpu_seconds: float
    peak_rss_mb: float


def _cgroup_cpus() -> float | None:
    """The CPUs a cgroup quota allows this process (``None``: no quota, or none readable)."""
    try:
        with open(CGROUP_CPU_MAX) as handle:
            quota, period = handle.read().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        with open(CGROUP_V1[0]) as quota_file, open(CGROUP_V1[1]) as period_file:
            quota_us, period_us = int(quota_file.read()), int(period_file.read())
        return None if quota_us <= 0 or period_us <= 0 else quota_us / period_us
    except (OSError, ValueError):
        return None


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask), at most its cgroup quota rounded down, at least one."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    quota = _cgroup_cpus()
    if quota is not None:
        cpus = min(cpus, int(quota))
    return max(cpus, 1)


def process_count(parallelism: int, requested: int | None = None, cpus: int | None = None) -> int:
    """Listing processes for ``parallelism`` threads: ``requested`` (at most one per thread), else
    ``min(cpus, parallelism // THREADS_PER_PROCESS)`` (``cpus``: :func:`usable_cpus`), at least one (1: threads
    only, no process)."""
    if requested is not None:
        return max(1, min(requested, parallelism))
    usable = usable_cpus() if cpus is None else cpus
    return max(1, min(usable, parallelism // THREADS_PER_PROCESS))


def _objects(rows: list[tuple[str, int, Any, str]]) -> list[ObjectInfo]:
    """The ``ObjectInfo`` objects of a page's rows, their fields set as unpickling sets them (through ``__dict__``,
    not the frozen dataclass's ``__setattr__``: a third cheaper, and this is the parent's work)."""
    new = object.__new__
    objects: list[ObjectInfo] = []
    append = objects.append
    for key, size, last_modified, etag in rows:
        obj = new(ObjectInfo)
        obj.__dict__.update(key=key, size=size, last_modified=last_modified, etag=etag)
        append(obj)
    return objects


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling, else an :class:`ObjectStoreError` naming it."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return ObjectStoreError(f"{type(exc).__name__} in a listing process: {exc}")


def _usage() -> WorkerUsage:
    rusage = resource.getrusage(resource.RUSAGE_SELF)
    peak = rusage.ru_maxrss / 1024
    try:
        with open("/proc/self/status") as status:  # VmHWM: this process's own peak (ru_maxrss may be inherited)
            peak = next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration, ValueError):
        pass
    return WorkerUsage(os.getpid(), round(rusage.ru_utime + rusage.ru_stime, 2), round(peak, 1))


def _work(factory: Callable[[], ObjectStore], tasks: Any, results: Any, stop: Any, threads: int,
          page_size: int | None) -> None:
    """A listing process: ``threads`` threads listing the ranges of ``tasks`` into ``results``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it stops the workers
    parent = multiprocessing.parent_process()

    def going() -> bool:
        return not stop.is_set() and (parent is None or parent.is_alive())

    lock = threading.Lock()  # one message at a time on this process's pipe

    def send(item: tuple[int, Any]) -> bool:
        if not going():
            return False
        with lock:
            try:
                results.send(item)  # blocks while the pipe is full: the parent reads at its pace
                return True
            except (OSError, EOFError):  # the parent closed its end
                return False

    def next_range() -> KeyRange | None:
        while going():
            try:
                return tasks.get(timeout=POLL_SECONDS)  # type: ignore[no-any-return]
            except queue.Empty:
                continue
        return None

    def run(store: ObjectStore) -> None:
        try:
            rng = next_range()
            while rng is not None:
                for rows in store.list_range_rows(rng.prefix, rng.start_after, rng.end, page_size):
                    if not send((_PAGE, rows)):
                        return
                rng = next_range()
        except BaseException as exc:  # the parent raises it
            send((_ERROR, _portable(exc)))

    try:
        store = factory()
    except BaseException as exc:
        send((_ERROR, _portable(exc)))
        return
    workers = [threading.Thread(target=run, args=(store,), name=f"list-{n}", daemon=True) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    send((_DONE, _usage()))
    results.close()


class ListingProcesses:
    """``processes`` spawned listing processes of ``parallelism / processes`` threads each, started at once (see
    the module docstring); :meth:`pages` lists ranges with them, :meth:`close` (or leaving a ``with``) ends them."""

    def __init__(self, factory: Callable[[], ObjectStore], processes: int, parallelism: int,
                 page_size: int | None = None, usage: list[WorkerUsage] | None = None) -> None:
        context = multiprocessing.get_context("spawn")
        self.threads = [parallelism // processes + (1 if n < parallelism % processes else 0)
                        for n in range(processes)]
        self.usage = usage if usage is not None else []
        self._tasks = context.Queue()
        self._stop = context.Event()
        # one pipe per process, its write end held by that process alone (the parent closes its copy once the
        # process started): a process that dies, even in the middle of a page, ends its pipe, and the parent reads
        # the end of file instead of waiting for the rest of the message (a queue shared by the processes would
        # still be held open by the others, and its lock by the dead one)
        pipes = [context.Pipe(duplex=False) for _ in self.threads]
        self._readers = [reader for reader, _ in pipes]
        self._processes = [context.Process(target=_work, name=f"mldp-list-{n}", daemon=True,
                                           args=(factory, self._tasks, writer, self._stop, threads, page_size))
                           for n, ((_, writer), threads) in enumerate(zip(pipes, self.threads))]
        try:
            for process, (_, writer) in zip(self._processes, pipes):
                process.start()
                writer.close()
        except BaseException:
            for _, writer in pipes:
                writer.close()
            self.close()
            raise

    def __enter__(self) -> ListingProcesses:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def pages(self, ranges: Sequence[KeyRange]) -> Iterator[list[ObjectInfo]]:
        """Every object of ``ranges`` once, as pages in no particular order; an error in a worker is raised here."""
        for rng in sorted(ranges, key=lambda r: r.depth):  # the coarsest (likely the largest) first: no long tail
            self._tasks.put(rng)
        for _ in range(sum(self.threads)):
            self._tasks.put(None)
        running = dict(zip(self._readers, self._processes))
        while running:
            for reader in wait(list(running), timeout=POLL_SECONDS):
                process = running[reader]
                try:
                    kind, payload = reader.recv()
                except (EOFError, OSError):  # its pipe ended before it said it was done: it died
                    process.join(POLL_SECONDS)
                    raise ObjectStoreError(f"listing process {process.name} ended (exit code {process.exitcode}) "
                                           "before it was done") from None
                if kind == _PAGE:
                    yield _objects(payload)
                elif kind == _DONE:
                    del running[reader]
                    self.usage.append(payload)
                else:
                    raise payload

    def close(self, wait: float = JOIN_SECONDS) -> None:
        """Stop the workers, wait up to ``wait`` seconds for them (reading what they still send, so that they can
        exit), then terminate (and kill) any left (at once with ``wait=0``: workers given no range hold nothing)."""
        self._stop.set()
        deadline = time.monotonic() + wait
        for process in self._processes:
            while process.pid is not None and process.is_alive() and time.monotonic() < deadline:
                self._drain()
                process.join(POLL_SECONDS)
        for process in self._processes:
            if process.pid is not None and process.is_alive():
                log.log(logging.WARNING if wait else logging.DEBUG, "terminating listing process %s (pid %s)",
                        process.name, process.pid)
                process.terminate()
                process.join(1)
                if process.is_alive():
                    process.kill()
                    process.join()
        self._tasks.cancel_join_thread()  # ranges left untaken: nobody reads them
        self._tasks.close()
        for reader in self._readers:
            reader.close()

    def _drain(self) -> None:
        """Read and drop what the processes still send (a process blocked on its full pipe can then see the stop)."""
        for reader in self._readers:
            try:
                while not reader.closed and reader.poll():
                    reader.recv()
            except (OSError, EOFError, pickle.UnpicklingError):
                continue


def start(store: ObjectStore, parallelism: int, processes: int | None = None, page_size: int | None = None,
          usage: list[WorkerUsage] | None = None) -> ListingProcesses | None:
    """Listing processes for ``store`` (:func:`process_count` of them), or ``None`` when it lists in threads: one
    process, a store without a ``worker_factory()``, a daemonic process (which may not have children), or processes
    that could not be started (logged)."""
    count = process_count(parallelism, processes)
    if count <= 1 or multiprocessing.current_process().daemon:
        return None
    factory = store.worker_factory()
    if factory is None:
        return None
    try:
        workers = ListingProcesses(factory, count, parallelism, page_size, usage)
    except (OSError, RuntimeError, ValueError, pickle.PicklingError) as exc:  # no interpreter to spawn, no pipes...
        log.warning("listing in threads: listing processes could not be started (%s)", exc)
        return None
    log.info("listing with %d processes of %s threads", count, "/".join(map(str, workers.threads)))
    return workers
