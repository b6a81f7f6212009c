#!/usr/bin/env bash
# Download the Python dependency wheels that the Glue jobs install without internet access, into
# platform_constructs/json_to_parquet_workflow/glue/wheels/ (committed to the repository, so synth stays offline).
#
#   cp311 / manylinux2014_x86_64: the Spark processor (Glue 5.0, Python 3.11), via --additional-python-modules
#   cp39  / manylinux2014_x86_64: the lister (Glue Python shell, Python 3.9), via --extra-py-files
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
ls -l "${dest}"
