#!/usr/bin/env bash
# Download the Python dependency wheels that the Glue jobs install without internet access, into
# platform_constructs/json_to_parquet_workflow/glue/wheels/ (committed to the repository, so synth stays offline).
#
#   cp311 / manylinux2014_x86_64: the Spark processor (Glue 5.0, Python 3.11), via --additional-python-modules
#   cp39  / manylinux2014_x86_64: the lister (Glue Python shell, Python 3.9), via --extra-py-files
#   *-none-any: the AWS SDK the processor installs over Glue 5.0's own (boto3, botocore, s3transfer and their
#   dependencies jmespath, python-dateutil, six, urllib3, so that pip --no-index needs nothing else), pinned to
#   the versions in the dev virtualenv, i.e. the ones the tests run with (tests/infra/json_to_parquet_workflow/
#   glue/test_sdk_wheels.py holds this). Glue 5.0's botocore is too old for the archive's conditional deletes
#   (needs >= 1.35.67: ObjectIdentifier.ETag in DeleteObjects; runtime/storage/sdk_check.py).
#   iceberg/: pyiceberg[glue] at the version requirements-runtime.txt pins, with its dependency closure for cp311 /
#   manylinux2014_x86_64 except the SDK above (the processor installs both sets together, offline, only with
#   workflow.table_format=iceberg; tests/infra/json_to_parquet_workflow/glue/test_iceberg_wheels.py).
#
# Run it again after changing a pinned version below; then re-run the infra tests and update the snapshots
# (`pytest tests/infra --snapshot-update`).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${here}/platform_constructs/json_to_parquet_workflow/glue/wheels"
pip="${PIP:-${here}/.venv/bin/pip}"
[ -x "${pip}" ] || pip="pip"

# Exact pins: what Glue installs is what the tests and the snapshot saw.
packages=("psycopg2-binary==2.9.10" "PyYAML==6.0.2")
python="${here}/.venv/bin/python"
[ -x "${python}" ] || python="python3"
sdk_version() { "${python}" -c "import importlib.metadata as m; print(m.version('$1'))"; }
sdk_packages=()
for name in boto3 botocore s3transfer jmespath python-dateutil six urllib3; do
  sdk_packages+=("${name}==$(sdk_version "${name}")")
done

mkdir -p "${dest}"
rm -f "${dest}"/*.whl
for python_version in 3.11 3.9; do
  "${pip}" download \
    --only-binary=:all: \
    --platform manylinux2014_x86_64 \
    --python-version "${python_version}" \
    --implementation cp \
    --no-deps \
    --dest "${dest}" \
    "${packages[@]}"
done
"${pip}" download \
  --only-binary=:all: \
  --platform manylinux2014_x86_64 \
  --python-version 3.11 \
  --implementation cp \
  --no-deps \
  --dest "${dest}" \
  "${sdk_packages[@]}"
# pyiceberg for the Iceberg table format: its whole closure, then drop what the SDK set above already holds.
iceberg_pin="$(grep -E '^pyiceberg(\[[^]]*\])?==' "${here}/requirements-runtime.txt" | sed -E 's/^pyiceberg(\[[^]]*\])?==([^ #]+).*/\2/')"
rm -rf "${dest}/iceberg"
mkdir -p "${dest}/iceberg"
"${pip}" download \
  --only-binary=:all: \
  --platform manylinux2014_x86_64 \
  --python-version 3.11 \
  --implementation cp \
  --dest "${dest}/iceberg" \
  "pyiceberg[glue]==${iceberg_pin}"
for name in boto3 botocore s3transfer jmespath python_dateutil six urllib3; do
  rm -f "${dest}/iceberg/${name}"-*.whl
done
ls -l "${dest}" "${dest}/iceberg"
