"""Registration from S3 Inventory reports (built in the documented format): the listing's rules, the report's
checks, and a listing after it changes nothing."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from runtime.cli import main
from runtime.db.discovery import last_runs
from runtime.jobs.inventory import InventoryError, parse_manifest, register_inventory
from runtime.jobs.lister import PIPELINE_OUTPUT, run_lister
from tests.support.inventory import Row, build_report, put_s3_report, rows_of, write_local_report
from tests.support.sql import files_by_key

RAW = "raw-json-data/"
HIST = RAW + "all_historical_files/"
WEEK = RAW + "2024/week07/"
COLUMNS = "etag, file_size_bytes, version, processing_status, last_modified_timestamp, updated_at"


def _fill(store, keys):
    for key in keys:
        store.put_bytes(key, b'{"id": 1}\n')


def _keys():
    return [HIST + "a.json", HIST + "sub/with space%20and+plus.json", HIST + "unicodé/日本.json", WEEK + "b.json",
            RAW + "scratch/outside.json"]


def _register(store, conn, manifest, prefixes=None, **kwargs):
    summary, stats = register_inventory(store, conn, str(manifest), prefixes, show_progress=False, **kwargs)
    return summary.as_dict(), stats.as_dict()


@pytest.mark.parametrize("prefixes", [None, [RAW]])
def test_inventory_then_listing_changes_nothing(store, db_conn, tmp_path, s3_client, prefixes):
    _fill(store, _keys())
    rows = [*rows_of(store.list(RAW)), Row("elsewhere/x.json", 1, rows_of(store.list(RAW))[0].last_modified, "e")]
    if store.url.startswith("s3://"):
        s3_client.create_bucket(Bucket="inventory-bucket")
        manifest = put_s3_report(s3_client, "inventory-bucket", rows, store.bucket)
        summary, stats = _register(store, db_conn, manifest, prefixes, s3_client=s3_client)
    else:
        summary, stats = _register(store, db_conn, write_local_report(tmp_path / "reports", rows), prefixes)
    expected = 5 if prefixes else 4  # the reference folders only, as a listing without --prefix
    assert (summary["new"], stats["out_of_scope"], stats["inventory_rows"]) == (expected, 1, 6)
    assert summary["ignored"]["outside_layout_folders"] == (0 if prefixes else 1)
    registered = files_by_key(db_conn, COLUMNS)
    assert HIST + "sub/with space%20and+plus.json" in registered  # Parquet keys are plain: never URL-decoded
    listing = run_lister(store, db_conn, prefixes, show_progress=False, parallelism=4).as_dict()
    assert (listing["new"], listing["changed"], listing["stale"], listing["unchanged"]) == (0, 0, 0, expected)
    assert files_by_key(db_conn, COLUMNS) == registered
    with db_conn.cursor() as cur:  # mldp status tells the two reconciliations apart
        runs = last_runs(cur)
    assert (runs["inventory"]["keys_registered"], runs["listing"]["keys_registered"]) == (expected, 0)


def test_delete_markers_and_older_versions_are_skipped(local_store, db_conn, tmp_path):
    _fill(local_store, [HIST + "a.json"])
    current = rows_of(local_store.list(RAW))[0]
    older = Row(current.key, 3, current.last_modified - timedelta(days=2), "old", is_latest=False, version_id="v1")
    gone = Row(HIST + "deleted.json", None, current.last_modified, None, is_delete_marker=True, version_id="v3")
    was = Row(HIST + "deleted.json", 5, current.last_modified - timedelta(days=1), "x", is_latest=False)
    manifest = write_local_report(tmp_path / "r", [older, current, was, gone], files=1)
    summary, stats = _register(local_store, db_conn, manifest)
    assert (summary["new"], stats["delete_markers"], stats["not_latest"]) == (1, 1, 2)
    assert set(files_by_key(db_conn, "etag")) == {HIST + "a.json"}


def test_an_older_inventory_never_rolls_a_version_back(local_store, db_conn, tmp_path):
    _fill(local_store, [HIST + "a.json"])
    listed = rows_of(local_store.list(RAW))[0]
    run_lister(local_store, db_conn, show_progress=False)
    before = files_by_key(db_conn, COLUMNS)
    stale = Row(listed.key, 1, listed.last_modified - timedelta(hours=1), "an-older-etag")
    summary, _ = _register(local_store, db_conn, write_local_report(tmp_path / "r", [stale], files=1))
    assert (summary["stale"], summary["changed"]) == (1, 0)
    assert files_by_key(db_conn, COLUMNS) == before


def test_the_reports_own_prefix_is_never_registered(local_store, db_conn, tmp_path):
    rows = [Row(RAW + "inventory/local/raw-daily/data/0.parquet", 9, _now(), "p"), Row(HIST + "a.json", 1, _now(), "e")]
    manifest = write_local_report(tmp_path / "r", rows, files=1, prefix=RAW + "inventory/", source_bucket="local",
                                  destination_bucket="local")
    summary, _ = _register(local_store, db_conn, manifest, [RAW])
    assert (summary["new"], summary["ignored"][PIPELINE_OUTPUT]) == (1, 1)


def _now():
    from datetime import UTC, datetime

    return datetime(2026, 12, 1, tzinfo=UTC)


def test_a_file_that_does_not_match_its_checksum_stops_the_registration(local_store, db_conn, tmp_path):
    manifest = write_local_report(tmp_path / "r", [Row(HIST + f"{i}.json", 1, _now(), "e") for i in range(4)])
    doc = json.loads(manifest.read_text())
    data = manifest.parents[1] / "data"
    first = data / Path(doc["files"][0]["key"]).name
    first.write_bytes(first.read_bytes()[:-1] + b"\x00")
    with pytest.raises(InventoryError, match="MD5"):
        _register(local_store, db_conn, manifest)
    assert files_by_key(db_conn, "etag") == {}


@pytest.mark.parametrize(("change", "message"), [
    ({"fileFormat": "CSV"}, "only Parquet"),
    ({"fileSchema": "message s3.inventory { required binary bucket; required binary key; }"}, "lacks size"),
    ({"files": None}, "not an S3 Inventory manifest"),
])
def test_a_manifest_that_cannot_be_used_is_refused(change, message):
    _, objects = build_report([Row(HIST + "a.json", 1, _now(), "e")], "b")
    manifest = json.loads(next(v for k, v in objects.items() if k.endswith("manifest.json")))
    with pytest.raises(InventoryError, match=message):
        parse_manifest(json.dumps({**manifest, **change}).encode())


def test_a_report_of_another_bucket_is_refused(s3_store, s3_client, db_conn):
    s3_client.create_bucket(Bucket="inventory-bucket")
    manifest = put_s3_report(s3_client, "inventory-bucket", [Row(HIST + "a.json", 1, _now(), "e")], "other-bucket")
    with pytest.raises(InventoryError, match="other-bucket"):
        _register(s3_store, db_conn, manifest, s3_client=s3_client)


def test_cli_from_inventory(tmp_path, db_url, capsys):
    store_root = tmp_path / "store"
    (store_root / HIST).mkdir(parents=True)
    manifest = write_local_report(tmp_path / "r", [Row(HIST + f"{i}.json", 1, _now(), "e") for i in range(3)])
    assert main(["list", "--store", str(store_root), "--db", db_url, "--from-inventory", str(manifest), "--json",
                 "--no-metrics"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["new"], report["inventory_rows"], report["inventory_files"]) == (3, 3, 2)


def test_two_writers_register_a_report_by_the_same_rules(local_store, db_conn, db_url, tmp_path):
    """With ``connect``, a report's chunks are registered on two connections at once (its keys are disjoint):
    every key once, newer versions taken, older ones stale, unchanged ones untouched; the extra connection is
    opened under the lister lock and closed."""
    import psycopg2

    opened: list = []

    def connect():
        opened.append(psycopg2.connect(db_url))
        return opened[-1]

    keys = [HIST + f"w/{i:03d}.json" for i in range(200)]
    t0 = _now()
    first = write_local_report(tmp_path / "r1", [Row(k, 1, t0, "v1") for k in keys], files=4)
    summary, _ = _register(local_store, db_conn, first, chunk_size=9, connect=connect)
    assert (summary["new"], len(opened), all(c.closed for c in opened)) == (200, 1, True)
    registered = files_by_key(db_conn, COLUMNS)
    assert len(registered) == 200
    rows = [Row(k, 2, t0 + timedelta(hours=1), "v2") if i % 2 == 0 else  # newer: taken
            Row(k, 3, t0 - timedelta(hours=1), "v0") if i % 4 == 1 else  # older (no such object now): stale
            Row(k, 1, t0, "v1") for i, k in enumerate(keys)]  # unchanged
    summary, _ = _register(local_store, db_conn, write_local_report(tmp_path / "r2", rows, files=4), chunk_size=9,
                           connect=connect)
    assert (summary["changed"], summary["stale"], summary["unchanged"], len(opened)) == (100, 50, 50, 2)
    after = files_by_key(db_conn, "etag, version")
    assert after == {k: (("v2", 2) if i % 2 == 0 else ("v1", 1)) for i, k in enumerate(keys)}
