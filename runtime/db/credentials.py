"""Credentials resolved afresh for every connection: a run that outlives a password rotation, an IAM token's
15 minutes or a Multi-AZ failover reconnects with what is valid now, never with what was valid at its start.

A :class:`CredentialsProvider` is passed wherever a URL string used to be (:func:`runtime.db.connection.connect`
takes either); :meth:`CredentialsProvider.connection_url` is called once per connection:

* :class:`StaticUrl`: a URL given as is (``--db``, ``$DATABASE_URL``, the embedded server): local mode.
* :class:`SecretUrl`: the Secrets Manager secret, read again for every connection (a rotated password, or the
  other user of an alternating-user rotation, is picked up by the next connection).
* :class:`IamTokenUrl`: RDS IAM database authentication: the endpoint from the jobs' non-secret arguments
  (``--db-host``/``--db-port``/``--db-name``; else the secret's, read once: they do not rotate), the password an
  IAM token generated for every connection (``rds.generate_db_auth_token``, signed locally with the job role's
  credentials; no password in the job).

Who reads the secret: only a job that migrates (the lister: :func:`owner_credentials`). The processor and backfill
jobs get the endpoint only, so their role has no ``secretsmanager:GetSecretValue`` at all; they check the schema
(:func:`runtime.db.migrations.require_current_schema`) instead of migrating.

The server certificate is verified (``sslmode=verify-full``) on AWS, by default against the RDS CA bundle shipped
in the runtime package (:mod:`runtime.db.ca_bundle`; :class:`Tls`); a bundle that cannot be found or is not a
bundle is an error naming what to fix, never a silent ``sslmode=require``. Python
3.9-compatible: the Glue Python-shell lister imports it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

from runtime.db.ca_bundle import (
    BUNDLE_HINT,
    GLOBAL_BUNDLE_URL,
    PACKAGED,
    check_bundle,
    packaged_bundle_path,
    packaged_regions,
)
from runtime.db.connection import DatabaseUnavailable, describe_url

log = logging.getLogger(__name__)

#: The application role the jobs connect as (created by migration 0008; the constructs grant ``rds-db:connect``
#: to exactly this database user).
APP_USER = "mldp_app"


class CredentialsProvider(Protocol):
    """Something that gives a fresh connection URL each time it is asked."""

    def connection_url(self) -> str:
        """The URL of a new connection, with credentials valid now."""

    def describe(self) -> str:
        """``user@host:port/database`` (never a password or token), for messages."""


@dataclass(frozen=True)
class Tls:
    """How the server is verified. ``ca_bundle``: :data:`~runtime.db.ca_bundle.PACKAGED` (the Amazon RDS CA
    bundle shipped in the runtime package, the default of the jobs on AWS), a local path or an ``s3://`` URL of a
    bundle (``global-bundle.pem``); with one, ``sslmode=verify-full``; without one (``None``), ``sslmode``."""

    ca_bundle: str | None = None
    #: The ``sslmode`` without a bundle (``require``; a test server without TLS: ``disable``).
    sslmode: str = "require"

    def parameters(self, *, s3_client: Any = None) -> str:
        """The URL query for these settings: ``sslmode=...[&sslrootcert=...]``. Raises
        :class:`DatabaseUnavailable` naming what to fix when a configured bundle is missing or not a CA bundle."""
        if not self.ca_bundle:
            return f"sslmode={self.sslmode}"
        return f"sslmode=verify-full&sslrootcert={quote(local_ca_bundle(self.ca_bundle, s3_client=s3_client))}"

    def check_region(self, region: str | None) -> None:
        """Raise :class:`DatabaseUnavailable` when the packaged bundle is used for a region whose RDS root CAs it
        does not hold (a region launched after it was built): an error that says what to pass, not a failed
        certificate verification."""
        if self.ca_bundle == PACKAGED and region and region not in packaged_regions():
            raise DatabaseUnavailable(
                f"the RDS CA bundle shipped with the runtime has no root CA of region {region}: download "
                f"{GLOBAL_BUNDLE_URL}, store it in S3 and set the workflow's database_ca_bundle (--db-ca-bundle) "
                "to it (docs/infrastructure.md, 'Database credentials')")


_DOWNLOADED: dict = {}


def local_ca_bundle(location: str, *, s3_client: Any = None) -> str:
    """A local path of the CA bundle at ``location``: :data:`~runtime.db.ca_bundle.PACKAGED`, a path, or an
    ``s3://`` URL (downloaded once per process). Each is checked to be a PEM bundle of CA certificates. Raises
    :class:`DatabaseUnavailable` saying what to fix when it is not there or not a bundle."""
    if location == PACKAGED:
        return packaged_bundle_path()
    if location.startswith("s3://"):
        if location not in _DOWNLOADED:
            bucket, _, key = location[len("s3://"):].partition("/")
            if s3_client is None:
                import boto3

                s3_client = boto3.client("s3")
            try:
                body = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
            except Exception as exc:
                raise DatabaseUnavailable(f"cannot read the database CA bundle {location} ({exc}): "
                                          f"{BUNDLE_HINT}") from None
            handle, path = tempfile.mkstemp(prefix="mldp-rds-ca-", suffix=".pem")
            with os.fdopen(handle, "wb") as out:
                out.write(body)
            check_bundle(path, location)
            _DOWNLOADED[location] = path
        return _DOWNLOADED[location]
    if not os.path.isfile(location):
        raise DatabaseUnavailable(f"the database CA bundle {location} does not exist: {BUNDLE_HINT}")
    check_bundle(location, location)
    return location


@dataclass(frozen=True)
class StaticUrl:
    """A URL used as given, for every connection (local mode: its password, if any, does not rotate)."""

    url: str

    def connection_url(self) -> str:
        """The URL itself."""
        return self.url

    def describe(self) -> str:
        """The URL without its password."""
        return describe_url(self.url)


@dataclass
class SecretUrl:
    """The URL built from an RDS-generated secret (host, port, dbname, username, password), read again for every
    connection. Used for the owner's connection (migrations), or for a dedicated user rotated by Secrets Manager."""

    secret_arn: str
    tls: Tls = field(default_factory=Tls)
    client: Any = None
    s3_client: Any = None

    def prepare(self) -> None:
        """Create the Secrets Manager client once (see :func:`sdk_client`); every connection calls it first."""
        if self.client is None:
            self.client = sdk_client("secretsmanager", region_of(self.secret_arn, None))

    def connection_url(self) -> str:
        """A URL with the secret's current password."""
        self.prepare()
        payload = read_secret(self.secret_arn, self.client, ("host", "username", "password"))
        self.tls.check_region(region_of(self.secret_arn, payload["host"]))
        return endpoint_url(payload, payload["username"], payload["password"], self.tls.parameters(
            s3_client=self.s3_client))

    def describe(self) -> str:
        """The secret's ARN (its user and host are known only once it is read)."""
        return f"the database of secret {self.secret_arn}"


@dataclass
class IamTokenUrl:
    """RDS IAM database authentication as ``user``: a new token (valid 15 minutes) for every connection.

    The endpoint (``host``, ``port``, ``dbname``) is ``endpoint`` when given (the jobs' non-secret ``--db-host``,
    ``--db-port``, ``--db-name`` arguments: the secret is never read), else the secret's, read once (its password
    is not used). The region, unless given: the secret's ARN, else the RDS host name
    (``*.REGION.rds.amazonaws.com``), else the SDK's default (``$AWS_REGION`` on Glue)."""

    secret_arn: str | None = None
    user: str = APP_USER
    tls: Tls = field(default_factory=Tls)
    region: str | None = None
    client: Any = None
    rds_client: Any = None
    s3_client: Any = None
    endpoint: dict | None = None

    def prepare(self) -> None:
        """Resolve the endpoint and region and create the SDK clients once (see :func:`sdk_client`); every
        connection calls it first."""
        if self.endpoint is None:
            if not self.secret_arn:
                raise DatabaseUnavailable("IAM database authentication needs the endpoint (--db-host) or the "
                                          "database secret (--db-secret-arn)")
            if self.client is None:
                self.client = sdk_client("secretsmanager", region_of(self.secret_arn, None))
            payload = read_secret(self.secret_arn, self.client, ("host",))
            self.endpoint = {k: payload.get(k) for k in ("host", "port", "dbname")}
        if self.region is None:
            self.region = region_of(self.secret_arn, self.endpoint["host"])
        self.tls.check_region(self.region)
        if self.rds_client is None:
            self.rds_client = sdk_client("rds", self.region)

    def connection_url(self) -> str:
        """A URL whose password is a token generated now."""
        self.prepare()
        port = int(self.endpoint.get("port") or 5432)
        try:
            token = self.rds_client.generate_db_auth_token(DBHostname=self.endpoint["host"], Port=port,
                                                           DBUsername=self.user, Region=self.region)
        except Exception as exc:  # no credentials, no region
            raise DatabaseUnavailable(f"cannot generate an IAM database token for {self.user}: {exc}") from None
        return endpoint_url(self.endpoint, self.user, token, self.tls.parameters(s3_client=self.s3_client))

    def describe(self) -> str:
        """``user@host`` once the endpoint is known."""
        host = self.endpoint["host"] if self.endpoint else f"the host of secret {self.secret_arn}"
        return f"{self.user}@{host} (IAM authentication)"


#: ``NAME.ID.REGION.rds.amazonaws.com`` (``.com.cn`` in China): an RDS endpoint's host name.
_RDS_HOST = re.compile(r"\.([a-z]{2}(?:-[a-z]+)+-\d+)\.rds\.amazonaws\.com(?:\.cn)?$")


def region_of(secret_arn: str | None, host: str | None) -> str | None:
    """The database's region: the secret's (``arn:aws:secretsmanager:REGION:...``), else the RDS host name's,
    else ``None`` (the SDK's default region)."""
    fields = (secret_arn or "").split(":")
    if len(fields) > 3 and fields[3]:
        return fields[3]
    match = _RDS_HOST.search(host or "")
    return match.group(1) if match else None


def sdk_client(service: str, region: str | None) -> Any:
    """A boto3 client of ``service`` in ``region`` (``None``: the SDK's default), created by the first connection
    of a provider, on the thread that opens it: the job's main thread (:func:`runtime.commands.common.open_database`
    at start). The lease heartbeat's reconnects, on their own thread, reuse it: boto3 clients may be shared between
    threads, but creating one from the default session is not thread-safe. Raises :class:`DatabaseUnavailable`
    when it cannot be created (no region)."""
    import boto3

    try:
        return boto3.client(service, region_name=region)
    except Exception as exc:  # NoRegionError and the like
        raise DatabaseUnavailable(f"cannot create the AWS {service} client for the database credentials: {exc}"
                                  ) from None


def read_secret(secret_arn: str, client: Any, required: tuple) -> dict:
    """The JSON payload of ``secret_arn``; raises :class:`DatabaseUnavailable` when a ``required`` key is empty."""
    if client is None:
        import boto3

        client = boto3.client("secretsmanager")
    try:
        payload = json.loads(client.get_secret_value(SecretId=secret_arn)["SecretString"])
    except DatabaseUnavailable:
        raise
    except Exception as exc:
        raise DatabaseUnavailable(f"cannot read the database secret {secret_arn}: {exc}") from None
    missing = [k for k in required if not payload.get(k)]
    if missing:
        raise DatabaseUnavailable(f"secret {secret_arn} lacks {', '.join(missing)}")
    return payload


def endpoint_url(endpoint: dict, user: str, password: str, query: str) -> str:
    """``postgresql://user:password@host:port/dbname?query`` (user, password and database quoted)."""
    port = int(endpoint.get("port") or 5432)
    database = endpoint.get("dbname") or "data_platform_db"
    return (f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@{endpoint['host']}:{port}/"
            f"{quote(database, safe='')}?{query}")


def resolve_credentials(cli_url: str | None = None, secret_arn: str | None = None, *,
                        iam_user: str | None = None, ca_bundle: str | None = None,
                        endpoint: dict | None = None, start_embedded: bool = True) -> CredentialsProvider:
    """The provider of the working connections, in order: ``--db URL``, ``$DATABASE_URL`` (as given); the
    endpoint (``host``, ``port``, ``dbname`` of ``--db-host`` ...: IAM tokens as ``iam_user``, default
    :data:`APP_USER`; the secret, when also given, only for the owner's migrations); the secret (IAM tokens as
    ``iam_user`` when given, else the secret's own user, read afresh); else the embedded server.

    On AWS (an endpoint or a secret) the server's certificate is verified against ``ca_bundle``, by default the
    RDS CA bundle shipped in the runtime package (:mod:`runtime.db.ca_bundle`); local mode keeps its URL as is."""
    if cli_url or os.environ.get("DATABASE_URL") or not (secret_arn or (endpoint and endpoint.get("host"))):
        from runtime.db.connection import resolve_database_url

        return StaticUrl(resolve_database_url(cli_url, None, start_embedded=start_embedded))
    tls = Tls(ca_bundle or PACKAGED)
    if endpoint and endpoint.get("host"):
        return IamTokenUrl(secret_arn, iam_user or APP_USER, tls, endpoint=dict(endpoint))
    if iam_user:
        return IamTokenUrl(secret_arn, iam_user, tls)
    return SecretUrl(secret_arn, tls)


def owner_credentials(working: CredentialsProvider) -> CredentialsProvider | None:
    """The provider migrations connect with: the secret's own user (the owner) when ``working`` authenticates as
    another user with IAM tokens and a secret is known; ``None`` when it has no secret (a job given only the
    endpoint, the processor on AWS: it checks the schema, never migrates); else ``working`` itself."""
    if isinstance(working, IamTokenUrl):
        if not working.secret_arn:
            return None
        return SecretUrl(working.secret_arn, working.tls, working.client, working.s3_client)
    return working
