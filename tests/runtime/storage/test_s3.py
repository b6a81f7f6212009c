"""The runtime under S3 behaviour moto lacks (emulated by :mod:`tests.support.real_s3_semantics`): 412 for a stale
``CopySourceIfMatch``, 403 instead of 404 for a missing key without ``s3:ListBucket``, 403 for a denied action.

A permission error must never pass for "missing" (a file marked vanished, a staging taken for incomplete). A refusal
of one object while others are read is that object's outcome (FAILED with the refusal, retried, quarantined); one
that shows the role cannot read at all stops the run with one ``error:`` line and exit status 2, blaming no file.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from runtime.cli import main
from runtime.jobs.lister import run_lister
from runtime.sample_data import generate_sample
from runtime.storage.base import ObjectNotFound, SourceChanged, StoragePermissionError
from runtime.storage.mover import Move, move_objects
from runtime.storage.s3 import S3Store
from tests.support.pipeline import LAYOUT, processor
from tests.support.real_s3_semantics import RealS3Semantics
from tests.support.s3 import BUCKET

BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"
RAW = "raw-json-data/2024/week01/"


def _keys(client: Any, prefix: str) -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return [obj["Key"] for page in pages for obj in page.get("Contents", [])]


def _seed(client: Any, count: int) -> list[str]:
    keys = [f"{RAW}part-{i:04d}.jsonl" for i in range(count)]
    for i, key in enumerate(keys):
        client.put_object(Bucket=BUCKET, Key=key, Body=b'{"id": "%d", "DATE": "2024-01-0%d", "MODE": "train"}\n'
                          % (i, i % 9 + 1))
    return keys


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error:")]


def _rows(conn) -> dict[str, tuple]:
    """s3_key -> (processing_status, error_message, archived_key)."""
    with conn.cursor() as cur:
        cur.execute("SELECT s3_key, processing_status, error_message, archived_key FROM file_processing_status")
        rows = {key: tuple(rest) for key, *rest in cur.fetchall()}
    conn.commit()
    return rows


# ----------------------------------------------------------------------------------------------------------------
# The emulation itself: what real S3 answers, and what the store makes of it
# ----------------------------------------------------------------------------------------------------------------


def test_moto_alone_ignores_a_stale_copy_source_if_match(s3_client: Any, s3_bucket: str) -> None:
    """The probe behind the 412 emulation: moto copies even though the source's ETag no longer matches (real S3
    answers 412). Skips, rather than fails, once moto honours the condition itself."""
    s3_client.put_object(Bucket=BUCKET, Key="src", Body=b"v1")
    try:
        s3_client.copy_object(Bucket=BUCKET, Key="dst", CopySource={"Bucket": BUCKET, "Key": "src"},
                              CopySourceIfMatch='"0123456789abcdef0123456789abcdef"')
    except ClientError as err:
        assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 412
        pytest.skip("this moto honours CopySourceIfMatch; the emulation's 412 is now redundant (still tested)")
    assert _keys(s3_client, "dst") == ["dst"]


def test_a_stale_copy_source_if_match_is_412_precondition_failed_and_copies_nothing(
        s3_client: Any, s3_store: S3Store) -> None:
    emulation = RealS3Semantics().install(s3_client)
    s3_client.put_object(Bucket=BUCKET, Key="src", Body=b"v1")
    processed = s3_store.head("src").etag
    s3_client.put_object(Bucket=BUCKET, Key="src", Body=b"version two")

    with pytest.raises(ClientError) as raised:
        s3_client.copy_object(Bucket=BUCKET, Key="dst", CopySource={"Bucket": BUCKET, "Key": "src"},
                              CopySourceIfMatch=f'"{processed}"')
    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert error["Error"] == {"Code": "PreconditionFailed", "Condition": "x-amz-copy-source-If-Match",
                              "Message": "At least one of the pre-conditions you specified did not hold"}
    assert _keys(s3_client, "dst") == []
    # the store: SourceChanged through one CopyObject (size known) and through the managed copy (size unknown)
    with pytest.raises(SourceChanged):
        s3_store.copy("src", "dst", size=11, if_match=processed)
    with pytest.raises(SourceChanged):
        s3_store.copy("src", "dst", if_match=processed)
    assert _keys(s3_client, "dst") == []
    s3_store.copy("src", "dst", size=11, if_match=s3_store.head("src").etag)  # the current ETag copies
    assert s3_store.get_bytes("dst") == b"version two"
    assert [(a.operation, a.status) for a in emulation.answers] == [("CopyObject", 412), ("CopyObject", 412)]


def test_without_list_bucket_a_missing_key_is_403_and_never_taken_for_missing(
        s3_client: Any, s3_store: S3Store) -> None:
    RealS3Semantics(list_bucket=False).install(s3_client)
    s3_client.put_object(Bucket=BUCKET, Key=f"{RAW}present.jsonl", Body=b"{}\n")
    missing = f"{RAW}missing.jsonl"

    with pytest.raises(ClientError) as get:
        s3_client.get_object(Bucket=BUCKET, Key=missing)
    assert (get.value.response["Error"]["Code"], get.value.response["ResponseMetadata"]["HTTPStatusCode"]) == (
        "AccessDenied", 403)
    with pytest.raises(ClientError) as head:  # a HEAD has no body: only the status
        s3_client.head_object(Bucket=BUCKET, Key=missing)
    assert head.value.response["Error"] == {"Code": "403", "Message": "Forbidden"}

    assert s3_store.exists(f"{RAW}present.jsonl") and s3_store.get_bytes(f"{RAW}present.jsonl") == b"{}\n"
    with pytest.raises(StoragePermissionError) as exists:
        s3_store.exists(missing)
    assert str(exists.value) == (
        f"access denied: s3:GetObject on {BUCKET_ARN}/{missing} (HeadObject answered 403: the job role lacks this "
        f"permission, or lacks s3:ListBucket on {BUCKET_ARN}, without which S3 turns the 404 of a missing key into "
        "this 403)")
    with pytest.raises(StoragePermissionError) as read:
        s3_store.read_head(missing)
    assert str(read.value) == (
        f"access denied: s3:GetObject on {BUCKET_ARN}/{missing} (GetObject: the job role lacks this permission, "
        f"or s3:ListBucket on {BUCKET_ARN} so that S3 could answer 404 for a missing key)")
    assert (read.value.operation, read.value.action, read.value.resource) == (
        "GetObject", "s3:GetObject", f"{BUCKET_ARN}/{missing}")


def test_with_list_bucket_a_missing_key_is_404_and_missing(s3_client: Any, s3_store: S3Store) -> None:
    emulation = RealS3Semantics(list_bucket=True).install(s3_client)
    assert not s3_store.exists(f"{RAW}missing.jsonl")
    with pytest.raises(ObjectNotFound):
        s3_store.get_bytes(f"{RAW}missing.jsonl")
    assert emulation.answers == []


@pytest.mark.parametrize(("action", "prefix", "call", "expected"), [
    ("s3:GetObject", RAW, lambda store: store.get_bytes(f"{RAW}part-0000.jsonl"),
     f"access denied: s3:GetObject on {BUCKET_ARN}/{RAW}part-0000.jsonl (GetObject: "),
    ("s3:PutObject", "curated-data-lake/", lambda store: store.put_bytes("curated-data-lake/x.parquet", b"1"),
     f"access denied: s3:PutObject on {BUCKET_ARN}/curated-data-lake/x.parquet (PutObject: the job role lacks this "
     "permission)"),
    ("s3:ListBucket", "", lambda store: list(store.list(RAW)),
     f"access denied: s3:ListBucket on {BUCKET_ARN} (ListObjectsV2 of prefix '{RAW}': the job role lacks this "
     "permission, or its s3:prefix condition does not cover that prefix)"),
    ("s3:DeleteObject", RAW, lambda store: store.delete_many([f"{RAW}part-0000.jsonl", f"{RAW}part-0001.jsonl"]),
     f"access denied: s3:DeleteObject on {BUCKET_ARN}/{RAW}part-0000.jsonl (DeleteObjects: the job role lacks this "
     "permission; 2 of 2 keys refused)"),
    ("s3:PutObject", "raw-json-data-processed/",
     lambda store: store.copy(f"{RAW}part-0000.jsonl", "raw-json-data-processed/p.jsonl", size=10),
     f"access denied: s3:GetObject on {BUCKET_ARN}/{RAW}part-0000.jsonl and s3:PutObject on "
     f"{BUCKET_ARN}/raw-json-data-processed/p.jsonl (CopyObject needs both: "),
    ("kms:Decrypt", RAW, lambda store: store.get_bytes(f"{RAW}part-0000.jsonl"),
     f"access denied: kms:Decrypt on the object's KMS key, for GetObject of {BUCKET_ARN}/{RAW}part-0000.jsonl "
     "(the job role lacks it, or the key policy does not let the role use the key: the bucket's, or another key "
     "the object was written with)"),
])
def test_a_denied_action_is_one_line_naming_operation_action_and_resource(
        action: str, prefix: str, call: Any, expected: str, s3_client: Any, s3_store: S3Store) -> None:
    _seed(s3_client, 2)
    emulation = RealS3Semantics().deny(action, prefix).install(s3_client)
    with pytest.raises(StoragePermissionError) as raised:
        call(s3_store)
    message = str(raised.value)
    assert message.startswith(expected) and "\n" not in message
    assert emulation.answers and {a.code for a in emulation.answers} == {"AccessDenied"}


# ----------------------------------------------------------------------------------------------------------------
# The archive (mover and processor code paths)
# ----------------------------------------------------------------------------------------------------------------


def test_a_file_overwritten_after_processing_is_not_archived_under_the_412(s3_client: Any, s3_store: S3Store,
                                                                           db_conn) -> None:
    """Through the processor's own archive path: the tracking table's ETag becomes ``CopySourceIfMatch``; S3
    answers 412 for the overwritten file, which stays in place (a new version for the lister) and unrecorded."""
    keys = _seed(s3_client, 2)
    run_lister(s3_store, db_conn, show_progress=False)
    with db_conn.cursor() as cur:  # processed and committed; the archive did not run yet (a crash, a failed move)
        cur.execute("UPDATE file_processing_status SET processing_status = 'SUCCEEDED'")
    db_conn.commit()
    new_version = b'{"id": "v2", "DATE": "2024-03-01", "MODE": "eval"}\n'
    s3_client.put_object(Bucket=BUCKET, Key=keys[0], Body=new_version)
    emulation = RealS3Semantics().install(s3_client)

    assert processor(s3_store, db_conn, None).archive_leftovers() == 1

    assert [(a.operation, a.status, a.key) for a in emulation.answers] == [("CopyObject", 412, keys[0])]
    assert s3_client.get_object(Bucket=BUCKET, Key=keys[0])["Body"].read() == new_version
    assert _keys(s3_client, LAYOUT.processed_prefix) == [LAYOUT.archived_key(keys[1])]
    rows = _rows(db_conn)
    assert rows[keys[0]][2] is None and rows[keys[1]][2] == LAYOUT.archived_key(keys[1])
    assert run_lister(s3_store, db_conn, show_progress=False).as_dict()["changed"] == 1


def test_a_permission_error_stops_the_archive_and_is_no_moves_failure(s3_client: Any, s3_store: S3Store) -> None:
    keys = _seed(s3_client, 3)
    moves = [Move(key, LAYOUT.archived_key(key), 10) for key in keys]
    RealS3Semantics().deny("s3:PutObject", LAYOUT.processed_prefix).install(s3_client)
    with pytest.raises(StoragePermissionError, match=r"^access denied: s3:GetObject on .* and s3:PutObject on "):
        move_objects(s3_store, moves, max_workers=2)
    assert _keys(s3_client, RAW) == keys  # nothing deleted


def test_a_refused_delete_stops_the_archive_after_the_copies(s3_client: Any, s3_store: S3Store) -> None:
    keys = _seed(s3_client, 3)
    moves = [Move(key, LAYOUT.archived_key(key), 10) for key in keys]
    RealS3Semantics().deny("s3:DeleteObject", RAW).install(s3_client)
    with pytest.raises(StoragePermissionError, match=r"s3:DeleteObject on .*3 of 3 keys refused"):
        move_objects(s3_store, moves)
    assert _keys(s3_client, RAW) == keys  # kept: the next run copies again (idempotent) and deletes
    assert len(_keys(s3_client, LAYOUT.processed_prefix)) == 3


# ----------------------------------------------------------------------------------------------------------------
# The jobs through the CLI: one error line, exit status 2, no file blamed
# ----------------------------------------------------------------------------------------------------------------


@pytest.fixture
def cli_emulation(s3_client: Any, monkeypatch: pytest.MonkeyPatch):
    """Installs a :class:`RealS3Semantics` on the default boto3 session, so the S3 client that ``mldp`` creates
    for ``--store s3://...`` has it (the same moto backend as ``s3_client``)."""
    def install(emulation: RealS3Semantics) -> RealS3Semantics:
        session = boto3.session.Session(region_name="us-east-1")
        monkeypatch.setattr(boto3, "DEFAULT_SESSION", session)
        return emulation.install(session)
    return install


def _mldp(command: str, db_url: str) -> int:
    return main([command, "--store", f"s3://{BUCKET}", "--db", db_url, "--no-metrics"])


@pytest.mark.parametrize("scenario", ["denied read", "403 for vanished files"])
def test_a_403_ends_mldp_process_with_one_error_line_and_exit_status_2(
        scenario: str, s3_client: Any, s3_bucket: str, db_url: str, db_conn, cli_emulation: Any,
        capsys: pytest.CaptureFixture[str]) -> None:
    keys = _seed(s3_client, 3)
    assert _mldp("list", db_url) == 0
    if scenario == "denied read":
        emulation = cli_emulation(RealS3Semantics().deny("s3:GetObject", RAW))
    else:  # the prefix-conditioned s3:ListBucket only, and every file deleted after listing
        for key in keys:
            s3_client.delete_object(Bucket=BUCKET, Key=key)
        emulation = cli_emulation(RealS3Semantics(list_bucket=False))
    capsys.readouterr()

    assert _mldp("process", db_url) == 2

    (line,) = _error_lines(capsys.readouterr().err)
    assert line.startswith(f"error: access denied: s3:GetObject on {BUCKET_ARN}/{RAW}part-000")
    assert "s3:ListBucket" in line  # a 403 on a read may be a missing key without s3:ListBucket
    assert emulation.answers and all(a.status == 403 for a in emulation.answers)
    rows = _rows(db_conn)
    # claimed, then the run stopped: it gives its batch back (files PENDING, no attempt counted) when it can tell
    # there is no manifest; without s3:ListBucket even that probe is a 403, and the next run recovers the batch
    expected = {"PENDING"} if scenario == "denied read" else {"PROCESSING"}
    assert {state for state, _error, _archived in rows.values()} == expected
    assert not [key for key, (_s, error, _a) in rows.items() if error]  # no file blamed, none "vanished"
    with db_conn.cursor() as cur:
        cur.execute("SELECT DISTINCT retry_count FROM file_processing_status WHERE processing_status = 'PENDING'")
        assert cur.fetchall() in ([(0,)], [])  # a given-back file is not charged
    db_conn.commit()


def test_a_403_on_listing_ends_mldp_list_with_one_error_line_and_exit_status_2(
        s3_client: Any, s3_bucket: str, db_url: str, db_conn, cli_emulation: Any,
        capsys: pytest.CaptureFixture[str]) -> None:
    _seed(s3_client, 2)
    cli_emulation(RealS3Semantics().deny("s3:ListBucket"))
    assert _mldp("list", db_url) == 2
    assert _error_lines(capsys.readouterr().err) == [
        f"error: access denied: s3:ListBucket on {BUCKET_ARN} (ListObjectsV2 of prefix 'raw-json-data/': the job "
        "role lacks this permission, or its s3:prefix condition does not cover that prefix)"]
    assert _rows(db_conn) == {}


# ----------------------------------------------------------------------------------------------------------------
# The processor with and without s3:ListBucket
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.spark
def test_without_list_bucket_a_vanished_file_is_failed_as_refused_and_its_batch_mate_succeeds(
        s3_client: Any, s3_store: S3Store, db_conn, spark) -> None:
    """Prefix-conditioned ``s3:ListBucket`` only: the pre-check's GET of a file deleted after listing is a 403,
    which must not pass for "vanished". Another file of the batch was read, so the refusal is that object's: it is
    FAILED as refused (retried), never "vanished", and its batch-mate converts. Once ``s3:ListBucket`` is granted
    (S3 answers 404), the retry finds it vanished."""
    expected = generate_sample(s3_store, files=2, records_per_file=5, include_bad_inputs=False)
    vanished, kept = sorted(expected.files)
    run_lister(s3_store, db_conn, show_progress=False)
    s3_client.delete_object(Bucket=BUCKET, Key=vanished)
    emulation = RealS3Semantics(list_bucket=False).install(s3_client)
    reports = processor(s3_store, db_conn, spark, backoff_base_seconds=0).run_once()
    assert [r.files for r in reports] == [{"FAILED": 1, "SUCCEEDED": 1}]
    rows = _rows(db_conn)
    assert rows[vanished][0] == "FAILED" and rows[vanished][1].startswith(
        f"access denied to this object: GetObject of {BUCKET_ARN}/{vanished} was refused s3:GetObject (another "
        "file of the batch was read")
    assert "without s3:ListBucket S3 answers 403 for a missing key" in rows[vanished][1]
    assert rows[kept] == ("SUCCEEDED", None, LAYOUT.archived_key(kept))
    assert _keys(s3_client, LAYOUT.curated_prefix)
    emulation.list_bucket = True  # the unconditioned s3:ListBucket of TrackedRawBucket.grant_processor
    answers = len(emulation.answers)
    retried = processor(s3_store, db_conn, spark, backoff_base_seconds=0).run_once()
    assert [r.files for r in retried] == [{"FAILED": 1}]
    assert _rows(db_conn)[vanished][:2] == ("FAILED", "object vanished after listing (deleted or moved)")
    assert len(emulation.answers) == answers  # no 403 since the grant
