"""Connecting to the tracking database, with errors that name the server but never the password, and with limits
that turn a connection lost without a word (an RDS failover, a dropped NAT entry) or a statement blocked for good
into an error within minutes, instead of a hang until Glue's 60-minute job timeout (:class:`SessionLimits`)."""

from __future__ import annotations

import json
import logging
import os
import re
import socket
from dataclasses import dataclass
from typing import Any
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


@dataclass(frozen=True)
class SessionLimits:
    """How long a connection may stay silent or a statement may run before the runtime gets an error.

    ``statement_timeout_seconds`` is the server's ``statement_timeout``: it bounds a statement that runs or waits
    for a lock too long. The default, 10 minutes, is far above the longest statement measured on a table of
    2,000,000 files (local PostgreSQL 15, 2 cores): ``mldp status`` 3.4-4.2 s, requeuing 100,000 files in one
    statement 3.7 s, a registration page of 20,000 keys 0.25 s, a claim of 1,000 files 20 ms, the outcomes of a
    10,000-file batch 0.4 s, building an index over the table 1.5 s. Extrapolated to a table ten times larger on
    a t4g.micro three to five times slower, ``status`` and a bulk requeue of 1,000,000 files take 2-4 minutes:
    10 minutes cuts none of them and ends a blocked statement six times sooner than Glue's timeout. Migrations
    lift it (an index build on a large table may take longer; :func:`runtime.db.migrations.apply_migrations`).

    ``dead_peer_seconds`` bounds how long a connection whose peer vanished stays unnoticed, on both sides. The
    client (libpq) sends TCP keepalives after half of it idle, every sixth of it, three unanswered probes ending
    the connection, and ``tcp_user_timeout`` fails a write unacknowledged for all of it; the server gets the same
    keepalives and user timeout for the session, so a backend whose client vanished ends and releases its locks
    (the lister's and the migrations' advisory locks, a claim's rows). The default, 60 s, is the default lease's
    heartbeat interval: a lost connection is noticed within one beat. Keepalives apply to TCP connections only
    (a Unix-socket connection cannot go silent); ``tcp_user_timeout`` needs PostgreSQL and libpq 12 or later
    (the deployment requires 16)."""

    statement_timeout_seconds: int = 600
    dead_peer_seconds: int = 60

    def client_parameters(self) -> dict[str, str]:
        """The libpq connection parameters of the client's side."""
        idle, interval, count = self.keepalives()
        parameters = {"keepalives": "1", "keepalives_idle": str(idle), "keepalives_interval": str(interval),
                      "keepalives_count": str(count)}
        if psycopg2.extensions.libpq_version() >= 120000:  # tcp_user_timeout: libpq 12 and later
            parameters["tcp_user_timeout"] = str(self.dead_peer_seconds * 1000)
        return parameters

    def server_settings(self) -> dict[str, str]:
        """The session settings of the server's side (``-c name=value`` in the ``options`` parameter)."""
        idle, interval, count = self.keepalives()
        return {"statement_timeout": f"{self.statement_timeout_seconds}s", "tcp_keepalives_idle": str(idle),
                "tcp_keepalives_interval": str(interval), "tcp_keepalives_count": str(count),
                "tcp_user_timeout": f"{self.dead_peer_seconds}s"}

    def keepalives(self) -> tuple[int, int, int]:
        """Idle seconds before the first probe, seconds between probes, probes: together ``dead_peer_seconds``."""
        count = 3
        return max(self.dead_peer_seconds // 2, 1), max(self.dead_peer_seconds // (2 * count), 1), count


#: The limits of every connection the runtime opens (see :class:`SessionLimits` for the numbers).
DEFAULT_LIMITS = SessionLimits()
#: ``-c name=value``, ``-cname=value`` or ``--name=value`` in a libpq ``options`` value: a server setting.
_OPTION_SETTING = re.compile(r"(?:^|\s)(?:-c\s*|--)([A-Za-z0-9_.-]+)=")


def connect(target: Any, *, application_name: str = "mldp", connect_timeout: int = 10,
            limits: SessionLimits = DEFAULT_LIMITS):
    """Open a psycopg2 connection (autocommit off) with the keepalives and statement timeout of ``limits``. A value
    the URL already sets (``?keepalives_idle=5``, ``?options=-c statement_timeout=0``; ``$PGOPTIONS`` when the URL
    has no ``options``) is kept. Raises :class:`DatabaseUnavailable` with a one-line reason that names the server
    and never the password, whatever the shape of ``url``.

    ``target`` is a URL string, or a credentials provider (:mod:`runtime.db.credentials`) asked for a fresh URL
    now: every connection, and every reconnect, authenticates with the credentials valid at that moment."""
    url = target if isinstance(target, str) else target.connection_url()
    check_url(url)
    try:
        conn = psycopg2.connect(url, application_name=application_name, connect_timeout=connect_timeout,
                                **limited_parameters(url, limits))
    except psycopg2.Error as exc:  # OperationalError (unreachable, refused), ProgrammingError (invalid dsn), ...
        reason = redact(" ".join(str(exc).split()), url)
        raise DatabaseUnavailable(f"cannot connect to PostgreSQL at {describe_url(url)}: {reason}") from None
    return conn


def limited_parameters(url: str, limits: SessionLimits = DEFAULT_LIMITS) -> dict[str, str]:
    """The connection parameters to add to ``url`` for ``limits``: every client parameter the URL does not set,
    and an ``options`` value that appends to the URL's own (else ``$PGOPTIONS``) every server setting it does
    not name. Raises ``psycopg2.ProgrammingError`` for a string libpq cannot parse."""
    given = psycopg2.extensions.parse_dsn(url)
    parameters = {name: value for name, value in limits.client_parameters().items() if name not in given}
    options = given["options"] if "options" in given else os.environ.get("PGOPTIONS", "")
    named = {m.group(1).replace("-", "_").lower() for m in _OPTION_SETTING.finditer(options)}
    added = [f"-c {name}={value}" for name, value in limits.server_settings().items() if name not in named]
    if added:
        parameters["options"] = " ".join([options.strip(), *added]).strip()
    return parameters


def tighten(conn, limits: SessionLimits) -> None:
    """Lower the limits of an open connection to ``limits`` (never raise one): the session's statement timeout
    and server keepalives (set and committed: a rolled-back ``SET`` would be undone), and the client socket's TCP
    keepalives and user timeout (Linux socket options; nothing on a Unix socket). For a connection that must
    answer sooner than the default allows, e.g. the lease heartbeat's, whoever opened it."""
    with conn.cursor() as cur:
        cur.execute("SELECT name, setting::bigint FROM pg_settings WHERE name = ANY(%s)",
                    (list(_SERVER_LIMITS),))
        current = dict(cur.fetchall())
        for name, value in _server_limit_values(limits).items():
            if current.get(name, 0) == 0 or current[name] > value:  # 0: unlimited, or the system's default
                cur.execute("SELECT set_config(%s, %s, false)", (name, str(value)))
    conn.commit()
    _tighten_socket(conn.fileno(), limits)


#: The server settings :func:`tighten` lowers, with the units per second ``pg_settings.setting`` reports them in
#: (milliseconds for the timeouts, seconds for the keepalives; the probe count is a count).
_SERVER_LIMITS = {"statement_timeout": 1000, "tcp_keepalives_idle": 1, "tcp_keepalives_interval": 1,
                  "tcp_keepalives_count": 1, "tcp_user_timeout": 1000}


def _server_limit_values(limits: SessionLimits) -> dict[str, int]:
    """``limits`` as the numbers ``pg_settings.setting`` reports (ms or seconds, a count for the probes)."""
    idle, interval, count = limits.keepalives()
    seconds = {"statement_timeout": limits.statement_timeout_seconds, "tcp_keepalives_idle": idle,
               "tcp_keepalives_interval": interval, "tcp_keepalives_count": count,
               "tcp_user_timeout": limits.dead_peer_seconds}
    return {name: value * _SERVER_LIMITS[name] for name, value in seconds.items()}


def _tighten_socket(fd: int, limits: SessionLimits) -> None:
    """Lower the TCP keepalives and user timeout of the client socket ``fd`` to those of ``limits`` (keepalives
    turned on; a value already lower is kept). A duplicate of ``fd`` is used and closed: the options belong to the
    socket, which stays open."""
    with socket.socket(fileno=os.dup(fd)) as sock:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        idle, interval, count = limits.keepalives()
        for name, value in (("TCP_KEEPIDLE", idle), ("TCP_KEEPINTVL", interval), ("TCP_KEEPCNT", count),
                            ("TCP_USER_TIMEOUT", limits.dead_peer_seconds * 1000)):
            option = getattr(socket, name, None)  # Linux has them all
            if option is not None:
                current = sock.getsockopt(socket.IPPROTO_TCP, option)
                sock.setsockopt(socket.IPPROTO_TCP, option, min(current, value) if current > 0 else value)


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
