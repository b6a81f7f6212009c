"""Key-range and level listings of both stores (local directory and moto S3): consecutive ranges partition a
prefix whatever their bounds, keys equal to a bound included."""

from __future__ import annotations

import itertools
import random

import pytest

from runtime.jobs.parallel_listing import MAX_CHAR
from runtime.storage.base import ObjectStore
from tests.support.key_sets import stress_keys

PREFIX = "raw-json-data/all_historical_files/"


def _put(store: ObjectStore, keys: list[str]) -> None:
    for key in keys:
        store.put_bytes(key, b"{}")


def _range(store: ObjectStore, prefix: str, after: str | None, end: str | None, page_size: int = 7) -> list[str]:
    pages = list(store.list_range_pages(prefix, after, end, page_size=page_size))
    assert all(0 < len(page) <= page_size for page in pages)
    return [obj.key for page in pages for obj in page]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_consecutive_ranges_partition_the_prefix(store: ObjectStore, seed: int):
    keys = stress_keys(seed, 120)
    _put(store, keys)
    rng = random.Random(seed)
    # bounds: real keys (a key equal to a bound), keys + MAX_CHAR, truncated keys (prefixes), unrelated strings
    candidates = rng.sample(keys, 8) + [k + MAX_CHAR for k in rng.sample(keys, 4)]
    candidates += [k[: rng.randint(len(PREFIX), len(k))] for k in rng.sample(keys, 6)] + [PREFIX + "/", PREFIX + "~~"]
    bounds = sorted(set(candidates))
    edges = [None, *bounds, None]
    listed = []
    for after, end in itertools.pairwise(edges):
        part = _range(store, PREFIX, after, end)
        assert part == sorted(part)
        assert all((after is None or k > after) and (end is None or k <= end) for k in part)
        listed += part
    assert listed == keys  # every key exactly once, in order
    assert _range(store, PREFIX, None, None) == keys


def test_rows_are_the_pages_fields(store: ObjectStore):
    keys = stress_keys(4, 40)
    _put(store, keys)
    bounds = (keys[3], keys[-5])
    rows = list(store.list_range_rows(PREFIX, *bounds, page_size=7))
    pages = list(store.list_range_pages(PREFIX, *bounds, page_size=7))
    assert rows == [[(o.key, o.size, o.last_modified, o.etag) for o in page] for page in pages]
    assert len(rows) > 1 and all(isinstance(row, tuple) for page in rows for row in page)


def test_a_key_equal_to_a_bound_belongs_to_the_range_ending_there(store: ObjectStore):
    keys = [PREFIX + name for name in ("a", "a-", "a.", "a0", "a~", "a!/b", "b")]
    _put(store, keys)
    assert _range(store, PREFIX, None, PREFIX + "a!/b") == [PREFIX + "a", PREFIX + "a!/b"]
    assert _range(store, PREFIX, PREFIX + "a!/b", PREFIX + "a.") == [PREFIX + n for n in ("a-", "a.")]
    assert _range(store, PREFIX, PREFIX + "a.", None) == [PREFIX + n for n in ("a0", "a~", "b")]
    assert _range(store, PREFIX, PREFIX + "b", None) == []
    assert _range(store, PREFIX + "a!/", PREFIX + "a", PREFIX + "a!/b") == [PREFIX + "a!/b"]


def test_s3_range_stops_at_its_end_without_listing_further(s3_store, s3_calls):
    keys = [f"{PREFIX}part-{i:04d}.json" for i in range(50)]
    _put(s3_store, keys)
    s3_calls.ops.clear()
    assert _range(s3_store, PREFIX, keys[9], keys[19], page_size=5) == keys[10:20]
    assert s3_calls.ops["ListObjectsV2"] == 3  # the third page shows the end: none after it


def test_level_lists_sub_prefixes_and_direct_objects(store: ObjectStore):
    _put(store, [PREFIX + "a.json", PREFIX + "d/x.json", PREFIX + "d/y/z.json", PREFIX + "e-/f.json"])
    level = store.list_level(PREFIX)
    assert level is not None
    assert level.prefixes == [PREFIX + "d/", PREFIX + "e-/"]
    assert [o.key for o in level.objects] == [PREFIX + "a.json"]


def test_level_of_more_than_one_page_is_none(local_store):
    _put(local_store, [f"{PREFIX}{i:04d}.json" for i in range(1001)])
    assert local_store.list_level(PREFIX) is None
