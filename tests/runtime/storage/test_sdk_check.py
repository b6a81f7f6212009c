"""The AWS SDK the processor runs with must be able to send the archive's conditional deletes (issue 18, item 4).

An older botocore (Glue 5.0 ships its own) whose S3 model lacks ``ObjectIdentifier.ETag`` rejects every
``DeleteObjects`` client-side. It is simulated here by a botocore loader that drops that member from the S3 model,
which is what such a release's ``service-2.json`` looks like (1.35.66 and older).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.loaders
import pytest

from runtime.cli import main
from runtime.jobs.archive import ArchiveCounts
from runtime.jobs.lister import run_lister
from runtime.storage.mover import Move, move_objects
from runtime.storage.s3 import S3Store
from runtime.storage.sdk_check import (
    MIN_BOTOCORE_VERSION,
    SdkTooOld,
    check_store,
    require_conditional_deletes,
    supports_conditional_deletes,
)
from tests.support.leases import processor
from tests.support.pipeline import LAYOUT

RAW = "raw-json-data/2024/week01/"


@pytest.fixture
def old_botocore_model(monkeypatch) -> Iterator[None]:
    """Every botocore loader created from now on serves an S3 model without ``ObjectIdentifier.ETag``."""
    original = botocore.loaders.Loader.load_service_model

    def load_service_model(self: Any, service_name: str, type_name: str, api_version: str | None = None) -> Any:
        model = original(self, service_name, type_name, api_version)
        if service_name == "s3" and type_name == "service-2":
            model = copy.deepcopy(model)
            del model["shapes"]["ObjectIdentifier"]["members"]["ETag"]
        return model

    monkeypatch.setattr(botocore.loaders.Loader, "load_service_model", load_service_model)
    yield


def old_client() -> Any:
    return boto3.session.Session().client("s3", region_name="us-east-1")


def test_the_installed_botocore_can_send_conditional_deletes(s3_store: S3Store) -> None:
    assert supports_conditional_deletes()
    assert supports_conditional_deletes(s3_store.client)
    require_conditional_deletes(s3_store.client)
    check_store(s3_store)


def test_a_botocore_whose_model_lacks_the_etag_member_is_refused(aws_credentials: None, old_botocore_model: None
                                                                 ) -> None:
    client = old_client()
    assert not supports_conditional_deletes(client)
    with pytest.raises(SdkTooOld, match=rf"botocore .* ObjectIdentifier\.ETag .*>= {MIN_BOTOCORE_VERSION}"):
        require_conditional_deletes(client)
    with pytest.raises(SdkTooOld):
        check_store(S3Store("bucket", client=client))
    check_store(S3Store("bucket", client=client), archive=False)  # nothing to delete: nothing to refuse


def test_mldp_process_stops_at_start_with_an_old_botocore(s3_client: Any, s3_bucket: str, old_botocore_model: None,
                                                          capsys) -> None:
    status = main(["process", "--store", f"s3://{s3_bucket}", "--db", "postgresql://nobody@127.0.0.1:9/none",
                   "--no-metrics"])
    assert status == SdkTooOld.exit_status != 0
    err = capsys.readouterr().err
    assert f">= {MIN_BOTOCORE_VERSION}" in err and "ObjectIdentifier.ETag" in err


def test_a_delete_the_sdk_rejects_stops_the_run_naming_the_fix_and_counts_every_kept_source(
        s3_client: Any, s3_bucket: str, old_botocore_model: None) -> None:
    """Defence in depth: a run that skipped the check stops at its first archive with the SDK error (never a
    per-file failure it would go on after), which carries every source it left in place."""
    keys = [f"{RAW}f{i}.jsonl" for i in range(3)]
    etags = {key: s3_client.put_object(Bucket=s3_bucket, Key=key, Body=b"{}\n")["ETag"].strip('"') for key in keys}
    store = S3Store(s3_bucket, client=old_client())
    with pytest.raises(SdkTooOld, match=rf"DeleteObjects rejected by the loaded botocore .*>= {MIN_BOTOCORE_VERSION}"
                       ) as caught:
        move_objects(store, [Move(key, LAYOUT.archived_key(key), 3, etags[key]) for key in keys])
    assert sorted(caught.value.keys) == keys
    listed = {o["Key"] for o in s3_client.list_objects_v2(Bucket=s3_bucket, Prefix=RAW).get("Contents", [])}
    assert listed == set(keys)


def test_the_archive_counts_the_sources_an_sdk_error_kept_and_lets_it_stop_the_run(
        s3_client: Any, s3_bucket: str, old_botocore_model: None, db_conn) -> None:
    store = S3Store(s3_bucket, client=old_client())
    for i in range(3):
        s3_client.put_object(Bucket=s3_bucket, Key=f"{RAW}done-{i}.jsonl", Body=b'{"id": "1"}\n')
    run_lister(store, db_conn)
    with db_conn.cursor() as cur:
        cur.execute("UPDATE file_processing_status SET processing_status = 'SUCCEEDED', processed_at = now()")
    db_conn.commit()
    run = processor(store, db_conn)
    with pytest.raises(SdkTooOld):
        run.run_once()  # the leftovers' archive: not logged and skipped like a refusal, the run stops
    # the archive moves in two halves: the first (2 files) was copied and kept, the run stopped before the second
    assert run.archive_counts == ArchiveCounts(delete_failures=2, failures=2)


def test_mldp_recover_with_a_store_checks_the_sdk(s3_client: Any, s3_bucket: str, old_botocore_model: None,
                                                  capsys) -> None:
    status = main(["recover", "00000000", "--reason", "test", "--store", f"s3://{s3_bucket}",
                   "--db", "postgresql://nobody@127.0.0.1:9/none"])
    assert status == SdkTooOld.exit_status == 3
    err = capsys.readouterr().err
    assert f">= {MIN_BOTOCORE_VERSION}" in err and "cannot connect" not in err  # before the database
