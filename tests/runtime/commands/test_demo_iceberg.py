"""``mldp demo --table-format iceberg``: the whole pipeline into an Iceberg table, every record accounted for in
the rows read back through the catalog; it prints how to read the table and how to pin a snapshot, and the pin
command it prints works."""

from __future__ import annotations

import pytest

from runtime.cli import main

pytestmark = pytest.mark.spark


def test_the_iceberg_demo_accounts_for_every_record_and_prints_how_to_read_and_pin(tmp_path, db_url, spark, capsys):
    code = main(["demo", "--db", db_url, "--workdir", str(tmp_path), "--files", "4", "--records-per-file", "10",
                 "--table-format", "iceberg"])
    out = capsys.readouterr().out
    assert code == 0 and "check:              OK" in out
    assert "iceberg table mldp.json_parsed: snapshot" in out and "read it with pyiceberg:" in out
    assert "rows read back through the catalog:" in out
    assert not list((tmp_path / "bucket" / "curated-data-lake" / "json_parsed_parquet").rglob("*.parquet"))
    pin = next(line.strip() for line in out.splitlines() if "snapshot create demo-training-set" in line)
    days_and_db = pin.split(" --retain-days ")[1].split()  # ["30", "--db", URL]
    assert main(["snapshot", "create", "demo-training-set", "--retain-days", *days_and_db]) == 0
    assert "tagged snapshot" in capsys.readouterr().out
