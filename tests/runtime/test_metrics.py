"""Run metrics: the lister and the processor publish their figures to CloudWatch (moto) under the names, units,
namespace and dimension that ``PipelineAlarms`` alarms on; locally they go to the log."""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from collections import Counter

import boto3
import psycopg2
import pytest
from moto import mock_aws

from platform_contract import metrics as metric_names
from runtime import metrics
from runtime.cli import main
from runtime.commands.process import batch_figures
from runtime.db.registration import try_lister_lock
from runtime.jobs.lister import ListingSummary
from runtime.jobs.processor import BatchReport
from runtime.sample_data import generate_sample
from runtime.storage.local import LocalStore

REGION = "eu-west-1"


@pytest.fixture
def cloudwatch(monkeypatch):
    """A moto CloudWatch, with fake credentials and region in the environment (as on Glue)."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield boto3.client("cloudwatch", region_name=REGION)


def published(client, namespace: str = metric_names.DEFAULT_NAMESPACE) -> dict[str, list[dict]]:
    """name -> the Environment dimensions of each metric CloudWatch holds in ``namespace``."""
    found: dict[str, list[dict]] = {}
    for page in client.get_paginator("list_metrics").paginate(Namespace=namespace):
        for metric in page["Metrics"]:
            found.setdefault(metric["MetricName"], []).append(metric["Dimensions"])
    return found


def datapoints(client, name: str, environment: str = "test", unit: str | None = None) -> list[dict]:
    """Data points of ``name`` in the last hour, filtered by the unit the contract gives it (or ``unit``)."""
    now = dt.datetime.now(dt.UTC)
    response = client.get_metric_statistics(
        Namespace=metric_names.DEFAULT_NAMESPACE, MetricName=name,
        Dimensions=[{"Name": metric_names.ENVIRONMENT_DIMENSION, "Value": environment}],
        StartTime=now - dt.timedelta(hours=1), EndTime=now + dt.timedelta(minutes=5), Period=3600,
        Statistics=["Sum", "Maximum", "SampleCount"], Unit=unit or metric_names.UNITS[name])
    return response["Datapoints"]


def total(client, name: str) -> float:
    return sum(point["Sum"] for point in datapoints(client, name))


def assert_contract(client, names) -> None:
    """Each metric has exactly the Environment=test dimension and its data arrives with the contract's unit."""
    found = published(client)
    assert set(found) == set(names)
    for name in names:
        assert found[name] == [[{"Name": "Environment", "Value": "test"}]], name
        points = datapoints(client, name)
        assert points and {p["Unit"] for p in points} == {metric_names.UNITS[name]}, name
        wrong_unit = "Bytes" if metric_names.UNITS[name] != "Bytes" else "Count"
        assert datapoints(client, name, unit=wrong_unit) == [], name


# --- the contract -------------------------------------------------------------------------------------------


def test_each_job_publishes_exactly_its_metrics():
    from runtime.db.registration import RegistrationCounts

    report = BatchReport("b", {"SUCCEEDED": 3, "QUARANTINED": 1}, 30, 2, 1000, 4.5, [])
    assert set(batch_figures(report)) == set(metric_names.PROCESSOR_METRICS)
    assert batch_figures(report)[metric_names.FILES_FAILED] == 0
    summary = ListingSummary(RegistrationCounts(), 1.0, [])
    assert set(metrics.lister_figures(summary)) == set(metric_names.LISTER_METRICS)
    from runtime.jobs.archive import ArchiveCounts

    assert set(metrics.archive_figures(ArchiveCounts())) == set(metric_names.PROCESSOR_RUN_METRICS)


# --- the jobs under moto ------------------------------------------------------------------------------------


def test_lister_run_publishes_its_figures_and_the_backlog_gauges(cloudwatch, tmp_path, db_url):
    store = LocalStore(tmp_path)
    for i in range(3):
        store.put_bytes(f"raw-json-data/2024/week01/part-{i}.jsonl", b'{"id": 1}\n')
    assert main(["list", "--store", str(tmp_path), "--db", db_url, "--environment", "test"]) == 0

    assert_contract(cloudwatch, metric_names.LISTER_METRICS + metric_names.BACKLOG_METRICS)
    assert total(cloudwatch, metric_names.FILES_LISTED) == 3
    assert total(cloudwatch, metric_names.FILES_REGISTERED) == 3
    assert total(cloudwatch, metric_names.BACKLOG_FILES) == 3
    assert total(cloudwatch, metric_names.QUARANTINED_FILES_TOTAL) == 0
    assert datapoints(cloudwatch, metric_names.LISTER_DURATION_SECONDS)[0]["SampleCount"] == 1  # the heartbeat
    assert datapoints(cloudwatch, metric_names.FILES_LISTED, environment="prod") == []


def test_a_skipped_lister_publishes_no_heartbeat_so_its_alarm_still_fires(cloudwatch, tmp_path, db_url):
    """Another lister holds the lock: this run exits 0 (the workflow goes on) but publishes only the backlog
    gauges, never ``ListerDurationSeconds``, so a lister stuck holding the lock still trips ListerHeartbeat."""
    LocalStore(tmp_path).put_bytes("raw-json-data/2024/week01/part-0.jsonl", b'{"id": 1}\n')
    holder = psycopg2.connect(db_url)
    try:
        assert try_lister_lock(holder)
        assert main(["list", "--store", str(tmp_path), "--db", db_url, "--environment", "test"]) == 0
    finally:
        holder.close()

    assert set(published(cloudwatch)) == set(metric_names.BACKLOG_METRICS)
    assert datapoints(cloudwatch, metric_names.LISTER_DURATION_SECONDS) == []


@pytest.mark.spark
def test_processor_run_publishes_batch_figures_and_gauges(cloudwatch, tmp_path, db_url, spark):
    store = LocalStore(tmp_path)
    expected = generate_sample(store, files=2, records_per_file=10,
                               include_bad_inputs=["malformed-line-among-good.jsonl", "zero-byte.jsonl"])
    sizes = sum(len(store.get_bytes(key)) for key in expected.files)
    job = ["--store", str(tmp_path), "--db", db_url, "--environment", "test"]
    assert main(["list", *job, "--no-metrics"]) == 0
    assert published(cloudwatch) == {}
    assert main(["process", *job, "--drain", "--batch-size", "100"]) == 0

    assert_contract(cloudwatch, metric_names.PROCESSOR_METRICS + metric_names.PROCESSOR_RUN_METRICS
                    + metric_names.BACKLOG_METRICS)
    assert total(cloudwatch, metric_names.ARCHIVE_DELETE_FAILURES) == 0  # once per run, 0 included
    states = Counter(expected.files.values())
    assert total(cloudwatch, metric_names.FILES_SUCCEEDED) == states["SUCCEEDED"]
    assert total(cloudwatch, metric_names.FILES_QUARANTINED) == states["QUARANTINED"] == 1
    assert total(cloudwatch, metric_names.FILES_FAILED) == 0
    assert total(cloudwatch, metric_names.RECORDS_GOOD) == expected.good_records
    assert total(cloudwatch, metric_names.RECORDS_DEAD_LETTERED) == expected.bad_records
    assert total(cloudwatch, metric_names.BYTES_PROCESSED) == sizes
    assert datapoints(cloudwatch, metric_names.BATCH_DURATION_SECONDS)[0]["SampleCount"] == 1
    assert total(cloudwatch, metric_names.BACKLOG_FILES) == 0
    assert total(cloudwatch, metric_names.QUARANTINED_FILES_TOTAL) == 1


# --- the publisher ------------------------------------------------------------------------------------------


class CallCounter:
    """Counts PutMetricData calls made through a boto3 client."""

    def __init__(self, client) -> None:
        self.calls: list[int] = []
        client.meta.events.register("provide-client-params.cloudwatch.PutMetricData", self._count)

    def _count(self, params, **_kwargs) -> None:
        self.calls.append(len(params["MetricData"]))


@pytest.mark.parametrize("count", [1, 1000, 1001, 2500])
def test_publisher_sends_at_most_1000_values_per_call(cloudwatch, monkeypatch, count):
    names = {f"Synthetic{i:05d}": "Count" for i in range(count)}
    monkeypatch.setattr(metrics, "UNITS", names)
    counter = CallCounter(cloudwatch)
    publisher = metrics.MetricsPublisher(environment="test", client=cloudwatch)
    publisher.publish({name: i for i, name in enumerate(names)})
    assert len(counter.calls) == publisher.calls == math.ceil(count / 1000)
    assert max(counter.calls) <= metrics.MAX_DATA_POINTS_PER_CALL and sum(counter.calls) == count
    assert len(published(cloudwatch)) == count


def test_publisher_rejects_names_outside_the_contract(cloudwatch):
    with pytest.raises(ValueError, match="unknown metric names"):
        metrics.MetricsPublisher(client=cloudwatch).publish({"FilesProcessed": 1})


def test_without_credentials_the_figures_go_to_the_log(monkeypatch, tmp_path, caplog):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    publisher = metrics.MetricsPublisher(environment="laptop")
    with caplog.at_level(logging.INFO, logger="mldp.metrics"):
        publisher.publish({metric_names.FILES_LISTED: 7, metric_names.LISTER_DURATION_SECONDS: 1.5})
    assert publisher.calls == 0 and publisher.enabled is False
    assert "no AWS credentials or region: metrics written to the log only" in caplog.text
    assert logged_figures(caplog) == [{"namespace": "MlDataPlatform", "environment": "laptop",
                                       "FilesListed": 7, "ListerDurationSeconds": 1.5}]


def test_no_metrics_option_logs_the_figures_and_calls_nothing(cloudwatch, tmp_path, db_url, caplog):
    LocalStore(tmp_path).put_bytes("raw-json-data/2024/week01/a.jsonl", b"{}\n")
    with caplog.at_level(logging.INFO, logger="mldp.metrics"):
        assert main(["list", "--store", str(tmp_path), "--db", db_url, "--environment", "test", "--no-metrics"]) == 0
    assert published(cloudwatch) == {}
    [figures] = logged_figures(caplog)
    assert (figures["environment"], figures["FilesListed"], figures["BacklogFiles"]) == ("test", 1, 1)


def test_a_cloudwatch_error_never_fails_the_run(cloudwatch, caplog):
    def refuse(**_kwargs):
        raise RuntimeError("throttled")

    cloudwatch.meta.events.register("before-call.cloudwatch.PutMetricData", refuse)
    publisher = metrics.MetricsPublisher(environment="test", client=cloudwatch)
    with caplog.at_level(logging.WARNING, logger="mldp.metrics"):
        publisher.publish({metric_names.BACKLOG_FILES: 1})
        publisher.report_failures()
    assert publisher.calls == 0 and publisher.failures == 1
    assert "1 metric publication(s) to CloudWatch failed in this run (first: RuntimeError: throttled)" in caplog.text


def test_publish_failures_are_counted_and_logged_once_per_run(cloudwatch, caplog):
    """Issue 18 #6: a CloudWatch that refuses every call (moto client, failing on each PutMetricData) costs the run
    nothing but one warning with the count, however many batches published; a later success is not a failure."""
    refusing = [True]

    def refuse(**_kwargs):
        if refusing[0]:
            raise RuntimeError("AccessDenied")

    cloudwatch.meta.events.register("before-call.cloudwatch.PutMetricData", refuse)
    publisher = metrics.MetricsPublisher(environment="test", client=cloudwatch)
    with caplog.at_level(logging.DEBUG, logger="mldp.metrics"):
        for value in range(3):
            publisher.publish({metric_names.BACKLOG_FILES: value})
        refusing[0] = False
        publisher.publish({metric_names.BACKLOG_FILES: 9})
        publisher.report_failures()
        publisher.report_failures()  # the end of the run logs it once, whoever calls it
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["3 metric publication(s) to CloudWatch failed in this run (first: RuntimeError: AccessDenied); "
                        "the figures are in the log's 'metrics' lines"]
    assert (publisher.failures, publisher.calls) == (3, 1)
    assert set(published(cloudwatch)) == {metric_names.BACKLOG_FILES}


def test_a_run_without_failures_logs_no_warning(cloudwatch, caplog):
    publisher = metrics.MetricsPublisher(environment="test", client=cloudwatch)
    with caplog.at_level(logging.WARNING, logger="mldp.metrics"):
        publisher.publish({metric_names.BACKLOG_FILES: 1})
        publisher.report_failures()
    assert publisher.failures == 0 and caplog.records == []


def logged_figures(caplog) -> list[dict]:
    return [json.loads(r.getMessage()[len("metrics "):]) for r in caplog.records
            if r.name == "mldp.metrics" and r.getMessage().startswith("metrics {")]


@pytest.mark.parametrize("command", ["list", "process"])
def test_the_jobs_report_failed_publications_before_they_return(command, cloudwatch, monkeypatch, db_url, tmp_path,
                                                                caplog):
    """The warning is part of the command's own run (its ``finally``), not left to ``atexit``, which a Glue
    runtime or a crash may never reach."""
    def refuse(**_kwargs):
        raise RuntimeError("AccessDenied")

    cloudwatch.meta.events.register("before-call.cloudwatch.PutMetricData", refuse)
    publishers: list[metrics.MetricsPublisher] = []

    def refusing_publisher(args):
        publishers.append(metrics.MetricsPublisher(environment="test", client=cloudwatch))
        return publishers[-1]

    monkeypatch.setattr("runtime.commands.list.publisher_from_args", refusing_publisher)
    monkeypatch.setattr("runtime.metrics.publisher_from_args", refusing_publisher)
    with caplog.at_level(logging.WARNING, logger="mldp.metrics"):
        assert main([command, "--store", str(tmp_path), "--db", db_url]) == 0
    [publisher] = publishers
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and warnings[0].startswith(f"{publisher.failures} metric publication(s) to CloudWatch "
                                                         "failed in this run (first: RuntimeError: AccessDenied)")
    assert publisher.failures >= 1 and publisher._reported  # the exit hook has nothing left to say
