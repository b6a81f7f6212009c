"""Event path latency: seconds from an upload (``PutObject`` returned) to its key being PENDING in the tracking
table, with the event consumer running, all against moto in one process: the bucket sends its events to
EventBridge, a rule with the stack's pattern (:func:`platform_contract.discovery.object_created_pattern`) routes
them to an SQS queue, and ``drain_queue`` (``mldp list --from-queue``) long-polls it in a thread. A poller reads
the tracking table every 10 ms.

The reference is the scheduled listing: a file uploaded at a random moment waits on average half the schedule
interval (the workflow's default, every 15 minutes: 450 s), plus the listing itself, measured in the same run on the
same keys (``run_lister`` over the same bucket). moto adds no network latency: on AWS, add EventBridge's and SQS's
delivery (typically well under a second, not measured here) and, with the FileEventConsumer job, up to its schedule
interval (5 minutes) plus its start.

    python -m bench.event_latency [--files 200] [--interval 0.05]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
from typing import Any

from bench.pg import bench_server, fresh_database

BUCKET = "mldp-bench-events"
SCHEDULE_SECONDS = 15 * 60


def _route(session_clients: dict[str, Any]) -> str:
    """Bucket with EventBridge notifications, a rule with the stack's pattern, and its SQS target; the queue URL."""
    from platform_contract.discovery import object_created_pattern

    s3, events, sqs = session_clients["s3"], session_clients["events"], session_clients["sqs"]
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_notification_configuration(Bucket=BUCKET,
                                             NotificationConfiguration={"EventBridgeConfiguration": {}})
    url = sqs.create_queue(QueueName="mldp-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="raw-object-created", EventPattern=json.dumps(object_created_pattern(BUCKET,
                                                                                             "raw-json-data/")))
    events.put_targets(Rule="raw-object-created", Targets=[{"Id": "queue", "Arn": arn}])
    return url


def run(files: int = 200, interval: float = 0.05) -> dict:
    """Upload ``files`` keys one every ``interval`` seconds with the consumer running; latency figures."""
    import boto3
    import psycopg2
    from moto import mock_aws

    from runtime.jobs.events import drain_queue
    from runtime.jobs.lister import run_lister
    from runtime.storage.s3 import S3Store

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ[name] = "bench"
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    with bench_server() as server, fresh_database(server) as url, mock_aws():
        clients = {name: boto3.client(name, region_name="us-east-1") for name in ("s3", "events", "sqs")}
        queue_url = _route(clients)
        store = S3Store(BUCKET, client=clients["s3"])
        consumer_conn, poll_conn = psycopg2.connect(url), psycopg2.connect(url)
        stop = threading.Event()
        uploaded: dict[str, float] = {}
        pending_at: dict[str, float] = {}

        def consume() -> None:
            while not stop.is_set():
                drain_queue(clients["sqs"], queue_url, store, consumer_conn, bucket=BUCKET, poll_seconds=1,
                            max_seconds=2, stop_when_empty=False)

        def poll() -> None:
            while not stop.is_set() or len(pending_at) < len(uploaded):
                with poll_conn.cursor() as cur:
                    cur.execute("SELECT s3_key FROM file_processing_status WHERE processing_status = 'PENDING'")
                    seen = time.perf_counter()
                    for (key,) in cur.fetchall():
                        pending_at.setdefault(key, seen)
                poll_conn.commit()
                if stop.is_set() and time.perf_counter() - stop_time[0] > 30:
                    return
                time.sleep(0.01)

        stop_time = [0.0]
        threads = [threading.Thread(target=consume, daemon=True), threading.Thread(target=poll, daemon=True)]
        for thread in threads:
            thread.start()
        for i in range(files):
            key = f"raw-json-data/2026/week49/drop-{i:05d}.json"
            clients["s3"].put_object(Bucket=BUCKET, Key=key, Body=b'{"id": 1}\n')
            uploaded[key] = time.perf_counter()
            time.sleep(interval)
        deadline = time.perf_counter() + 60
        while len(pending_at) < files and time.perf_counter() < deadline:
            time.sleep(0.05)
        stop.set()
        stop_time[0] = time.perf_counter()
        for thread in threads:
            thread.join(timeout=30)
        latencies = sorted(pending_at[k] - t for k, t in uploaded.items() if k in pending_at)
        with psycopg2.connect(url) as conn:
            with conn.cursor() as cur:
                cur.execute("TRUNCATE file_processing_status CASCADE")
            conn.commit()
            started = time.perf_counter()
            run_lister(store, conn, show_progress=False)
            listing_seconds = time.perf_counter() - started
        consumer_conn.close()
        poll_conn.close()
    median = statistics.median(latencies) if latencies else None
    reference = SCHEDULE_SECONDS / 2 + listing_seconds
    return {
        "benchmark": "event_latency", "files": files, "upload_interval_seconds": interval,
        "registered": len(latencies), "median_seconds": round(median, 3) if median is not None else None,
        "p95_seconds": round(latencies[int(0.95 * (len(latencies) - 1))], 3) if latencies else None,
        "max_seconds": round(latencies[-1], 3) if latencies else None,
        "reference_mean_wait_seconds": round(reference, 1), "reference_listing_seconds": round(listing_seconds, 3),
        "report_rows": [{
            "figure": f"upload -> PENDING, median of {files} uploads (events + consumer, moto; reference: scheduled "
                      "listing every 15 min, mean wait = half the interval + the listing)",
            "ours": round(median, 3) if median is not None else None, "reference": round(reference, 1),
            "unit": "s", "higher_is_better": False, "target": "seconds, not the schedule interval",
            "met": median is not None and len(latencies) == files and median < 10,
        }, {
            "figure": f"upload -> PENDING, slowest of {files} uploads",
            "ours": round(latencies[-1], 3) if latencies else None, "reference": float(SCHEDULE_SECONDS),
            "unit": "s", "higher_is_better": False, "target": "-", "met": None,
        }],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.05)
    args = parser.parse_args()
    print(json.dumps(run(args.files, args.interval), indent=2))


if __name__ == "__main__":
    main()
