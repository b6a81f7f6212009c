"""``sslmode=verify-full`` for real: a PostgreSQL server of its own with TLS on, its certificate issued by a test CA
for ``localhost``. The jobs' default (the packaged RDS CA bundle) refuses it, since no RDS CA issued it; the test CA
as the bundle accepts it for ``localhost`` and still refuses it for ``127.0.0.1``, a name the certificate does not
carry: the server is verified, its name included, through the URL the credentials provider builds."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from runtime.db.ca_bundle import PACKAGED
from runtime.db.connection import DatabaseUnavailable, connect
from runtime.db.credentials import IamTokenUrl, Tls
from runtime.db.embedded import EmbeddedPostgres, free_port


class Tokens:
    def generate_db_auth_token(self, **kwargs) -> str:
        return "token"  # the test server trusts local connections: any password is accepted


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def issue(ca_key, ca_name, subject: str, key, *, ca: bool, san: list[str] | None = None) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(ca_name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in san]), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory) -> Iterator[tuple[EmbeddedPostgres, Path]]:
    """A server with ``ssl=on`` (certificate for localhost by a test CA) and the test CA's PEM."""
    root = tmp_path_factory.mktemp("pg-tls")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = issue(ca_key, _name("mldp test CA"), "mldp test CA", ca_key, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = issue(ca_key, ca_cert.subject, "localhost", server_key, ca=False, san=["localhost"])
    ca_pem = root / "test-ca.pem"
    ca_pem.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    server = EmbeddedPostgres(data_root=root / "server", port=free_port(), durable=False, database="postgres")
    server.start()
    data = server.data_dir
    owner = os.stat(data)
    for name, blob in (("server.crt", server_cert.public_bytes(serialization.Encoding.PEM)),
                       ("server.key", server_key.private_bytes(serialization.Encoding.PEM,
                                                               serialization.PrivateFormat.TraditionalOpenSSL,
                                                               serialization.NoEncryption()))):
        path = data / name
        path.write_bytes(blob)
        os.chmod(path, 0o600)
        if os.geteuid() == 0:
            os.chown(path, owner.st_uid, owner.st_gid)
    admin = psycopg2.connect(server.admin_url())
    admin.autocommit = True
    with admin.cursor() as cur:
        for setting, value in (("ssl_cert_file", "server.crt"), ("ssl_key_file", "server.key"), ("ssl", "on")):
            cur.execute(f"ALTER SYSTEM SET {setting} = '{value}'")
        cur.execute("SELECT pg_reload_conf()")
    admin.close()
    yield server, ca_pem
    server.stop()
    shutil.rmtree(server.data_root, ignore_errors=True)


def provider(server: EmbeddedPostgres, host: str, tls: Tls) -> IamTokenUrl:
    user = psycopg2.extensions.parse_dsn(server.admin_url())["user"]
    return IamTokenUrl(None, user, tls, region="us-east-1", rds_client=Tokens(),
                       endpoint={"host": host, "port": server.port, "dbname": "postgres"})


def test_the_packaged_rds_bundle_refuses_a_server_no_rds_ca_issued(tls_server) -> None:
    server, _ = tls_server
    with pytest.raises(DatabaseUnavailable, match="certificate verify failed"):
        connect(provider(server, "localhost", Tls(PACKAGED)))


def test_the_servers_ca_as_bundle_verifies_it_with_its_name(tls_server) -> None:
    server, ca_pem = tls_server
    conn = connect(provider(server, "localhost", Tls(str(ca_pem))))
    with conn.cursor() as cur:
        cur.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        assert cur.fetchone()[0] is True
    conn.close()
    with pytest.raises(DatabaseUnavailable, match=r"server certificate for \"localhost\".* does not match host "
                                                  r"name \"127\.0\.0\.1\""):
        connect(provider(server, "127.0.0.1", Tls(str(ca_pem))))  # verify-full, not verify-ca: the name counts
