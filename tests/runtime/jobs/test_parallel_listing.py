"""Parallel listing: every key exactly once, whatever the keys (boundary-stressing sets, both stores), the ranges a
partition, errors raised, and the registration rules unchanged (the same rows as one paginator)."""

from __future__ import annotations

import itertools
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from runtime.jobs import parallel_listing
from runtime.jobs.lister import run_lister
from runtime.jobs.parallel_listing import (
    MAX_RANGES_PER_THREAD,
    KeyRange,
    parallel_pages,
    plan_ranges,
    split_range,
)
from runtime.storage.base import ObjectStore, ObjectStoreError
from tests.support.key_sets import stress_keys
from tests.support.sql import files_by_key

PREFIX = "raw-json-data/all_historical_files/"


def _put(store: ObjectStore, keys: list[str]) -> None:
    for key in keys:
        store.put_bytes(key, b"{}")


def _listed(store: ObjectStore, prefix: str, parallelism: int, page_size: int | None = None) -> Counter:
    return Counter(obj.key for page in parallel_pages(store, prefix, parallelism, page_size) for obj in page)


@pytest.mark.parametrize("seed", [11, 12])
@pytest.mark.parametrize("parallelism", [3, 16])
def test_every_key_exactly_once(store: ObjectStore, seed: int, parallelism: int):
    keys = stress_keys(seed, 150)
    _put(store, keys)
    listed = _listed(store, PREFIX, parallelism, page_size=9)
    assert set(listed) == set(keys)
    assert set(listed.values()) == {1}
    # a prefix that is not a folder (no level listing: sampling alone), and the raw prefix (a level of one folder)
    for prefix in (PREFIX + "a", "raw-json-data/"):
        expected = {k for k in keys if k.startswith(prefix)}
        assert _listed(store, prefix, parallelism, page_size=9) == Counter(expected)


def test_planned_ranges_partition_the_prefix(local_store):
    keys = [f"{PREFIX}part-{i:05d}.json" for i in range(3000)] + [PREFIX + "part-", PREFIX + "part-0"]
    _put(local_store, keys[:-1])
    local_store.put_bytes(PREFIX + "partx", b"{}")
    ranges, direct = plan_ranges(local_store, PREFIX, parallelism=4, page_size=10)
    assert direct == []  # the level does not fit in one page: split by sampling
    assert len(ranges) >= 16
    flat = sorted(ranges, key=lambda r: r.start_after or "")
    assert flat[0].start_after is None and flat[-1].end is None
    assert all(a.end == b.start_after for a, b in itertools.pairwise(flat))  # consecutive: no gap
    sizes = [sum(len(page) for page in r.pages(local_store)) for r in flat]
    assert sum(sizes) == 3001 + 1


def test_split_range_descends_a_shared_stem_and_refuses_one_key(local_store):
    _put(local_store, [PREFIX + "same-prefix-" + c for c in "abc"] + [PREFIX + "solo/only.json"])
    parts = split_range(local_store, KeyRange(PREFIX, stem=PREFIX))
    assert parts is not None and [p.stem for p in parts] == [PREFIX + "s" + c for c in "ao"]
    deep = split_range(local_store, KeyRange(PREFIX + "same", stem=PREFIX + "same"))
    assert deep is not None and [p.stem for p in deep] == [PREFIX + "same-prefix-" + c for c in "abc"]
    assert split_range(local_store, KeyRange(PREFIX + "solo/", stem=PREFIX + "solo/")) is None
    assert split_range(local_store, KeyRange(PREFIX + "none/", stem=PREFIX + "none/")) is None


def test_probing_at_once_splits_as_probing_one_by_one(local_store):
    keys = [f"{PREFIX}shared-stem-{c}{i}.json" for c in "0123789abxyz~é" for i in range(3)]
    _put(local_store, keys)
    with ThreadPoolExecutor(8) as pool:
        for rng in (KeyRange(PREFIX, stem=PREFIX), KeyRange(PREFIX, f"{PREFIX}shared-stem-2", f"{PREFIX}shared-stem-y",
                                                             PREFIX)):
            serial, at_once = split_range(local_store, rng), split_range(local_store, rng, pool)
            assert serial is not None and at_once == serial
    assert [p.stem[-1] for p in at_once] == list("23789abx")


def test_a_flat_folder_is_planned_as_even_ranges(local_store):
    _put(local_store, [f"{PREFIX}part-{i:04d}.json" for i in range(2000)])  # more than a level: sampled
    ranges, _ = plan_ranges(local_store, PREFIX, parallelism=16, page_size=10)
    # 2 ranges, then 20, then 16 of them split (one per thread) and the 4 left, ten times larger, too
    assert [r.stem for r in ranges] == [f"{PREFIX}part-{i:03d}" for i in range(200)]


def _range_sizes(store: ObjectStore, ranges: list[KeyRange]) -> list[int]:
    return [sum(len(page) for page in r.pages(store)) for r in ranges]


def test_sub_folders_of_any_name_length_are_split_alike(local_store):
    folders = ("2024/", "2025/", "backfill-2023/")  # a longer name is no finer a range
    _put(local_store, [f"{PREFIX}{folder}part-{i:03d}.json" for folder in folders for i in range(300)])
    ranges, _ = plan_ranges(local_store, PREFIX, parallelism=4, page_size=10)
    sizes = _range_sizes(local_store, ranges)
    assert sum(sizes) == 900 and max(sizes) <= 100  # every folder split at least once (by its first digit)


def test_a_level_cut_short_is_split_again_from_where_it_stopped(local_store):
    chars = [chr(0x4E00 + i) for i in range(100)]  # more next characters than a split may probe
    _put(local_store, [f"{PREFIX}{c}-{i:02d}.json" for c in chars for i in range(11)])  # more than a level
    ranges, _ = plan_ranges(local_store, PREFIX, parallelism=4, page_size=5)
    sizes = _range_sizes(local_store, ranges)
    assert sum(sizes) == 1100 and max(sizes) <= 110


def test_a_long_shared_stem_does_not_stop_the_split(local_store):
    stem = "export_customer_events_kafka_connect_s3_sink_prod_eu_west_1_partition_"  # 70 characters
    _put(local_store, [f"{PREFIX}{stem}{i:03d}.json" for i in range(1200)])
    ranges, _ = plan_ranges(local_store, PREFIX, parallelism=4, page_size=10)
    assert len(ranges) >= 16 and sum(_range_sizes(local_store, ranges)) == 1200


def test_s3_calls_stay_near_one_paginator(s3_store, s3_calls):
    keys = [f"{PREFIX}{d:02d}/part-{i:03d}.json" for d in range(8) for i in range(100)]
    _put(s3_store, keys)
    s3_calls.ops.clear()
    assert _listed(s3_store, PREFIX, 4, page_size=50) == Counter(keys)
    calls = s3_calls.ops["ListObjectsV2"]
    pages = len(keys) // 50
    # the pages, plus a request and about two probes per planned range (at most MAX_RANGES_PER_THREAD per thread)
    assert pages <= calls <= pages + 3 * 4 * MAX_RANGES_PER_THREAD + 1
    assert s3_calls.max_in_flight > 1


def test_an_error_in_a_listing_thread_is_raised(local_store, monkeypatch):
    _put(local_store, [f"{PREFIX}{c}/x.json" for c in "abcdefgh"])
    real = type(local_store).list_range_pages

    def failing(self, prefix="", start_after=None, end=None, page_size=None):
        if prefix.endswith("e/"):
            raise ObjectStoreError("boom")
        return real(self, prefix, start_after, end, page_size)

    monkeypatch.setattr(type(local_store), "list_range_pages", failing)
    with pytest.raises(ObjectStoreError, match="boom"):
        list(parallel_pages(local_store, PREFIX, 4))


def test_pages_wait_in_a_bounded_queue(local_store, monkeypatch):
    _put(local_store, [f"{PREFIX}{c}/{i:03d}.json" for c in "abcd" for i in range(40)])
    sizes = []
    real_queue = parallel_listing.queue.Queue

    def recording(maxsize=0):
        sizes.append(maxsize)
        return real_queue(maxsize)

    monkeypatch.setattr(parallel_listing.queue, "Queue", recording)
    assert sum(_listed(local_store, PREFIX, 3, page_size=5).values()) == 160
    assert sizes == [6]


def test_parallel_registration_equals_one_paginator(store, db_conn, db_url):
    import psycopg2

    keys = stress_keys(21, 120)
    _put(store, keys)
    first = run_lister(store, db_conn, [PREFIX], show_progress=False, parallelism=16, chunk_size=25).as_dict()
    assert (first["listed"], first["new"]) == (len(keys), len(keys))
    rows = files_by_key(db_conn, "etag, file_size_bytes, version")
    again = run_lister(store, db_conn, [PREFIX], show_progress=False, parallelism=1).as_dict()
    assert (again["unchanged"], again["new"], again["changed"]) == (len(keys), 0, 0)
    assert files_by_key(db_conn, "etag, file_size_bytes, version") == rows
    other = psycopg2.connect(db_url)
    try:  # one lister at a time, whatever its parallelism
        from runtime.db.registration import ListerBusy, lister_lock

        with lister_lock(other), pytest.raises(ListerBusy):
            run_lister(store, db_conn, [PREFIX], show_progress=False, parallelism=16)
    finally:
        other.close()
