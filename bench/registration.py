"""Registration throughput: the reference method (one INSERT ... ON CONFLICT DO NOTHING per key) against ours
(COPY into a staging table + one set-based upsert per chunk), the same keys, the same server, the same run;
alternating rounds, medians reported.

    python -m bench.registration [--keys 200000] [--chunk-size 20000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Iterable
from datetime import UTC, datetime

import psycopg2

from bench.pg import bench_server, fresh_database
from runtime.db.registration import register_pages
from runtime.jobs.lister import DEFAULT_CHUNK_SIZE, chunked
from runtime.storage.base import ObjectInfo

#: The reference design's registration: one INSERT per key.
REFERENCE_INSERT_ONE = (
    "INSERT INTO file_processing_status (s3_key, processing_status, created_at, updated_at) "
    "VALUES (%s, 'PENDING', NOW(), NOW()) ON CONFLICT (s3_key) DO NOTHING"
)


def register_reference_row_by_row(conn: psycopg2.extensions.connection, keys: Iterable[str]) -> int:
    """The reference design's method (one INSERT ... ON CONFLICT DO NOTHING per key, one commit at the end);
    returns how many keys were new."""
    new = 0
    with conn.cursor() as cur:
        for key in keys:
            cur.execute(REFERENCE_INSERT_ONE, (key,))
            new += cur.rowcount
    conn.commit()
    return new


def synthetic_objects(count: int) -> list:
    """``count`` listed objects with distinct keys under the historical prefix."""
    now = datetime.now(UTC)
    return [ObjectInfo(f"raw-json-data/all_historical_files/{i // 1000:05d}/part-{i:08d}.json", 1024 + i % 997,
                       now, f"{i:032x}") for i in range(count)]


def _reference_round(admin: str, objects: list) -> float:
    with fresh_database(admin) as url:
        conn = psycopg2.connect(url)
        started = time.perf_counter()
        new = register_reference_row_by_row(conn, (o.key for o in objects))
        seconds = time.perf_counter() - started
        conn.close()
    assert new == len(objects)
    return seconds


def _ours_round(admin: str, objects: list, chunk_size: int) -> tuple[float, float]:
    """Seconds to register every key new, then to re-register them all unchanged (a scheduled lister's steady
    state)."""
    with fresh_database(admin) as url:
        conn = psycopg2.connect(url)
        started = time.perf_counter()
        new = sum(c.new for c in register_pages(conn, chunked([objects], chunk_size)))
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        unchanged = sum(c.unchanged for c in register_pages(conn, chunked([objects], chunk_size)))
        rerun_seconds = time.perf_counter() - started
        conn.close()
    assert new == unchanged == len(objects)
    return seconds, rerun_seconds


def run(keys: int = 200_000, chunk_size: int = DEFAULT_CHUNK_SIZE, rounds: int = 3) -> dict:
    """Alternate the reference and ours ``rounds`` times on fresh databases of one server; report medians."""
    objects = synthetic_objects(keys)
    reference_times, ours_times, rerun_times = [], [], []
    with bench_server() as admin:
        for _ in range(rounds):
            reference_times.append(_reference_round(admin, objects))
            seconds, rerun_seconds = _ours_round(admin, objects, chunk_size)
            ours_times.append(seconds)
            rerun_times.append(rerun_seconds)
    reference_rate = keys / statistics.median(reference_times)
    ours_rate = keys / statistics.median(ours_times)
    return {
        "benchmark": "registration",
        "keys": keys,
        "reference_keys_per_s": round(reference_rate),
        "ours_keys_per_s": round(ours_rate),
        "ratio": round(ours_rate / reference_rate, 1),
        "ours_rerun_keys_per_s": round(keys / statistics.median(rerun_times)),
        "chunk_size": chunk_size,
        "rounds": rounds,
        "reference_seconds": [round(t, 2) for t in reference_times],
        "ours_seconds": [round(t, 2) for t in ours_times],
    }


def main() -> None:
    """Command line: ``--keys N``, ``--chunk-size N``; prints one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", type=int, default=200_000)
    parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE)
    args = parser.parse_args()
    print(json.dumps(run(args.keys, args.chunk_size)))


if __name__ == "__main__":
    main()
