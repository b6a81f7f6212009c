"""The runtime tests' object-store fixtures: a moto S3 bucket (:data:`tests.support.s3.BUCKET`), a local store
root, both stores, an S3 API call counter built on botocore events, and a moto server over HTTP (``moto_endpoint``:
for clients that cannot be intercepted in process, such as pyarrow's C++ S3 client). Every test under
``tests/runtime/`` may request them by name.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws

from bench.call_counter import CallCounter
from runtime.db.embedded import free_port
from runtime.storage.base import ObjectStore
from runtime.storage.local import LocalStore
from runtime.storage.s3 import S3Store
from tests.support.s3 import BUCKET


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and region, so nothing can reach a real account."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@pytest.fixture
def s3_client(aws_credentials: None) -> Iterator[Any]:
    """A boto3 S3 client inside ``mock_aws`` (no bucket yet)."""
    with mock_aws():
        yield boto3.client("s3", region_name="us-east-1", config=Config(max_pool_connections=32))


@pytest.fixture
def s3_bucket(s3_client: Any) -> str:
    """The name of an empty moto bucket."""
    s3_client.create_bucket(Bucket=BUCKET)
    return BUCKET


@pytest.fixture
def s3_calls(s3_client: Any) -> CallCounter:
    """Counts the API calls of ``s3_client`` (and so of ``s3_store``)."""
    return CallCounter(s3_client)


@pytest.fixture
def s3_store(s3_client: Any, s3_bucket: str) -> S3Store:
    """An :class:`S3Store` over the moto bucket."""
    return S3Store(s3_bucket, client=s3_client)


@pytest.fixture
def local_root(tmp_path: Path) -> Path:
    """An empty directory for a :class:`LocalStore`."""
    root = tmp_path / "store"
    root.mkdir()
    return root


@pytest.fixture
def local_store(local_root: Path) -> LocalStore:
    """A :class:`LocalStore` over ``local_root``."""
    return LocalStore(local_root)


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest) -> ObjectStore:
    """Each implementation in turn: the same test runs against a local directory and a moto bucket."""
    return request.getfixturevalue(f"{request.param}_store")


@pytest.fixture
def moto_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The URL of a moto server of this test's own (AWS APIs over HTTP), with fake credentials and region."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(name, value)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
