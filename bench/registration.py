"""Registration throughput: the reference method (one INSERT ... ON CONFLICT DO NOTHING per key) against ours
(COPY into a staging table + one set-based upsert per chunk), the same keys, the same server, the same run.

    python -m bench.registration [--keys 200000] [--chunk-size 20000]
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime

import psycopg2

from bench.pg import bench_server, fresh_database
from runtime.db.registration import register_page, register_pages, register_reference_row_by_row
from runtime.jobs.lister import DEFAULT_CHUNK_SIZE, chunked
from runtime.storage.base import ObjectInfo


def synthetic_objects(count: int) -> list:
    now = datetime.now(UTC)
    return [ObjectInfo(f"raw-json-data/all_historical_files/{i // 1000:05d}/part-{i:08d}.json", 1024 + i % 997,
                       now, f"{i:032x}") for i in range(count)]


def run(keys: int = 200_000, chunk_size: int = DEFAULT_CHUNK_SIZE) -> dict:
    objects = synthetic_objects(keys)
    with bench_server() as admin:
        with fresh_database(admin) as url:
            conn = psycopg2.connect(url)
            started = time.perf_counter()
            new_reference = register_reference_row_by_row(conn, (o.key for o in objects))
            reference_seconds = time.perf_counter() - started
            conn.close()
        with fresh_database(admin) as url:
            conn = psycopg2.connect(url)
            started = time.perf_counter()
            new_ours = sum(c.new for c in register_pages(conn, chunked([objects], chunk_size)))
            ours_seconds = time.perf_counter() - started
            # re-run: everything unchanged (the steady state of a scheduled lister)
            started = time.perf_counter()
            unchanged = sum(register_page(conn, chunk).unchanged for chunk in chunked([objects], chunk_size))
            rerun_seconds = time.perf_counter() - started
            conn.close()
    assert new_reference == new_ours == keys and unchanged == keys
    reference_rate = keys / reference_seconds
    ours_rate = keys / ours_seconds
    return {
        "benchmark": "registration",
        "keys": keys,
        "reference_keys_per_s": round(reference_rate),
        "ours_keys_per_s": round(ours_rate),
        "ratio": round(ours_rate / reference_rate, 1),
        "ours_rerun_keys_per_s": round(keys / rerun_seconds),
        "chunk_size": chunk_size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", type=int, default=200_000)
    parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE)
    args = parser.parse_args()
    print(json.dumps(run(args.keys, args.chunk_size)))


if __name__ == "__main__":
    main()
