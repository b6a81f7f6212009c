"""The README's main command, ``mldp demo``, end to end on a small sample (real PostgreSQL, local Spark)."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from runtime.cli import main

pytestmark = pytest.mark.spark


def test_demo_runs_the_whole_pipeline_and_accounts_for_every_record(tmp_path, db_url, spark, capsys):
    code = main(["demo", "--db", db_url, "--workdir", str(tmp_path), "--files", "4", "--records-per-file", "10",
                 "--json"])
    out = capsys.readouterr().out
    result = json.loads(out[out.index("{"):])
    assert code == 0 and result["check_ok"] is True
    processing = result["processing"]
    assert (processing["records_good"], processing["records_bad"]) == (result["expected_good_records"],
                                                                       result["expected_bad_records"])
    # every record accounted for in what was written, not only in the run's own counters
    bucket = tmp_path / "bucket"
    curated_rows = sum(pq.read_metadata(p).num_rows for p in (bucket / "curated-data-lake").rglob("*.parquet")
                       if "_staging" not in p.parts)
    dead_lines = sum(len([line for line in p.read_text().splitlines() if line.strip()])
                     for p in (bucket / "error-data-lake").rglob("*.json"))
    assert (curated_rows, dead_lines) == (result["expected_good_records"], result["expected_bad_records"])
    assert result["files_by_state"] == {"FAILED": 1, "QUARANTINED": 8, "SUCCEEDED": 12}
    assert result["relisting"]["changed"] == 0  # the processor registered the overwritten file's new version
    assert (tmp_path / "bucket" / "curated-data-lake" / "json_parsed_parquet").is_dir()
    assert {p["state"] for p in result["problems"]} == {"FAILED", "QUARANTINED"}


def test_the_plain_demo_exits_1_when_a_record_is_not_accounted_for(tmp_path, db_url, spark, capsys, monkeypatch):
    import runtime.sample_data as sample_data

    generate = sample_data.generate_sample

    def one_record_too_many(*args, **kwargs):
        expected = generate(*args, **kwargs)
        expected.good_records += 1  # an expectation the pipeline cannot meet
        return expected

    monkeypatch.setattr(sample_data, "generate_sample", one_record_too_many)
    code = main(["demo", "--db", db_url, "--workdir", str(tmp_path), "--files", "4", "--records-per-file", "10"])
    out = capsys.readouterr().out
    assert code == 1 and "check:              MISMATCH" in out

