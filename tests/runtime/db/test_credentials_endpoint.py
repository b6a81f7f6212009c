"""The processor and backfill jobs on AWS (issue 18): the endpoint from non-secret job arguments, IAM tokens as
``mldp_app`` for every connection, no secret ever read, no migration run; a schema behind the code stops the run
before anything is claimed (exit status 3, the fix named). Against the real PostgreSQL of the test session (it
trusts local users, so the token is accepted as any password would be)."""

from __future__ import annotations

import shutil
from argparse import Namespace
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2
import pytest

from runtime.cli import main
from runtime.commands.common import credentials_from_args, open_database
from runtime.db import migrations
from runtime.db.ca_bundle import PACKAGED
from runtime.db.connection import DatabaseUnavailable
from runtime.db.credentials import APP_USER, IamTokenUrl, Tls, owner_credentials, region_of
from runtime.db.migrations import MigrationPending, pending_migrations

NO_TLS = Tls(sslmode="disable")  # the embedded server has no certificate


class NoSecrets:
    """A Secrets Manager client that fails the test if the secret is read."""

    def get_secret_value(self, **kwargs):
        raise AssertionError(f"the secret was read: {kwargs}")


class Tokens:
    """An RDS client whose tokens are counted (the embedded server accepts any password)."""

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def generate_db_auth_token(self, **kwargs) -> str:
        self.calls.append(kwargs)
        return f"token-{len(self.calls)}"


def endpoint_of(url: str) -> dict:
    split = urlsplit(url)
    return {"host": split.hostname, "port": split.port, "dbname": split.path.lstrip("/")}


def endpoint_provider(url: str, tokens: Tokens) -> IamTokenUrl:
    return IamTokenUrl(None, APP_USER, NO_TLS, region="eu-west-1", client=NoSecrets(), rds_client=tokens,
                       endpoint=endpoint_of(url))


def with_future_migration(tmp_path: Path) -> Path:
    """A copy of the migrations folder with one more migration than the database has."""
    folder = tmp_path / "migrations"
    shutil.copytree(str(migrations.MIGRATIONS_DIR), folder)
    (folder / "9999_future_column.sql").write_text("ALTER TABLE file_processing_status ADD COLUMN future int;\n")
    return folder


def test_the_job_arguments_give_an_endpoint_provider_that_never_reads_the_secret(monkeypatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    args = Namespace(db=None, db_host="db.abc123.eu-west-1.rds.amazonaws.com", db_port=5432, db_name="tracking",
                     db_secret_arn=None, db_iam_user=None, db_ca_bundle=None)
    provider = credentials_from_args(args)
    assert isinstance(provider, IamTokenUrl)
    assert (provider.user, provider.secret_arn, provider.tls) == (APP_USER, None, Tls(PACKAGED))
    assert provider.endpoint == {"host": args.db_host, "port": 5432, "dbname": "tracking"}
    assert owner_credentials(provider) is None  # no owner: this job does not migrate
    assert region_of(None, args.db_host) == "eu-west-1"
    # the lister gets the same endpoint and the secret: the secret is for its owner's migrations only
    arn = "arn:aws:secretsmanager:eu-west-1:1:secret:db"
    lister = credentials_from_args(Namespace(**{**vars(args), "db_secret_arn": arn}))
    assert isinstance(lister, IamTokenUrl) and lister.endpoint == provider.endpoint
    assert owner_credentials(lister).secret_arn == lister.secret_arn


def test_an_endpoint_job_connects_as_the_application_role_with_a_token_per_connection(db_url: str) -> None:
    tokens = Tokens()
    provider = endpoint_provider(db_url, tokens)
    conn = open_database(provider, application_name="mldp-test")  # no migration, the schema checked
    with conn.cursor() as cur:
        cur.execute("SELECT current_user")
        assert cur.fetchone()[0] == APP_USER
    conn.close()
    second = open_database(provider, application_name="mldp-test")
    second.close()
    assert [c["DBUsername"] for c in tokens.calls] == [APP_USER, APP_USER]
    assert {c["DBHostname"] for c in tokens.calls} == {endpoint_of(db_url)["host"]}


def test_a_pending_migration_stops_an_endpoint_job_with_the_fix_named(db_url: str, tmp_path: Path,
                                                                    monkeypatch) -> None:
    monkeypatch.setattr(migrations, "MIGRATIONS_DIR", with_future_migration(tmp_path))
    with pytest.raises(MigrationPending, match=r"lacks migration 9999_future_column.*run the lister job.*mldp "
                                               r"migrate.*nothing was claimed") as caught:
        open_database(endpoint_provider(db_url, Tokens()))
    assert caught.value.exit_status == 3
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:  # nothing was migrated by the job
        cur.execute("SELECT max(version) FROM schema_migrations")
        assert cur.fetchone()[0] < 9999
    conn.close()


def test_mldp_process_on_an_unmigrated_database_claims_nothing_and_exits_3(db_url: str, tmp_path: Path,
                                                                           monkeypatch, capsys) -> None:
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO file_processing_status (s3_key, file_size_bytes, etag) "
                    "VALUES ('raw-json-data/all_historical_files/a.jsonl', 10, 'e')")
    conn.close()
    monkeypatch.setattr(migrations, "MIGRATIONS_DIR", with_future_migration(tmp_path))
    monkeypatch.setattr("runtime.commands.process.credentials_from_args",
                        lambda args: endpoint_provider(db_url, Tokens()))
    store = tmp_path / "bucket"
    store.mkdir()
    status = main(["process", "--store", str(store), "--no-metrics"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 3
    assert len(err) == 1 and err[0].startswith("error: the tracking database mldp_app@") and "mldp migrate" in err[0]
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM processing_batches")
        assert cur.fetchone()[0] == 0
        cur.execute("SELECT processing_status FROM file_processing_status")
        assert [row[0] for row in cur.fetchall()] == ["PENDING"]
    conn.close()


def test_a_missing_schema_is_all_pending(empty_db_url: str) -> None:
    conn = psycopg2.connect(empty_db_url)
    assert [m.version for m in pending_migrations(conn)] == [m.version for m in migrations.available_migrations()]
    conn.close()


def test_an_endpoint_provider_without_endpoint_or_secret_says_what_is_missing() -> None:
    with pytest.raises(DatabaseUnavailable, match=r"--db-host.*--db-secret-arn"):
        IamTokenUrl(None, APP_USER, NO_TLS).connection_url()
