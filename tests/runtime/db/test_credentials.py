"""Credentials a run can survive (issue 18, item 3), against the real PostgreSQL of the test session and moto's
Secrets Manager: every connection and reconnect asks its provider afresh, so a rotation between two connections
of one run, and a heartbeat reconnecting after its connection was killed, authenticate with what is valid now.

The embedded server trusts every local user (no password is checked), so a rotation is played as an
alternating-user rotation: the secret switches from one user to another and the old user may no longer log in
(``NOLOGIN``); a connection with the old credentials fails, one asked afresh succeeds."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import boto3
import psycopg2
import pytest
from moto import mock_aws

from runtime.commands.common import open_database
from runtime.db.ca_bundle import PACKAGED, packaged_bundle_path
from runtime.db.connection import DatabaseUnavailable, connect
from runtime.db.credentials import APP_USER, IamTokenUrl, SecretUrl, StaticUrl, Tls, owner_credentials
from runtime.jobs.heartbeat import RunHeartbeat

REGION = "us-east-1"
NO_TLS = Tls(sslmode="disable")  # the embedded server has no certificate


def parts(url: str) -> dict:
    """host, port, dbname and username of ``url``."""
    split = urlsplit(url)
    return {"host": split.hostname, "port": split.port, "dbname": split.path.lstrip("/"), "username": split.username}


def as_user(url: str, user: str) -> str:
    """``url`` with ``user`` (and no password)."""
    split = urlsplit(url)
    return urlunsplit(split._replace(netloc=f"{user}@{split.hostname}:{split.port}"))


def current_user(conn) -> str:
    with conn.cursor() as cur:
        cur.execute("SELECT current_user")
        return cur.fetchone()[0]


@pytest.fixture
def rotating_users(pg_server_url: str) -> Iterator[tuple[str, str]]:
    """Two login roles, members of the application role (an alternating-user rotation's pair); dropped after."""
    names = tuple(f"mldp_rot_{uuid.uuid4().hex[:8]}_{side}" for side in ("a", "b"))
    admin = psycopg2.connect(pg_server_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        for name in names:
            cur.execute(f"CREATE ROLE {name} LOGIN IN ROLE {APP_USER}")
    yield names
    with admin.cursor() as cur:
        for name in names:
            cur.execute(f"DROP ROLE IF EXISTS {name}")
    admin.close()


@pytest.fixture
def secrets() -> Iterator:
    """moto's Secrets Manager client."""
    with mock_aws():
        yield boto3.client("secretsmanager", region_name=REGION)


def put_secret(client, arn: str | None, endpoint: dict, user: str, password: str) -> str:
    """Create (``arn`` None) or rotate the secret to ``user``/``password``; its ARN."""
    value = json.dumps({**endpoint, "username": user, "password": password})
    if arn is None:
        return client.create_secret(Name=f"db-{uuid.uuid4().hex[:6]}", SecretString=value)["ARN"]
    client.put_secret_value(SecretId=arn, SecretString=value)
    return arn


def rotate(admin_url: str, client, arn: str, endpoint: dict, old: str, new: str) -> None:
    """The secret now names ``new``; ``old`` may no longer log in."""
    put_secret(client, arn, endpoint, new, "second-password")
    with psycopg2.connect(admin_url) as admin, admin.cursor() as cur:
        cur.execute(f"ALTER ROLE {old} NOLOGIN")
    admin.close()


# --- a rotation between two connections of one run -------------------------------------------------------------


def test_a_rotation_between_two_connections_of_one_run_succeeds(db_url, pg_server_url, rotating_users, secrets):
    old, new = rotating_users
    endpoint = {k: v for k, v in parts(db_url).items() if k != "username"}
    arn = put_secret(secrets, None, endpoint, old, "first-password")
    provider = SecretUrl(arn, NO_TLS, client=secrets)
    first = connect(provider)
    assert current_user(first) == old
    stale_url = provider.connection_url()

    rotate(pg_server_url, secrets, arn, endpoint, old, new)

    second = connect(provider)  # the same provider, asked afresh
    assert current_user(second) == new
    with pytest.raises(DatabaseUnavailable, match="not permitted to log in"):
        connect(StaticUrl(stale_url))  # what resolving once at job start did: fails after the rotation
    first.close()
    second.close()


def test_iam_authentication_generates_a_token_for_every_connection(db_url, secrets):
    endpoint = {k: v for k, v in parts(db_url).items() if k != "username"}
    arn = put_secret(secrets, None, endpoint, parts(db_url)["username"], "owner-password")
    tokens: list[str] = []

    class CountingRds:
        """The real (offline, locally signed) token generator, counted."""

        def __init__(self) -> None:
            self.client = boto3.client("rds", region_name=REGION)

        def generate_db_auth_token(self, **kwargs):
            token = self.client.generate_db_auth_token(**kwargs) + f"&n={len(tokens)}"
            tokens.append(token)
            return token

    provider = IamTokenUrl(arn, APP_USER, NO_TLS, client=secrets, rds_client=CountingRds())
    first, second = connect(provider), connect(provider)
    assert provider.region == REGION  # the secret's
    assert len(tokens) == 2 and tokens[0] != tokens[1]
    assert "X-Amz-Signature" in tokens[0] and f"DBUser%3D{APP_USER}" in tokens[0].replace("=", "%3D")
    assert current_user(first) == current_user(second) == APP_USER
    first.close()
    second.close()

    # the migrations run as the secret's owner, on a connection of their own; the work as the application role
    assert isinstance(owner_credentials(provider), SecretUrl)
    conn = open_database(provider, application_name="mldp-test")
    assert current_user(conn) == APP_USER
    conn.close()


# --- a reconnect of the heartbeat after its connection is killed -----------------------------------------------


def test_the_heartbeat_reconnects_with_fresh_credentials_after_its_connection_is_killed(
        db_url, pg_server_url, rotating_users, secrets):
    old, new = rotating_users
    endpoint = {k: v for k, v in parts(db_url).items() if k != "username"}
    arn = put_secret(secrets, None, endpoint, old, "first-password")
    provider = SecretUrl(arn, NO_TLS, client=secrets)
    name = f"mldp-lease-{uuid.uuid4().hex[:6]}"
    heartbeat = RunHeartbeat(lambda: connect(provider, application_name=name), "run-1", lease_seconds=5,
                             interval=0.3)

    def backend_user() -> str | None:
        with psycopg2.connect(pg_server_url) as admin, admin.cursor() as cur:
            cur.execute("SELECT usename FROM pg_stat_activity WHERE application_name = %s", (name,))
            found = cur.fetchone()
        admin.close()
        return found[0] if found else None

    def wait_for(condition, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.1)

    with heartbeat:
        wait_for(lambda: heartbeat.renewals >= 1)
        assert backend_user() == old
        rotate(pg_server_url, secrets, arn, endpoint, old, new)
        with psycopg2.connect(pg_server_url) as admin, admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                        (name,))
        admin.close()
        wait_for(lambda: heartbeat.failures >= 1)
        renewed = heartbeat.renewals
        wait_for(lambda: heartbeat.renewals > renewed)
        assert backend_user() == new


# --- TLS: verify-full with the CA bundle, never a silent downgrade ---------------------------------------------


def test_a_configured_ca_bundle_verifies_the_server(tmp_path):
    bundle = tmp_path / "global-bundle.pem"
    bundle.write_bytes(Path(packaged_bundle_path()).read_bytes())
    assert Tls(str(bundle)).parameters() == f"sslmode=verify-full&sslrootcert={bundle}"
    assert Tls().parameters() == "sslmode=require"


def test_a_configured_ca_bundle_that_is_missing_is_an_error_saying_what_to_fix(tmp_path):
    with pytest.raises(DatabaseUnavailable, match=r"global-bundle.pem.*--db-ca-bundle"):
        Tls(str(tmp_path / "missing.pem")).parameters()


def test_a_ca_bundle_in_s3_is_downloaded_once_and_a_missing_or_corrupt_one_is_an_error():
    pem = Path(packaged_bundle_path()).read_bytes()
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="assets")
        s3.put_object(Bucket="assets", Key="certs/global-bundle.pem", Body=pem)
        s3.put_object(Bucket="assets", Key="certs/truncated.pem", Body=pem[:1000])
        query = Tls("s3://assets/certs/global-bundle.pem").parameters(s3_client=s3)
        assert query.startswith("sslmode=verify-full&sslrootcert=")
        with open(query.split("sslrootcert=")[1], "rb") as downloaded:
            assert downloaded.read() == pem
        with pytest.raises(DatabaseUnavailable, match=r"cannot read the database CA bundle s3://assets/nope\.pem"):
            Tls("s3://assets/nope.pem").parameters(s3_client=s3)
        with pytest.raises(DatabaseUnavailable, match=r"s3://assets/certs/truncated\.pem is not a PEM bundle.*"
                                                      r"global-bundle\.pem"):
            Tls("s3://assets/certs/truncated.pem").parameters(s3_client=s3)


def test_a_plain_url_stays_a_plain_url():
    url = "postgresql://me:secret@localhost:5432/db"
    assert StaticUrl(url).connection_url() == url
    assert StaticUrl(url).describe() == "me@localhost:5432/db"


def test_the_job_options_choose_the_provider(monkeypatch, tmp_path):
    from argparse import Namespace

    from runtime.commands.common import credentials_from_args

    monkeypatch.delenv("DATABASE_URL", raising=False)
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db"
    url = "postgresql://me:pw@localhost/db"
    assert credentials_from_args(Namespace(db=url, db_secret_arn=arn, db_iam_user="mldp_app")) == StaticUrl(url)
    secret = credentials_from_args(Namespace(db=None, db_secret_arn=arn, db_iam_user=None, db_ca_bundle=None))
    assert isinstance(secret, SecretUrl) and secret.tls == Tls(PACKAGED)  # verify-full by default on AWS
    bundle = str(tmp_path / "global-bundle.pem")  # named, so it replaces the packaged one
    iam = credentials_from_args(Namespace(db=None, db_secret_arn=arn, db_iam_user="mldp_app", db_ca_bundle=bundle))
    assert isinstance(iam, IamTokenUrl) and (iam.user, iam.tls) == ("mldp_app", Tls(bundle))
    assert isinstance(owner_credentials(iam), SecretUrl) and owner_credentials(secret) is secret


# --- the heartbeat's thread creates no SDK client -----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["secret", "iam"])
def test_the_heartbeat_thread_reuses_the_clients_the_main_thread_created(db_url, secrets, monkeypatch, kind):
    """boto3's default session is not thread-safe for creating clients: the first connection (the job's start, on
    the main thread) creates them, the heartbeat's connections on its own thread only use them."""
    import threading

    endpoint = {k: v for k, v in parts(db_url).items() if k != "username"}
    arn = put_secret(secrets, None, endpoint, parts(db_url)["username"], "pw")
    created: list[tuple[str, str]] = []
    real_client = boto3.client

    def counting_client(service, *args, **kwargs):
        created.append((service, threading.current_thread().name))
        return real_client(service, *args, **kwargs)

    monkeypatch.setattr(boto3, "client", counting_client)
    provider = SecretUrl(arn, NO_TLS) if kind == "secret" else IamTokenUrl(arn, APP_USER, NO_TLS, client=secrets)
    main_conn = open_database(provider, application_name="mldp-test")
    heartbeat = RunHeartbeat(lambda: connect(provider, application_name="mldp-lease-test"), "run-1",
                             lease_seconds=5, interval=0.2)
    with heartbeat:
        deadline = time.monotonic() + 20
        while heartbeat.renewals < 2:
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.05)
    main_conn.close()
    main_thread = threading.main_thread().name
    expected = "secretsmanager" if kind == "secret" else "rds"
    assert created == [(expected, main_thread)]  # once, on the main thread; none by the heartbeat's thread
