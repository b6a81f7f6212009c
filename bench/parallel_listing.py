"""Parallel listing against an S3 endpoint with real per-request latency: ``--parallelism 16`` against one paginator,
the same keys, the same endpoint, the same run; keys per second, ListObjectsV2 calls and peak RSS of each.

The endpoint is a tiny ListObjectsV2 server of our own (in a process of its own, so its work does not share the
listers' interpreter), not moto: moto holds every key as a Python object and sorts them per request, so a million
keys would take minutes to load and seconds per page, measuring moto. This server *generates* its sorted keys
(``raw-json-data/all_historical_files/part-NNNNNNNN.json``: index order is key order), answers ``Prefix``,
``StartAfter``, ``ContinuationToken``, ``MaxKeys``, ``EncodingType=url`` and ``Delimiter='/'`` with ListObjectsV2 XML
as S3 writes it today (checksum elements, URL-encoded keys when botocore asks for them, as it always does), and sleeps
30-100 ms per request (uniform, seeded): the latency of S3 pages of 1,000 keys. boto3 parses the XML as it would
S3's, so the client-side CPU is real. The server counts the requests (the listing processes' clients are not this
process's).

``ours`` is the product path: ``parallel_pages`` with its default rule of listing processes
(:mod:`runtime.jobs.listing_processes`: 2 processes of 8 threads on 2 usable CPUs), through a store made from a spec
as ``open_store`` makes it; its CPU and peak RSS are the listing's parent plus its processes (each process's own
peak, summed). ``threads_only`` is the same with one process (16 threads: the path before the listing processes).

    python -m bench.parallel_listing [--keys 1000000] [--parallelism 16]
"""

from __future__ import annotations

import argparse
import base64
import json
import multiprocessing
import random
import re
import resource
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit
from xml.sax.saxutils import escape

from bench.memory import peak_rss_mb

ROOT = Path(__file__).resolve().parents[1]


BUCKET = "bench-bucket"
PREFIX = "raw-json-data/all_historical_files/"
MAX_CHAR = "\U0010ffff"


class _Keys:
    """The sorted keys, generated: ``PREFIX + part-%08d.json``."""

    def __init__(self, count: int) -> None:
        self.count = count

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> str:
        return f"{PREFIX}part-{index:08d}.json"


def _first_after(keys: _Keys, after: str, inclusive: bool = False) -> int:
    """Index of the first key > ``after`` (>= with ``inclusive``), by bisection over the generated keys."""
    low, high = 0, len(keys)
    while low < high:
        mid = (low + high) // 2
        if keys[mid] < after or (keys[mid] == after and not inclusive):
            low = mid + 1
        else:
            high = mid
    return low


#: Characters ``quote(text, safe="/")`` and XML escaping leave as they are: a name of only these is sent unchanged.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9/_.~-]*")


def _url_name(text: str) -> str:
    """A key as S3 sends it with ``EncodingType=url``, XML-escaped. The generated keys need neither step: the test
    (a C-speed match) spares the endpoint half its CPU, which shares the listers' two cores."""
    return text if _PLAIN_NAME.fullmatch(text) else escape(quote(text, safe="/"))


_MODIFIED = "<LastModified>2026-11-01T00:00:00.000Z</LastModified>"
_REST = ("<ChecksumAlgorithm>CRC64NVME</ChecksumAlgorithm><ChecksumType>FULL_OBJECT</ChecksumType><Size>204800</Size>"
         "<StorageClass>STANDARD</StorageClass></Contents>")


def _page(keys: _Keys, query: dict[str, str]) -> str:
    prefix = query.get("prefix", "")
    max_keys = min(int(query.get("max-keys", "1000")), 1000)
    delimiter = query.get("delimiter")
    after = query.get("start-after", "")
    token = query.get("continuation-token")
    if token:
        after = base64.urlsafe_b64decode(token.encode()).decode()
    index = _first_after(keys, prefix, inclusive=True)
    if after:
        index = max(index, _first_after(keys, after))
    contents, common, last = [], [], None
    if not delimiter:  # a run of consecutive keys: no per-key test of the prefix (the index of its end bounds it)
        stop = min(index + max_keys, _first_after(keys, prefix + MAX_CHAR))
        contents = [keys[i] for i in range(index, stop)]
        last = contents[-1] if contents else None
        index = max(index, stop)
    while index < len(keys) and len(contents) + len(common) < max_keys and delimiter:
        key = keys[index]
        if not key.startswith(prefix):
            break
        rest = key[len(prefix):]
        if delimiter and delimiter in rest:
            folder = prefix + rest[: rest.index(delimiter) + 1]
            common.append(folder)
            last = folder
            index = _first_after(keys, folder + MAX_CHAR)
            continue
        contents.append(key)
        last = key
        index += 1
    truncated = index < len(keys) and keys[index].startswith(prefix) and last is not None
    url = query.get("encoding-type") == "url"  # botocore asks for it on every listing; S3 then encodes the keys
    name = _url_name if url else escape
    parts = [f'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
             f"<Name>{BUCKET}</Name><Prefix>{name(prefix)}</Prefix><KeyCount>{len(contents) + len(common)}</KeyCount>"
             f"<MaxKeys>{max_keys}</MaxKeys>{'<EncodingType>url</EncodingType>' if url else ''}"
             f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>"]
    parts += [f"<Contents><Key>{name(key)}</Key>{_MODIFIED}<ETag>&quot;{hash(key) & 0xFFFFFFFFFFFF:032x}&quot;"
              f"</ETag>{_REST}" for key in contents]
    parts += [f"<CommonPrefixes><Prefix>{name(folder)}</Prefix></CommonPrefixes>" for folder in common]
    if truncated and last is not None:
        parts.append(f"<NextContinuationToken>{base64.urlsafe_b64encode(last.encode()).decode()}"
                     "</NextContinuationToken>")
    parts.append("</ListBucketResult>")
    return "".join(parts)


def serve(port_out: multiprocessing.Queue, count: int, low_ms: float, high_ms: float, calls: Any = None) -> None:
    """Run the endpoint (in its own process) and report its port; ``calls`` (a shared integer) counts requests."""
    keys = _Keys(count)
    rng = random.Random(21)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            with lock:
                delay = rng.uniform(low_ms, high_ms) / 1000
                if calls is not None:
                    calls.value += 1
            started = time.monotonic()
            query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query, keep_blank_values=True).items()}
            body = _page(keys, query).encode()
            time.sleep(max(0.0, delay - (time.monotonic() - started)))
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_out.put(server.server_address[1])
    server.serve_forever()


def list_once(endpoint: str, parallelism: int, fast: bool = True, processes: int | None = None) -> dict:
    """In this process (and its listing processes): list every key under PREFIX through ``endpoint``; keys,
    seconds, CPU and peak RSS of the whole listing."""
    import boto3
    import botocore.session
    from botocore.config import Config

    from runtime.jobs.listing_processes import WorkerUsage
    from runtime.jobs.parallel_listing import parallel_pages
    from runtime.storage.s3 import S3Store
    from runtime.storage.s3_list_parse import S3ClientSpec

    config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2})
    if fast:  # open_store's client (runtime.storage.s3_list_parse.s3_client), made from a spec a child can use
        store = S3Store(BUCKET, spec=S3ClientSpec(endpoint, "us-east-1", config, ("bench", "bench", None)))
    else:  # botocore's own parse and timestamps: the lister before issue 21
        client = boto3.Session(botocore_session=botocore.session.Session()).client(
            "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench",
            aws_secret_access_key="bench", config=config.merge(Config(max_pool_connections=64)))
        store = S3Store(BUCKET, client=client)
    usage: list[WorkerUsage] = []
    started = time.perf_counter()
    pages = store.list_pages(PREFIX) if parallelism <= 1 else parallel_pages(store, PREFIX, parallelism,
                                                                            processes=processes, usage=usage)
    keys = 0
    for page in pages:
        keys += len(page)
    seconds = time.perf_counter() - started
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    parent_rss = peak_rss_mb()
    return {"keys": keys, "seconds": round(seconds, 2), "processes": len(usage) or 1,
            "cpu_seconds": round(own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime, 1),
            "parent_cpu_seconds": round(own.ru_utime + own.ru_stime, 1),
            "keys_per_s": round(keys / seconds),
            "peak_rss_mb": round(parent_rss + sum(u.peak_rss_mb for u in usage), 1),
            "parent_peak_rss_mb": round(parent_rss, 1), "process_peak_rss_mb": [u.peak_rss_mb for u in usage],
            "process_cpu_seconds": [u.cpu_seconds for u in usage]}


def _child(endpoint: str, parallelism: int, calls: Any, fast: bool = True, processes: int | None = None) -> dict:
    before = calls.value
    result = subprocess.run([sys.executable, "-m", "bench.parallel_listing", "--child", endpoint,
                             "--parallelism", str(parallelism), *([] if fast else ["--plain"]),
                             *([] if processes is None else ["--processes", str(processes)])],
                            capture_output=True, text=True, check=True, cwd=ROOT)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["calls"] = calls.value - before
    return dict(figures)


def run(keys: int = 1_000_000, parallelism: int = 16, low_ms: float = 30, high_ms: float = 100) -> dict:
    """One paginator, then ``parallelism`` threads in the default listing processes, then the same threads in one
    process, then one plain boto3 paginator (botocore parsing the pages, as the lister did before issue 21), each in
    a fresh child process, against one endpoint."""
    ports: multiprocessing.Queue = multiprocessing.Queue()
    calls = multiprocessing.Value("q", 0)
    server = multiprocessing.Process(target=serve, args=(ports, keys, low_ms, high_ms, calls), daemon=True)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{ports.get(timeout=30)}"
        single = _child(endpoint, 1, calls)
        parallel = _child(endpoint, parallelism, calls)
        threads = _child(endpoint, parallelism, calls, processes=1)
        plain = _child(endpoint, 1, calls, fast=False)
    finally:
        server.terminate()
        server.join()
    assert single["keys"] == parallel["keys"] == threads["keys"] == plain["keys"] == keys, (single, parallel, plain)
    ratio = parallel["keys_per_s"] / single["keys_per_s"]
    rows = [
        {"figure": f"keys listed per second ({keys:,} keys, {low_ms:g}-{high_ms:g} ms per page; reference: one "
                   "paginator)", "ours": parallel["keys_per_s"], "reference": single["keys_per_s"],
         "unit": "keys/s", "higher_is_better": True, "target": "≥ 8x one paginator", "met": ratio >= 8},
        {"figure": "keys listed per second (reference: one plain boto3 paginator, botocore's own parse: the lister "
                   "before issue 21)", "ours": parallel["keys_per_s"], "reference": plain["keys_per_s"],
         "unit": "keys/s", "higher_is_better": True, "target": "-", "met": None},
        {"figure": f"keys listed per second (reference: the same {parallelism} threads in one process)",
         "ours": parallel["keys_per_s"], "reference": threads["keys_per_s"], "unit": "keys/s",
         "higher_is_better": True, "target": "-", "met": None},
        {"figure": "ListObjectsV2 calls", "ours": parallel["calls"], "reference": single["calls"], "unit": "calls",
         "higher_is_better": False, "target": "-", "met": None},
        {"figure": "peak RSS of the listing (its process plus its listing processes)", "ours": parallel["peak_rss_mb"],
         "reference": single["peak_rss_mb"], "unit": "MB", "higher_is_better": False, "target": "< 300 MB",
         "met": parallel["peak_rss_mb"] < 300},
    ]
    return {"benchmark": "parallel_listing", "keys": keys, "parallelism": parallelism,
            "latency_ms": [low_ms, high_ms], "ours": parallel, "reference": single, "threads_only": threads,
            "plain_paginator": plain,
            "ratio": round(ratio, 2),
            "report_rows": rows}


def main() -> None:
    """Command line: ``--keys N``, ``--parallelism N``; prints one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--parallelism", type=int, default=16)
    parser.add_argument("--child", metavar="ENDPOINT", help=argparse.SUPPRESS)
    parser.add_argument("--plain", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--processes", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(list_once(args.child, args.parallelism, fast=not args.plain, processes=args.processes)))
        return
    print(json.dumps(run(args.keys, args.parallelism)))


if __name__ == "__main__":
    main()
