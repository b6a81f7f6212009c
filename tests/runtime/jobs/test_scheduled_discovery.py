"""The scheduled lister with ``--inventory-location`` (discovery_mode inventory and events): the newest complete
report in AWS's documented layout is registered once, the store is listed when no report can be trusted or the last
listing is older than ``full_listing_hours``, and otherwise nothing runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from runtime.cli import main
from runtime.db.discovery import last_report_time, last_runs
from runtime.errors import UsageError
from runtime.jobs.scheduled_discovery import (
    STALE_REPORT_HOURS,
    ReportRef,
    find_latest_report,
    plan_run,
    report_time_of,
    run_scheduled_discovery,
)
from tests.support.inventory import Row, build_report, put_s3_report, rows_of, write_local_report
from tests.support.sql import files_by_key

RAW = "raw-json-data/"
HIST = RAW + "all_historical_files/"
DAY = datetime(2026, 12, 1, tzinfo=UTC)


def _fill(store, keys):
    for key in keys:
        store.put_bytes(key, b'{"id": 1}\n')


def _minute(when: datetime) -> datetime:
    return when.replace(second=0, microsecond=0)


# --------------------------------------------------------------------------------------------------------------
# Finding the newest complete report
# --------------------------------------------------------------------------------------------------------------
def test_report_folder_names_give_their_time():
    assert report_time_of("s3-inventory/b/c/2016-11-06T21-32Z/") == datetime(2016, 11, 6, 21, 32, tzinfo=UTC)
    assert report_time_of("data") is None and report_time_of("hive") is None
    assert report_time_of("2016-13-06T21-32Z") is None  # month 13: not a report folder


def _reports(tmp_path, **days):
    """Reports of one row each, by day of December: True complete, False without a checksum, 'bad' altered."""
    root = tmp_path / "reports"
    for day, state in days.items():
        manifest = write_local_report(root, [Row(HIST + f"{day}.json", 1, DAY, "e")], files=1,
                                      created=DAY.replace(day=int(day[1:])), complete=state is not False)
        if state == "bad":
            (manifest.parent / "manifest.checksum").write_text("0" * 32)
    return root


def test_the_newest_complete_report_is_found_incomplete_and_altered_ones_skipped(tmp_path):
    root = _reports(tmp_path, d2=True, d3=True, d4=False, d5="bad")
    config = root / "inventory" / "local" / "raw-daily"
    for location in (config, root / "inventory"):  # the config's folder, or the destination prefix above it
        found = find_latest_report(str(location))
        assert found == ReportRef(f"{config.resolve()}/2026-12-03T00-00Z/manifest.json", DAY.replace(day=3))


def test_no_complete_report_is_none(tmp_path):
    assert find_latest_report(str(_reports(tmp_path, d2=False))) is None
    (tmp_path / "empty").mkdir()
    assert find_latest_report(str(tmp_path / "empty")) is None
    with pytest.raises(UsageError, match="inventory-location"):
        find_latest_report(str(tmp_path / "missing"))


def test_reports_are_found_in_an_s3_report_bucket(s3_client):
    s3_client.create_bucket(Bucket="reports")
    for day, complete in ((1, True), (2, True), (3, False)):
        put_s3_report(s3_client, "reports", [Row(HIST + "a.json", 1, DAY, "e")], "data-bucket",
                      prefix="s3-inventory/", config="raw-json-data-daily", created=DAY.replace(day=day),
                      complete=complete)
    for location in ("s3://reports/s3-inventory/data-bucket/raw-json-data-daily/", "s3://reports/s3-inventory"):
        assert find_latest_report(location, s3_client) == ReportRef(
            "s3://reports/s3-inventory/data-bucket/raw-json-data-daily/2026-12-02T00-00Z/manifest.json",
            DAY.replace(day=2))


# --------------------------------------------------------------------------------------------------------------
# The decision
# --------------------------------------------------------------------------------------------------------------
NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)
FRESH = ReportRef("m", NOW - timedelta(hours=6))


@pytest.mark.parametrize(("latest", "registered", "listed", "hours", "action", "why"), [
    (FRESH, None, NOW - timedelta(hours=1), 168, "inventory", "newer than the last registered"),
    (FRESH, FRESH.created - timedelta(days=1), None, 168, "inventory", "newer"),  # a report first, even unlisted
    (FRESH, FRESH.created, NOW - timedelta(hours=1), 168, "none", "already registered"),
    (FRESH, FRESH.created, NOW - timedelta(hours=168), 168, "listing", "safety-net listing"),
    (FRESH, FRESH.created, None, 168, "listing", "never listed"),
    (FRESH, FRESH.created, NOW - timedelta(minutes=10), 0, "listing", "full_listing_hours 0"),
    (None, None, NOW - timedelta(minutes=10), 168, "listing", "no complete inventory report"),
    (ReportRef("m", NOW - timedelta(hours=STALE_REPORT_HOURS + 1)), NOW - timedelta(hours=STALE_REPORT_HOURS + 1),
     NOW - timedelta(minutes=10), 168, "listing", "delivery stopped"),
])
def test_plan(latest, registered, listed, hours, action, why):
    plan = plan_run(latest, registered, listed, hours, NOW)
    assert plan.action == action and why in plan.reason


# --------------------------------------------------------------------------------------------------------------
# Runs against the tracking table
# --------------------------------------------------------------------------------------------------------------
def _run(store, conn, location, **kwargs):
    summary, extra = run_scheduled_discovery(store, conn, str(location), show_progress=False, **kwargs)
    return summary.as_dict(), extra


def test_a_sequence_of_scheduled_runs(local_store, db_conn, tmp_path):
    root = tmp_path / "reports"
    config = root / "inventory" / "local" / "raw-daily"  # what the construct passes: the config's folder
    config.mkdir(parents=True)
    _fill(local_store, [HIST + "a.json", HIST + "b.json"])
    # no report yet (the first one takes up to 48 h): list as before
    summary, extra = _run(local_store, db_conn, config)
    assert (extra["discovery"], summary["new"]) == ("listing", 2)
    # a report arrives, with a key the listing has not seen: registered from the report, not listed
    _fill(local_store, [HIST + "c.json"])
    now = datetime.now(UTC)
    write_local_report(root, rows_of(local_store.list(RAW)), created=_minute(now - timedelta(hours=2)))
    summary, extra = _run(local_store, db_conn, config)
    assert (extra["discovery"], summary["new"], summary["unchanged"], extra["inventory_rows"]) == ("inventory", 1, 2, 3)
    with db_conn.cursor() as cur:
        assert last_report_time(cur) == _minute(now - timedelta(hours=2))
        assert last_runs(cur)["inventory"]["details"]["manifest"].endswith("manifest.json")
    # the same report, a recent listing: nothing to do, nothing recorded
    _fill(local_store, [HIST + "d.json"])
    summary, extra = _run(local_store, db_conn, config)
    assert (extra["discovery"], summary["listed"]) == ("none", 0)
    assert "d.json" not in str(files_by_key(db_conn, "etag"))
    # the safety net: the last listing is older than full_listing_hours -> the listing finds d.json
    summary, extra = _run(local_store, db_conn, config, now=now + timedelta(hours=25), full_listing_hours=24)
    assert (extra["discovery"], summary["new"]) == ("listing", 1)
    # a newer report registers again (once), and changes nothing the listing registered
    before = files_by_key(db_conn, "etag, version, processing_status")
    write_local_report(root, rows_of(local_store.list(RAW)), created=_minute(now - timedelta(hours=1)))
    summary, extra = _run(local_store, db_conn, config)
    assert (extra["discovery"], summary["new"], summary["changed"], summary["unchanged"]) == ("inventory", 0, 0, 4)
    assert files_by_key(db_conn, "etag, version, processing_status") == before
    assert _run(local_store, db_conn, config)[1]["discovery"] == "none"


def test_a_manual_registration_of_the_newest_report_counts(local_store, db_conn, db_url, tmp_path):
    _fill(local_store, [HIST + "a.json"])
    manifest = write_local_report(tmp_path / "r", rows_of(local_store.list(RAW)), created=_minute(datetime.now(UTC)))
    assert main(["list", "--store", local_store.url, "--db", db_url, "--from-inventory",
                 str(manifest), "--no-metrics"]) == 0
    reports = tmp_path / "r" / "inventory"
    assert _run(local_store, db_conn, reports)[1]["discovery"] == "listing"  # never listed: the net lists once
    assert _run(local_store, db_conn, reports)[1]["discovery"] == "none"


def test_cli_inventory_location_on_s3(s3_store, s3_client, db_conn, db_url, capsys):
    _fill(s3_store, [HIST + "a.json", HIST + "b.json"])
    s3_client.create_bucket(Bucket="reports")
    put_s3_report(s3_client, "reports", rows_of(s3_store.list(RAW)), s3_store.bucket, prefix="s3-inventory/",
                  config="raw-json-data-daily", created=_minute(datetime.now(UTC) - timedelta(hours=3)))
    argv = ["list", "--store", s3_store.url, "--db", db_url, "--json", "--no-metrics",
            "--inventory-location", f"s3://reports/s3-inventory/{s3_store.bucket}/raw-json-data-daily/"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["discovery"], report["new"], report["inventory_files"]) == ("inventory", 2, 2)
    assert main([*argv, "--full-listing-hours", "0"]) == 0  # no report newer: list at once
    report = json.loads(capsys.readouterr().out)
    assert (report["discovery"], report["unchanged"]) == ("listing", 2)


def test_cli_refuses_both_inventory_options(tmp_path, db_url, capsys):
    (tmp_path / "store").mkdir()
    manifest, _ = build_report([], "b")
    assert main(["list", "--store", str(tmp_path / "store"), "--db", db_url, "--from-inventory", manifest,
                 "--inventory-location", str(tmp_path)]) == 2
    assert "not both" in capsys.readouterr().err
