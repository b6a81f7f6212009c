"""Syrupy snapshots of both stacks' templates, with asset hashes and content digests masked.

Update after an intended change with ``pytest tests/infra/stacks/test_snapshots.py --snapshot-update`` and review the
diff of ``__snapshots__/`` like code.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

pytestmark = pytest.mark.infra

#: CDK asset hashes (sha256 hex) in asset keys, parameters and bootstrap references.
ASSET_HASH = re.compile(r"\b[0-9a-f]{64}\b")
#: Content digests in the names of bundled files: ``runtime-<16 hex>.zip``, ``mldp_runtime-0.1.0-1x<16 hex>-...``,
#: ``file_lister_and_db_populator-<16 hex>.py``.
CONTENT_DIGEST = re.compile(r"-(1x)?[0-9a-f]{16}(?=[-.])")


def mask(template: dict[str, Any]) -> dict[str, Any]:
    """``template`` without what changes when nothing but code contents or the CDK version changes."""
    body = json.loads(json.dumps(template))
    body.get("Resources", {}).pop("CDKMetadata", None)
    body.get("Conditions", {}).pop("CDKMetadataAvailable", None)
    if "Conditions" in body and not body["Conditions"]:
        del body["Conditions"]
    text = ASSET_HASH.sub("<ASSET_HASH>", json.dumps(body, sort_keys=True))
    text = CONTENT_DIGEST.sub(lambda m: "-" + (m.group(1) or "") + "<DIGEST>", text)
    return json.loads(text)


def test_mask_hides_hashes_and_digests_only() -> None:
    template = {
        "Resources": {
            "CDKMetadata": {"Type": "AWS::CDK::Metadata"},
            "Job": {"Properties": {
                "Script": "s3://cdk-hnb659fds-assets-1/file_lister_and_db_populator-bd537d0e0d93abf0.py",
                "Wheel": "s3://b/mldp_runtime-0.1.0-1xab76d9ff7db83061-py3-none-any.whl",
                "Key": "0a" * 32 + ".json",
                "Keep": "psycopg2_binary-2.9.10-cp39-cp39-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            }},
        }
    }
    masked = mask(template)["Resources"]
    assert "CDKMetadata" not in masked
    assert masked["Job"]["Properties"] == {
        "Script": "s3://cdk-hnb659fds-assets-1/file_lister_and_db_populator-<DIGEST>.py",
        "Wheel": "s3://b/mldp_runtime-0.1.0-1x<DIGEST>-py3-none-any.whl",
        "Key": "<ASSET_HASH>.json",
        "Keep": "psycopg2_binary-2.9.10-cp39-cp39-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    }


@pytest.mark.parametrize("stack_name", ["MlDataPlatform-dev", "MlDataPlatform-prod"])
def test_template_snapshot(platform_templates: dict[str, dict[str, Any]], stack_name: str, snapshot: Any) -> None:
    assert mask(platform_templates[stack_name]) == snapshot.use_extension(JSONSnapshotExtension)
