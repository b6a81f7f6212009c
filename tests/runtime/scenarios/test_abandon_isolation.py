"""A file that kills the process is isolated across runs (issue 10 item 2): the files of a batch abandoned without
a manifest are not charged and are claimed next in batches of half the size; the killer, abandoned alone, is
charged and quarantined after ``--max-attempts``; no batch-mate is ever charged an attempt."""

from __future__ import annotations

import pytest

from runtime.jobs.lister import run_lister
from runtime.sample_data import generate_sample
from runtime.storage.local import LocalStore
from tests.support.pipeline import SimulatedCrash, processor

pytestmark = pytest.mark.spark


class KillingStore(LocalStore):
    """Reading ``killer`` kills the process (as an out-of-memory kill of a huge line would)."""

    killer = ""

    def read_head(self, key, length=65536):
        if key == self.killer:
            raise SimulatedCrash(f"killed while reading {key}")
        return super().read_head(key, length)


def rows(conn) -> dict:
    with conn.cursor() as cur:
        cur.execute("SELECT s3_key, processing_status, retry_count, claim_limit FROM file_processing_status")
        result = {key: tuple(rest) for key, *rest in cur.fetchall()}
    conn.commit()
    return result


def test_a_process_killing_file_is_narrowed_across_runs_and_quarantined_alone(tmp_path, db_conn, spark):
    store = KillingStore(tmp_path)
    expected = generate_sample(store, files=8, records_per_file=3, include_bad_inputs=False)
    store.killer = sorted(expected.files)[5]
    run_lister(store, db_conn)
    batch_sizes, crashes = [], 0
    for _run in range(20):
        try:
            processor(store, db_conn, spark, batch_size=100, max_attempts=3,
                      backoff_base_seconds=0).drain(
                          on_batch=lambda r: r.abandoned or batch_sizes.append(sum(r.files.values())))
        except SimulatedCrash:
            crashes += 1
            continue
        if all(state in ("SUCCEEDED", "QUARANTINED") for state, *_ in rows(db_conn).values()):
            break
    final = rows(db_conn)
    assert final.pop(store.killer)[:2] == ("QUARANTINED", 3)
    assert set(final.values()) == {("SUCCEEDED", 1, None)}  # every batch-mate: one attempt, no limit left
    assert crashes == 3 + 3  # 8 -> 4 -> 2 -> 1 (three uncharged abandons), then three charged attempts alone
    assert batch_sizes and max(batch_sizes) <= 4  # never the whole batch of 8 again
