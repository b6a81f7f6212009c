"""Bundling of the Glue job code: entry scripts, the ``runtime`` library and the dependency wheels.

Everything a job needs is uploaded as a CDK file asset, so the jobs install nothing from the internet:

* the two entry scripts (each job's ``ScriptLocation``);
* the ``runtime`` package and the ``platform_contract`` package it imports (the values the runtime shares with the
  constructs), built at synth time into

  - ``runtime.zip`` for the Spark processor's ``--extra-py-files`` (Spark adds ``.zip`` files to the
    ``sys.path`` of the driver and of every executor), and
  - a pure-Python wheel for the Python-shell lister's ``--extra-py-files`` (Python shell 3.9 pip-installs
    ``.whl`` files);

  both reproducible: sorted entries, fixed timestamps and permissions, no ``__pycache__``;
* the vendored wheels in :data:`DEFAULT_WHEELS_DIR` (``psycopg2-binary`` and ``PyYAML`` for CPython 3.11,
  Glue 5.0, and 3.9, Python shell; fetched once by ``scripts/fetch-glue-wheels.sh`` and committed);
* the pinned AWS SDK for the processor (:data:`SDK_WHEELS`: ``boto3``, ``botocore``, ``s3transfer`` and their
  dependencies, pure-Python wheels, the versions the tests run with, installable offline on their own): Glue 5.0
  ships an older botocore whose S3 model cannot send the archive's conditional deletes
  (``runtime.storage.sdk_check``, which also checks it at the start of every run);
* with the Iceberg table format only, ``pyiceberg[glue]`` and the rest of its dependency closure for CPython 3.11
  (:data:`ICEBERG_WHEELS_DIR`, everything but the SDK above: the processor installs both sets offline together).

pip only installs a wheel whose *file name* parses (``name-version-tags.whl``), and Glue keeps the S3 key's
base name when it downloads a file. A plain ``s3_assets.Asset`` is stored under ``<sha256>.whl``, which pip
rejects, so every file here is registered with the stack synthesizer under a *readable, content-addressed*
key (:func:`add_named_file_asset`): vendored wheels keep their PyPI name (immutable per name), and every
built file carries a digest of its content in its name. The jobs' roles then get ``s3:GetObject`` on exactly
these keys of the CDK asset bucket.

This module never imports the ``runtime`` package: it only reads its files (and those of ``platform_contract``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipfile
from base64 import urlsafe_b64encode
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import FileAssetPackaging, Stack, Stage
from aws_cdk import aws_iam as iam
from constructs import Construct

#: The folder that holds the ``platform_constructs`` package (a repository checkout or site-packages alike).
_PACKAGES_ROOT = Path(__file__).resolve().parents[3]
#: The ``runtime`` package beside ``platform_constructs``.
DEFAULT_RUNTIME_DIR = _PACKAGES_ROOT / "runtime"
#: The ``platform_contract`` package beside ``platform_constructs``: bundled with the runtime, which imports it.
DEFAULT_CONTRACT_DIR = _PACKAGES_ROOT / "platform_contract"
#: Vendored dependency wheels (committed; refreshed by ``scripts/fetch-glue-wheels.sh``).
DEFAULT_WHEELS_DIR = Path(__file__).resolve().parent / "wheels"
#: Entry scripts, relative to the runtime package folder.
LISTER_SCRIPT = "glue/file_lister_and_db_populator.py"
PROCESSOR_SCRIPT = "glue/json_to_parquet_batch_processor.py"
#: The processor's JVM class (``runtime.spark.native_json``), under the runtime folder: its ``--extra-jars``.
NATIVE_JAR = "spark/native/mldp-native.jar"
#: Distributions (normalized names) that every job installs from the vendored wheels.
REQUIRED_WHEELS = ("psycopg2_binary", "pyyaml")
#: Pure-Python wheels (``*-none-any``) of the AWS SDK and its dependencies that the Spark processor installs over
#: Glue's own (the whole closure: pip ``--no-index`` then needs nothing else).
SDK_WHEELS = ("boto3", "botocore", "s3transfer", "jmespath", "python_dateutil", "six", "urllib3")
#: Sub-folder of the wheels folder with ``pyiceberg`` and its dependencies (but the SDK), for the Iceberg format.
ICEBERG_WHEELS_DIR = "iceberg"
#: The distribution the Iceberg wheel set must hold.
ICEBERG_DISTRIBUTION = "pyiceberg"
#: Distribution name and version of the runtime wheel; the build tag carries the content digest.
RUNTIME_DISTRIBUTION = "mldp_runtime"
RUNTIME_WHEEL_VERSION = "0.1.0"

_FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest timestamp a zip entry can carry
_EXCLUDED_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
_EXCLUDED_SUFFIXES = {".pyc", ".pyo"}
_DIGEST_CHARS = 16
_FETCH_HINT = (
    "run scripts/fetch-glue-wheels.sh (needs PyPI once) and commit "
    "platform_constructs/json_to_parquet_workflow/glue/wheels/"
)


class GlueWheelsMissingError(ValueError):
    """The vendored dependency wheels are not there; the message says which script fetches them."""


# --------------------------------------------------------------------------------------------------
# Reproducible archives
# --------------------------------------------------------------------------------------------------
def package_files(package_dir: Path) -> list[tuple[str, bytes]]:
    """The files of a Python package as sorted ``(archive name, content)`` pairs, caches excluded.

    Archive names start with the package folder's name (``runtime/db/connection.py``) and use ``/``.
    """
    package_dir = Path(package_dir)
    if not (package_dir / "__init__.py").is_file():
        raise ValueError(
            f"{package_dir} is not a Python package (no __init__.py): runtime_dir must be the folder of the runtime "
            "package that the Glue entry scripts import, contract_dir that of platform_contract"
        )
    entries: list[tuple[str, bytes]] = []
    for root, dirs, names in os.walk(package_dir):
        dirs[:] = sorted(d for d in dirs if d not in _EXCLUDED_DIRS and not d.endswith(".egg-info"))
        for name in sorted(names):
            path = Path(root) / name
            if path.suffix in _EXCLUDED_SUFFIXES or name.startswith("."):
                continue
            entries.append((f"{package_dir.name}/{path.relative_to(package_dir).as_posix()}", path.read_bytes()))
    entries.sort(key=lambda item: item[0])
    return entries


def content_digest(entries: Sequence[tuple[str, bytes]]) -> str:
    """A short hex digest of archive entries (names and contents), used in the built files' names."""
    digest = hashlib.sha256()
    for arcname, data in entries:
        digest.update(arcname.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()[:_DIGEST_CHARS]


def _write_zip(target: Path, entries: Sequence[tuple[str, bytes]]) -> Path:
    """Write a byte-for-byte reproducible zip (atomically; an existing file of that name is reused)."""
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    os.close(fd)
    with zipfile.ZipFile(tmp_name, "w") as archive:
        for arcname, data in entries:
            info = zipfile.ZipInfo(arcname, date_time=_FIXED_DATE_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    os.replace(tmp_name, target)
    return target


def _build_dir() -> Path:
    return Path(tempfile.gettempdir()) / "mldp-glue-assets"


def bundle_files(runtime_dir: Path, extra_packages: Sequence[Path] = ()) -> list[tuple[str, bytes]]:
    """The sorted archive entries of the runtime package and of ``extra_packages`` (``platform_contract``)."""
    entries = package_files(Path(runtime_dir))
    for package in extra_packages:
        entries += package_files(Path(package))
    return sorted(entries, key=lambda item: item[0])


def build_runtime_zip(runtime_dir: Path, out_dir: Path | None = None, extra_packages: Sequence[Path] = ()) -> Path:
    """Build ``runtime-<digest>.zip`` (Spark ``--extra-py-files``) of the runtime package and ``extra_packages``
    and return its path."""
    entries = bundle_files(runtime_dir, extra_packages)
    return _write_zip((out_dir or _build_dir()) / f"runtime-{content_digest(entries)}.zip", entries)


def _record_hash(data: bytes) -> str:
    return "sha256=" + urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_runtime_wheel(runtime_dir: Path, out_dir: Path | None = None, version: str = RUNTIME_WHEEL_VERSION,
                        extra_packages: Sequence[Path] = ()) -> Path:
    """Build a pure-Python wheel of the runtime package (and of ``extra_packages``) and return its path.

    Its file name is ``mldp_runtime-<version>-1x<digest>-py3-none-any.whl``: the build tag (which must start
    with a digit) carries the content digest, so a changed runtime gets a new S3 key. The wheel declares
    no dependencies, so ``pip install`` of it never reaches for an index.
    """
    entries = bundle_files(runtime_dir, extra_packages)
    build_tag = f"1x{content_digest(entries)}"
    dist_info = f"{RUNTIME_DISTRIBUTION}-{version}.dist-info"
    metadata = (
        f"Metadata-Version: 2.1\nName: {RUNTIME_DISTRIBUTION}\nVersion: {version}\n"
        "Summary: Glue runtime of the tracked JSON -> Parquet pipeline (bundled by platform_constructs)\n"
        "Requires-Python: >=3.9\n"
    ).encode()
    wheel = (
        "Wheel-Version: 1.0\nGenerator: platform_constructs.json_to_parquet_workflow.glue.assets\n"
        "Root-Is-Purelib: true\n"
        f"Build: {build_tag}\nTag: py3-none-any\n"
    ).encode()
    entries += [(f"{dist_info}/METADATA", metadata), (f"{dist_info}/WHEEL", wheel)]
    record = [f"{name},{_record_hash(data)},{len(data)}" for name, data in entries] + [f"{dist_info}/RECORD,,"]
    entries.append((f"{dist_info}/RECORD", ("\n".join(record) + "\n").encode()))
    name = f"{RUNTIME_DISTRIBUTION}-{version}-{build_tag}-py3-none-any.whl"
    return _write_zip((out_dir or _build_dir()) / name, entries)


def normalized_distribution(wheel: Path) -> str:
    """The PEP 503-normalized distribution name of a wheel file, with ``_`` (``PyYAML-…`` -> ``pyyaml``)."""
    return wheel.name.split("-", 1)[0].lower().replace("-", "_").replace(".", "_")


def find_wheels(wheels_dir: Path, python_tag: str, required: Sequence[str] = REQUIRED_WHEELS) -> list[Path]:
    """The vendored manylinux x86_64 wheels for one CPython tag (``"cp311"``, ``"cp39"``), in ``required`` order.

    Raises :class:`GlueWheelsMissingError` (a ``ValueError``) naming the script to run when any is missing.
    """
    wheels_dir = Path(wheels_dir)
    candidates = sorted(wheels_dir.glob(f"*-{python_tag}-*manylinux*x86_64*.whl")) if wheels_dir.is_dir() else []
    found: dict[str, Path] = {}
    for wheel in candidates:
        found.setdefault(normalized_distribution(wheel), wheel)
    missing = [name for name in required if name not in found]
    if missing:
        raise GlueWheelsMissingError(
            f"Glue dependency wheels for {python_tag} missing in {wheels_dir}: {', '.join(missing)}; {_FETCH_HINT}"
        )
    return [found[name] for name in required]


def find_pure_wheels(wheels_dir: Path, required: Sequence[str] = SDK_WHEELS) -> list[Path]:
    """The vendored pure-Python (``*-none-any``) wheels of ``required`` (normalized names), in that order, one
    version each.

    Raises :class:`GlueWheelsMissingError` naming the script to run when any is missing or present twice.
    """
    wheels_dir = Path(wheels_dir)
    candidates = sorted(wheels_dir.glob("*-none-any.whl")) if wheels_dir.is_dir() else []
    found: dict[str, list[Path]] = {}
    for wheel in candidates:
        found.setdefault(normalized_distribution(wheel), []).append(wheel)
    missing = [name for name in required if len(found.get(name, [])) != 1]
    if missing:
        raise GlueWheelsMissingError(
            f"pure-Python wheels missing in {wheels_dir}, or more than one version: {', '.join(missing)}; "
            f"{_FETCH_HINT}"
        )
    return [found[name][0] for name in required]


def find_iceberg_wheels(wheels_dir: Path) -> list[Path]:
    """Every wheel of :data:`ICEBERG_WHEELS_DIR` under ``wheels_dir`` (``pyiceberg`` and its dependencies but the
    SDK), sorted, one version each.

    Raises :class:`GlueWheelsMissingError` naming the script to run when ``pyiceberg`` is missing or a
    distribution is there twice.
    """
    folder = Path(wheels_dir) / ICEBERG_WHEELS_DIR
    wheels = sorted(folder.glob("*.whl")) if folder.is_dir() else []
    names = [normalized_distribution(wheel) for wheel in wheels]
    twice = sorted({name for name in names if names.count(name) > 1})
    if ICEBERG_DISTRIBUTION not in names or twice:
        raise GlueWheelsMissingError(
            f"Iceberg wheels missing in {folder}, or more than one version: "
            f"{', '.join(twice) or ICEBERG_DISTRIBUTION}; {_FETCH_HINT}"
        )
    return wheels


def _digest_named(path: Path) -> str:
    """``<stem>-<digest>`` of a file whose name does not already identify its content."""
    return f"{path.stem}-{hashlib.sha256(path.read_bytes()).hexdigest()[:_DIGEST_CHARS]}"


# --------------------------------------------------------------------------------------------------
# CDK registration
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BundledFile:
    """One file uploaded to the CDK asset bucket under a readable key.

    Attributes:
        file_name: the key's base name (what Glue names the downloaded file).
        bucket_name: the asset bucket (a token).
        object_key: the S3 key (== ``file_name`` with the default synthesizer).
        s3_url: ``s3://bucket/key``.
    """

    file_name: str
    bucket_name: str
    object_key: str
    s3_url: str

    def object_arn(self, partition: str) -> str:
        """The object's ARN (for an IAM statement)."""
        return f"arn:{partition}:s3:::{self.bucket_name}/{self.object_key}"


def add_named_file_asset(scope: Construct, path: Path, key_stem: str) -> BundledFile:
    """Stage ``path`` into the cloud assembly and register it as a file asset keyed ``<key_stem><suffix>``.

    ``key_stem`` must identify the content (a PyPI wheel name, or a name that embeds a content digest):
    CDK skips uploading a key that already exists.
    """
    stage = Stage.of(scope)
    if stage is None:
        raise ValueError("add_named_file_asset needs a construct inside an App or Stage")
    staged_name = f"asset.{key_stem}{path.suffix}"
    staged = Path(stage.asset_outdir) / staged_name
    if not staged.is_file():
        staged.parent.mkdir(parents=True, exist_ok=True)
        tmp = staged.with_name(staged.name + f".{os.getpid()}.tmp")
        shutil.copyfile(path, tmp)
        os.replace(tmp, staged)
    location = Stack.of(scope).synthesizer.add_file_asset(
        source_hash=key_stem, file_name=staged_name, packaging=FileAssetPackaging.FILE
    )
    return BundledFile(
        file_name=f"{key_stem}{path.suffix}",
        bucket_name=location.bucket_name,
        object_key=location.object_key,
        s3_url=location.s3_object_url,
    )


@dataclass(frozen=True)
class GlueCodeAssetsProps:
    """Props of :class:`GlueCodeAssets`; see each field's comment."""

    #: The ``runtime`` package folder (its ``glue/`` sub-folder holds the entry scripts).
    runtime_dir: Path = DEFAULT_RUNTIME_DIR
    #: Folder of the vendored dependency wheels.
    wheels_dir: Path = DEFAULT_WHEELS_DIR
    #: The ``platform_contract`` package folder, bundled beside the runtime (which imports it).
    contract_dir: Path = DEFAULT_CONTRACT_DIR
    #: Normalized distribution names that must be present for both Python versions.
    required_wheels: tuple[str, ...] = REQUIRED_WHEELS
    #: Pure-Python AWS SDK wheels the processor installs (``()``: Glue's own SDK, refused at start if too old).
    sdk_wheels: tuple[str, ...] = SDK_WHEELS
    #: Add ``pyiceberg`` and its dependencies (:func:`find_iceberg_wheels`) to the processor's wheels.
    iceberg_wheels: bool = False


class GlueCodeAssets(Construct):
    """The code of both Glue jobs, as S3 objects with readable, content-addressed keys.

    Attributes:
        lister_script / processor_script: the entry scripts.
        native_jar: ``mldp-native-<digest>.jar``, the processor's one-parse JSON reader (its ``--extra-jars``).
        runtime_zip: ``runtime-<digest>.zip`` (processor ``--extra-py-files``), the contract included.
        runtime_wheel: the runtime wheel (lister ``--extra-py-files``), the contract included.
        spark_wheels: cp311 dependency wheels, the pinned AWS SDK and, with ``iceberg_wheels``, pyiceberg's closure
            (processor ``--additional-python-modules``).
        python_shell_wheels: cp39 dependency wheels (lister ``--extra-py-files``).
    """

    def __init__(self, scope: Construct, construct_id: str, props: GlueCodeAssetsProps | None = None) -> None:
        super().__init__(scope, construct_id)
        self.props = props or GlueCodeAssetsProps()
        runtime_dir = Path(self.props.runtime_dir)
        for script in (LISTER_SCRIPT, PROCESSOR_SCRIPT):
            if not (runtime_dir / script).is_file():
                raise ValueError(
                    f"Glue entry script {runtime_dir / script} not found: runtime_dir must be the runtime package "
                    f"folder that contains {LISTER_SCRIPT} and {PROCESSOR_SCRIPT}"
                )
        spark_wheels = find_wheels(self.props.wheels_dir, "cp311", self.props.required_wheels)
        spark_wheels += find_pure_wheels(self.props.wheels_dir, self.props.sdk_wheels) if self.props.sdk_wheels else []
        spark_wheels += find_iceberg_wheels(self.props.wheels_dir) if self.props.iceberg_wheels else []
        shell_wheels = find_wheels(self.props.wheels_dir, "cp39", self.props.required_wheels)
        lister = runtime_dir / LISTER_SCRIPT
        processor = runtime_dir / PROCESSOR_SCRIPT
        self.lister_script = add_named_file_asset(self, lister, _digest_named(lister))
        self.processor_script = add_named_file_asset(self, processor, _digest_named(processor))
        native_jar = runtime_dir / NATIVE_JAR
        if not native_jar.is_file():
            raise ValueError(f"{native_jar} not found: runtime_dir must be the runtime package folder that contains "
                             f"{NATIVE_JAR} (rebuilt by scripts/build-native-jar.sh)")
        self.native_jar = add_named_file_asset(self, native_jar, _digest_named(native_jar))
        extra_packages = (Path(self.props.contract_dir),)
        runtime_zip = build_runtime_zip(runtime_dir, extra_packages=extra_packages)
        runtime_wheel = build_runtime_wheel(runtime_dir, extra_packages=extra_packages)
        self.runtime_zip = add_named_file_asset(self, runtime_zip, runtime_zip.stem)
        self.runtime_wheel = add_named_file_asset(self, runtime_wheel, runtime_wheel.stem)
        self.spark_wheels = [add_named_file_asset(self, w, w.stem) for w in spark_wheels]
        self.python_shell_wheels = [add_named_file_asset(self, w, w.stem) for w in shell_wheels]

    @property
    def lister_files(self) -> list[BundledFile]:
        """Every object the lister job reads."""
        return [self.lister_script, self.runtime_wheel, *self.python_shell_wheels]

    @property
    def processor_files(self) -> list[BundledFile]:
        """Every object the processor job reads."""
        return [self.processor_script, self.runtime_zip, self.native_jar, *self.spark_wheels]

    def grant_read(self, files: Sequence[BundledFile], grantee: iam.IGrantable) -> iam.Grant:
        """``s3:GetObject`` on exactly these objects of the asset bucket (never the whole bucket)."""
        partition = Stack.of(self).partition
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=["s3:GetObject"], resource_arns=[f.object_arn(partition) for f in files]
        )
