"""Claim query at 100k and 1M tracked files: our one-statement claim served by the partial index, against the
reference (SELECT ... ORDER BY created_at ... FOR UPDATE SKIP LOCKED with an index on processing_status, then an
UPDATE ... WHERE s3_key IN (...)). Most rows are already SUCCEEDED, as in a backfill that is well under way.

    python -m bench.claim [--rows 100000 1000000] [--batch-size 1000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from collections.abc import Sequence

import psycopg2

from bench.pg import bench_server, fresh_database
from runtime.db import queries

REFERENCE_INDEX = "CREATE INDEX idx_processing_status ON file_processing_status (processing_status)"
REFERENCE_SELECT = ("SELECT s3_key FROM file_processing_status WHERE processing_status IN ('PENDING', 'FAILED') "
                    "ORDER BY created_at LIMIT %s FOR UPDATE SKIP LOCKED")
REFERENCE_UPDATE = ("UPDATE file_processing_status SET processing_status = 'PROCESSING', updated_at = NOW(), "
                    "retry_count = retry_count + 1 WHERE s3_key IN %s")


def populate(conn: psycopg2.extensions.connection, rows: int, pending_fraction: float) -> None:
    """``rows`` tracked files, the last ``pending_fraction`` of them still PENDING."""
    done = int(rows * (1 - pending_fraction))
    with conn.cursor() as cur:
        cur.execute("""
            INSERT INTO file_processing_status (s3_key, file_size_bytes, etag, processing_status, created_at,
                                                next_attempt_at)
            SELECT 'raw-json-data/all_historical_files/part-' || lpad(g::text, 9, '0') || '.json', 1024,
                   md5(g::text), CASE WHEN g <= %(done)s THEN 'SUCCEEDED' ELSE 'PENDING' END,
                   now() - make_interval(secs => %(rows)s - g), now() - make_interval(secs => %(rows)s - g)
            FROM generate_series(1, %(rows)s) AS g""", {"rows": rows, "done": done})
        cur.execute(REFERENCE_INDEX)
        cur.execute("ANALYZE file_processing_status")
    conn.commit()


def claim_params(batch_size: int) -> dict:
    """Parameters of the runtime's claim statement (``runtime.db.queries.CLAIM_BATCH``) for one new batch."""
    return {"batch_id": str(uuid.uuid4()), "batch_size": batch_size, "job_run_id": "bench", "lease_seconds": 60}


def plan_of_claim(conn: psycopg2.extensions.connection, batch_size: int) -> str:
    """The plan of the runtime's own claim statement (EXPLAIN without ANALYZE: nothing is claimed)."""
    with conn.cursor() as cur:
        cur.execute("EXPLAIN " + queries.CLAIM_BATCH, claim_params(batch_size))
        plan = "\n".join(r[0] for r in cur.fetchall())
    conn.rollback()
    return plan


def time_ours(conn: psycopg2.extensions.connection, batch_size: int, repeats: int) -> float:
    """Median seconds of the runtime's claim statement (rolled back after each run)."""
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        with conn.cursor() as cur:
            cur.execute(queries.CLAIM_BATCH, claim_params(batch_size))
            assert len(cur.fetchall()) == batch_size
        samples.append(time.perf_counter() - started)
        conn.rollback()
    return statistics.median(samples)


def time_reference(conn: psycopg2.extensions.connection, batch_size: int, repeats: int) -> float:
    """Median seconds of the reference's SELECT ... FOR UPDATE then UPDATE ... WHERE s3_key IN (...)."""
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        with conn.cursor() as cur:
            cur.execute(REFERENCE_SELECT, (batch_size,))
            keys = tuple(r[0] for r in cur.fetchall())
            cur.execute(REFERENCE_UPDATE, (keys,))
            assert cur.rowcount == batch_size
        samples.append(time.perf_counter() - started)
        conn.rollback()
    return statistics.median(samples)


def run(row_counts: Sequence[int] = (100_000, 1_000_000), batch_size: int = 1000, pending_fraction: float = 0.1,
        repeats: int = 5) -> dict:
    """For each table size: the plan of the runtime's claim statement and the median time of it and of the
    reference claim."""
    results = []
    with bench_server() as admin:
        for rows in row_counts:
            with fresh_database(admin) as url:
                conn = psycopg2.connect(url)
                populate(conn, rows, pending_fraction)
                plan = plan_of_claim(conn, batch_size)
                ours = time_ours(conn, batch_size, repeats)
                reference = time_reference(conn, batch_size, repeats)
                conn.close()
            results.append({
                "rows": rows,
                "ours_ms": round(ours * 1000, 2),
                "reference_ms": round(reference * 1000, 2),
                "ratio": round(reference / ours, 1),
                "uses_partial_index": "idx_fps_claimable" in plan,
                "plan": plan,
            })
    return {"benchmark": "claim", "batch_size": batch_size, "pending_fraction": pending_fraction,
            "results": results}


def main() -> None:
    """Command line: ``--rows N ...``, ``--batch-size N``; prints the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args()
    print(json.dumps(run(tuple(args.rows), args.batch_size), indent=2))


if __name__ == "__main__":
    main()
