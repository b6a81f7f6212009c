"""The runtime imported from the bundles the stack uploads (the processor's ``--extra-py-files`` zip, the lister's
wheel) finds its package data: every migration and the default transform spec (read with ``importlib.resources``:
``Path(__file__)`` globbing finds nothing inside a zip)."""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

from tests.deployed.conftest import job_named

PROBE = """
import json, sys, runtime, platform_contract.defaults
from runtime.db.migrations import available_migrations
result = {"module": runtime.__file__, "contract": platform_contract.defaults.__file__,
          "migrations": [m.version for m in available_migrations()]}
if "--spec" in sys.argv:
    from runtime.transforms.spec import load_spec
    result["columns"] = len(load_spec(None).columns)
print(json.dumps(result))
"""
MIGRATION_DIR = Path(__file__).parents[2] / "runtime/db/migrations"
MIGRATIONS = sorted(int(p.name[:4]) for p in MIGRATION_DIR.glob("*.sql"))


def _probe(python: str, paths: list[Path], cwd: Path, *args: str) -> dict:
    env = {"PYTHONPATH": ":".join(map(str, paths)), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([python, "-c", PROBE, *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _bundle(job, suffix: str, folder: Path) -> Path:
    urls = job.default_arguments["--extra-py-files"].split(",")
    url = next(u for u in urls if u.rsplit("/", 1)[-1].startswith(("runtime", "mldp_runtime")) and u.endswith(suffix))
    return job.download(url, folder)


def test_processor_zip_carries_its_migrations_and_default_spec(dev_jobs, glue_environments, tmp_path):
    job = job_named(dev_jobs, "JsonToParquetBatchProcessor")
    bundle = _bundle(job, ".zip", tmp_path)
    names = zipfile.ZipFile(bundle).namelist()
    assert [n for n in names if n.startswith("runtime/db/migrations/")] == [
        f"runtime/db/migrations/{p.name}" for p in sorted(MIGRATION_DIR.glob("*.sql"))]
    environment = glue_environments[("glueetl", False)]
    modules = [job.download(u, tmp_path) for u in job.default_arguments["--additional-python-modules"].split(",")]
    environment.pip_install_offline(modules, tmp_path / "site", ["--no-index"])
    result = _probe(str(environment.python), [bundle, tmp_path / "site", environment.site], tmp_path, "--spec")
    assert result["module"].startswith(str(bundle))  # imported from the zip, not from the checkout
    assert result["contract"].startswith(str(bundle))
    assert result["migrations"] == MIGRATIONS
    assert result["columns"] > 0


def test_lister_wheel_installed_offline_on_python_39_carries_its_migrations(dev_jobs, glue_environments, tmp_path):
    job = job_named(dev_jobs, "FileListerAndDbPopulator")
    environment = glue_environments[("pythonshell", False)]
    wheels = [job.download(u, tmp_path / "downloads") for u in job.default_arguments["--extra-py-files"].split(",")]
    environment.pip_install_offline(wheels, tmp_path / "site")
    result = _probe(str(environment.python), [tmp_path / "site"], cwd=tmp_path)
    assert result["module"].startswith(str(tmp_path / "site"))
    assert result["contract"].startswith(str(tmp_path / "site"))
    assert result["migrations"] == MIGRATIONS
