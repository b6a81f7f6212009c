"""Lister memory: peak RSS of ``mldp list`` registering N files from a local directory (default 1,000,000), in a
child process so the figure is the lister's alone. The reference design collects every path in a Python list before
inserting, so we also measure that list for the same keys (``reference_list_mb``) for comparison.

    python -m bench.lister_memory [--files 1000000] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

from bench.pg import bench_server, fresh_database

ROOT = Path(__file__).resolve().parents[1]
PER_DIR = 1000


def make_files(root: Path, count: int) -> None:
    """``count`` small files under the historical prefix, 1,000 per folder (reused if already there)."""
    marker = root / f".complete-{count}"
    if marker.exists():
        return
    shutil.rmtree(root, ignore_errors=True)
    base = root / "raw-json-data" / "all_historical_files"
    for start in range(0, count, PER_DIR):
        folder = base / f"{start // PER_DIR:05d}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(start, min(start + PER_DIR, count)):
            fd = os.open(folder / f"part-{i:08d}.json", os.O_CREAT | os.O_WRONLY, 0o644)
            os.write(fd, b"{}\n")
            os.close(fd)
    marker.touch()


def reference_list_megabytes(root: Path, count: int) -> float:
    """Memory of the reference's ALL_RAW_JSON_PATHS list (every s3:// path held at once)."""
    tracemalloc.start()
    paths = [f"s3://your-ml-data-lake-bucket/raw-json-data/all_historical_files/{i // PER_DIR:05d}/part-{i:08d}.json"
             for i in range(count)]
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del paths
    return peak / 1e6


def run(files: int = 1_000_000, keep: bool = True) -> dict:
    """Register ``files`` generated local files with ``mldp list`` in a child process; its peak RSS and rate."""
    data = ROOT / ".mldp" / f"bench-lister-{files}"
    started = time.perf_counter()
    make_files(data, files)
    setup_seconds = time.perf_counter() - started
    with bench_server() as admin, fresh_database(admin) as url:
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "runtime.cli", "list", "--store", str(data), "--db", url, "--json",
             "--no-metrics"], capture_output=True, text=True, check=True, cwd=ROOT)
        seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    if not keep:
        shutil.rmtree(data, ignore_errors=True)
    return {
        "benchmark": "lister_memory",
        "files": files,
        "registered": summary["new"],
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "target_mb": 300,
        "seconds": round(seconds, 1),
        "keys_per_s": round(files / seconds),
        "reference_path_list_mb": round(reference_list_megabytes(data, files), 1),
        "setup_seconds": round(setup_seconds, 1),
    }


def main() -> None:
    """Command line: ``--files N``, ``--discard``; prints one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=1_000_000)
    parser.add_argument("--discard", action="store_true", help="delete the generated files afterwards")
    args = parser.parse_args()
    print(json.dumps(run(args.files, keep=not args.discard)))


if __name__ == "__main__":
    main()
