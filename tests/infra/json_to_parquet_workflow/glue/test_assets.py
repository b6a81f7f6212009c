"""The runtime the Glue jobs run: reproducible archives, an installable wheel, the vendored wheels."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.infra

REPO = Path(__file__).resolve().parents[4]
RUNTIME = REPO / "runtime"


def _sample_package(root: Path) -> Path:
    package = root / "runtime"
    (package / "glue").mkdir(parents=True)
    (package / "__pycache__").mkdir()
    (package / "__init__.py").write_text('"""sample"""\n')
    (package / "glue" / "entry.py").write_text("print('hi')\n")
    (package / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"junk")
    (package / "stale.pyc").write_bytes(b"junk")
    return package


def test_runtime_archives_are_reproducible_and_clean(tmp_path: Path) -> None:
    import os

    from platform_constructs.json_to_parquet_workflow.glue.assets import build_runtime_wheel, build_runtime_zip

    package = _sample_package(tmp_path / "src")
    first = build_runtime_zip(package, tmp_path / "a")
    first_wheel = build_runtime_wheel(package, tmp_path / "a")
    for path in package.rglob("*"):  # other timestamps, same content
        os.utime(path, (1_700_000_000, 1_700_000_000))
    second = build_runtime_zip(package, tmp_path / "b")
    assert first.name == second.name and first.read_bytes() == second.read_bytes()
    assert first_wheel.read_bytes() == build_runtime_wheel(package, tmp_path / "b").read_bytes()
    with zipfile.ZipFile(first) as archive:
        assert archive.namelist() == ["runtime/__init__.py", "runtime/glue/entry.py"]
        assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    (package / "glue" / "entry.py").write_text("print('changed')\n")
    assert build_runtime_zip(package, tmp_path / "c").name != first.name  # the name tracks the content


def test_runtime_wheel_installs_with_pip_offline(tmp_path: Path) -> None:
    from platform_constructs.json_to_parquet_workflow.glue.assets import build_runtime_wheel

    wheel = build_runtime_wheel(RUNTIME, tmp_path, extra_packages=(REPO / "platform_contract",))
    target = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-index", "--no-deps", "--quiet", "--target", str(target),
         str(wheel)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (target / "runtime" / "glue" / "file_lister_and_db_populator.py").is_file()
    assert (target / "mldp_runtime-0.1.0.dist-info" / "RECORD").is_file()
    assert (target / "platform_contract" / "defaults.py").is_file()  # the contract the runtime imports


def test_missing_wheels_fail_with_the_script_to_run(tmp_path: Path) -> None:
    from platform_constructs.json_to_parquet_workflow.glue.assets import GlueWheelsMissingError, find_wheels

    with pytest.raises(GlueWheelsMissingError, match=r"scripts/fetch-glue-wheels\.sh"):
        find_wheels(tmp_path, "cp311")
    vendored = find_wheels(REPO / "platform_constructs" / "json_to_parquet_workflow" / "glue" / "wheels", "cp39")
    assert [w.name.split("-")[0] for w in vendored] == ["psycopg2_binary", "PyYAML"]
