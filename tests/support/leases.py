"""Helpers of the lease, owner and ``mldp recover`` tests: files registered and claimed by a given owner, the
owner facts of a process that has ended, a processor that never starts Spark, a stubbed Glue client."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import uuid

import boto3
from botocore.stub import Stubber

from runtime.cli import main
from runtime.db.records import Owner
from runtime.db.tracking import TrackingStore
from runtime.jobs.owner import OwnerProbe, process_identity
from runtime.jobs.processor import BatchProcessor
from runtime.jobs.settings import ProcessorSettings
from runtime.layout import Layout
from tests.support.sql import files_by_key

WEEK = "raw-json-data/2024/week01/"


def take_over_recoverable(store: TrackingStore, job_run_id: str, lease_seconds: int = 600) -> str | None:
    """As recovery does: take over the first open batch whose lease expired or that its run handed back (never one
    held for the operator), its owner not judged gone; its id, or ``None`` when there is none to take."""
    for batch in store.open_batches():
        if (batch.lease_expired or batch.released) and not batch.held:
            return batch.batch_id if store.take_over(batch, job_run_id, lease_seconds, owner_gone=False) else None
    return None


def register(conn, *names: str) -> list[str]:
    keys = [WEEK + name for name in names]
    with conn.cursor() as cur:
        for key in keys:
            cur.execute("INSERT INTO file_processing_status (s3_key, file_size_bytes, etag) VALUES (%s, 10, 'e')",
                        (key,))
    conn.commit()
    return keys


def claim(conn, owner: Owner, lease_seconds: int = 3600, batch_size: int = 100) -> str:
    batch_id = str(uuid.uuid4())
    assert TrackingStore(conn, owner).claim(batch_id, owner.job_run_id, batch_size, lease_seconds)
    return batch_id


def dead_owner(job_run_id: str = "dead-run") -> Owner:
    """The owner facts of a process that ran on this node and has ended (and was reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    identity = process_identity(child.pid)
    assert identity is not None
    child.stdin.close()
    child.wait()
    return Owner(job_run_id, socket.gethostname(), child.pid, identity, None)


def one(conn, sql: str, params: dict | None = None):
    with conn.cursor() as cur:
        cur.execute(sql, params or {})
        row = cur.fetchone()
    conn.commit()
    return row


def files(conn) -> dict[str, tuple]:
    """key -> (state, retry_count, next attempt due now)."""
    return files_by_key(conn, "processing_status, retry_count, next_attempt_at <= now()")


def no_spark():
    raise AssertionError("this test never starts Spark")


def processor(store, conn, probe: OwnerProbe | None = None, **settings) -> BatchProcessor:
    checkpoint = settings.pop("checkpoint", lambda name: None)
    return BatchProcessor(store, conn, no_spark, None, ProcessorSettings(**settings), Layout(),  # type: ignore[arg-type]
                          checkpoint=checkpoint, owner_probe=probe)


def run_json(capsys, *argv: str) -> tuple[int, dict]:
    code = main([*argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def glue_client(states: list[str] | None = None, error: str | None = None):
    """A real botocore Glue client whose ``GetJobRun`` answers are stubbed (the request is checked against the API
    model: JobName and RunId)."""
    client = boto3.client("glue", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    expected = {"JobName": "JsonToParquetBatchProcessor-dev", "RunId": "jr_0123", "PredecessorsIncluded": False}
    for state in states or []:
        stubber.add_response("get_job_run", {"JobRun": {"Id": "jr_0123", "JobRunState": state}}, expected)
    if error:
        stubber.add_client_error("get_job_run", service_error_code=error, http_status_code=400,
                                 expected_params=expected)
    stubber.activate()
    return client


#: The owner facts of a Glue run (another node: only the Glue API can tell whether it is gone).
GLUE_OWNER = Owner("jr_0123", "ip-10-0-0-1", 7, "other-boot/pid:[1]/99", "JsonToParquetBatchProcessor-dev")
