"""A read S3 refuses (403) in the pre-check is that file's outcome when the role shows it can read, and the run's
only when it cannot read at all, so one object the role may not read never halts the pipeline.

The refusals are emulated under moto as real S3 answers them (:mod:`tests.support.real_s3_semantics`), following
the AWS pages the rule rests on:

* "HeadObject" (Amazon S3 API Reference, Permissions, https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html):
  for a general purpose bucket a HEAD needs ``s3:GetObject``, and no KMS permission (those are listed for directory
  buckets only);
* "Do I need to specify the AWS KMS key when I download a KMS-encrypted object from Amazon S3?" (AWS re:Post,
  https://repost.aws/knowledge-center/decrypt-kms-encrypted-objects-s3): a GET of an SSE-KMS object needs
  ``kms:Decrypt`` on the key that encrypts it;
* "Troubleshoot access denied (403 Forbidden) errors in Amazon S3" (Amazon S3 User Guide): the 403 ``AccessDenied``
  and its message naming the action and resource.

So an object encrypted under a KMS key the role may not use (``deny("kms:Decrypt", key)``) is refused to a GET and
allowed to a HEAD; a role without ``s3:GetObject`` is refused both.
"""

from __future__ import annotations

from typing import Any

import pytest

from runtime.db.states import FileState
from runtime.jobs.lister import run_lister
from runtime.jobs.precheck import ClaimedFile, check_file, check_files
from runtime.storage.base import StoragePermissionError
from runtime.storage.s3 import S3Store
from tests.support.pipeline import LAYOUT, processor, states
from tests.support.real_s3_semantics import RealS3Semantics
from tests.support.s3 import BUCKET

RAW = "raw-json-data/2024/week01/"
ARN = f"arn:aws:s3:::{BUCKET}"


def seed(client: Any, count: int) -> list[ClaimedFile]:
    """``count`` small JSON Lines files; the claimed files (registered with their current ETags)."""
    files = []
    for number in range(count):
        key = f"{RAW}part-{number:04d}.jsonl"
        body = b'{"id": "%d", "DATE": "2024-01-0%d", "MODE": "train"}\n' % (number, number % 9 + 1)
        etag = client.put_object(Bucket=BUCKET, Key=key, Body=body)["ETag"].strip('"')
        files.append(ClaimedFile(number + 1, key, etag, len(body), 1))
    return files


def answered(emulation: RealS3Semantics) -> list[tuple[str, int, str | None]]:
    return [(a.operation, a.status, a.key) for a in emulation.answers]


@pytest.mark.parametrize("denied", ["kms:Decrypt", "s3:GetObject"])
def test_one_refused_object_among_readable_ones_is_failed_and_the_others_are_read(
        denied: str, s3_client: Any, s3_store: S3Store) -> None:
    """(a) Another file of the pre-check was read: the refusal is the object's, whatever the HEAD would say."""
    files = seed(s3_client, 4)
    refused = files[2]
    emulation = RealS3Semantics().deny(denied, refused.key).install(s3_client)

    results = check_files(s3_store, files)

    assert [r.status for r in results] == [None, None, FileState.FAILED, None]
    reason = results[2].reason
    assert reason == (
        f"access denied to this object: GetObject of {ARN}/{refused.key} was refused {denied} (another file of the "
        "batch was read, so the cause is the object: " + (
            "e.g. it is encrypted under a KMS key the role may not use)" if denied == "kms:Decrypt" else
            "e.g. the role's policy does not cover it, or it was deleted since listing: without s3:ListBucket S3 "
            "answers 403 for a missing key)"))
    outcome = results[2].outcome()
    assert (outcome.status, outcome.error) == (FileState.FAILED, reason)
    assert answered(emulation) == [("GetObject", 403, refused.key)]  # no HEAD needed


def test_every_object_refused_and_their_heads_refused_stops_the_run(s3_client: Any, s3_store: S3Store) -> None:
    """(b) No file read and no HEAD allowed: the role cannot read at all; the first refusal is raised."""
    files = seed(s3_client, 3)
    emulation = RealS3Semantics().deny("s3:GetObject", RAW).install(s3_client)

    with pytest.raises(StoragePermissionError) as stopped:
        check_files(s3_store, files)

    error = stopped.value
    assert (error.operation, error.action, error.resource) == ("GetObject", "s3:GetObject", f"{ARN}/{files[0].key}")
    assert sorted(answered(emulation)) == sorted([("GetObject", 403, f.key) for f in files]
                                                 + [("HeadObject", 403, f.key) for f in files])
    with pytest.raises(StoragePermissionError):  # a batch of one alike
        check_file(s3_store, files[0])


def test_a_single_refused_object_whose_head_is_allowed_is_failed_not_raised(s3_client: Any,
                                                                            s3_store: S3Store) -> None:
    """(c) The only file is refused its GET but allowed its HEAD: the role holds ``s3:GetObject`` there (HEAD
    needs it), so the GET was refused what only a GET needs, the object's KMS key."""
    (only,) = seed(s3_client, 1)
    emulation = RealS3Semantics().deny("kms:Decrypt", only.key).install(s3_client)

    for result in (check_files(s3_store, [only]), [check_file(s3_store, only)]):
        assert result[0].status is FileState.FAILED
        assert result[0].reason.startswith(
            f"access denied to this object: GetObject of {ARN}/{only.key} was refused kms:Decrypt (a HeadObject of "
            "it is allowed, so the cause is the object")
    assert answered(emulation) == [("GetObject", 403, only.key)] * 2  # the HEADs were answered by moto: allowed


def test_refused_objects_whose_heads_are_allowed_are_each_failed(s3_client: Any, s3_store: S3Store) -> None:
    """No file read, every GET refused ``kms:Decrypt``, every HEAD allowed: by the documentation that is also what
    a role refused the bucket's own key sees, but the HEADs show the role reads S3; each file is charged (FAILED,
    then QUARANTINED after the last attempt) rather than the run halted on the same batch again and again. A
    refused file whose HEAD is refused too is charged as well once another HEAD is allowed."""
    files = seed(s3_client, 3)
    RealS3Semantics().deny("kms:Decrypt", RAW).deny("s3:GetObject", files[2].key).install(s3_client)

    results = check_files(s3_store, files)

    assert [r.status for r in results] == [FileState.FAILED] * 3
    assert "(a HeadObject of it is allowed" in results[0].reason
    assert "was refused s3:GetObject (a HeadObject of another refused file is allowed" in results[2].reason


def test_without_list_bucket_a_vanished_file_among_readable_ones_is_failed_as_refused(
        s3_client: Any, s3_store: S3Store) -> None:
    """Without ``s3:ListBucket`` S3 answers 403 for a deleted key: never taken for "vanished", charged as refused."""
    files = seed(s3_client, 2)
    s3_client.delete_object(Bucket=BUCKET, Key=files[0].key)
    RealS3Semantics(list_bucket=False).install(s3_client)

    gone, kept = check_files(s3_store, files)

    assert (gone.status, kept.status) == (FileState.FAILED, None)
    assert "was refused s3:GetObject (another file of the batch was read" in gone.reason
    assert "without s3:ListBucket S3 answers 403 for a missing key" in gone.reason


def test_the_processor_goes_on_past_an_object_it_may_not_read_and_quarantines_it(
        s3_client: Any, s3_store: S3Store, db_conn, spark) -> None:
    """The whole run on S3: the refused object is FAILED, its batch-mates SUCCEEDED and archived in the same run;
    retried, it is QUARANTINED after ``--max-attempts`` with the refusal as its reason."""
    files = seed(s3_client, 3)
    refused = files[1].key
    run_lister(s3_store, db_conn, show_progress=False)
    RealS3Semantics().deny("kms:Decrypt", refused).install(s3_client)

    first = processor(s3_store, db_conn, spark, max_attempts=2, backoff_base_seconds=0).run_once()

    assert [r.files for r in first] == [{"SUCCEEDED": 2, "FAILED": 1}]
    assert states(db_conn) == {files[0].key: "SUCCEEDED", refused: "FAILED", files[2].key: "SUCCEEDED"}
    assert s3_store.exists(LAYOUT.archived_key(files[0].key)) and s3_store.exists(refused)

    later = processor(s3_store, db_conn, spark, max_attempts=2, backoff_base_seconds=0).drain()

    assert [r.files for r in later] == [{"QUARANTINED": 1}]  # a batch of one: its HEAD is allowed, so charged
    with db_conn.cursor() as cur:
        cur.execute("SELECT processing_status, retry_count, error_message FROM file_processing_status "
                    "WHERE s3_key = %s", (refused,))
        status, attempts, error = cur.fetchone()
    db_conn.commit()
    assert (status, attempts) == ("QUARANTINED", 2)
    assert error.startswith(f"gave up after 2 attempts: access denied to this object: GetObject of {ARN}/{refused} "
                            "was refused kms:Decrypt (a HeadObject of it is allowed")
