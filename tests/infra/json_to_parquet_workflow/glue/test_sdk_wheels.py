"""The AWS SDK the processor runs with on Glue is the one the tests use (issue 18, item 4).

Glue 5.0 ships its own, older botocore, whose S3 model cannot send the archive's conditional deletes. The processor
therefore installs the vendored ``boto3``/``botocore``/``s3transfer`` wheels (``--additional-python-modules``,
offline, with their dependencies), and these must be exactly the versions of the test environment: a newer dev SDK
fails here until ``scripts/fetch-glue-wheels.sh`` is run again.
"""

from __future__ import annotations

import gzip
import importlib.metadata
import json
import zipfile
from pathlib import Path

import pytest

from platform_constructs.json_to_parquet_workflow.glue.assets import (
    DEFAULT_WHEELS_DIR,
    SDK_WHEELS,
    GlueWheelsMissingError,
    find_pure_wheels,
)
from runtime.storage.sdk_check import MEMBER, SHAPE

pytestmark = pytest.mark.infra


def _version(wheel: Path) -> str:
    return wheel.name.split("-")[1]


def test_the_vendored_sdk_is_the_version_the_tests_run_with() -> None:
    wheels = find_pure_wheels(DEFAULT_WHEELS_DIR)
    assert [w.name.split("-")[0] for w in wheels] == list(SDK_WHEELS)
    for wheel in wheels:
        installed = importlib.metadata.version(wheel.name.split("-")[0].replace("_", "-"))
        assert _version(wheel) == installed, (
            f"{wheel.name} is not the {installed} the tests use: run scripts/fetch-glue-wheels.sh and commit")


def test_the_vendored_botocore_can_send_conditional_deletes() -> None:
    (botocore,) = [w for w in find_pure_wheels(DEFAULT_WHEELS_DIR) if w.name.startswith("botocore-")]
    with zipfile.ZipFile(botocore) as wheel:
        name = next(n for n in wheel.namelist() if n.startswith("botocore/data/s3/2006-03-01/service-2.json"))
        data = wheel.read(name)
    model = json.loads(gzip.decompress(data) if name.endswith(".gz") else data)
    assert MEMBER in model["shapes"][SHAPE]["members"]
    objects = model["shapes"][model["shapes"]["Delete"]["members"]["Objects"]["shape"]]
    assert objects["member"]["shape"] == SHAPE


def test_the_vendored_boto3_accepts_the_vendored_botocore_and_s3transfer() -> None:
    boto3, botocore, s3transfer, *_ = find_pure_wheels(DEFAULT_WHEELS_DIR)
    with zipfile.ZipFile(boto3) as wheel:
        metadata = wheel.read(f"boto3-{_version(boto3)}.dist-info/METADATA").decode()
    from packaging.requirements import Requirement

    requires = {r.name: r.specifier for r in map(Requirement, (
        line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist:")))}
    assert _version(botocore) in requires["botocore"] and _version(s3transfer) in requires["s3transfer"]


def test_missing_or_duplicate_sdk_wheels_name_the_script(tmp_path: Path) -> None:
    with pytest.raises(GlueWheelsMissingError, match=r"boto3, botocore, s3transfer, .*fetch-glue-wheels\.sh"):
        find_pure_wheels(tmp_path)
    for name in ("boto3-1.0.0-py3-none-any.whl", "boto3-1.0.1-py3-none-any.whl"):
        (tmp_path / name).write_bytes(b"")
    with pytest.raises(GlueWheelsMissingError, match="more than one version: boto3"):
        find_pure_wheels(tmp_path, ("boto3",))
