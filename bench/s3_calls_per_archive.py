"""Benchmark: S3 API calls per archived raw file, ours versus the reference design.

Under moto, ``N`` raw objects are archived from ``raw-json-data/`` to ``raw-json-data-processed/`` twice:

- ours: :func:`runtime.storage.mover.move_objects` (parallel ``CopyObject`` with sizes from the listing, then
  ``DeleteObjects`` per 1,000 keys);
- reference (``/work/shared/reference-design.txt``): per file ``copy_object`` then ``delete_object``,
  sequentially.

Every S3 operation is counted with a botocore ``before-call`` hook, which also tracks how many calls are in
flight at once. Prints one JSON line; :func:`run` returns the same dict.

    python bench/s3_calls_per_archive.py [--files N]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import boto3
from botocore.config import Config
from moto import mock_aws

from bench.call_counter import CallCounter
from runtime.layout import Layout
from runtime.storage.mover import Move, move_objects
from runtime.storage.s3 import S3Store

BUCKET = "benchmark-ml-data-lake"
OURS_PREFIX = "raw-json-data/2024/week01/"
REFERENCE_PREFIX = "raw-json-data/2024/week02/"


def _seed(client: Any, prefix: str, files: int) -> dict[str, int]:
    """``files`` small JSON objects under ``prefix``; returns key -> size."""
    sizes = {}
    for i in range(files):
        key = f"{prefix}part-{i:06d}.json"
        body = json.dumps({"id": i, "DATE": "2024-01-02", "MODE": "a"}).encode() + b"\n"
        client.put_object(Bucket=BUCKET, Key=key, Body=body)
        sizes[key] = len(body)
    return sizes


def _reference_archive(client: Any, keys: list[str], layout: Layout) -> None:
    """The reference design's step 4: copy_object + delete_object per file, one after the other."""
    for key in keys:
        source = {"Bucket": BUCKET, "Key": key}
        client.copy_object(Bucket=BUCKET, CopySource=source, Key=layout.archived_key(key))
        client.delete_object(Bucket=BUCKET, Key=key)


def _remaining(client: Any, prefix: str) -> int:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sum(page.get("KeyCount", 0) for page in pages)


def _simulate_latency(client: Any, seconds: float) -> None:
    """Make every S3 call take at least ``seconds`` (a network round trip), as real S3 does and moto (in process)
    does not: without it, calls finish faster than a thread pool can start them, and neither parallelism nor
    wall time means anything."""
    if seconds > 0:
        client.meta.events.register("before-call.s3", lambda **_: time.sleep(seconds))


def run(files: int = 1000, latency_ms: float = 20.0) -> dict[str, Any]:
    """Archive ``files`` objects both ways under moto with ``latency_ms`` per S3 call; returns the calls per file
    of each, their ratio, the most calls in flight, and files archived per second."""
    if files < 1:
        raise ValueError("files must be at least 1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "benchmark")
    layout = Layout()
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1", config=Config(max_pool_connections=32))
        client.create_bucket(Bucket=BUCKET)
        ours_sizes = _seed(client, OURS_PREFIX, files)
        reference_keys = list(_seed(client, REFERENCE_PREFIX, files))
        counter = CallCounter(client)
        _simulate_latency(client, latency_ms / 1000)

        counter.reset()
        moves = [Move(key, layout.archived_key(key), size) for key, size in ours_sizes.items()]
        started = time.perf_counter()
        report = move_objects(S3Store(BUCKET, client=client), moves)
        ours_seconds = time.perf_counter() - started
        ours_calls, ours_ops, max_in_flight = counter.total, dict(counter.ops), counter.max_in_flight
        if report.failed or len(report.moved) != files:
            raise RuntimeError(f"archiving failed: {report.failed}")

        counter.reset()
        started = time.perf_counter()
        _reference_archive(client, reference_keys, layout)
        reference_seconds = time.perf_counter() - started
        reference_calls, reference_ops = counter.total, dict(counter.ops)

        if _remaining(client, "raw-json-data/") or _remaining(client, layout.processed_prefix) != 2 * files:
            raise RuntimeError("the archive is incomplete")

    ours = ours_calls / files
    reference = reference_calls / files
    return {
        "benchmark": "s3_calls_per_archived_file",
        "ours_calls_per_file": ours,
        "reference_calls_per_file": reference,
        "ratio": ours / reference,
        "max_in_flight": max_in_flight,
        "files": files,
        "simulated_latency_ms": latency_ms,
        "ours_files_per_s": round(files / ours_seconds, 1),
        "reference_files_per_s": round(files / reference_seconds, 1),
        "ours_operations": ours_ops,
        "reference_operations": reference_ops,
    }


def main(argv: list[str] | None = None) -> None:
    """Command line: ``--files N`` (default 1000); prints one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000, help="raw objects to archive (default 1000)")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.files)))


if __name__ == "__main__":
    main()
