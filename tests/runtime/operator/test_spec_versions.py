"""``mldp status`` says which spec versions the last batches used (one line) and ``mldp inspect`` a file's records
with rescued data and its spec version (issue 20)."""

from __future__ import annotations

import uuid

from runtime.operator.inspection import inspect_file, render_inspection
from runtime.operator.status import build_status, render_status


def batch(conn, version: str | None, rescued: int, minutes_ago: int) -> str:
    batch_id = str(uuid.uuid4())
    with conn.cursor() as cur:
        cur.execute("INSERT INTO processing_batches (batch_id, state, file_count, lease_expires_at, claimed_at, "
                    "finished_at, spec_version, records_rescued) VALUES (%s, 'COMMITTED', 1, now(), "
                    "now() - make_interval(mins => %s), now() - make_interval(mins => %s), %s, %s)",
                    (batch_id, minutes_ago, minutes_ago, version, rescued))
    conn.commit()
    return batch_id


def test_status_names_the_spec_versions_of_the_last_batches_latest_first(db_conn):
    batch(db_conn, None, 0, 30)
    batch(db_conn, "aaaaaaaaaaaa", 5, 20)
    batch(db_conn, "bbbbbbbbbbbb", 2, 10)
    batch(db_conn, "bbbbbbbbbbbb", 1, 5)
    report = build_status(db_conn, batches=10)
    assert report["spec_versions"][0] == {"spec_version": "bbbbbbbbbbbb", "batches": 2, "records_rescued": 3}
    line = "Spec versions (last committed batches, latest first): bbbbbbbbbbbb (2 batches, 3 records with rescued " \
           "data), aaaaaaaaaaaa (1 batches, 5 records with rescued data), unrecorded (1 batches, 0 records with " \
           "rescued data)"
    assert line in render_status(report).splitlines()


def test_inspect_shows_the_records_with_rescued_data_and_the_spec_version(db_conn):
    with db_conn.cursor() as cur:
        cur.execute("INSERT INTO file_processing_status (s3_key, processing_status, records_good, records_bad, "
                    "records_rescued, spec_version) VALUES ('raw-json-data/a.jsonl', 'SUCCEEDED', 10, 1, 4, "
                    "'cccccccccccc')")
    db_conn.commit()
    text = render_inspection(inspect_file(db_conn, "raw-json-data/a.jsonl"))
    assert "  records       10 good, 1 dead-lettered, 4 with rescued data (spec version cccccccccccc)" in text
