"""Where Spark reads a raw file whose name it would misread: a link (local store), the mirror's copy (local Spark
on S3), or a copy of the processed version in the batch's staging (Spark reading S3 itself, as on Glue); and
``reset`` empties what a conversion wrote. No Spark needed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runtime.jobs.spark_staging import spark_paths
from runtime.storage.base import SourceChanged
from runtime.storage.local import LocalStore

KEY = "raw-json-data/2024/week01/X.JSONL.GZ"
STAGING = "curated-data-lake/_staging/b1/"


def test_a_local_store_file_is_read_through_a_link_under_its_alias(tmp_path: Path):
    store = LocalStore(tmp_path)
    store.put_bytes(KEY, b"gzip bytes")
    store.put_bytes("raw-json-data/plain.jsonl", b"{}\n")
    with spark_paths(store, [KEY], STAGING + "curated/", STAGING + "dead_letter/", scratch_prefix=STAGING + "scratch/",
                     aliases={KEY: ("mldp-1.json.gz", None)}) as paths:
        alias = paths.source_path(KEY)
        assert os.path.basename(alias) == "mldp-1.json.gz" and Path(alias).read_bytes() == b"gzip bytes"
        assert paths.source_path("raw-json-data/plain.jsonl") == store.spark_path("raw-json-data/plain.jsonl")
        assert paths.probe_path == store.spark_path(STAGING + "scratch/probe/")
        store.put_bytes(STAGING + "curated/year=2024/part-0.parquet", b"x")
        store.put_bytes(STAGING + "dead_letter/file_id=1/part-0.json", b"x")
        store.put_bytes(STAGING + "scratch/probe/part-0.parquet", b"x")
        paths.reset()
        assert [o.key for o in store.list(STAGING)] == [STAGING + "scratch/probe/part-0.parquet"]
    assert not os.path.lexists(alias)  # the link is gone, the raw file is not
    assert store.get_bytes(KEY) == b"gzip bytes"


def test_the_mirror_downloads_an_aliased_file_under_its_alias(s3_store):
    s3_store.put_bytes(KEY, b"gzip bytes")
    with spark_paths(s3_store, [KEY], STAGING + "curated/", STAGING + "dead_letter/",
                     aliases={KEY: ("mldp-1.json.gz", None)}) as paths:
        local = paths.source_path(KEY)
        assert os.path.basename(local) == "mldp-1.json.gz" and Path(local).read_bytes() == b"gzip bytes"
        Path(paths.curated_path, "part-0.parquet").parent.mkdir(parents=True, exist_ok=True)
        Path(paths.curated_path, "part-0.parquet").write_bytes(b"x")
        paths.reset()
    assert not list(s3_store.list(STAGING))  # reset: nothing uploaded


def test_spark_reading_s3_reads_a_copy_of_the_processed_version_in_staging(s3_store, monkeypatch):
    monkeypatch.setenv("MLDP_SPARK_READS_S3", "1")
    s3_store.put_bytes(KEY, b"gzip bytes")
    etag = s3_store.head(KEY).etag
    with spark_paths(s3_store, [KEY], STAGING + "curated/", STAGING + "dead_letter/",
                     scratch_prefix=STAGING + "scratch/", aliases={KEY: ("mldp-1.json.gz", etag)}) as paths:
        assert paths.source_path(KEY) == s3_store.spark_path(STAGING + "scratch/input/mldp-1.json.gz")
        assert s3_store.get_bytes(STAGING + "scratch/input/mldp-1.json.gz") == b"gzip bytes"
    s3_store.put_bytes(KEY, b"a newer version")
    with pytest.raises(SourceChanged), spark_paths(s3_store, [KEY], STAGING + "curated/", STAGING + "dead_letter/",
                                                   aliases={KEY: ("mldp-1.json.gz", etag)}):
        pass
