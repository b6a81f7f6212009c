"""The processor's options through the CLI itself (README's CLI table): ``--json``, ``--max-attempts``,
``--lease-seconds``, ``--transform-spec``; and ``inspect --curated-under`` on what it wrote."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from runtime.cli import main
from runtime.jobs.lister import run_lister
from runtime.sample_data import generate_sample
from runtime.storage.local import LocalStore
from tests.support.pipeline import LAYOUT, states, write_spec

pytestmark = pytest.mark.spark


def test_process_options_through_the_cli(tmp_path, db_url, db_conn, spark, capsys):
    root = tmp_path / "bucket"
    root.mkdir()
    store = LocalStore(root)
    expected = generate_sample(store, files=3, records_per_file=4, include_bad_inputs=False)
    run_lister(store, db_conn, show_progress=False)
    vanished = sorted(expected.files)[0]
    store.delete(vanished)  # fails its first attempt: with --max-attempts 1 it is quarantined at once
    spec_file = write_spec(tmp_path / "config", extra_columns=[{"name": "score", "source": "score", "type": "double"}])
    capsys.readouterr()

    code = main(["process", "--store", str(root), "--db", db_url, "--no-metrics", "--json", "--max-attempts", "1",
                 "--lease-seconds", "120", "--transform-spec", str(spec_file)])

    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])  # --json: one document
    assert summary["files"] == {"QUARANTINED": 1, "SUCCEEDED": 2} and summary["records_good"] == 8
    assert states(db_conn)[vanished] == "QUARANTINED"
    with db_conn.cursor() as cur:
        cur.execute("SELECT error_message FROM file_processing_status WHERE s3_key = %s", (vanished,))
        assert cur.fetchone()[0].startswith("gave up after 1 attempts: object vanished")
        cur.execute("SELECT extract(epoch FROM lease_expires_at - claimed_at) FROM processing_batches")
        (lease,) = cur.fetchone()
    db_conn.commit()
    assert 120 <= lease < 180  # the claim's lease, renewed by the heartbeat while the batch ran
    parquet = sorted((root / LAYOUT.curated_prefix).rglob("*.parquet"))
    assert parquet and all("score" in pq.read_schema(p).names for p in parquet)  # the spec given was used

    one_day = next(p for p in parquet).relative_to(root / LAYOUT.curated_prefix).parts[:3]
    partition = "/".join(one_day) + "/"
    kept = sorted(expected.files)[1]
    capsys.readouterr()
    assert main(["inspect", kept, "--db", db_url, "--store", str(root), "--curated-under", partition, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    keys = [item["key"] for item in shown["curated"]["files"]]
    assert keys and all(key.startswith(LAYOUT.curated_prefix + partition) for key in keys)
    everywhere = sorted(p for p in parquet if p.name.startswith(f"batch-{shown['curated']['files'][0]['batch_id']}"))
    assert len(keys) < len(everywhere)  # the partition narrowed the listing
