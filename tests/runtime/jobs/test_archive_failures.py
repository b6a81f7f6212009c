"""Archive moves that fail for one file never stop the others (found by a review of the second data-safety round):

* a raw object the role may not delete (a bucket policy denying one folder, a legal hold) is kept and reported,
  the others are archived and the run goes on to recovery and its claim; a refusal of every delete still stops it;
* files whose moves keep failing go to the back of the leftovers' queue, so they never starve the others out of
  a run's window;
* a key holding a control character (which a ``DeleteObjects`` XML body cannot carry: S3 answers ``MalformedXML``
  for the whole request) is deleted on its own with ``DeleteObject``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from botocore.exceptions import ClientError

from runtime.jobs.lister import run_lister
from runtime.storage.base import StoragePermissionError
from runtime.storage.local import LocalStore
from runtime.storage.mover import Move, move_objects
from runtime.storage.s3 import S3Store
from tests.support.leases import processor
from tests.support.pipeline import LAYOUT
from tests.support.real_s3_semantics import RealS3Semantics
from tests.support.sql import files_by_key

RAW = "raw-json-data/2024/week01/"
#: what XML 1.0 cannot carry (see runtime.storage.s3)
NOT_XML = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f]")


def succeeded(conn) -> None:
    """Every registered file SUCCEEDED and not archived yet (what a crash between commit and archive leaves)."""
    with conn.cursor() as cur:
        cur.execute("UPDATE file_processing_status SET processing_status = 'SUCCEEDED', processed_at = now()")
    conn.commit()


def raw_keys(client: Any, bucket: str) -> set[str]:
    return {o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix=RAW).get("Contents", [])}


def test_one_raw_object_the_role_may_not_delete_is_kept_and_the_run_goes_on(s3_client: Any, s3_store: S3Store,
                                                                            db_conn) -> None:
    for i in range(4):
        s3_client.put_object(Bucket=s3_store.bucket, Key=f"{RAW}done-{i}.jsonl", Body=b'{"id": "1"}\n')
    run_lister(s3_store, db_conn)
    succeeded(db_conn)
    RealS3Semantics().deny("s3:DeleteObject", f"{RAW}done-2").install(s3_client)
    run = processor(s3_store, db_conn)
    assert run.archive_leftovers() == 3  # the others archived; the refused one kept, reported, retried next run
    rows = files_by_key(db_conn, "archived_key")
    assert rows[f"{RAW}done-2.jsonl"] == (None,) and all(rows[f"{RAW}done-{i}.jsonl"][0] for i in (0, 1, 3))
    assert raw_keys(s3_client, s3_store.bucket) == {f"{RAW}done-2.jsonl"}
    assert run.run_once() == []  # recovery and the claim are reached: nothing else to do


def test_a_refusal_of_every_delete_still_stops_the_archive(s3_client: Any, s3_store: S3Store) -> None:
    keys = [f"{RAW}f{i}.jsonl" for i in range(3)]
    for key in keys:
        s3_client.put_object(Bucket=s3_store.bucket, Key=key, Body=b"{}\n")
    RealS3Semantics().deny("s3:DeleteObject", RAW).install(s3_client)
    with pytest.raises(StoragePermissionError, match="3 of 3 keys refused"):
        move_objects(s3_store, [Move(key, LAYOUT.archived_key(key), 3) for key in keys])


def test_files_whose_moves_keep_failing_do_not_starve_the_others(tmp_path, db_conn) -> None:
    store = LocalStore(tmp_path)
    for name in ("a", "b", "c"):
        store.put_bytes(f"{RAW}{name}.jsonl", b'{"id": "1"}\n')
    run_lister(store, db_conn)
    succeeded(db_conn)
    store.delete(f"{RAW}a.jsonl")  # deleted by hand after processing: their moves can never succeed
    store.delete(f"{RAW}b.jsonl")
    for _ in range(3):
        processor(store, db_conn).archive_leftovers(limit=2)
    assert files_by_key(db_conn, "archived_key")[f"{RAW}c.jsonl"] == (LAYOUT.archived_key(f"{RAW}c.jsonl"),)
    assert not store.exists(f"{RAW}c.jsonl")


def test_a_key_with_a_control_character_is_deleted_on_its_own(s3_client: Any, s3_store: S3Store, db_conn,
                                                               monkeypatch) -> None:
    keys = [f"{RAW}a.jsonl", f"{RAW}b\x01.jsonl", f"{RAW}c.jsonl"]
    for key in keys:
        s3_client.put_object(Bucket=s3_store.bucket, Key=key, Body=b'{"id": "1"}\n')
    run_lister(s3_store, db_conn)
    succeeded(db_conn)
    real = s3_client.delete_objects

    def delete_objects(**kwargs: Any) -> Any:
        """S3's answer to a DeleteObjects body that is not XML 1.0 ("DeleteObjects", Amazon S3 API Reference:
        MalformedXML, 400, for the whole request); moto's own XML parser raises in-process instead."""
        if any(NOT_XML.search(o["Key"]) for o in kwargs["Delete"]["Objects"]):
            raise ClientError({"Error": {"Code": "MalformedXML", "Message": "The XML you provided was not well-formed"},
                               "ResponseMetadata": {"HTTPStatusCode": 400}}, "DeleteObjects")
        return real(**kwargs)

    monkeypatch.setattr(s3_client, "delete_objects", delete_objects)
    assert processor(s3_store, db_conn).archive_leftovers() == 3
    assert raw_keys(s3_client, s3_store.bucket) == set()
    assert all(archived for (archived,) in files_by_key(db_conn, "archived_key").values())
