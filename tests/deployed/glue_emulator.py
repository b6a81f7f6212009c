"""Run the synthesized Glue jobs the way AWS Glue runs them, from the cloud assembly alone.

Nothing here imports the project's runtime or constructs: a job is read from the synthesized template
(``AWS::Glue::Job``: command, script location, DefaultArguments; ``AWS::Glue::Trigger``: each trigger's
Arguments for the job) and the asset manifest (which local file each ``s3://`` asset URL is), then run in a fresh
Python that holds only what Glue provides plus the bundled artifacts:

* **Spark job** (``glueetl``, Glue 5.0 = Python 3.11): pyspark, py4j, boto3 (and, optionally, ``awsglue``, as
  PyPI's ``awsglue-dev`` reproduces aws-glue-libs); ``--extra-py-files`` (``.zip``/``.py``) on ``PYTHONPATH``;
  ``--additional-python-modules`` installed with pip and ``--python-modules-installer-option`` (``--no-index``),
  from the wheels the job bundles (AWS Glue docs, "Using Python libraries with AWS Glue").
* **Python shell job** (``pythonshell``, ``PythonVersion`` 3.9): CPython 3.9 with boto3 only
  (``scripts/setup-glue-envs.sh``); ``.whl`` files of ``--extra-py-files`` pip-installed offline, ``.zip``/``.py``
  on ``PYTHONPATH`` (AWS Glue docs, "Providing your own Python library" for Python shell jobs). Optionally an
  ``awsglue`` package with ``utils.getResolvedOptions`` and nothing Spark-related, as Python shell has.

The argv is Glue's (AWS Glue docs, "Calling AWS Glue APIs in Python" / "Accessing parameters using
getResolvedOptions", and aws-glue-libs ``awsglue/utils.py``): the script path, Glue's own arguments
(``--JOB_ID``, ``--JOB_RUN_ID``, ``--JOB_NAME``; a Spark run also ``--job-bookmark-option``), then the job's
DefaultArguments merged with the run's Arguments (a run's value replaces the default of the same name), in an
order the caller may shuffle. Callers swap only the store and the database (``replace``).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

#: Values of CloudFormation pseudo parameters in the emulated account.
PSEUDO_PARAMETERS = {
    "AWS::AccountId": "123456789012",
    "AWS::Region": "us-east-1",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "MlDataPlatform-dev",
}
#: What a Glue 5.0 Spark job's Python has, by distribution name (the deployed tier adds nothing else).
SPARK_PROVIDED = ("pyspark", "py4j", "boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six",
                  "urllib3")
GLUE_LIB = "awsglue-dev"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
PYSHELL_PYTHON = PROJECT_ROOT / ".mldp" / "glue-envs" / "pyshell39" / "bin" / "python"


# ----------------------------------------------------------------------------------------------- template
def resolve(value: Any, refs: Mapping[str, str]) -> Any:
    """A CloudFormation value with its intrinsics resolved: ``Ref``/``Fn::GetAtt`` of resources from ``refs``
    (else ``<LogicalId>`` / ``<LogicalId.Attr>``), pseudo parameters, ``Fn::Join`` and ``Fn::Sub``."""
    if isinstance(value, list):
        return [resolve(v, refs) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"}:
        name = value["Ref"]
        return PSEUDO_PARAMETERS.get(name) or refs.get(name, f"<{name}>")
    if set(value) == {"Fn::GetAtt"}:
        target, attribute = value["Fn::GetAtt"]
        return refs.get(f"{target}.{attribute}", f"<{target}.{attribute}>")
    if set(value) == {"Fn::Join"}:
        separator, parts = value["Fn::Join"]
        return separator.join(str(resolve(p, refs)) for p in parts)
    if set(value) == {"Fn::Sub"}:
        text = value["Fn::Sub"]
        for name, replacement in PSEUDO_PARAMETERS.items():
            text = text.replace("${" + name + "}", replacement)
        return text
    return {k: resolve(v, refs) for k, v in value.items()}


@dataclass(frozen=True)
class SynthesizedJob:
    """One ``AWS::Glue::Job`` of the template, with local paths for its assets."""

    logical_id: str
    name: str
    command: str  # glueetl | pythonshell
    python_version: str
    script_url: str
    default_arguments: dict[str, str]
    trigger_arguments: dict[str, dict[str, str]] = field(default_factory=dict)  # trigger name -> Arguments
    assets: dict[str, Path] = field(default_factory=dict)  # s3:// URL -> local file

    def local_file(self, url: str) -> Path:
        """The bundled file behind an ``s3://`` URL of this job (an unknown URL is a test failure)."""
        if url not in self.assets:
            raise AssertionError(f"{self.name}: {url} is not a file asset of the cloud assembly")
        return self.assets[url]

    def download(self, url: str, folder: Path) -> Path:
        """Copy the object behind ``url`` into ``folder`` under the key's base name, as Glue downloads job files
        (pip then parses that name: a wheel must keep its ``name-version-tags.whl`` file name)."""
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / url.rsplit("/", 1)[-1]
        shutil.copyfile(self.local_file(url), target)
        return target


def _asset_files(assembly: Path, stack_name: str) -> dict[str, Path]:
    """``s3://bucket/key`` -> local file, for every file asset of the stack (from ``<stack>.assets.json``)."""
    manifest = json.loads((assembly / f"{stack_name}.assets.json").read_text())
    files: dict[str, Path] = {}
    for asset in manifest.get("files", {}).values():
        source = assembly / asset["source"]["path"]
        for destination in asset["destinations"].values():
            bucket = resolve({"Fn::Sub": destination["bucketName"]}, {})
            files[f"s3://{bucket}/{destination['objectKey']}"] = source
    return files


def synthesized_jobs(assembly: Path, stack_name: str, refs: Mapping[str, str]) -> dict[str, SynthesizedJob]:
    """Every Glue job of ``stack_name`` in the cloud assembly folder ``assembly``, by job name."""
    template = json.loads((assembly / f"{stack_name}.template.json").read_text())
    assets = _asset_files(assembly, stack_name)
    resources = template["Resources"]
    jobs: dict[str, SynthesizedJob] = {}
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Glue::Job":
            continue
        props = resolve(resource["Properties"], refs)
        command = props["Command"]
        script_url = command["ScriptLocation"]
        if script_url not in assets:
            raise AssertionError(f"{props['Name']}: script {script_url} is not a file asset")
        jobs[props["Name"]] = SynthesizedJob(
            logical_id=logical_id,
            name=props["Name"],
            command=command["Name"],
            python_version=str(command.get("PythonVersion", "3")),
            script_url=script_url,
            default_arguments=dict(props.get("DefaultArguments", {})),
            assets=assets,
        )
    for resource in resources.values():
        if resource["Type"] != "AWS::Glue::Trigger":
            continue
        props = resolve(resource["Properties"], refs)
        for action in props.get("Actions", []):
            job = jobs.get(action.get("JobName"))
            if job is not None:
                job.trigger_arguments[props["Name"]] = dict(action.get("Arguments", {}))
    return jobs


# ----------------------------------------------------------------------------------------------- argv
def glue_argv(job: SynthesizedJob, script: Path, run_arguments: Mapping[str, str] | None = None, *,
              replace: Mapping[str, str | None] | None = None, shuffle_seed: int | None = None,
              run_id: str | None = None) -> list[str]:
    """``sys.argv`` of a Glue run of ``job``: the script, Glue's arguments, DefaultArguments + run Arguments.

    ``replace`` swaps argument values (``None`` drops the argument): the store and the database, nothing else.
    ``shuffle_seed`` permutes the ``--name value`` pairs (Glue promises no order).
    """
    merged = {**job.default_arguments, **(run_arguments or {})}
    for name, value in (replace or {}).items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    glue_own = {"--JOB_ID": f"j_{uuid.uuid4().hex}", "--JOB_RUN_ID": run_id or f"jr_{uuid.uuid4().hex}",
                "--JOB_NAME": job.name}
    if job.command == "glueetl":
        glue_own["--job-bookmark-option"] = merged.pop("--job-bookmark-option", "job-bookmark-disable")
    pairs = list(glue_own.items()) + list(merged.items())
    if shuffle_seed is not None:
        random.Random(shuffle_seed).shuffle(pairs)
    return [str(script)] + [token for pair in pairs for token in pair]


# ----------------------------------------------------------------------------------------------- environments
def _link_distribution(name: str, site: Path) -> None:
    """Symlink one installed distribution's top-level entries (packages, modules, metadata) into ``site``."""
    dist = metadata.distribution(name)
    root = Path(dist.locate_file(""))
    tops = {Path(str(f)).parts[0] for f in dist.files or () if not str(f).startswith("..")}
    for top in tops:
        target = site / top
        if not target.exists():
            target.symlink_to(root / top)


def _python_shell_awsglue(site: Path) -> None:
    """An ``awsglue`` package as Glue's Python shell has it: ``utils.getResolvedOptions`` (aws-glue-libs'
    ``awsglue/utils.py`` and ``job.py``, from awsglue-dev) without the Spark-only ``DynamicFrame`` import."""
    dist = metadata.distribution(GLUE_LIB)
    package = site / "awsglue"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for module in ("utils.py", "job.py"):
        shutil.copyfile(Path(dist.locate_file(f"awsglue/{module}")), package / module)


@dataclass(frozen=True)
class GlueEnvironment:
    """A Python interpreter plus the folders Glue would put on its path; built once per kind and reused."""

    python: Path
    site: Path  # what Glue provides (on PYTHONPATH)
    with_awsglue: bool

    @classmethod
    def build(cls, root: Path, command: str, with_awsglue: bool) -> GlueEnvironment:
        root.mkdir(parents=True, exist_ok=True)
        site = root / "glue-provided"
        site.mkdir()
        if command == "glueetl":
            venv = root / "venv"
            base = getattr(sys, "_base_executable", sys.executable)
            subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], check=True)
            for name in SPARK_PROVIDED + ((GLUE_LIB,) if with_awsglue else ()):
                _link_distribution(name, site)
            return cls(venv / "bin" / "python", site, with_awsglue)
        if not PYSHELL_PYTHON.exists():
            raise AssertionError(f"{PYSHELL_PYTHON} missing: run scripts/setup-glue-envs.sh (make test does)")
        if with_awsglue:
            _python_shell_awsglue(site)
        return cls(PYSHELL_PYTHON, site, with_awsglue)

    def pip_install_offline(self, wheels: Iterable[Path], target: Path, options: Iterable[str] = ()) -> None:
        """``pip install`` the job's bundled wheels into ``target`` with Glue's installer options, no index."""
        wheels = list(wheels)
        if not wheels:
            return
        pip_python = self.python if self.python == PYSHELL_PYTHON else Path(sys.executable)
        command = [str(pip_python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                   "--no-index", *options, "--target", str(target), *map(str, wheels)]
        subprocess.run(command, check=True, capture_output=True, text=True)


@dataclass
class JobRun:
    """The outcome of one emulated run."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def result(self) -> dict[str, Any]:
        """The job's ``--json`` document (its last stdout line)."""
        lines = [line for line in self.stdout.splitlines() if line.strip()]
        if self.returncode != 0 or not lines:
            raise AssertionError(f"job run failed (exit {self.returncode}):\n{self.stderr[-4000:]}")
        return json.loads(lines[-1])


def run_glue_job(job: SynthesizedJob, environment: GlueEnvironment, workdir: Path,
                 run_arguments: Mapping[str, str] | None = None, *, replace: Mapping[str, str | None],
                 extra_env: Mapping[str, str] | None = None, shuffle_seed: int | None = None,
                 timeout: int = 600) -> JobRun:
    """Stage ``job``'s bundle into ``workdir`` as Glue does and run its script with Glue's argv."""
    if (job.command == "glueetl") != (environment.python != PYSHELL_PYTHON):
        raise AssertionError(f"{job.name} ({job.command}) needs the other Glue environment")
    workdir.mkdir(parents=True, exist_ok=True)
    arguments = {**job.default_arguments, **(run_arguments or {})}
    downloads = workdir / "glue-downloads"
    script = job.download(job.script_url, downloads)
    python_path: list[str] = []
    installed = workdir / "installed"
    extra_files = [job.download(u, downloads) for u in arguments.get("--extra-py-files", "").split(",") if u]
    if job.command == "pythonshell":
        environment.pip_install_offline([f for f in extra_files if f.suffix == ".whl"], installed)
        python_path.append(str(installed))
        python_path += [str(f) for f in extra_files if f.suffix != ".whl"]
    else:
        python_path += [str(f) for f in extra_files]
        modules = [job.download(u, downloads) if u.startswith("s3://") else Path(u)
                   for u in arguments.get("--additional-python-modules", "").split(",") if u]
        options = arguments.get("--python-modules-installer-option", "").split()
        environment.pip_install_offline(modules, installed, options)
        python_path.append(str(installed))
    python_path.append(str(environment.site))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workdir),
        "LANG": "C.UTF-8",
        "TMPDIR": str(workdir),
        "PYTHONPATH": os.pathsep.join(python_path),
        "PYSPARK_PYTHON": str(environment.python),
        "MLDP_SPARK_DRIVER_MEMORY": "1g",
        **({"JAVA_HOME": os.environ["JAVA_HOME"]} if "JAVA_HOME" in os.environ else {}),
        **(extra_env or {}),
    }
    argv = glue_argv(job, script, run_arguments, replace=replace, shuffle_seed=shuffle_seed)
    done = subprocess.run([str(environment.python), *argv], cwd=workdir, env=env, capture_output=True, text=True,
                          timeout=timeout)
    return JobRun(argv, done.returncode, done.stdout, done.stderr)
