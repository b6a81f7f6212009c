"""JSON shape scan: how fast the pre-check scans a raw file that starts with ``[``
(:class:`runtime.jobs.json_shape.JsonShapeScan`, one core, 1 MiB chunks, as :func:`runtime.jobs.precheck.check_file`
streams it), on about ``megabytes`` MB of records as :mod:`runtime.sample_data` generates them, laid out five ways:
one compact JSON array, one array with a record per line, one pretty-printed array (``indent=2``), JSON Lines whose
first line is an array, and one compact array with ``\\u`` escapes in every record (a chunk with a backslash
takes the slower, escape-aware way). The reference finds the same top-level values with Python's own JSON parser
(``json.JSONDecoder.raw_decode`` over the whole text, C-accelerated): exact too, but it decodes the whole file and
holds every record in memory, so the peak memory of both is reported as well.

    python -m bench.json_shape_scan [--megabytes 50] [--quick]
"""

from __future__ import annotations

import argparse
import json
import random
import time
import tracemalloc
from collections.abc import Callable
from typing import TypeVar

from runtime.jobs.json_shape import scan_bytes
from runtime.sample_data import record

#: A scan of a 50 MB file may hold a few chunks at a time, never the file.
MEMORY_TARGET_MB = 16
T = TypeVar("T")


def layouts(megabytes: int) -> dict[str, bytes]:
    """The five files, each about ``megabytes`` MB of the same records."""
    rng = random.Random(11)
    records, size = [], 0
    while size < megabytes * 1_000_000:
        item = record(rng, len(records))
        records.append(item)
        size += len(json.dumps(item)) + 2
    return {
        "one compact JSON array": json.dumps(records).encode(),
        "one JSON array, a record per line": ("[\n" + ",\n".join(json.dumps(r) for r in records) + "\n]\n").encode(),
        "one pretty-printed JSON array": json.dumps(records, indent=2).encode(),
        "JSON Lines whose first line is an array": (json.dumps(records[:2]) + "\n" + "".join(
            json.dumps(r) + "\n" for r in records[2:])).encode(),
        "one compact JSON array, \\u escapes in every record": json.dumps(
            [{**r, "some_nested_struct": {**r["some_nested_struct"], "field1": "café ½ — ünïcødé"}} for r in records]
        ).encode(),
    }


def reference_values(data: bytes) -> int:
    """The top-level values of ``data`` found by decoding them all with the standard library."""
    text, decoder, at, values = data.decode(), json.JSONDecoder(), 0, 0
    while True:
        while at < len(text) and text[at] in " \t\r\n":
            at += 1
        if at >= len(text):
            return values
        _value, at = decoder.raw_decode(text, at)
        values += 1


def measure(function: Callable[[bytes], T], data: bytes, rounds: int) -> tuple[float, float, T]:
    """Best MB/s of ``rounds`` runs, the peak traced memory in MB of one more run, and its result."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        function(data)
        best = min(best, time.perf_counter() - started)
    tracemalloc.start()
    try:
        result = function(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return len(data) / 1e6 / best, peak / 1e6, result


def run(megabytes: int = 50, rounds: int = 3, quick: bool = False) -> dict:
    """Scan each layout with ours and with the reference; MB/s (best of ``rounds``) and peak memory of each."""
    if quick:
        megabytes, rounds = 5, 2
    results, rows = {}, []
    for name, data in layouts(megabytes).items():
        ours_rate, ours_mb, shape = measure(scan_bytes, data, rounds)
        reference_rate, reference_mb, values = measure(reference_values, data, rounds)
        assert shape.values == values and shape.problem is None, (name, shape, values)
        results[name] = {"megabytes": round(len(data) / 1e6, 1), "layout": shape.layout,
                         "values": values, "ours_mb_per_s": round(ours_rate, 1),
                         "reference_mb_per_s": round(reference_rate, 1), "ours_peak_mb": round(ours_mb, 1),
                         "reference_peak_mb": round(reference_mb, 1)}
        rows.append({"figure": f"MB/s scanned: {name} ({len(data) / 1e6:.0f} MB, read as {shape.layout})",
                     "ours": round(ours_rate, 1), "reference": round(reference_rate, 1), "unit": "MB/s",
                     "higher_is_better": True})
        rows.append({"figure": f"peak memory of the scan: {name}", "ours": round(ours_mb, 1),
                     "reference": round(reference_mb, 1), "unit": "MB", "higher_is_better": False,
                     "target": f"≤ {MEMORY_TARGET_MB} MB", "met": ours_mb <= MEMORY_TARGET_MB})
    return {"benchmark": "json_shape_scan", "megabytes": megabytes, "chunk_bytes": 1 << 20, "layouts": results,
            "report_rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=int, default=50)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(json.dumps(run(args.megabytes, quick=args.quick), indent=2))


if __name__ == "__main__":
    main()
