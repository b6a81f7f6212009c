"""Listing processes: every key exactly once through spawned processes against a moto server (the
boundary-stressing key sets), an error or a death in a worker raised in the parent, no process left after an early
close, and the rule that says how many processes."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import threading
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest

from runtime.jobs import listing_processes
from runtime.jobs.listing_processes import ListingProcesses, process_count, usable_cpus
from runtime.jobs.parallel_listing import KeyRange, parallel_pages
from runtime.storage.base import ObjectStore, ObjectStoreError
from runtime.storage.s3 import S3Store
from runtime.storage.s3_list_parse import S3ClientSpec
from tests.support.key_sets import stress_keys
from tests.support.s3 import BUCKET

PREFIX = "raw-json-data/all_historical_files/"


@pytest.fixture
def spec(moto_endpoint: str) -> S3ClientSpec:
    """How to reach the moto server from any process (the credentials come from the inherited environment)."""
    return S3ClientSpec(endpoint_url=moto_endpoint, region_name="us-east-1")


@pytest.fixture
def server_store(spec: S3ClientSpec) -> S3Store:
    """An :class:`S3Store` over a bucket of the moto server, made from a spec: a listing process can open it."""
    urllib.request.urlopen(urllib.request.Request(f"{spec.endpoint_url}/moto-api/reset", method="POST")).close()
    store = S3Store(BUCKET, spec=spec)  # the server keeps its buckets from test to test (one backend): reset above
    store.client.create_bucket(Bucket=BUCKET)
    return store


def _put(store: ObjectStore, keys: list[str]) -> None:
    for key in keys:
        store.put_bytes(key, b"{}")


class FailingStore(S3Store):
    """A store that fails listing one sub-folder (made in the worker from the factory)."""

    def list_range_rows(self, prefix="", start_after=None, end=None, page_size=None):
        if prefix.endswith("e/"):
            raise ObjectStoreError("boom in a worker")
        return super().list_range_rows(prefix, start_after, end, page_size)


def _dying_store() -> ObjectStore:
    os._exit(3)


@pytest.mark.parametrize("seed", [11, 12])
def test_every_key_exactly_once_through_processes(server_store: S3Store, seed: int):
    keys = stress_keys(seed, 200)
    _put(server_store, keys)
    usage: list = []
    pages = list(parallel_pages(server_store, PREFIX, 4, page_size=9, processes=2, usage=usage))
    listed = Counter(obj.key for page in pages for obj in page)
    assert set(listed) == set(keys) and set(listed.values()) == {1}
    assert all(pages)
    some = pages[-1][0]  # as the parent's store sees it, but the time's precision (a listing has milliseconds)
    head = server_store.head(some.key)
    assert (some.size, some.etag) == (head.size, head.etag) and some.size == 2
    assert some.last_modified.tzinfo is not None
    assert len(usage) == 2 and all(u.pid != os.getpid() and u.peak_rss_mb > 0 for u in usage)  # listed by both


def test_an_error_in_a_worker_is_raised_in_the_parent(server_store: S3Store, spec: S3ClientSpec, monkeypatch):
    _put(server_store, [f"{PREFIX}{c}/{i}.json" for c in "abcdefgh" for i in range(3)])
    monkeypatch.setattr(server_store, "worker_factory", lambda: partial(FailingStore, BUCKET, spec=spec))
    with pytest.raises(ObjectStoreError, match="boom in a worker"):
        list(parallel_pages(server_store, PREFIX, 4, processes=2))
    assert multiprocessing.active_children() == []


def test_a_worker_that_dies_is_an_error(server_store: S3Store, monkeypatch):
    _put(server_store, [f"{PREFIX}{c}/x.json" for c in "abcdefgh"])
    monkeypatch.setattr(server_store, "worker_factory", lambda: _dying_store)
    with pytest.raises(ObjectStoreError, match="exit code 3"):
        list(parallel_pages(server_store, PREFIX, 4, processes=2))


def test_closing_early_leaves_no_process(server_store: S3Store):
    _put(server_store, [f"{PREFIX}{c}/{i:02d}.json" for c in "abcdefgh" for i in range(20)])
    pages = parallel_pages(server_store, PREFIX, 4, page_size=2, processes=2)
    first = next(pages)
    while first is not None and not multiprocessing.active_children():
        first = next(pages, None)  # the level's own objects come before the processes' pages
    children = multiprocessing.active_children()
    assert len(children) == 2
    pages.close()  # the workers are blocked on a full queue of pages: they must still end
    assert multiprocessing.active_children() == []
    assert all(child.exitcode is not None for child in children)


def test_a_small_plan_is_listed_by_threads(server_store: S3Store):
    keys = [f"{PREFIX}a/{i}.json" for i in range(5)]
    _put(server_store, keys)
    usage: list = []
    assert sorted(o.key for page in parallel_pages(server_store, PREFIX, 8, processes=2, usage=usage)
                  for o in page) == keys
    assert usage == [] and multiprocessing.active_children() == []


def test_processes_that_cannot_start_leave_the_listing_to_threads(server_store: S3Store, monkeypatch):
    keys = [f"{PREFIX}{c}/{i}.json" for c in "abcdefgh" for i in range(3)]
    _put(server_store, keys)

    def cannot_start(*args, **kwargs):
        raise OSError("no interpreter to spawn")

    monkeypatch.setattr(listing_processes, "ListingProcesses", cannot_start)
    usage: list = []
    assert sorted(o.key for page in parallel_pages(server_store, PREFIX, 4, processes=2, usage=usage)
                  for o in page) == keys
    assert usage == []


def test_a_store_made_from_a_spec_opens_again(server_store: S3Store):
    factory = server_store.worker_factory()
    assert factory is not None
    reopened = pickle.loads(pickle.dumps(factory))()
    assert isinstance(reopened, S3Store) and reopened.bucket == BUCKET and reopened.client is not server_store.client
    assert reopened.worker_factory() is not None


def test_stores_no_process_can_open(local_store, s3_store, spec: S3ClientSpec):
    assert local_store.worker_factory() is None  # a local directory: threads
    assert s3_store.worker_factory() is None  # given a client: threads
    assert S3Store(BUCKET, spec=spec).worker_factory() is None  # moto's mock_aws answers in this process
    assert listing_processes.start(s3_store, 16, processes=2) is None
    assert "testing" not in repr(S3ClientSpec(credentials=("testing", "testing", None)))


def test_how_many_processes():
    assert process_count(16, cpus=2) == 2  # this machine: 2 x 8 threads
    assert process_count(16, cpus=1) == 1  # a Glue Python shell: threads only
    assert process_count(16, cpus=8) == 2 and process_count(32, cpus=8) == 4
    assert process_count(7, cpus=4) == 1  # fewer threads than a process carries
    assert process_count(16, requested=3, cpus=1) == 3 and process_count(2, requested=5) == 2
    assert process_count(16, requested=0) == 1


def test_usable_cpus_follow_the_cgroup_quota(tmp_path: Path, monkeypatch):
    quota = tmp_path / "cpu.max"
    monkeypatch.setattr(listing_processes, "CGROUP_CPU_MAX", str(quota))
    monkeypatch.setattr(listing_processes, "CGROUP_V1", (str(tmp_path / "none"), str(tmp_path / "none")))
    affinity = len(os.sched_getaffinity(0))
    quota.write_text("max 100000\n")
    assert usable_cpus() == affinity
    quota.write_text("6250 100000\n")  # 1/16 of a CPU
    assert usable_cpus() == 1
    quota.write_text(f"{100000 * (affinity + 4)} 100000\n")
    assert usable_cpus() == affinity


def test_an_exception_that_cannot_be_pickled_arrives_as_a_store_error():
    class Local(Exception):
        pass

    sent = listing_processes._portable(Local("lost"))
    assert isinstance(sent, ObjectStoreError) and "Local" in str(sent) and "lost" in str(sent)
    kept = ObjectStoreError("kept")
    assert listing_processes._portable(kept) is kept


def test_mldp_list_registers_through_listing_processes(server_store: S3Store, moto_endpoint: str, db_url: str,
                                                        monkeypatch, capsys):
    import json

    from runtime.cli import main

    keys = [f"{PREFIX}{c}/{i:02d}.json" for c in "abcdefgh" for i in range(6)]
    _put(server_store, keys)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)  # open_store's client, and its children's
    started = []
    real_start = listing_processes.start

    def recording(*args, **kwargs):
        started.append(real_start(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(listing_processes, "start", recording)
    assert main(["list", "--store", f"s3://{BUCKET}", "--db", db_url, "--no-metrics", "--json", "--prefix", PREFIX,
                 "--parallelism", "4", "--listing-processes", "2"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["listed"], summary["new"]) == (len(keys), len(keys))
    assert len(started) == 1 and started[0] is not None and started[0].threads == [2, 2]
    assert len(started[0].usage) == 2  # both processes listed and reported


# -- found by the review of the listing processes: a process killed in the middle of a page --------------------

class _PageThenDie:
    """A worker store: one small page, then one big page, and the process SIGKILLs itself while its feeder thread
    is still writing the big page (the parent is not reading: the consumer is busy)."""

    def list_range_rows(self, prefix="", start_after=None, end=None, page_size=None):
        now = datetime.now(UTC)
        yield [("raw-json-data/a/first.json", 1, now, "e")]
        threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGKILL)).start()
        yield [(f"raw-json-data/a/{n:08d}" + "x" * 100 + ".json", 1, now, "etag" * 8) for n in range(20000)]


def _page_then_die() -> _PageThenDie:
    return _PageThenDie()


def test_a_child_killed_in_the_middle_of_a_page_is_an_error_not_a_hang():
    """A page of 1,000 rows pickles to more than a pipe holds: a process killed (OOM, ``kill -9``) while the parent is
    busy registering dies in the middle of a page. The parent raises instead of waiting for the rest of it (it did,
    for ever, while the processes shared one queue), and no process is left."""
    outcome: list[object] = []
    workers = ListingProcesses(_page_then_die, processes=2, parallelism=2)

    def consume() -> None:
        try:
            pages = workers.pages([KeyRange("raw-json-data/a/")])
            next(pages)
            time.sleep(3.0)  # the parent is busy registering: the child's feeder blocks mid-page, then it is killed
            for _ in pages:
                pass
            outcome.append("finished")
        except ObjectStoreError as exc:
            outcome.append(exc)

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    consumer.join(30)  # a hang detector, not a timing threshold: the error should come within ~0.1 s of the death
    hung = consumer.is_alive()
    workers.close(wait=0)
    assert multiprocessing.active_children() == []
    assert not hung, "the parent is blocked in Queue.get on a half-written page of a killed child"
    assert outcome and isinstance(outcome[0], ObjectStoreError)
