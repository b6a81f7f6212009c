"""The archive never deletes what it did not copy (issue 10, item 1), and the local store never reads outside its
root (item 6).

An upload that lands between the archive's copy and its delete is kept: on S3 the delete is conditional on the
copied ETag (``DeleteObjects`` with each object's ``ETag``; moto ignores it, so ``RealS3Semantics`` answers 412 as
S3 does), on a versioned bucket no delete marker hides the new upload; locally the file is checked after it is
renamed aside, and a copy is checked on the very descriptor it read.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runtime.storage.base import SourceChanged, UnsafeObject
from runtime.storage.local import LocalStore
from runtime.storage.mover import Move, move_objects
from tests.support.real_s3_semantics import RealS3Semantics

RAW = "raw-json-data/2024/week01/part-0001.jsonl"
ARCHIVE = "raw-json-data-processed/2024/week01/part-0001.jsonl"


def _overwrite_before_delete(s3_client, bucket: str, body: bytes) -> None:
    """A producer uploads a new version of RAW between the archive's copy and its delete."""
    def upload(params, **_):
        keys = [o["Key"] for o in params["Delete"]["Objects"]]
        if RAW in keys:
            s3_client.meta.events.unregister("before-parameter-build.s3.DeleteObjects", upload)
            s3_client.put_object(Bucket=bucket, Key=RAW, Body=body)
    s3_client.meta.events.register("before-parameter-build.s3.DeleteObjects", upload)


@pytest.mark.parametrize("versioned", [False, True], ids=["unversioned", "versioned"])
def test_an_upload_between_copy_and_delete_is_kept_on_s3(s3_client, s3_bucket, s3_store, versioned):
    if versioned:
        s3_client.put_bucket_versioning(Bucket=s3_bucket, VersioningConfiguration={"Status": "Enabled"})
    s3_client.put_object(Bucket=s3_bucket, Key=RAW, Body=b'{"v": 1}\n')
    processed = s3_store.head(RAW)
    semantics = RealS3Semantics().install(s3_client)
    _overwrite_before_delete(s3_client, s3_bucket, b'{"v": 2}\n')

    report = move_objects(s3_store, [Move(RAW, ARCHIVE, processed.size, processed.etag)])

    assert report.moved == []
    assert "it changed after the copy" in report.failed[RAW] and "the newer version is kept" in report.failed[RAW]
    assert s3_client.get_object(Bucket=s3_bucket, Key=RAW)["Body"].read() == b'{"v": 2}\n'
    assert s3_client.get_object(Bucket=s3_bucket, Key=ARCHIVE)["Body"].read() == b'{"v": 1}\n'
    assert [(a.operation, a.code, a.key) for a in semantics.answers] == [("DeleteObjects", "PreconditionFailed", RAW)]
    if versioned:
        versions = s3_client.list_object_versions(Bucket=s3_bucket, Prefix=RAW)
        assert versions.get("DeleteMarkers", []) == []
        assert [v["IsLatest"] for v in versions["Versions"]].count(True) == 1


def test_an_unchanged_source_is_deleted_by_the_conditional_delete(s3_client, s3_bucket, s3_store):
    s3_client.put_object(Bucket=s3_bucket, Key=RAW, Body=b'{"v": 1}\n')
    processed = s3_store.head(RAW)
    semantics = RealS3Semantics().install(s3_client)
    report = move_objects(s3_store, [Move(RAW, ARCHIVE, processed.size, processed.etag)])
    assert [m.source for m in report.moved] == [RAW] and report.failed == {}
    assert not s3_store.exists(RAW) and s3_store.exists(ARCHIVE)
    assert semantics.answers == []  # nothing emulated: the ETag matched


class _ReplacedBeforeDelete(LocalStore):
    """A local store whose RAW file is replaced (new inode, as an atomic upload does) just before the delete."""

    def delete_many(self, keys, if_match=None):
        if RAW in keys:
            self.put_bytes(RAW, b'{"v": 2}\n')
        return super().delete_many(keys, if_match)


def test_a_local_file_replaced_between_copy_and_delete_is_kept(tmp_path: Path):
    store = _ReplacedBeforeDelete(tmp_path)
    store.put_bytes(RAW, b'{"v": 1}\n')
    processed = store.head(RAW)
    report = move_objects(store, [Move(RAW, ARCHIVE, processed.size, processed.etag)])
    assert report.moved == [] and "it changed after the copy" in report.failed[RAW]
    assert store.get_bytes(RAW) == b'{"v": 2}\n' and store.get_bytes(ARCHIVE) == b'{"v": 1}\n'
    assert [p.name for p in (tmp_path / "raw-json-data/2024/week01").iterdir()] == ["part-0001.jsonl"]


def test_a_local_file_replaced_after_its_etag_was_taken_is_not_copied(tmp_path: Path):
    store = LocalStore(tmp_path)
    store.put_bytes(RAW, b'{"v": 1}\n')
    processed = store.head(RAW)
    store.put_bytes(RAW, b'{"v": 2}\n')  # replaced before the copy: the open file is not the processed one
    with pytest.raises(SourceChanged):
        store.copy(RAW, ARCHIVE, if_match=processed.etag)
    assert not store.exists(ARCHIVE)
    report = move_objects(store, [Move(RAW, ARCHIVE, processed.size, processed.etag)])
    assert report.moved == [] and store.get_bytes(RAW) == b'{"v": 2}\n'


def test_a_local_symbolic_link_outside_the_root_is_listed_but_never_read(tmp_path: Path):
    root = tmp_path / "store"
    outside = tmp_path / "secret.txt"
    outside.write_text("root:x:0:0:root:/root:/bin/bash\n")
    store = LocalStore((root / "raw-json-data/2024/week01").mkdir(parents=True) or root)
    store.put_bytes("raw-json-data/2024/week01/inside.jsonl", b'{"id": 1}\n')
    os.symlink(outside, root / "raw-json-data/2024/week01/link-out.jsonl")
    os.symlink(root / "raw-json-data/2024/week01/inside.jsonl", root / "raw-json-data/2024/week01/link-in.jsonl")

    listed = [o.key for page in store.list_pages("raw-json-data/") for o in page]
    assert "raw-json-data/2024/week01/link-out.jsonl" in listed  # it gets an outcome, not silence
    with pytest.raises(UnsafeObject, match="outside the store root"):
        store.read_head("raw-json-data/2024/week01/link-out.jsonl")
    with pytest.raises(UnsafeObject):
        store.copy("raw-json-data/2024/week01/link-out.jsonl", "raw-json-data-processed/x.jsonl")
    assert store.get_bytes("raw-json-data/2024/week01/link-in.jsonl") == b'{"id": 1}\n'  # inside: followed


def test_the_precheck_quarantines_a_link_outside_the_root_with_its_reason(tmp_path: Path):
    from runtime.jobs.precheck import ClaimedFile, check_file

    outside = tmp_path / "passwd"
    outside.write_text("root:x:0:0::/root:/bin/sh\n")
    (tmp_path / "store/raw-json-data").mkdir(parents=True)
    os.symlink(outside, tmp_path / "store/raw-json-data/p.jsonl")
    store = LocalStore(tmp_path / "store")
    info = store.head("raw-json-data/p.jsonl")
    claimed = ClaimedFile(file_id=1, key="raw-json-data/p.jsonl", etag=info.etag, size=info.size, attempt=1)
    result = check_file(store, claimed)
    assert result.status == "QUARANTINED" and "symbolic link" in result.reason and "not read" in result.reason
