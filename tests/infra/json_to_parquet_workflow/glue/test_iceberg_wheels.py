"""The pyiceberg the processor installs on Glue for the Iceberg table format (issue 19).

Glue jobs have no internet: ``glue/wheels/iceberg/`` holds ``pyiceberg[glue]`` and its dependency closure for
CPython 3.11 on manylinux x86_64, except the AWS SDK the processor already installs (``SDK_WHEELS``). The pyiceberg
must be the version the runtime pins, and the two sets together must install offline.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from platform_constructs.json_to_parquet_workflow.glue.assets import (
    DEFAULT_WHEELS_DIR,
    ICEBERG_WHEELS_DIR,
    SDK_WHEELS,
    GlueWheelsMissingError,
    find_iceberg_wheels,
    find_pure_wheels,
    normalized_distribution,
)

pytestmark = pytest.mark.infra

REQUIREMENTS = Path(__file__).resolve().parents[4] / "requirements-runtime.txt"


def _pinned_pyiceberg() -> str:
    pins = re.findall(r"^pyiceberg(?:\[[^\]]*\])?==([^\s#]+)", REQUIREMENTS.read_text(), flags=re.MULTILINE)
    assert len(pins) == 1, f"requirements-runtime.txt must pin pyiceberg exactly once, found {pins}"
    return pins[0]


def test_the_bundled_pyiceberg_is_the_pinned_version() -> None:
    (pyiceberg,) = [w for w in find_iceberg_wheels(DEFAULT_WHEELS_DIR) if normalized_distribution(w) == "pyiceberg"]
    assert pyiceberg.name.split("-")[1] == _pinned_pyiceberg(), (
        f"{pyiceberg.name} is not the pinned pyiceberg: run scripts/fetch-glue-wheels.sh and commit")


def test_every_wheel_runs_on_glue_5_and_none_repeats_the_sdk() -> None:
    wheels = find_iceberg_wheels(DEFAULT_WHEELS_DIR)
    for wheel in wheels:
        tags = wheel.stem.split("-")[-3:]
        assert tags[2] == "any" or ("x86_64" in tags[2] and tags[0] == "cp311"), wheel.name
    assert not {normalized_distribution(w) for w in wheels} & set(SDK_WHEELS)


def test_pyiceberg_and_the_sdk_install_offline_together(tmp_path: Path) -> None:
    """What Glue runs (``pip install <the bundled files> --no-index``), for its platform, resolved without network."""
    wheels = [*find_pure_wheels(DEFAULT_WHEELS_DIR), *find_iceberg_wheels(DEFAULT_WHEELS_DIR)]
    command = [
        sys.executable, "-m", "pip", "install", "--dry-run", "--no-index", "--ignore-installed", "--quiet",
        "--only-binary=:all:", "--platform", "manylinux2014_x86_64", "--python-version", "3.11",
        "--implementation", "cp", "--target", str(tmp_path / "target"), "--report", str(tmp_path / "report.json"),
        *map(str, wheels),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    import json

    installed = {item["metadata"]["name"].lower().replace("-", "_")
                 for item in json.loads((tmp_path / "report.json").read_text())["install"]}
    assert {"pyiceberg", "pydantic", "boto3"} <= installed
    assert len(installed) == len(wheels)  # every bundled wheel is needed, none is missing


def test_missing_or_duplicate_iceberg_wheels_name_the_script(tmp_path: Path) -> None:
    with pytest.raises(GlueWheelsMissingError, match=r"Iceberg wheels missing .*: pyiceberg; .*fetch-glue-wheels"):
        find_iceberg_wheels(tmp_path)
    folder = tmp_path / ICEBERG_WHEELS_DIR
    folder.mkdir()
    for name in ("pyiceberg-0.12.0-py3-none-any.whl", "mmh3-5.0-py3-none-any.whl", "mmh3-5.1-py3-none-any.whl"):
        (folder / name).write_bytes(b"")
    with pytest.raises(GlueWheelsMissingError, match="more than one version: mmh3"):
        find_iceberg_wheels(tmp_path)
