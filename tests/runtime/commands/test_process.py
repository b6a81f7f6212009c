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


def test_a_run_whose_batch_is_taken_over_before_its_publish_fails_with_one_line(tmp_path, db_url, db_conn, capsys,
                                                                                 monkeypatch):
    """``mldp process`` (and so the Glue processor job) whose batch another run takes over before it publishes: one
    ``error:`` line, nothing published, exit status 1 (a failed run, as when LeaseLost ended it with a traceback)."""
    from runtime.db.records import FileOutcome
    from runtime.db.states import FileState
    from runtime.jobs import publish as pub
    from runtime.jobs.batch import BatchProtocol

    store = LocalStore(tmp_path)
    store.put_bytes("raw-json-data/2024/week01/a.jsonl", b'{"id": 1, "DATE": "2024-01-01", "MODE": "train"}\n')
    run_lister(store, db_conn)

    def stand_in(self, batch_id, readable):  # no Spark: one staged object per file, each SUCCEEDED
        staged = pub.curated_staging(LAYOUT, batch_id) + "year=2024/month=1/day=1/mode=train/p.parquet"
        self.store.put_bytes(staged, b"PAR1")
        return {c.file.file_id: FileOutcome(c.file.file_id, c.file.key, FileState.SUCCEEDED, None, 1, 0, size=c.size,
                                            etag=c.processed.etag) for c in readable}

    real_begin_publish = BatchProtocol.begin_publish

    def taken_over(self, manifest):  # another run takes the batch over just before this one publishes
        with db_conn.cursor() as cur:
            cur.execute("UPDATE processing_batches SET glue_job_run_id = 'other-run'")
        db_conn.commit()
        return real_begin_publish(self, manifest)

    monkeypatch.setattr(BatchProtocol, "convert", stand_in)
    monkeypatch.setattr(BatchProtocol, "begin_publish", taken_over)
    code = main(["process", "--store", str(tmp_path), "--db", db_url, "--no-metrics", "--json"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.splitlines()[-1].startswith("error: ") and "Traceback" not in err
    assert not list((tmp_path / LAYOUT.curated_prefix).rglob("*.parquet")), "nothing published"
    assert states(db_conn) == {"raw-json-data/2024/week01/a.jsonl": "PROCESSING"}
