"""Credentials resolved afresh for every connection: a run that outlives a password rotation, an IAM token's
15 minutes or a Multi-AZ failover reconnects with what is valid now, never with what was valid at its start.

A :class:`CredentialsProvider` is passed wherever a URL string used to be (:func:`runtime.db.connection.connect`
takes either); :meth:`CredentialsProvider.connection_url` is called once per connection:

* :class:`StaticUrl`: a URL given as is (``--db``, ``$DATABASE_URL``, the embedded server): local mode.
* :class:`SecretUrl`: the Secrets Manager secret, read again for every connection (a rotated password, or the
  other user of an alternating-user rotation, is picked up by the next connection).
* :class:`IamTokenUrl`: RDS IAM database authentication: the endpoint from the secret's ``host``/``port``/``dbname``
  (read once: they do not rotate), the password an IAM token generated for every connection
  (``rds.generate_db_auth_token``, signed locally with the job role's credentials; no password in the job).

The server certificate is verified (``sslmode=verify-full``) when a CA bundle is configured (:class:`Tls`); a
configured bundle that cannot be found is an error naming what to fix, never a silent ``sslmode=require``. Python
3.9-compatible: the Glue Python-shell lister imports it.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

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
    """How the server is verified. ``ca_bundle``: a local path or an ``s3://`` URL of the RDS CA bundle
    (``global-bundle.pem``); with it, ``sslmode=verify-full``; without it, ``sslmode=require`` (encrypted, the
    server not verified: the RDS parameter group forces TLS) and a warning."""

    ca_bundle: str | None = None
    #: The ``sslmode`` without a bundle (``require``; a test server without TLS: ``disable``).
    sslmode: str = "require"

    def parameters(self, *, s3_client: Any = None) -> str:
        """The URL query for these settings: ``sslmode=...[&sslrootcert=...]``. Raises
        :class:`DatabaseUnavailable` when a configured bundle is missing."""
        if not self.ca_bundle:
            return f"sslmode={self.sslmode}"
        return f"sslmode=verify-full&sslrootcert={quote(local_ca_bundle(self.ca_bundle, s3_client=s3_client))}"


_DOWNLOADED: dict = {}


def local_ca_bundle(location: str, *, s3_client: Any = None) -> str:
    """A local path of the CA bundle at ``location`` (a path, or an ``s3://`` URL downloaded once per process).
    Raises :class:`DatabaseUnavailable` saying what to fix when it is not there."""
    hint = ("provide the RDS CA bundle (https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem) at that "
            "location, or point --db-ca-bundle at where it is (docs/infrastructure.md, 'Database credentials')")
    if location.startswith("s3://"):
        if location not in _DOWNLOADED:
            bucket, _, key = location[len("s3://"):].partition("/")
            if s3_client is None:
                import boto3

                s3_client = boto3.client("s3")
            try:
                body = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
            except Exception as exc:
                raise DatabaseUnavailable(f"cannot read the database CA bundle {location} ({exc}): {hint}") from None
            handle, path = tempfile.mkstemp(prefix="mldp-rds-ca-", suffix=".pem")
            with os.fdopen(handle, "wb") as out:
                out.write(body)
            _DOWNLOADED[location] = path
        return _DOWNLOADED[location]
    if not os.path.isfile(location):
        raise DatabaseUnavailable(f"the database CA bundle {location} does not exist: {hint}")
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

    def connection_url(self) -> str:
        """A URL with the secret's current password."""
        payload = read_secret(self.secret_arn, self.client, ("host", "username", "password"))
        return endpoint_url(payload, payload["username"], payload["password"], self.tls.parameters(
            s3_client=self.s3_client))

    def describe(self) -> str:
        """The secret's ARN (its user and host are known only once it is read)."""
        return f"the database of secret {self.secret_arn}"


@dataclass
class IamTokenUrl:
    """RDS IAM database authentication as ``user``: a new token (valid 15 minutes) for every connection. The
    endpoint comes from the secret's ``host``, ``port`` and ``dbname``, read once (its password is not used); the
    region, unless given, from the secret's ARN."""

    secret_arn: str
    user: str = APP_USER
    tls: Tls = field(default_factory=Tls)
    region: str | None = None
    client: Any = None
    rds_client: Any = None
    s3_client: Any = None
    _endpoint: dict | None = None

    def connection_url(self) -> str:
        """A URL whose password is a token generated now."""
        if self._endpoint is None:
            payload = read_secret(self.secret_arn, self.client, ("host",))
            self._endpoint = {k: payload.get(k) for k in ("host", "port", "dbname")}
        if self.region is None:  # the database's region: the secret's (arn:aws:secretsmanager:REGION:...)
            fields = self.secret_arn.split(":")
            self.region = fields[3] if len(fields) > 3 and fields[3] else None
        if self.rds_client is None:
            import boto3

            self.rds_client = boto3.client("rds", region_name=self.region)
        port = int(self._endpoint.get("port") or 5432)
        try:
            token = self.rds_client.generate_db_auth_token(DBHostname=self._endpoint["host"], Port=port,
                                                           DBUsername=self.user, Region=self.region)
        except Exception as exc:  # no credentials, no region
            raise DatabaseUnavailable(f"cannot generate an IAM database token for {self.user}: {exc}") from None
        return endpoint_url(self._endpoint, self.user, token, self.tls.parameters(s3_client=self.s3_client))

    def describe(self) -> str:
        """``user@host`` once the endpoint is known."""
        host = self._endpoint["host"] if self._endpoint else f"the host of secret {self.secret_arn}"
        return f"{self.user}@{host} (IAM authentication)"


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
                        start_embedded: bool = True) -> CredentialsProvider:
    """The provider of the working connections, in order: ``--db URL``, ``$DATABASE_URL`` (as given), the secret
    (IAM tokens as ``iam_user`` when given, else the secret's own user, read afresh), else the embedded server."""
    if cli_url or os.environ.get("DATABASE_URL") or not secret_arn:
        from runtime.db.connection import resolve_database_url

        return StaticUrl(resolve_database_url(cli_url, None, start_embedded=start_embedded))
    tls = Tls(ca_bundle)
    if not ca_bundle:
        log.warning("no --db-ca-bundle: the database server's certificate is not verified (sslmode=require)")
    if iam_user:
        return IamTokenUrl(secret_arn, iam_user, tls)
    return SecretUrl(secret_arn, tls)


def owner_credentials(working: CredentialsProvider) -> CredentialsProvider:
    """The provider migrations connect with: the secret's own user (the owner) when ``working`` authenticates as
    another user with IAM tokens, else ``working`` itself."""
    if isinstance(working, IamTokenUrl):
        return SecretUrl(working.secret_arn, working.tls, working.client, working.s3_client)
    return working
