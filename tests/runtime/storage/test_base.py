"""The object-store contract, run against both implementations (local directory and moto S3)."""

from __future__ import annotations

import gzip
import io
import os
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bench.call_counter import CallCounter
from runtime.storage.base import ObjectInfo, ObjectNotFound, ObjectStore, ObjectStoreError
from runtime.storage.factory import open_store
from runtime.storage.local import TEMP_PREFIX, LocalStore
from runtime.storage.s3 import S3Store
from tests.support.s3 import BUCKET

ODD_KEYS = [
    "raw-json-data/2024/week01/with space.json",
    "raw-json-data/ünïcödé/日本語 ファイル.json",
    "raw-json-data/year=2024/month=01/a=b=c.json",
    "raw-json-data/long/" + "x" * 250 + ".json",  # a 255-byte file name
    "raw-json-data/long/" + "é" * 125 + ".json",  # 255 bytes in UTF-8, 130 characters
    "raw-json-data/punctuation/a+b,c;d@e!(f)[g]'h'.json",
]


def _keys(store: ObjectStore, prefix: str = "") -> list[str]:
    return [info.key for info in store.list(prefix)]


def test_put_get_head_exists(store: ObjectStore) -> None:
    store.put_bytes("raw-json-data/a/b.json", b'{"id": 1}\n')

    assert store.get_bytes("raw-json-data/a/b.json") == b'{"id": 1}\n'
    info = store.head("raw-json-data/a/b.json")
    assert info.key == "raw-json-data/a/b.json"
    assert info.size == 10
    assert info.etag and '"' not in info.etag
    assert info.last_modified.utcoffset() == timedelta(0)
    assert store.exists("raw-json-data/a/b.json")
    assert not store.exists("raw-json-data/a/missing.json")
    assert not store.exists("raw-json-data/a")  # a "directory" is not an object


def test_missing_keys_raise_object_not_found(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFound):
        store.head("nope.json")
    with pytest.raises(ObjectNotFound):
        store.get_bytes("dir/nope.json")
    with pytest.raises(ObjectNotFound):
        store.read_head("nope.json")
    with pytest.raises(ObjectNotFound):
        store.open_stream("nope.json")
    with pytest.raises(ObjectNotFound):
        store.copy("nope.json", "elsewhere.json")
    with pytest.raises(ObjectNotFound):
        store.copy("nope.json", "elsewhere.json", size=3)
    assert not store.exists("elsewhere.json")


def test_overwrite_replaces_content_and_etag(store: ObjectStore) -> None:
    store.put_bytes("k.json", b"first")
    first = store.head("k.json")
    store.put_bytes("k.json", b"other")

    second = store.head("k.json")
    assert store.get_bytes("k.json") == b"other"
    assert second.size == first.size == 5
    assert second.etag != first.etag


def test_listing_etags_match_head(store: ObjectStore) -> None:
    store.put_bytes("p/one.json", b"1")
    store.put_bytes("p/two.json", b"22")

    listed = {info.key: info for info in store.list("p/")}
    for key, info in listed.items():
        assert info.etag == store.head(key).etag
        assert info.size == store.head(key).size
        assert info.last_modified.utcoffset() == timedelta(0)
    assert sorted(listed) == ["p/one.json", "p/two.json"]
    assert listed["p/two.json"].size == 2


@pytest.mark.parametrize("with_size", [True, False])
def test_copy_leaves_source_and_duplicates_content(store: ObjectStore, with_size: bool) -> None:
    data = b"payload " * 100
    store.put_bytes("raw-json-data/x.json", data)

    destination = "raw-json-data-processed/deep/er/x.json"
    store.copy("raw-json-data/x.json", destination, len(data) if with_size else None)

    assert store.get_bytes("raw-json-data-processed/deep/er/x.json") == data
    assert store.get_bytes("raw-json-data/x.json") == data
    store.put_bytes("raw-json-data/x.json", b"new")
    store.copy("raw-json-data/x.json", "raw-json-data-processed/deep/er/x.json", 3 if with_size else None)
    assert store.get_bytes("raw-json-data-processed/deep/er/x.json") == b"new"  # copies overwrite


def test_delete_and_delete_many(store: ObjectStore) -> None:
    for name in ("a", "b", "c", "d"):
        store.put_bytes(f"del/{name}.json", name.encode())

    store.delete("del/a.json")
    store.delete("del/a.json")  # already gone: not an error
    failed = store.delete_many(["del/b.json", "del/c.json", "del/never-existed.json"])

    assert failed == []
    assert _keys(store, "del/") == ["del/d.json"]


def test_listing_over_a_thousand_keys_crosses_pages_and_bulk_delete_batches(store: ObjectStore) -> None:
    keys = [f"raw-json-data/2024/week{i % 3:02d}/file-{i:05d}.json" for i in range(1005)]
    for key in keys:
        store.put_bytes(key, b"{}")
    store.put_bytes("other-prefix/not-listed.json", b"{}")
    calls = CallCounter(store.client) if isinstance(store, S3Store) else None

    pages = list(store.list_pages("raw-json-data/"))

    assert len(pages) > 1
    assert all(0 < len(page) <= 1000 for page in pages)
    listed = [info.key for page in pages for info in page]
    assert listed == sorted(keys)  # every key once, in key order
    if calls is not None:
        assert calls.ops == {"ListObjectsV2": 2}

    assert store.delete_many(keys) == []
    assert _keys(store) == ["other-prefix/not-listed.json"]
    if calls is not None:
        assert calls.ops["DeleteObjects"] == 2  # 1,000 + 5


def test_listing_is_in_key_order_and_honours_prefixes(store: ObjectStore) -> None:
    keys = ["a-c", "a/x", "a/y/z", "a0", "ab", "b/c/d", "b/cc", "bc"]
    for key in reversed(keys):
        store.put_bytes(key, b".")

    assert _keys(store) == keys  # S3 order: '-' < '/' < '0' < 'b'
    assert _keys(store, "a/") == ["a/x", "a/y/z"]
    assert _keys(store, "a") == ["a-c", "a/x", "a/y/z", "a0", "ab"]
    assert _keys(store, "b/c") == ["b/c/d", "b/cc"]
    assert _keys(store, "b/c/") == ["b/c/d"]
    assert _keys(store, "zz") == []
    assert _keys(store, "nothing/here/") == []
    assert list(store.list_pages("nothing/")) == []


def test_folder_markers_are_skipped(store: ObjectStore) -> None:
    store.put_bytes("raw-json-data/2024/week01/", b"")
    store.put_bytes("raw-json-data/2024/week02/", b"")
    store.put_bytes("raw-json-data/2024/week01/f.json", b"{}")

    assert _keys(store, "raw-json-data/") == ["raw-json-data/2024/week01/f.json"]
    assert _keys(store, "raw-json-data/2024/week02/") == []


def test_local_listing_skips_empty_directories_and_staging_temp_files(local_store: LocalStore) -> None:
    root = Path(local_store.url)
    (root / "empty" / "nested").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "data" / f"{TEMP_PREFIX}0123").write_bytes(b"half-written")
    local_store.put_bytes("data/ok.json", b"{}")

    assert _keys(local_store) == ["data/ok.json"]
    assert sorted(os.listdir(root / "data")) == sorted([f"{TEMP_PREFIX}0123", "ok.json"])


def test_local_listing_pages_are_configurable(local_root: Path) -> None:
    store = LocalStore(local_root, page_size=3)
    for i in range(7):
        store.put_bytes(f"d{i % 2}/{i}.json", b"x")

    pages = list(store.list_pages())

    assert [len(page) for page in pages] == [3, 3, 1]
    assert [i.key for p in pages for i in p] == ["d0/0.json", "d0/2.json", "d0/4.json", "d0/6.json",
                                                 "d1/1.json", "d1/3.json", "d1/5.json"]


@pytest.mark.parametrize("key", ODD_KEYS)
def test_odd_keys_round_trip(store: ObjectStore, key: str) -> None:
    store.put_bytes(key, key.encode())
    destination = "raw-json-data-processed/" + key.split("/", 1)[1]
    store.copy(key, destination, size=len(key.encode()))

    assert store.get_bytes(destination) == key.encode()
    assert store.head(key).size == len(key.encode())
    assert _keys(store) == sorted([key, destination])
    assert store.key_from_spark_path(store.spark_path(key)) == key
    store.delete_many([key, destination])
    assert _keys(store) == []


def test_missing_root_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir"
    with pytest.raises(ObjectStoreError, match=f"local store directory {missing} does not exist"):
        LocalStore(missing)
    with pytest.raises(ObjectStoreError, match="no-such-dir"):
        open_store(str(missing))


def test_missing_bucket_names_it(s3_client: Any) -> None:
    store = S3Store("no-such-bucket", client=s3_client)
    message = "bucket 'no-such-bucket' does not exist or is not accessible"
    with pytest.raises(ObjectStoreError, match=message):
        list(store.list())
    with pytest.raises(ObjectStoreError, match=message):
        store.put_bytes("k", b"x")
    with pytest.raises(ObjectStoreError, match=message):
        store.delete_many(["k"])
    with pytest.raises(ObjectStoreError, match=message):
        store.copy("a", "b", size=1)


def test_local_root_removed_after_opening(local_root: Path) -> None:
    store = LocalStore(local_root)
    local_root.rmdir()

    with pytest.raises(ObjectStoreError, match="does not exist"):
        list(store.list())
    with pytest.raises(ObjectStoreError, match="does not exist"):
        store.put_bytes("a/b.json", b"x")
    assert not local_root.exists()  # a write never recreates a missing root


def test_local_rejects_keys_a_file_system_cannot_hold(local_store: LocalStore) -> None:
    for key in ("../escape.json", "/abs.json", "a//b.json", "a/./b.json", ""):
        with pytest.raises(ObjectStoreError, match="invalid key"):
            local_store.put_bytes(key, b"x")
    assert _keys(local_store) == []


def test_local_write_into_a_file_path_fails_cleanly(local_store: LocalStore) -> None:
    local_store.put_bytes("blocker", b"i am a file")
    local_store.put_bytes("src.json", b"{}")

    with pytest.raises(ObjectStoreError) as caught:
        local_store.copy("src.json", "blocker/dest.json")

    assert not isinstance(caught.value, ObjectNotFound)  # the source exists: this is not "not found"
    assert _keys(local_store) == ["blocker", "src.json"]


def test_local_etag_is_a_stat_fingerprint(local_store: LocalStore) -> None:
    local_store.put_bytes("f.json", b"abc")
    st = os.stat(os.path.join(local_store.url, "f.json"))

    assert local_store.head("f.json").etag == f"{st.st_size:x}-{st.st_mtime_ns:x}-{st.st_ino:x}"


@pytest.mark.parametrize("length", [1, 1000, 65536])
def test_read_head_returns_prefix_and_full_metadata(store: ObjectStore, length: int) -> None:
    data = random.Random(7).randbytes(70_000)
    store.put_bytes("big.bin", data)

    info, head = store.read_head("big.bin", length)

    assert head == data[:length]
    assert info == ObjectInfo("big.bin", 70_000, info.last_modified, store.head("big.bin").etag)
    assert info.last_modified.utcoffset() == timedelta(0)


def test_read_head_of_short_and_empty_objects(store: ObjectStore) -> None:
    store.put_bytes("short.json", b"{}")
    store.put_bytes("empty.json", b"")

    short_info, short = store.read_head("short.json")
    empty_info, empty = store.read_head("empty.json")

    assert (short_info.size, short) == (2, b"{}")
    assert (empty_info.size, empty) == (0, b"")
    assert empty_info.etag == store.head("empty.json").etag
    assert store.read_head("short.json", 0) == (store.head("short.json"), b"")


def test_s3_read_head_is_one_request(s3_store: S3Store, s3_calls: CallCounter) -> None:
    s3_store.put_bytes("k.json", b"0123456789")
    s3_store.put_bytes("empty.json", b"")
    s3_calls.reset()

    info, head = s3_store.read_head("k.json", 4)
    assert (info.size, head) == (10, b"0123")
    assert s3_calls.ops == {"GetObject": 1}

    s3_calls.reset()
    assert s3_store.read_head("empty.json")[1] == b""
    assert s3_calls.ops == {"GetObject": 2}  # the ranged GET is refused on an empty object, then a plain GET


def test_open_stream_validates_gzip_in_chunks(store: ObjectStore) -> None:
    lines = b"".join(b'{"id": %d}\n' % i for i in range(20_000))
    compressed = gzip.compress(lines)
    store.put_bytes("ok.json.gz", compressed)
    store.put_bytes("truncated.json.gz", compressed[: len(compressed) // 2])

    stream = store.open_stream("ok.json.gz")
    try:
        assert stream.read(10) == compressed[:10]
    finally:
        stream.close()

    with store.open_stream("ok.json.gz") as raw, gzip.GzipFile(fileobj=raw) as unzipped:
        total = sum(len(chunk) for chunk in iter(lambda: unzipped.read(4096), b""))
    assert total == len(lines)

    with store.open_stream("truncated.json.gz") as raw, gzip.GzipFile(fileobj=raw) as unzipped:  # noqa: SIM117
        with pytest.raises(EOFError):
            while unzipped.read(4096):
                pass


def test_spark_paths(store: ObjectStore) -> None:
    key = "raw-json-data/2024/week01/a b.json"
    path = store.spark_path(key)
    if isinstance(store, S3Store):
        assert path == f"s3://{BUCKET}/{key}"
        assert store.spark_path("curated/") == f"s3://{BUCKET}/curated/"
        reported = f"s3a://{BUCKET}/raw-json-data/2024/week01/a%20b.json"
        with pytest.raises(ObjectStoreError):
            store.key_from_spark_path("s3://another-bucket/x.json")
    else:
        assert path == os.path.join(store.url, key)
        assert os.path.isabs(path) and "://" not in path
        assert store.spark_path("curated/") == os.path.join(store.url, "curated") + "/"
        assert store.spark_path("") == store.url
        reported = "file://" + store.url + "/raw-json-data/2024/week01/a%20b.json"  # like input_file_name()
        assert store.key_from_spark_path("file:" + path) == key
        with pytest.raises(ObjectStoreError):
            store.key_from_spark_path("/somewhere/else/x.json")
    assert store.key_from_spark_path(reported) == key
    assert store.key_from_spark_path(path) == key


def test_open_store_urls(s3_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s3 = open_store("s3://some-bucket", s3_client=s3_client)
    assert isinstance(s3, S3Store) and s3.bucket == "some-bucket" and s3.client is s3_client
    assert isinstance(open_store("s3://some-bucket/"), S3Store)
    (tmp_path / "d ir").mkdir()

    from_uri = open_store("file://" + str(tmp_path / "d%20ir"))
    monkeypatch.chdir(tmp_path)
    relative = open_store("d ir")
    absolute = open_store(str(tmp_path / "d ir"))

    for opened in (from_uri, relative, absolute):
        assert isinstance(opened, LocalStore)
        assert opened.url == str((tmp_path / "d ir").resolve())
    for bad in ("s3://some-bucket/prefix/", "s3://", "gs://bucket", "file://host/x", ""):
        with pytest.raises(ObjectStoreError):
            open_store(bad)


def test_s3_delete_many_returns_keys_reported_in_errors(s3_store: S3Store, s3_client: Any) -> None:
    for key in ("a", "b", "c"):
        s3_store.put_bytes(key, b"x")

    def refuse_b(parsed: dict[str, Any], **_: Any) -> None:
        # a per-key error S3 asks to retry (a per-key AccessDenied raises StoragePermissionError instead)
        parsed["Errors"] = [{"Key": "b", "Code": "InternalError", "Message": "We encountered an internal error"}]

    s3_client.meta.events.register("after-call.s3.DeleteObjects", refuse_b)

    assert s3_store.delete_many(["a", "b", "c"]) == ["b"]


def test_open_stream_reads_from_the_start(store: ObjectStore) -> None:
    """open_stream returns a reader positioned at the start that reads exactly what was asked."""
    store.put_bytes("s.bin", bytes(range(256)) * 4)
    with store.open_stream("s.bin") as stream:
        assert stream.read(3) == b"\x00\x01\x02"
        rest = io.BytesIO()
        while chunk := stream.read(100):
            rest.write(chunk)
    assert rest.getvalue() == (bytes(range(256)) * 4)[3:]
