"""The README's main command, ``mldp demo``, end to end on a small sample (real PostgreSQL, local Spark)."""

from __future__ import annotations

import json

import pytest

from runtime.cli import main

pytestmark = pytest.mark.spark


def test_demo_runs_the_whole_pipeline_and_accounts_for_every_record(tmp_path, db_url, spark, capsys):
    code = main(["demo", "--db", db_url, "--workdir", str(tmp_path), "--files", "4", "--records-per-file", "10",
                 "--json"])
    out = capsys.readouterr().out
    result = json.loads(out[out.index("{"):])
    assert code == 0
    processing = result["processing"]
    assert (processing["records_good"], processing["records_bad"]) == (result["expected_good_records"],
                                                                       result["expected_bad_records"])
    assert result["files_by_state"] == {"FAILED": 1, "QUARANTINED": 7, "SUCCEEDED": 13}
    assert result["relisting"]["changed"] == 1
    assert (tmp_path / "bucket" / "curated-data-lake" / "json_parsed_parquet").is_dir()
    assert {p["state"] for p in result["problems"]} == {"FAILED", "QUARANTINED"}
