"""``python -m bench.report``: the BENCHMARKS.md it writes, from fake results (no benchmark is run here)."""

from __future__ import annotations

import datetime as dt
import json

from bench import report
from bench.report import Figure, figures_of, generic_figures, render_report

WHEN = dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC)
MACHINE = {"CPU": "Test CPU 3000", "cores": "2", "memory": "4.0 GiB", "OS": "Debian 12", "Python": "3.11.7",
           "Java": 'openjdk version "17.0.15"', "PostgreSQL": "postgres (PostgreSQL) 15.18"}
RESULTS = {
    "registration": {"benchmark": "registration", "keys": 200_000, "reference_keys_per_s": 2_000,
                     "ours_keys_per_s": 50_000, "ratio": 25.0, "ours_rerun_keys_per_s": 80_000, "chunk_size": 5000},
    "claim": {"benchmark": "claim", "batch_size": 1000, "pending_fraction": 0.1, "results": [
        {"rows": 100_000, "ours_ms": 20.0, "reference_ms": 30.0, "ratio": 1.5, "uses_partial_index": True,
         "plan": "Limit -> Index Scan using idx_fps_claimable"},
        {"rows": 1_000_000, "ours_ms": 25.0, "reference_ms": 20.0, "ratio": 0.8, "uses_partial_index": True,
         "plan": "..."}]},
    "lister_memory": {"benchmark": "lister_memory", "files": 1_000_000, "registered": 1_000_000,
                      "peak_rss_mb": 95.5, "target_mb": 300, "seconds": 120.0, "keys_per_s": 8333,
                      "reference_path_list_mb": 191.0, "setup_seconds": 60.0},
    "s3_calls_per_archive": {"benchmark": "s3_calls_per_archived_file", "ours_calls_per_file": 1.001,
                             "reference_calls_per_file": 2.0, "ratio": 0.5005, "max_in_flight": 16, "files": 1000,
                             "simulated_latency_ms": 20.0, "ours_files_per_s": 560.0, "reference_files_per_s": 22.4},
    "batch_finish": {"benchmark": "batch_finish", "files": 10_000, "reference_seconds": 12.0, "ours_seconds": 0.4,
                     "ratio": 30.0},
    "newcomer": {"ours_rows_per_s": 10.0, "reference_rows_per_s": 5.0, "target": "2x", "met": True},
    "broken": {"error": "exit status 1: RuntimeError: boom"},
}


def table_rows(markdown: str) -> list[list[str]]:
    rows = [line for line in markdown.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in rows[1:]]


def test_the_report_has_every_figure_with_reference_ratio_target_and_verdict():
    markdown = render_report(RESULTS, MACHINE, WHEN, "full", {"registration": {"arguments": {"keys": 200_000},
                                                                               "seconds": 61.2}})
    rows = table_rows(markdown)
    assert rows == [
        ["registration", "keys registered per second (200,000 new keys)", "50,000 keys/s", "2,000 keys/s", "25.0x",
         "≥ 100,000 keys/s and ≥ 15x reference", "**no**"],
        ["registration", "keys per second on a re-run (all unchanged)", "80,000 keys/s", "-", "-", "-", "-"],
        ["claim", "claim 1,000 files among 100,000 tracked (10% claimable), median", "20 ms", "30 ms", "1.5x",
         "faster than reference, plan uses idx_fps_claimable", "yes"],
        ["claim", "claim 1,000 files among 1,000,000 tracked (10% claimable), median", "25 ms", "20 ms", "0.8x",
         "faster than reference, plan uses idx_fps_claimable", "**no**"],
        ["lister_memory", "peak RSS of `mldp list` registering 1,000,000 files", "95.5 MB", "191 MB", "2.0x",
         "≤ 300 MB (reference figure: its in-memory path list alone)", "yes"],
        ["lister_memory", "keys listed and registered per second", "8,333 keys/s", "-", "-", "-", "-"],
        ["s3_calls_per_archive", "S3 API calls per archived file (1,000 files)", "1.001 calls", "2 calls", "2.0x",
         "≤ 2.001 (issue 3)", "yes"],
        ["s3_calls_per_archive", "S3 calls in flight at once (archive parallelism)", "16", "1", "16.0x",
         "≥ 16 in flight", "yes"],
        ["s3_calls_per_archive", "files archived per second (20 ms simulated latency per call)", "560 files/s",
         "22.4 files/s", "25.0x", "-", "-"],
        ["batch_finish", "record the outcomes of a 10,000-file batch (reference: one UPDATE and COMMIT per file)",
         "0.4 s", "12 s", "30.0x", "≥ 10x faster than reference", "yes"],
        ["newcomer", "rows per s", "10", "5", "2.0x", "2x", "yes"],
        ["broken", "FAILED: exit status 1: RuntimeError: boom", "-", "-", "-", "-", "**no**"],
    ]
    assert "Targets met: 6 of 9." in markdown
    assert "- date: 2024-05-01 12:30 UTC" in markdown and "- mode: full" in markdown
    for key, value in MACHINE.items():
        assert f"- {key}: {value}" in markdown
    assert '<details><summary>registration: run(**{"keys": 200000}), 61 s</summary>' in markdown
    assert "Index Scan using idx_fps_claimable" in markdown  # raw results kept, plans included
    assert "do not edit by hand" in markdown


def test_ratio_is_how_many_times_better_ours_is_whichever_way_the_unit_points():
    assert Figure("b", "rate", 50.0, 10.0, higher_is_better=True).ratio == 5.0
    assert Figure("b", "cost", 2.0, 10.0, higher_is_better=False).ratio == 5.0
    assert Figure("b", "cost", 20.0, 10.0, higher_is_better=False).ratio == 0.5
    assert Figure("b", "alone", 2.0).ratio is None and Figure("b", "zero", 0.0, 1.0).ratio is None


def test_unknown_benchmarks_are_reported_from_their_own_rows_or_figure_pairs():
    rows = generic_figures("x", {"report_rows": [{"figure": "f", "ours": 3, "reference": 6, "unit": "s",
                                                  "higher_is_better": False, "target": "< 5 s", "met": True}]})
    assert rows == [Figure("x", "f", 3, 6, "s", False, "< 5 s", True)] and rows[0].ratio == 2.0
    [pair] = generic_figures("y", {"ours_seconds": 1.0, "reference_seconds": 4.0, "note": "n"})
    assert (pair.figure, pair.higher_is_better, pair.ratio) == ("seconds", False, 4.0)
    [nothing] = generic_figures("z", {"answer": 42})
    assert nothing.ours is None and "42" in nothing.target


def test_a_result_of_an_unexpected_shape_is_shown_not_crashed_on():
    [row] = figures_of("registration", {"keys": 5})
    assert row.figure.startswith("unexpected result shape") and row.met is False


def test_from_json_rerenders_saved_results_without_running(tmp_path, monkeypatch):
    def refuse(*_args, **_kwargs):
        raise AssertionError("no benchmark may run")

    monkeypatch.setattr(report, "run_isolated", refuse)
    saved = tmp_path / "results.json"
    saved.write_text(json.dumps({"results": {"batch_finish": RESULTS["batch_finish"]}, "runs": {},
                                 "mode": "quick (--quick: small sizes)", "machine": MACHINE,
                                 "date": WHEN.isoformat()}))
    output = tmp_path / "BENCHMARKS.md"
    assert report.main(["--from-json", str(saved), "--output", str(output)]) == 0
    text = output.read_text()
    assert text == render_report({"batch_finish": RESULTS["batch_finish"]}, MACHINE, WHEN,
                                 "quick (--quick: small sizes)")
    assert "- mode: quick (--quick: small sizes)" in text


def test_every_benchmark_module_is_found_in_report_order():
    names = report.discover()
    assert {"registration", "claim", "lister_memory", "s3_calls_per_archive"} <= set(names)
    assert "report" not in names and "pg" not in names
    known = [n for n in report.ORDER if n in names]
    assert names[:len(known)] == known
    assert report.arguments("lister_memory", quick=False) == {"files": 1_000_000}
    assert report.arguments("lister_memory", quick=True)["files"] < 1_000_000


def test_a_benchmark_that_cannot_run_becomes_an_error_result():
    result = report.run_isolated("no_such_benchmark", {})
    assert result["error"].startswith("exit status 1:") and "no_such_benchmark" in result["error"]
