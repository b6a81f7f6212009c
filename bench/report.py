"""Run every benchmark in ``bench/`` and write ``BENCHMARKS.md``: each figure next to the reference approach's figure
from the same run, their ratio, the target and whether it is met, the machine and the date.

    python -m bench.report [--quick] [--only NAME ...] [--output BENCHMARKS.md]
    python -m bench.report --from-json results.json     # re-render saved results without running anything

A benchmark is a module of ``bench/`` with a ``run(**kwargs) -> dict`` function. Each runs in a child process of its
own, so a figure such as the lister's peak memory is not mixed with another benchmark's processes. The modules this
report knows get sizes (full, or ``--quick``) and a table row layout below (:data:`KNOWN`); any other module is run
with its defaults (``quick=True`` in quick mode if its ``run`` takes it) and reported either from the
``report_rows`` list it returns (dicts with ``figure, ours, reference, unit, higher_is_better, target, met``) or from
its ``ours_*`` / ``reference_*`` figure pairs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import inspect
import json
import os
import pkgutil
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: Modules of ``bench/`` that are helpers, not benchmarks.
NOT_BENCHMARKS = {"report", "pg"}
#: Report order of the known benchmarks; others follow alphabetically.
ORDER = ("registration", "claim", "lister_memory", "s3_calls_per_archive", "processor_throughput", "batch_finish")


@dataclass
class Figure:
    """One row of the report: our figure against the reference's, and the target."""

    benchmark: str
    figure: str
    ours: float | None
    reference: float | None = None
    unit: str = ""
    higher_is_better: bool = True
    target: str = "-"
    met: bool | None = None

    @property
    def ratio(self) -> float | None:
        """How many times better ours is than the reference (> 1: ours is better), whatever the direction."""
        if self.ours is None or self.reference is None or not self.ours or not self.reference:
            return None
        return self.ours / self.reference if self.higher_is_better else self.reference / self.ours


@dataclass
class Benchmark:
    """How the report runs one known benchmark module and reads its result."""

    full: dict[str, Any] = field(default_factory=dict)
    quick: dict[str, Any] = field(default_factory=dict)
    figures: Callable[[dict], list[Figure]] | None = None


# --- the known benchmarks: sizes and rows ---------------------------------------------------------------------


def _registration(r: dict) -> list[Figure]:
    # issue 2's targets: >= 100,000 new keys/s and >= 15x the row-by-row reference in the same run
    ratio_target, rate_target = 15, 100_000
    ours = Figure("registration", f"keys registered per second ({r['keys']:,} new keys)", r["ours_keys_per_s"],
                  r["reference_keys_per_s"], "keys/s", True,
                  f"≥ {rate_target:,} keys/s and ≥ {ratio_target}x reference")
    ours.met = ours.ratio is not None and ours.ratio >= ratio_target and r["ours_keys_per_s"] >= rate_target
    rerun = Figure("registration", "keys per second on a re-run (all unchanged)", r["ours_rerun_keys_per_s"],
                   None, "keys/s")
    return [ours, rerun]


def _claim(r: dict) -> list[Figure]:
    rows = []
    for result in r["results"]:
        row = Figure("claim", f"claim {r['batch_size']:,} files among {result['rows']:,} tracked "
                              f"({r['pending_fraction']:.0%} claimable), median", result["ours_ms"],
                     result["reference_ms"], "ms", False, "faster than reference, plan uses idx_fps_claimable")
        row.met = bool(result["uses_partial_index"]) and (row.ratio or 0) > 1
        rows.append(row)
    return rows


def _lister_memory(r: dict) -> list[Figure]:
    memory = Figure("lister_memory", f"peak RSS of `mldp list` registering {r['files']:,} files",
                    r["peak_rss_mb"], r["reference_path_list_mb"], "MB", False,
                    f"≤ {r['target_mb']} MB (reference figure: its in-memory path list alone)")
    memory.met = r["peak_rss_mb"] <= r["target_mb"] and r["registered"] == r["files"]
    rate = Figure("lister_memory", "keys listed and registered per second", r["keys_per_s"], None, "keys/s")
    return [memory, rate]


def _s3_calls(r: dict) -> list[Figure]:
    calls = Figure("s3_calls_per_archive", f"S3 API calls per archived file ({r['files']:,} files)",
                   r["ours_calls_per_file"], r["reference_calls_per_file"], "calls", False,
                   "≤ 2.001 (issue 3)")
    calls.met = r["ours_calls_per_file"] <= 2.001
    flight = Figure("s3_calls_per_archive", "S3 calls in flight at once (archive parallelism)", r["max_in_flight"],
                    1, "", True, "≥ 16 in flight", r["max_in_flight"] >= 16)
    rows = [calls, flight]
    if "ours_files_per_s" in r:
        rows.append(Figure("s3_calls_per_archive",
                           f"files archived per second ({r['simulated_latency_ms']:g} ms simulated latency per call)",
                           r["ours_files_per_s"], r["reference_files_per_s"], "files/s"))
    return rows


def _processor_throughput(r: dict) -> list[Figure]:
    speed = Figure("processor_throughput", f"MB/s converted end to end ({r['input_mb']:,} MB in {r['files']} files; "
                                           "reference: bare Spark read + partitionBy write, no tracking)",
                   r["ours_mb_per_s"], r["bare_spark_mb_per_s"], "MB/s", True,
                   "≥ 0.8x bare Spark (issue 3)")
    speed.met = speed.ratio is not None and speed.ratio >= 0.8
    files = Figure("processor_throughput", "Parquet files per partition written by one batch",
                   r["max_parquet_files_per_partition_per_batch"], r["bare_parquet_files_max_per_partition"],
                   "", False, "1 per partition per batch", r["max_parquet_files_per_partition_per_batch"] <= 1)
    return [speed, files]


def _batch_finish(r: dict) -> list[Figure]:
    row = Figure("batch_finish", f"record the outcomes of a {r['files']:,}-file batch (reference: one UPDATE and "
                                 "COMMIT per file)", r["ours_seconds"], r["reference_seconds"], "s", False,
                 "≥ 10x faster than reference")
    row.met = row.ratio is not None and row.ratio >= 10
    return [row]


KNOWN: dict[str, Benchmark] = {
    "registration": Benchmark({"keys": 200_000}, {"keys": 20_000}, _registration),
    "claim": Benchmark({"row_counts": [100_000, 1_000_000]}, {"row_counts": [10_000, 100_000], "repeats": 3}, _claim),
    "lister_memory": Benchmark({"files": 1_000_000}, {"files": 20_000}, _lister_memory),
    "s3_calls_per_archive": Benchmark({"files": 1000}, {"files": 200}, _s3_calls),
    "processor_throughput": Benchmark({"megabytes": 200, "files": 40}, {"megabytes": 20, "files": 8},
                                      _processor_throughput),
    "batch_finish": Benchmark({"files": 10_000}, {"files": 2000}, _batch_finish),
}


def generic_figures(name: str, result: dict) -> list[Figure]:
    """Rows of a benchmark this report has no layout for: its ``report_rows``, else its ``ours_X`` /
    ``reference_X`` pairs (higher is better when X names a rate: ``per_s``, ``per_second``, ``throughput``)."""
    if isinstance(result.get("report_rows"), list):
        keys = ("figure", "ours", "reference", "unit", "higher_is_better", "target", "met")
        return [Figure(name, **{k: row[k] for k in keys if k in row}) for row in result["report_rows"]]
    rows = []
    for key, value in result.items():
        if not key.startswith("ours_") or not isinstance(value, (int, float)):
            continue
        suffix = key[len("ours_"):]
        reference = result.get(f"reference_{suffix}")
        rate = any(t in suffix for t in ("per_s", "per_second", "throughput", "rate"))
        rows.append(Figure(name, suffix.replace("_", " "), value,
                           reference if isinstance(reference, (int, float)) else None, "", rate,
                           str(result.get("target", "-")), result.get("met")))
    return rows or [Figure(name, "result (no ours_/reference_ figures)", None, target=json.dumps(result)[:200])]


def figures_of(name: str, result: dict) -> list[Figure]:
    """The table rows of one benchmark's result (a failed run is one row saying so)."""
    if "error" in result:
        return [Figure(name, f"FAILED: {result['error']}", None, met=False)]
    known = KNOWN.get(name)
    try:
        return known.figures(result) if known and known.figures else generic_figures(name, result)
    except (KeyError, TypeError) as exc:  # the module's result changed shape: show it rather than crash
        return [Figure(name, f"unexpected result shape ({exc!r})", None, met=False)]


# --- rendering ------------------------------------------------------------------------------------------------


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        text = f"{value:,.3f}".rstrip("0") if abs(value) < 10 else f"{value:,.1f}"
    else:
        text = f"{int(value):,}"
    return f"{text} {unit}".strip()


def _met(value: bool | None) -> str:
    return {True: "yes", False: "**no**", None: "-"}[value]


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_report(results: dict[str, dict], machine: dict[str, str], when: dt.datetime, mode: str,
                  runs: dict[str, dict] | None = None) -> str:
    """``BENCHMARKS.md`` for ``results`` (benchmark name -> its ``run()`` result, or ``{"error": ...}``); ``runs``
    gives each benchmark's ``arguments`` and ``seconds`` when known."""
    runs = runs or {}
    lines = [
        "# Benchmarks",
        "",
        "Generated by `python -m bench.report` (`make bench`); do not edit by hand. Each figure is measured next to "
        "the reference approach of `reference-design.txt` in the same run, on the same machine and database. "
        "**ratio** is how many times better ours is (> 1 = better), whichever way the unit points. The database "
        "server is local (no network round trip), which flatters the reference's one-statement-per-file methods "
        "compared with RDS.",
        "",
        f"- date: {when.astimezone(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- mode: {mode}",
        *[f"- {key}: {value}" for key, value in machine.items()],
        "",
        "| benchmark | figure | ours | reference | ratio | target | met? |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for name, result in results.items():
        for row in figures_of(name, result):
            ratio = "-" if row.ratio is None else f"{row.ratio:,.1f}x"
            lines.append("| " + " | ".join(_cell(c) for c in (
                row.benchmark, row.figure, _number(row.ours, row.unit), _number(row.reference, row.unit), ratio,
                row.target, _met(row.met))) + " |")
    met = [r.met for name, result in results.items() for r in figures_of(name, result) if r.met is not None]
    lines += ["", f"Targets met: {sum(met)} of {len(met)}.", "", "## Raw results", ""]
    for name, result in results.items():
        run = runs.get(name, {})
        took = f", {run['seconds']:,.0f} s" if "seconds" in run else ""
        called = f"run(**{json.dumps(run['arguments'])})" if "arguments" in run else "run()"
        lines += [f"<details><summary>{name}: {called}{took}</summary>", "", "```json",
                  json.dumps(result, indent=2, default=str), "```", "", "</details>", ""]
    return "\n".join(lines).rstrip() + "\n"


# --- the machine ----------------------------------------------------------------------------------------------


def _first_line(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def _proc_field(path: str, name: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(name):
                return line.split(":", 1)[1].strip() if ":" in line else line.split("=", 1)[1].strip().strip('"')
    except OSError:
        return None
    return None


def _postgres_version() -> str:
    url = os.environ.get("BENCH_DATABASE_SERVER_URL")
    if url:
        try:
            import psycopg2

            conn = psycopg2.connect(url)
            with conn.cursor() as cur:
                cur.execute("SELECT version()")
                version = cur.fetchone()[0]
            conn.close()
            return version.split(" on ")[0]
        except Exception as exc:  # the report still gets written
            return f"unknown ({exc.__class__.__name__})"
    try:
        from runtime.db.embedded import find_server_binaries

        return _first_line([str(find_server_binaries() / "postgres"), "--version"])
    except Exception:
        return "unknown"


def machine_info() -> dict[str, str]:
    """CPU model, cores, memory, OS, Python, Java and PostgreSQL versions of this machine."""
    memory_kb = _proc_field("/proc/meminfo", "MemTotal")
    memory = f"{int(memory_kb.split()[0]) / 1024 / 1024:.1f} GiB" if memory_kb else "unknown"
    os_name = _proc_field("/etc/os-release", "PRETTY_NAME") or platform.system()
    return {
        "CPU": _proc_field("/proc/cpuinfo", "model name") or platform.processor() or "unknown",
        "cores": str(os.cpu_count()),
        "memory": memory,
        "OS": f"{os_name} (kernel {platform.release()})",
        "Python": platform.python_version(),
        "Java": _first_line(["java", "-version"]),
        "PostgreSQL": _postgres_version(),
    }


# --- running --------------------------------------------------------------------------------------------------


def discover() -> list[str]:
    """The benchmark modules of ``bench/`` (those with a ``run`` function), in report order."""
    import bench

    names = [m.name for m in pkgutil.iter_modules(bench.__path__) if m.name not in NOT_BENCHMARKS]
    found = [n for n in names if callable(getattr(importlib.import_module(f"bench.{n}"), "run", None))]
    return sorted(found, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))


def arguments(name: str, quick: bool) -> dict[str, Any]:
    """The keyword arguments of ``run`` for ``name`` in this mode."""
    if name in KNOWN:
        return dict(KNOWN[name].quick if quick else KNOWN[name].full)
    run = importlib.import_module(f"bench.{name}").run
    return {"quick": True} if quick and "quick" in inspect.signature(run).parameters else {}


def run_isolated(name: str, kwargs: dict[str, Any]) -> dict:
    """Run ``bench.<name>.run(**kwargs)`` in a child process; its result, or ``{"error": ...}``."""
    code = (f"import json, sys; from bench import {name} as m; "
            "print('@@RESULT@@' + json.dumps(m.run(**json.loads(sys.argv[1])), default=str))")
    done = subprocess.run([sys.executable, "-c", code, json.dumps(kwargs)], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("@@RESULT@@"):
            return json.loads(line[len("@@RESULT@@"):])
    tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
    return {"error": f"exit status {done.returncode}: {tail}"}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks and write the report; exit status 1 if one of them failed to run."""
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (minutes, not the full figures)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks")
    parser.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"), help="report path (default BENCHMARKS.md)")
    parser.add_argument("--results", default=str(ROOT / ".mldp" / "bench-results.json"),
                        help="where the raw results are saved (default .mldp/bench-results.json)")
    parser.add_argument("--from-json", metavar="FILE", help="render saved results instead of running")
    args = parser.parse_args(argv)

    if args.from_json:
        saved = json.loads(Path(args.from_json).read_text())
        results, runs, mode = saved["results"], saved.get("runs", {}), saved["mode"]
        machine, when = saved["machine"], dt.datetime.fromisoformat(saved["date"])
    else:
        names = discover()
        unknown = sorted(set(args.only or ()) - set(names))
        if unknown:
            parser.error(f"no benchmark named {unknown}; known: {names}")
        mode = "quick (--quick: small sizes)" if args.quick else "full"
        results, runs = {}, {}
        when = dt.datetime.now(dt.UTC)
        for name in [n for n in names if not args.only or n in args.only]:
            kwargs = arguments(name, args.quick)
            print(f"running {name} {json.dumps(kwargs)} ...", file=sys.stderr, flush=True)
            started = time.monotonic()
            results[name] = run_isolated(name, kwargs)
            runs[name] = {"arguments": kwargs, "seconds": round(time.monotonic() - started, 1)}
            print(f"  {name}: {'FAILED ' + results[name]['error'] if 'error' in results[name] else 'done'} "
                  f"({runs[name]['seconds']:.0f} s)", file=sys.stderr, flush=True)
        machine = machine_info()
        Path(args.results).parent.mkdir(parents=True, exist_ok=True)
        Path(args.results).write_text(json.dumps({"results": results, "runs": runs, "mode": mode,
                                                  "machine": machine, "date": when.isoformat()}, indent=2))
    Path(args.output).write_text(render_report(results, machine, when, mode, runs))
    print(f"wrote {args.output}", file=sys.stderr)
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
