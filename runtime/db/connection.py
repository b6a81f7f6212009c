"""Connecting to the tracking database, with errors that name the server but never the password."""

from __future__ import annotations

import json
import logging
import os
import re
from urllib.parse import quote, unquote, urlsplit

import psycopg2
import psycopg2.extensions

from runtime.errors import MldpError

log = logging.getLogger(__name__)


class DatabaseUnavailable(MldpError, RuntimeError):
    """The tracking database cannot be reached; the message names host, port and database (no password)."""


_URL_SCHEMES = ("postgresql://", "postgres://")
#: ``user:secret@`` in anything URL-like, even when the URL is malformed (one slash, no scheme, bad port).
_USERINFO_SECRET = re.compile(r"(?<=:)[^:@/\s]*(?=@)")
#: ``password=secret`` in a libpq key/value connection string.
_CONNINFO_SECRET = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def redact(text: str, url: str) -> str:
    """``text`` with every password that ``url`` carries (in any shape, malformed included) replaced by ``***``."""
    secrets = {m.group(0) for m in _USERINFO_SECRET.finditer(url) if m.group(0)}
    secrets |= {m.group(2) for m in _CONNINFO_SECRET.finditer(url)}
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password:
        secrets |= {password, unquote(password)}
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return _CONNINFO_SECRET.sub(lambda m: m.group(1) + "***", text)


def describe_url(url: str) -> str:
    """``user@host:port/database`` for messages: the password is never included, and a malformed URL is
    described, never echoed."""
    if not url.startswith(_URL_SCHEMES):
        return "<libpq connection string>" if "=" in url else "<not a postgresql:// URL>"
    try:
        parts = urlsplit(url)
        port = parts.port or 5432
    except ValueError:
        return "<malformed postgresql:// URL>"
    user = unquote(parts.username) if parts.username else "?"
    host = parts.hostname or "localhost"
    database = parts.path.lstrip("/") or user
    return f"{user}@{host}:{port}/{database}"


def check_url(url: str) -> None:
    """Raise :class:`DatabaseUnavailable` naming what to fix when ``url`` is neither a ``postgresql://`` URL nor a
    libpq ``key=value`` string; the value itself is never echoed (it may hold a password)."""
    if url.startswith(_URL_SCHEMES):
        try:
            urlsplit(url).port  # noqa: B018  (raises ValueError for a non-numeric or out-of-range port)
        except ValueError as exc:
            raise DatabaseUnavailable(f"malformed database URL ({exc}): expected "
                                      "postgresql://user[:password]@host[:port]/database") from None
        return
    if "=" not in url:
        raise DatabaseUnavailable("the database URL is not a postgresql:// URL: expected "
                                  "postgresql://user[:password]@host[:port]/database (or a libpq key=value string)")


def connect(url: str, *, application_name: str = "mldp", connect_timeout: int = 10):
    """Open a psycopg2 connection (autocommit off). Raises :class:`DatabaseUnavailable` with a one-line reason that
    names the server and never the password, whatever the shape of ``url``."""
    check_url(url)
    try:
        conn = psycopg2.connect(url, application_name=application_name, connect_timeout=connect_timeout)
    except psycopg2.Error as exc:  # OperationalError (unreachable, refused), ProgrammingError (invalid dsn), ...
        reason = redact(" ".join(str(exc).split()), url)
        raise DatabaseUnavailable(f"cannot connect to PostgreSQL at {describe_url(url)}: {reason}") from None
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
