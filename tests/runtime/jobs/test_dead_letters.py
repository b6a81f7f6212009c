"""The dead letters of a file ``mldp reprocess`` converted again (Iceberg format; real PostgreSQL, local Spark, the
local store; S3 in ``test_dead_letters_s3.py``): once the batch recorded the file SUCCEEDED, the dead-letter prefix
holds the file's bad records exactly once, from its latest conversion, with or without a crash between the tracking
commit and the removal; none when the current spec finds every record good; a crash before the tracking commit
leaves the old ones; a new version's older version keeps its own."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from platform_contract.layout import HISTORICAL_PREFIX
from runtime.db.tracking import TrackingStore
from runtime.jobs import dead_letters
from runtime.jobs import publish as pub
from runtime.jobs.lister import run_lister
from runtime.jobs.processor import BatchProcessor, ProcessorSettings
from runtime.operator.reprocess import ReprocessSelection, plan_reprocess, requeue_for_reprocess
from runtime.operator.requeue import Selection, requeue
from runtime.storage.local import LocalStore
from tests.runtime.spark.test_rescue import spec_with
from tests.runtime.table.test_commit_reprocess import spec_with_device, table_arrow
from tests.support.iceberg import iceberg_processor
from tests.support.pipeline import LAYOUT, SimulatedCrash, crash_at, processor

pytestmark = pytest.mark.spark
KEY = f"{HISTORICAL_PREFIX}mixed.jsonl"
GOOD = [{"id": f"g{i}", "DATE": "2024-01-05", "MODE": "train"} for i in range(3)]
BAD_DATE = {"id": "b-date", "DATE": "not-a-date", "MODE": "train"}
#: dead-lettered by the default spec, a good row with ``on_type_mismatch: rescue``
MISMATCH = {"id": "m-list", "DATE": "2024-01-05", "MODE": "train", "some_list_of_structs": "text"}


def jsonl(records: list[dict]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def dead_letters_by_folder(store) -> dict[str, Counter]:
    """The ids of the dead-lettered records under the whole dead-letter prefix of ``store`` (local or S3), by
    ``batch_id=…/file_id=…/`` folder (relative to the prefix)."""
    found: dict[str, Counter] = {}
    for obj in store.list(LAYOUT.dead_letter_prefix):
        if not obj.key.endswith(".json"):
            continue
        folder = obj.key[len(LAYOUT.dead_letter_prefix):].rsplit("/", 1)[0] + "/"
        for line in store.get_bytes(obj.key).decode().splitlines():
            if line.strip():
                found.setdefault(folder, Counter())[json.loads(json.loads(line)["raw_record"])["id"]] += 1
    return found


def tracked(conn, key: str = KEY) -> tuple[int, str, str | None, int, int]:
    """file id, batch id, dead-letter path, records_bad and version of ``key`` as tracked now."""
    with conn.cursor() as cur:
        cur.execute("SELECT file_id, batch_id::text, dead_letter_path, records_bad, version "
                    "FROM file_processing_status WHERE s3_key = %s", (key,))
        row = cur.fetchone()
    conn.commit()
    return row


def folder_of(path: str) -> str:
    return path.removeprefix(LAYOUT.dead_letter_prefix)


def reprocess_all(conn, store) -> None:
    plan = plan_reprocess(conn, ReprocessSelection(all_files=True), store)
    assert requeue_for_reprocess(conn, plan, "iceberg", "spec v2", actor="alice") == len(plan.ready) > 0


def staged(store) -> set:
    return pub.staged_batch_ids(store, LAYOUT)


@pytest.mark.parametrize("crash", [None, "after_table_commit", "after_commit", "after_archive"])
def test_a_reprocessed_files_bad_records_are_in_the_dead_letter_prefix_once_from_its_latest_batch(
        crash, tmp_path, db_conn, db_url, spark):
    store = LocalStore(tmp_path)
    store.put_bytes(KEY, jsonl([*GOOD, BAD_DATE, MISMATCH]))
    run_lister(store, db_conn)
    iceberg_processor(store, db_conn, spark, db_url).drain()
    file_id, first_batch, first_path, bad, _ = tracked(db_conn)
    assert bad == 2 and first_path == pub.dead_letter_folder(LAYOUT, first_batch, file_id)
    assert dead_letters_by_folder(store) == {folder_of(first_path): Counter({"b-date": 1, "m-list": 1})}

    reprocess_all(db_conn, store)
    v2 = spec_with_device()
    if crash is not None:
        with pytest.raises(SimulatedCrash):
            iceberg_processor(store, db_conn, spark, db_url, spec=v2, checkpoint=crash_at(crash)).run_once()
        # the crash came before the removal: the earlier conversion's dead letters are all there, and so is the
        # staging of the reprocess batch (committed or not), the mark of the work left
        assert dead_letters_by_folder(store)[folder_of(first_path)] == Counter({"b-date": 1, "m-list": 1})
        assert len(staged(store)) == 1
        _, batch_now, path_now, _, _ = tracked(db_conn)
        committed = crash != "after_table_commit"
        assert (batch_now != first_batch and path_now != first_path) is committed  # the tracking commit or not
    iceberg_processor(store, db_conn, spark, db_url, spec=v2).drain()

    _, latest_batch, latest_path, bad, _ = tracked(db_conn)
    assert latest_batch != first_batch and bad == 2
    assert latest_path == pub.dead_letter_folder(LAYOUT, latest_batch, file_id)
    assert dead_letters_by_folder(store) == {folder_of(latest_path): Counter({"b-date": 1, "m-list": 1})}
    assert not staged(store)
    assert not (tmp_path / first_path).exists()  # the folder itself went too (a local directory)
    _, rows = table_arrow(store, db_url)
    assert sorted(rows["id"].to_pylist()) == ["g0", "g1", "g2"]

    # a removal that runs again (for the latest batch, or for the earlier one) deletes nothing more
    tracking = TrackingStore(db_conn)
    for batch in (latest_batch, first_batch):
        assert dead_letters.remove_replaced(store, tracking, LAYOUT, batch)
    assert dead_letters_by_folder(store) == {folder_of(latest_path): Counter({"b-date": 1, "m-list": 1})}


def test_a_reprocess_that_finds_every_record_good_removes_the_files_earlier_dead_letters(
        tmp_path, db_conn, db_url, spark):
    store = LocalStore(tmp_path)
    store.put_bytes(KEY, jsonl([*GOOD, MISMATCH]))
    run_lister(store, db_conn)
    iceberg_processor(store, db_conn, spark, db_url).drain()
    _, _, first_path, bad, _ = tracked(db_conn)
    assert bad == 1 and dead_letters_by_folder(store) == {folder_of(first_path): Counter({"m-list": 1})}

    reprocess_all(db_conn, store)
    iceberg_processor(store, db_conn, spark, db_url, spec=spec_with(on_type_mismatch="rescue")).drain()

    _, _, latest_path, bad, _ = tracked(db_conn)
    assert (latest_path, bad) == (None, 0)
    assert dead_letters_by_folder(store) == {}  # the record is a row now, not a dead letter too
    _, rows = table_arrow(store, db_url)
    assert sorted(rows["id"].to_pylist()) == ["g0", "g1", "g2", "m-list"]


def test_a_new_versions_older_version_keeps_its_dead_letters_a_reprocess_replaces_only_its_own_versions(
        tmp_path, db_conn, db_url, spark):
    store = LocalStore(tmp_path)
    store.put_bytes(KEY, jsonl([*GOOD[:2], BAD_DATE]))
    run_lister(store, db_conn)
    iceberg_processor(store, db_conn, spark, db_url).drain()
    _, _, v1_path, _, version = tracked(db_conn)
    assert version == 1
    # the producer uploads the key again, with other content: a new version, processed normally
    store.put_bytes(KEY, jsonl([GOOD[2], MISMATCH]))
    run_lister(store, db_conn)
    iceberg_processor(store, db_conn, spark, db_url).drain()
    _, _, v2_path, _, version = tracked(db_conn)
    assert version == 2
    assert dead_letters_by_folder(store) == {folder_of(v1_path): Counter({"b-date": 1}),
                                                folder_of(v2_path): Counter({"m-list": 1})}

    reprocess_all(db_conn, store)  # the latest version, from its archived copy
    iceberg_processor(store, db_conn, spark, db_url, spec=spec_with_device()).drain()
    _, _, latest_path, _, version = tracked(db_conn)
    assert version == 2 and latest_path not in (v1_path, v2_path)
    assert dead_letters_by_folder(store) == {folder_of(v1_path): Counter({"b-date": 1}),
                                                folder_of(latest_path): Counter({"m-list": 1})}
    _, rows = table_arrow(store, db_url)
    assert sorted(rows["id"].to_pylist()) == ["g2"]


def test_a_quarantined_file_requeued_after_a_spec_change_keeps_only_its_latest_dead_letters(
        tmp_path, db_conn, spark):
    store = LocalStore(tmp_path)
    store.put_bytes(KEY, jsonl([BAD_DATE, MISMATCH]))  # every record bad under the default spec
    run_lister(store, db_conn)
    processor(store, db_conn, spark).drain()
    file_id, first_batch, first_path, bad, _ = tracked(db_conn)
    with db_conn.cursor() as cur:
        cur.execute("SELECT processing_status FROM file_processing_status WHERE file_id = %s", (file_id,))
        assert cur.fetchone()[0] == "QUARANTINED"
    db_conn.commit()
    assert bad == 2 and dead_letters_by_folder(store) == {folder_of(first_path): Counter({"b-date": 1,
                                                                                         "m-list": 1})}

    assert requeue(db_conn, Selection(keys=[KEY]), "on_type_mismatch: rescue").count == 1
    BatchProcessor(store, db_conn, lambda: spark, spec_with(on_type_mismatch="rescue"), ProcessorSettings(),
                   LAYOUT).drain()

    _, latest_batch, latest_path, bad, _ = tracked(db_conn)
    assert latest_batch != first_batch and bad == 1
    assert dead_letters_by_folder(store) == {folder_of(latest_path): Counter({"b-date": 1})}
    assert not staged(store)
