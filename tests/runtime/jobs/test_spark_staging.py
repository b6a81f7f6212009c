"""Where Spark reads each raw file: its own path, a link under its alias (local store), the mirror's copy named by
its file id (local Spark on S3), or a copy of the processed version in the batch's staging (Spark reading S3
itself, as on Glue); ``reset`` empties what a conversion wrote; a file that cannot be made readable is that file's
outcome (``unavailable``), never its batch-mates', unless every file is refused. No Spark."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runtime.db.states import FileState
from runtime.jobs.spark_staging import SparkInput, spark_paths
from runtime.storage.base import StoragePermissionError
from runtime.storage.local import LocalStore
from tests.support.real_s3_semantics import RealS3Semantics

KEY = "raw-json-data/2024/week01/X.JSONL.GZ"
STAGING = "curated-data-lake/_staging/b1/"


def paths_of(store, inputs, **kwargs):
    return spark_paths(store, inputs, STAGING + "curated/", STAGING + "dead_letter/",
                       scratch_prefix=STAGING + "scratch/", **kwargs)


def test_a_local_store_file_is_read_through_a_link_under_its_alias(tmp_path: Path):
    store = LocalStore(tmp_path)
    store.put_bytes(KEY, b"gzip bytes")
    store.put_bytes("raw-json-data/plain.jsonl", b"{}\n")
    with paths_of(store, [SparkInput(KEY, 1, None, "mldp-1.json.gz"), SparkInput("raw-json-data/plain.jsonl", 2)]) \
            as paths:
        alias = paths.source_path(KEY)
        assert os.path.basename(alias) == "mldp-1.json.gz" and Path(alias).read_bytes() == b"gzip bytes"
        assert paths.source_path("raw-json-data/plain.jsonl") == store.spark_path("raw-json-data/plain.jsonl")
        assert paths.probe_path == store.spark_path(STAGING + "scratch/probe/") and not paths.unavailable
        store.put_bytes(STAGING + "curated/year=2024/part-0.parquet", b"x")
        store.put_bytes(STAGING + "dead_letter/file_id=1/part-0.json", b"x")
        store.put_bytes(STAGING + "scratch/probe/part-0.parquet", b"x")
        paths.reset()
        assert [o.key for o in store.list(STAGING)] == [STAGING + "scratch/probe/part-0.parquet"]
    assert not os.path.lexists(alias)  # the link is gone, the raw file is not
    assert store.get_bytes(KEY) == b"gzip bytes"


def test_the_mirror_names_every_download_by_its_file_id(s3_store):
    s3_store.put_bytes(KEY, b"gzip bytes")
    with paths_of(s3_store, [SparkInput(KEY, 1, None, "mldp-1.json.gz")]) as paths:
        local = paths.source_path(KEY)
        assert os.path.basename(local) == "mldp-1.json.gz" and Path(local).read_bytes() == b"gzip bytes"
        Path(paths.curated_path, "part-0.parquet").parent.mkdir(parents=True, exist_ok=True)
        Path(paths.curated_path, "part-0.parquet").write_bytes(b"x")
        paths.reset()
    assert not list(s3_store.list(STAGING))  # reset: nothing uploaded


def test_the_mirror_holds_keys_no_local_file_system_could(s3_store):
    """Case 4 of "Data safety, second round": downloads named after the key failed for a key holding '//', a name
    segment over 255 bytes, or a key that is also the folder of another; every batch-mate was then charged."""
    keys = ["raw-json-data/2024/week01//double.jsonl", "raw-json-data/2024/week01/" + "n" * 300 + ".jsonl",
            "raw-json-data/2024/week01/a.jsonl", "raw-json-data/2024/week01/a.jsonl/child.jsonl"]
    for index, key in enumerate(keys):
        s3_store.put_bytes(key, f'{{"file": {index}}}\n'.encode())
    with paths_of(s3_store, [SparkInput(key, index) for index, key in enumerate(keys)]) as paths:
        assert not paths.unavailable
        read = [Path(paths.source_path(key)).read_bytes() for key in keys]
        names = [os.path.basename(paths.source_path(key)) for key in keys]
    assert read == [f'{{"file": {i}}}\n'.encode() for i in range(4)]
    assert names == ["mldp-0.json", "mldp-1.json", "mldp-2.json", "mldp-3.json"]


def test_a_file_the_mirror_cannot_download_is_that_files_outcome(s3_store):
    s3_store.put_bytes("raw-json-data/ok.jsonl", b"{}\n")
    with paths_of(s3_store, [SparkInput("raw-json-data/gone.jsonl", 1), SparkInput("raw-json-data/ok.jsonl", 2)]) \
            as paths:
        assert Path(paths.source_path("raw-json-data/ok.jsonl")).read_bytes() == b"{}\n"
        gone = paths.unavailable["raw-json-data/gone.jsonl"]
        assert (gone.state, gone.reason) == (FileState.FAILED, "object vanished while being read")
        assert list(paths.unavailable) == ["raw-json-data/gone.jsonl"]


def test_spark_reading_s3_reads_a_copy_of_the_processed_version_in_staging(s3_store, monkeypatch):
    monkeypatch.setenv("MLDP_SPARK_READS_S3", "1")
    RealS3Semantics().install(s3_store.client)  # S3's 412 for a stale CopySourceIfMatch (moto ignores it)
    s3_store.put_bytes(KEY, b"gzip bytes")
    etag = s3_store.head(KEY).etag
    with paths_of(s3_store, [SparkInput(KEY, 1, etag, "mldp-1.json.gz")]) as paths:
        assert paths.source_path(KEY) == s3_store.spark_path(STAGING + "scratch/input/mldp-1.json.gz")
        assert s3_store.get_bytes(STAGING + "scratch/input/mldp-1.json.gz") == b"gzip bytes"
    s3_store.put_bytes(KEY, b"a newer version")
    s3_store.put_bytes("raw-json-data/_other.jsonl", b"{}\n")
    other = SparkInput("raw-json-data/_other.jsonl", 2, s3_store.head("raw-json-data/_other.jsonl").etag,
                       "mldp-2.json")
    with paths_of(s3_store, [SparkInput(KEY, 1, etag, "mldp-1.json.gz"), other]) as paths:
        changed = paths.unavailable[KEY]  # overwritten since the pre-check: FAILED alone, the other file goes on
        assert changed.state == FileState.FAILED and changed.reason.startswith("object changed after listing")
        assert list(paths.unavailable) == [KEY]
        assert paths.source_path(other.key) == s3_store.spark_path(STAGING + "scratch/input/mldp-2.json")


def test_a_refusal_of_some_files_is_theirs_of_every_file_the_runs(s3_store):
    semantics = RealS3Semantics()
    semantics.install(s3_store.client)
    for name in ("denied/a.jsonl", "denied/b.jsonl", "open/c.jsonl"):
        s3_store.put_bytes("raw-json-data/" + name, b"{}\n")
    semantics.deny("s3:GetObject", "raw-json-data/denied/")
    some = [SparkInput("raw-json-data/denied/a.jsonl", 1), SparkInput("raw-json-data/open/c.jsonl", 3)]
    with paths_of(s3_store, some) as paths:
        refused = paths.unavailable["raw-json-data/denied/a.jsonl"]
        assert refused.state == FileState.FAILED and refused.reason.startswith("access denied downloading it")
        assert list(paths.unavailable) == ["raw-json-data/denied/a.jsonl"]
    every = [SparkInput("raw-json-data/denied/a.jsonl", 1), SparkInput("raw-json-data/denied/b.jsonl", 2)]
    with pytest.raises(StoragePermissionError), paths_of(s3_store, every):
        pass


def test_a_key_spark_cannot_open_by_its_path_is_read_under_an_alias(tmp_path: Path, s3_store):
    """Glue reads S3 directly: a key holding '//', '.' or '..' names another object once Hadoop normalises the path,
    so it was QUARANTINED as unreadable; it is now read through a staged copy under its id name, as any alias."""
    from runtime.jobs.conversion import spark_read_alias

    assert spark_read_alias(s3_store, 7, "raw-json-data/2024/week01//a.jsonl") == "mldp-7.json"
    assert spark_read_alias(s3_store, 7, "raw-json-data/2024/week01/../a.jsonl.gz") == "mldp-7.json.gz"
    assert spark_read_alias(s3_store, 7, "raw-json-data/2024/week01/a.jsonl") is None
    local = LocalStore(tmp_path)
    assert spark_read_alias(local, 8, "raw-json-data/2024/week01/a[1]:b.jsonl") == "mldp-8.json"
    assert spark_read_alias(local, 8, "raw-json-data/2024/week01/_hidden.jsonl") == "mldp-8.json"
