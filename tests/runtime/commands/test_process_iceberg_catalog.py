"""``mldp process --table-format iceberg``: the catalog is checked before anything is claimed.

Defect (review-s3): a processor running as the application role (``--db-host``: IAM tokens as ``mldp_app``) with
the local SqlCatalog (no ``--iceberg-database``) could never commit (``CREATE SCHEMA`` denied; one IAM token baked
into the catalog's URL), and the catalog was first opened after the batch's Spark conversion: every run converted a
batch for nothing, gave it back and exited 3. The combination is now refused at start, and the table is opened
before anything is claimed."""

from __future__ import annotations

from runtime.cli import main
from runtime.jobs.lister import run_lister
from runtime.sample_data import generate_sample
from runtime.storage.local import LocalStore
from runtime.table.catalog import TableUnavailable
from tests.support.pipeline import states


def test_the_application_role_with_the_local_catalog_is_refused_at_start(tmp_path, capsys):
    code = main(["process", "--store", str(tmp_path), "--db-host", "db.abc123.eu-west-1.rds.amazonaws.com",
                 "--table-format", "iceberg", "--no-metrics"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 3
    assert len(err) == 1 and err[0].startswith("error: ") and "--iceberg-database" in err[0]


def test_a_catalog_that_cannot_be_opened_stops_the_run_before_a_claim(tmp_path, db_url, db_conn, monkeypatch,
                                                                      capsys):
    store = LocalStore(tmp_path)
    generate_sample(store, files=2, records_per_file=3, include_bad_inputs=False)
    run_lister(store, db_conn, show_progress=False)

    def refused(location):
        raise TableUnavailable(f"the Iceberg catalog of {location.name} cannot be opened: permission denied")

    monkeypatch.setattr("runtime.table.commit.open_catalog", refused)
    code = main(["process", "--store", str(tmp_path), "--db", db_url, "--table-format", "iceberg", "--no-metrics"])
    assert code == 3
    assert "permission denied" in capsys.readouterr().err
    assert set(states(db_conn).values()) == {"PENDING"}
    with db_conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM processing_batches")
        assert cur.fetchone()[0] == 0
    db_conn.commit()
