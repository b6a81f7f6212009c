"""The dead-letter removal after a file's latest conversion is committed (runtime/jobs/dead_letters.py, its call in
runtime/jobs/recovery.py ``clean_finished_staging``), beyond ``mldp reprocess``: a QUARANTINED file re-queued, a
committed batch whose manifest cannot be read any more, a store that refuses the removal once; and a QUARANTINED
reprocess followed by a new version (docs/iceberg.md "Reprocessing"). Found by the review of 2026-12-06 (evening); real
PostgreSQL, local Spark, the local store."""

from __future__ import annotations

from collections import Counter

import pytest

from runtime.jobs import publish as pub
from runtime.jobs.lister import run_lister
from runtime.jobs.processor import BatchProcessor, ProcessorSettings
from runtime.operator.requeue import Selection, requeue
from runtime.storage.local import LocalStore
from tests.runtime.jobs.test_dead_letters import BAD_DATE, KEY, MISMATCH, dead_letters_by_folder, jsonl, staged, tracked
from tests.runtime.spark.test_rescue import spec_with
from tests.support.pipeline import LAYOUT, SimulatedCrash, crash_at, processor

pytestmark = pytest.mark.spark


def test_an_unreadable_manifest_of_a_committed_batch_still_gets_its_removal(
        tmp_path, db_conn, spark):
    """A QUARANTINED file (its dead letters published) re-queued after a spec change SUCCEEDS; the run crashes after
    the tracking commit, before the removal: the batch's staging is "the mark of the work left". If its manifest
    cannot be read by the next run (a runtime upgrade that changed the manifest format, or a damaged object): the
    removal is the history's, by batch id, so the next run still removes the replaced dead letters, then the
    staging (before the fix it took the unreadable manifest for none and deleted the staging alone: doubled)."""
    store = LocalStore(tmp_path)
    store.put_bytes(KEY, jsonl([BAD_DATE, MISMATCH]))  # every record bad under the default spec: QUARANTINED
    run_lister(store, db_conn)
    processor(store, db_conn, spark).drain()
    _, first_batch, _first_path, bad, _ = tracked(db_conn)
    assert bad == 2 and len(dead_letters_by_folder(store)) == 1

    assert requeue(db_conn, Selection(keys=[KEY]), "on_type_mismatch: rescue").count == 1
    rescue = spec_with(on_type_mismatch="rescue")
    with pytest.raises(SimulatedCrash):
        BatchProcessor(store, db_conn, lambda: spark, rescue, ProcessorSettings(), LAYOUT,
                       checkpoint=crash_at("after_commit")).run_once()
    (batch,) = staged(store)
    _, latest_batch, latest_path, bad, _ = tracked(db_conn)
    assert latest_batch == batch != first_batch and bad == 1  # committed: SUCCEEDED with one bad record
    # the manifest of the committed batch cannot be read any more (here: damaged; an upgrade that changed its
    # format reads the same way)
    store.put_bytes(pub.staging_root(LAYOUT, batch) + pub.MANIFEST_NAME, b'{"batch_id": "' + batch.encode() + b'"')

    BatchProcessor(store, db_conn, lambda: spark, rescue, ProcessorSettings(), LAYOUT).drain()

    assert dead_letters_by_folder(store) == {latest_path.removeprefix(LAYOUT.dead_letter_prefix):
                                             Counter({"b-date": 1})}
    assert not staged(store)


def test_a_removal_the_store_refuses_keeps_the_staging_and_the_next_run_finishes_it(
        tmp_path, db_conn, spark, monkeypatch):
    """The store refuses the deletion of the replaced dead letters once: the committed batch's staging stays, and the
    next run removes them and then the staging."""
    store = LocalStore(tmp_path)
    store.put_bytes(KEY, jsonl([BAD_DATE, MISMATCH]))
    run_lister(store, db_conn)
    processor(store, db_conn, spark).drain()
    _, first_batch, first_path, _, _ = tracked(db_conn)
    assert requeue(db_conn, Selection(keys=[KEY]), "on_type_mismatch: rescue").count == 1

    real = LocalStore.delete_many
    refused: list[str] = []

    def refuse_once(self, keys, if_match=None):
        keys = list(keys)
        if not refused and any(k.startswith(first_path) for k in keys):
            refused.extend(keys)
            return [k for k in keys if k.startswith(first_path)]
        return real(self, keys, if_match)

    monkeypatch.setattr(LocalStore, "delete_many", refuse_once)
    rescue = spec_with(on_type_mismatch="rescue")
    BatchProcessor(store, db_conn, lambda: spark, rescue, ProcessorSettings(), LAYOUT).run_once()
    assert refused and len(staged(store)) == 1 and len(dead_letters_by_folder(store)) == 2
    BatchProcessor(store, db_conn, lambda: spark, rescue, ProcessorSettings(), LAYOUT).run_once()
    _, latest_batch, latest_path, _, _ = tracked(db_conn)
    assert latest_batch != first_batch and not staged(store)
    latest = latest_path.removeprefix(LAYOUT.dead_letter_prefix)
    assert dead_letters_by_folder(store) == {latest: Counter({"b-date": 1})}


def test_a_held_reprocess_keeps_naming_the_dead_letters_that_hold_the_files_bad_records(
        tmp_path, db_conn, db_url, spark):
    """``mldp reprocess`` re-queues a SUCCEEDED file; a processor run without ``--table-format iceberg`` holds it
    (FAILED uncharged, REPROCESS_NEEDS_ICEBERG, never read). Its rows are still the table's and its bad records still
    in its earlier folder: the held outcome keeps the file row's counts and dead-letter folder (FINISH_FILES), so
    ``mldp inspect KEY`` still names the folder (before the fix: ``dead letters -`` and no counts)."""
    from runtime.operator.inspection import inspect_file, render_inspection
    from tests.runtime.jobs.test_dead_letters import GOOD, reprocess_all
    from tests.support.iceberg import iceberg_processor

    store = LocalStore(tmp_path)
    store.put_bytes(KEY, jsonl([*GOOD, BAD_DATE]))
    run_lister(store, db_conn)
    iceberg_processor(store, db_conn, spark, db_url).drain()
    _, _, first_path, bad, _ = tracked(db_conn)
    assert bad == 1 and first_path is not None

    reprocess_all(db_conn, store)
    processor(store, db_conn, spark).run_once()  # Parquet: held, not read
    with db_conn.cursor() as cur:
        cur.execute("SELECT processing_status, error_message FROM file_processing_status WHERE s3_key = %s", (KEY,))
        state, error = cur.fetchone()
    db_conn.commit()
    assert state == "FAILED" and "mldp reprocess" in error
    assert dead_letters_by_folder(store) == {first_path.removeprefix(LAYOUT.dead_letter_prefix): Counter({"b-date": 1})}

    text = render_inspection(inspect_file(db_conn, KEY))
    assert first_path in text.split("dead letters", 1)[1].splitlines()[0], text


def test_a_quarantined_reprocess_then_a_new_version_leaves_the_old_versions_bad_records_once(
        tmp_path, db_conn, db_url, spark):
    """docs/iceberg.md: a reprocess that is QUARANTINED keeps the old rows and dead letters and publishes its own
    beside them, until the file succeeds. If the next thing that happens to the key is a new upload, version 1 never
    succeeds again: version 2 SUCCEEDS, its commit retracts version 1's rows, and version 1 keeps one folder, that of
    its last SUCCEEDED conversion, so its bad records are in the prefix once (before: twice for good; found by the
    review of 2026-12-06)."""
    from tests.runtime.jobs.test_dead_letters import GOOD, reprocess_all
    from tests.support.iceberg import iceberg_processor

    store = LocalStore(tmp_path)
    store.put_bytes(KEY, jsonl([MISMATCH, BAD_DATE]))
    run_lister(store, db_conn)
    rescue = spec_with(on_type_mismatch="rescue")
    iceberg_processor(store, db_conn, spark, db_url, spec=rescue).drain()  # SUCCEEDED: m-list a row, b-date bad
    _, _, v1_path, bad, _ = tracked(db_conn)
    assert bad == 1

    reprocess_all(db_conn, store)
    iceberg_processor(store, db_conn, spark, db_url).drain()  # the default spec: every record bad, QUARANTINED
    _, _, quarantined_path, bad, _ = tracked(db_conn)
    assert bad == 2 and quarantined_path != v1_path

    store.put_bytes(KEY, jsonl([GOOD[0]]))  # the producer uploads the key again: version 2, no bad record
    run_lister(store, db_conn)
    iceberg_processor(store, db_conn, spark, db_url).drain()
    _, _, _, bad, version = tracked(db_conn)
    assert (version, bad) == (2, 0)

    found = dead_letters_by_folder(store)  # version 1's last SUCCEEDED conversion's folder (its rows are retracted)
    assert found == {v1_path.removeprefix(LAYOUT.dead_letter_prefix): Counter({"b-date": 1})}


def test_a_quarantined_file_requeued_that_is_quarantined_again_keeps_its_bad_records_once(tmp_path, db_conn, spark):
    """A file whose every record is bad is QUARANTINED with its dead letters published (no row anywhere). The
    operator re-queues it (``mldp requeue``, e.g. after a spec change that did not help); it is QUARANTINED again
    and publishes the same records in a second folder: no earlier conversion left rows, so its dead letters replace
    the earlier ones (before the fix the removal ran for SUCCEEDED files only: one more copy per re-queue)."""
    store = LocalStore(tmp_path)
    store.put_bytes(KEY, jsonl([BAD_DATE, MISMATCH]))
    run_lister(store, db_conn)
    processor(store, db_conn, spark).drain()
    for attempt in range(2):
        assert requeue(db_conn, Selection(keys=[KEY]), f"try again {attempt}").count == 1
        processor(store, db_conn, spark).drain()
    with db_conn.cursor() as cur:
        cur.execute("SELECT processing_status FROM file_processing_status WHERE s3_key = %s", (KEY,))
        assert cur.fetchone()[0] == "QUARANTINED"
    db_conn.commit()

    found = dead_letters_by_folder(store)
    total = sum(found.values(), Counter())
    assert total == Counter({"b-date": 1, "m-list": 1}), f"{len(found)} folders: {found}"


def test_a_new_version_that_runs_out_of_attempts_leaves_the_old_versions_rows_and_their_own_dead_letters(
        tmp_path, db_conn, db_url, spark):
    """docs/iceberg.md: a new version "quarantined only when a later run records that it ran out of attempts ...
    keeps [the earlier versions' rows]". Version 1 SUCCEEDED (m-list a rescued row, b-date in folder A), then a
    reprocess under the default spec is QUARANTINED (every record bad, folder B; the rows of A kept). Version 2 is
    uploaded and vanishes before it is read: FAILED, recorded QUARANTINED (gave up after 1 attempt), its batch
    retracts nothing. The table still holds version 1's rows from A's conversion, so A is the folder that goes with
    them; the removal keeps B instead (the latest diagnosis), deletes A, and m-list is both a table row and a dead
    letter (before the change: A and B both, b-date twice as well)."""
    from tests.runtime.jobs.test_dead_letters import reprocess_all
    from tests.support.iceberg import iceberg_processor, iceberg_table, table_rows

    store = LocalStore(tmp_path)
    store.put_bytes(KEY, jsonl([MISMATCH, BAD_DATE]))
    run_lister(store, db_conn)
    rescue = spec_with(on_type_mismatch="rescue")
    iceberg_processor(store, db_conn, spark, db_url, spec=rescue).drain()  # SUCCEEDED: m-list a row, b-date bad
    reprocess_all(db_conn, store)
    iceberg_processor(store, db_conn, spark, db_url).drain()  # the default spec: every record bad, QUARANTINED
    _, _, _, bad, _ = tracked(db_conn)
    assert bad == 2 and len(dead_letters_by_folder(store)) == 2

    store.put_bytes(KEY, jsonl([MISMATCH]))  # version 2 ...
    run_lister(store, db_conn)
    store.delete(KEY)  # ... gone before it is read: FAILED, and with one attempt allowed, QUARANTINED
    iceberg_processor(store, db_conn, spark, db_url, max_attempts=1).drain()
    with db_conn.cursor() as cur:
        cur.execute("SELECT processing_status, version, error_message FROM file_processing_status")
        state, version, error = cur.fetchone()
    db_conn.commit()
    assert (state, version) == ("QUARANTINED", 2) and error.startswith("gave up after 1 attempt"), error

    rows = [row[0] for row in table_rows(iceberg_table(store, db_url))]
    assert rows == ["m-list"]  # version 1's rows, not retracted
    letters = sum(dead_letters_by_folder(store).values(), Counter())
    everywhere = letters + Counter(rows)
    assert everywhere == Counter({"m-list": 1, "b-date": 1}), f"table rows {rows}, dead letters {letters}"
