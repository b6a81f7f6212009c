"""Connecting to the tracking database, with errors that name the server but never the password."""

from __future__ import annotations

import json
import logging
import os
from urllib.parse import quote, unquote, urlsplit

import psycopg2
import psycopg2.extensions

from runtime.errors import MldpError

log = logging.getLogger(__name__)


class DatabaseUnavailable(MldpError, RuntimeError):
    """The tracking database cannot be reached; the message names host, port and database (no password)."""


def describe_url(url: str) -> str:
    """``user@host:port/database`` for messages: the password is never included."""
    if "://" not in url:
        return "<libpq connection string>"
    parts = urlsplit(url)
    user = unquote(parts.username) if parts.username else "?"
    host = parts.hostname or "localhost"
    port = parts.port or 5432
    database = parts.path.lstrip("/") or user
    return f"{user}@{host}:{port}/{database}"


def connect(url: str, *, application_name: str = "mldp", connect_timeout: int = 10):
    """Open a psycopg2 connection (autocommit off). Raises :class:`DatabaseUnavailable` with a one-line reason."""
    try:
        conn = psycopg2.connect(url, application_name=application_name, connect_timeout=connect_timeout)
    except psycopg2.OperationalError as exc:
        reason = " ".join(str(exc).split())
        if "password" in reason.lower() and "://" in url:
            password = urlsplit(url).password
            if password:
                reason = reason.replace(password, "***")
        raise DatabaseUnavailable(f"cannot connect to PostgreSQL at {describe_url(url)}: {reason}") from exc
    return conn


def url_from_secret(secret_arn: str, *, client=None, sslmode: str = "require") -> str:
    """Build a connection URL from an RDS-generated Secrets Manager secret (host, port, dbname, username,
    password). SSL is required: the RDS parameter group forces it."""
    if client is None:
        import boto3

        client = boto3.client("secretsmanager")
    payload = json.loads(client.get_secret_value(SecretId=secret_arn)["SecretString"])
    missing = [k for k in ("host", "username", "password") if not payload.get(k)]
    if missing:
        raise DatabaseUnavailable(f"secret {secret_arn} lacks {', '.join(missing)}")
    user = quote(payload["username"], safe="")
    password = quote(payload["password"], safe="")
    host = payload["host"]
    port = int(payload.get("port") or 5432)
    database = payload.get("dbname") or "data_platform_db"
    return f"postgresql://{user}:{password}@{host}:{port}/{quote(database, safe='')}?sslmode={sslmode}"


def resolve_database_url(cli_url: str | None = None, secret_arn: str | None = None,
                         *, start_embedded: bool = True) -> str:
    """Where the tracking database is, in order: ``--db URL``, ``$DATABASE_URL``, a Secrets Manager secret
    (Glue), else the project's embedded server (started when ``start_embedded``)."""
    if cli_url:
        return cli_url
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    if secret_arn:
        return url_from_secret(secret_arn)
    from runtime.db.embedded import default_server

    server = default_server()
    if start_embedded:
        log.info("using the embedded PostgreSQL server in %s", server.data_root)
        return server.start()
    return server.url
