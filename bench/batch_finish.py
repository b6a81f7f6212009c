"""Finishing a 10,000-file batch: our bulk outcome statement in one transaction against the reference design's
loop (one UPDATE and one COMMIT per file), on the same server in the same run.

    python -m bench.batch_finish [--files 10000]
"""

from __future__ import annotations

import argparse
import json
import time
import uuid

import psycopg2

from bench.pg import bench_server, fresh_database
from runtime.db.records import FileOutcome
from runtime.db.states import BatchState, FileState
from runtime.db.tracking import TrackingStore
from runtime.jobs.retry import RetryPolicy

REFERENCE_UPDATE_ONE = (
    "UPDATE file_processing_status SET processing_status = %s, processed_at = NOW(), glue_job_run_id = %s, "
    "error_message = %s, updated_at = NOW() WHERE s3_key = %s"
)


def claimed_batch(conn: psycopg2.extensions.connection, files: int) -> tuple:
    """A batch of ``files`` PROCESSING rows (and its batch row), as a claim leaves them."""
    batch_id = str(uuid.uuid4())
    with conn.cursor() as cur:
        cur.execute("""
            INSERT INTO file_processing_status (s3_key, file_size_bytes, etag, processing_status, batch_id,
                                                glue_job_run_id, retry_count, lease_expires_at)
            SELECT 'raw-json-data/2024/week01/part-' || lpad(g::text, 6, '0') || '.json', 4096, md5(g::text),
                   'PROCESSING', %(batch)s, 'bench', 1, now() + interval '1 hour'
            FROM generate_series(1, %(files)s) AS g""", {"batch": batch_id, "files": files})
        cur.execute("INSERT INTO processing_batches (batch_id, glue_job_run_id, file_count, lease_expires_at) "
                    "VALUES (%s, 'bench', %s, now() + interval '1 hour')", (batch_id, files))
        cur.execute("SELECT file_id, s3_key FROM file_processing_status WHERE batch_id = %s ORDER BY file_id",
                    (batch_id,))
        rows = cur.fetchall()
    conn.commit()
    return batch_id, rows


def outcome_for(index: int, file_id: int, key: str) -> FileOutcome:
    """A typical outcome: every 50th file QUARANTINED, the others SUCCEEDED with a dead letter."""
    if index % 50 == 0:
        return FileOutcome(file_id, key, FileState.QUARANTINED, "no good record", 0, 3)
    return FileOutcome(file_id, key, FileState.SUCCEEDED, None, 100, 1,
                       f"error-data-lake/json_malformed_records/batch_id=x/file_id={file_id}/")


def run(files: int = 10_000) -> dict:
    """Finish a ``files``-file batch both ways on fresh databases; seconds of each and their ratio."""
    with bench_server() as admin:
        with fresh_database(admin) as url:
            conn = psycopg2.connect(url)
            _batch, rows = claimed_batch(conn, files)
            started = time.perf_counter()
            with conn.cursor() as cur:
                for index, (_file_id, key) in enumerate(rows):
                    outcome = outcome_for(index, *rows[index])
                    cur.execute(REFERENCE_UPDATE_ONE, (outcome.status, "bench", outcome.error, key))
                    conn.commit()
            reference_seconds = time.perf_counter() - started
            conn.close()
        with fresh_database(admin) as url:
            conn = psycopg2.connect(url)
            batch_id, rows = claimed_batch(conn, files)
            outcomes = [outcome_for(index, file_id, key) for index, (file_id, key) in enumerate(rows)]
            started = time.perf_counter()
            final = TrackingStore(conn).record_outcomes(batch_id, "bench", outcomes, BatchState.COMMITTED,
                                                        RetryPolicy())
            ours_seconds = time.perf_counter() - started
            conn.close()
    assert sum(final.values()) == files
    return {
        "benchmark": "batch_finish",
        "files": files,
        "reference_seconds": round(reference_seconds, 3),
        "ours_seconds": round(ours_seconds, 3),
        "ratio": round(reference_seconds / ours_seconds, 1),
        "note": "ours also writes one history row per file and closes the batch row, in the same transaction",
    }


def main() -> None:
    """Command line: ``--files N``; prints one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=10_000)
    args = parser.parse_args()
    print(json.dumps(run(args.files)))


if __name__ == "__main__":
    main()
