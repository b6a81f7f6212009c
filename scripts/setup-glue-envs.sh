#!/usr/bin/env bash
# The Python the deployed-shape tests run the Glue Python-shell job with: CPython 3.9 (Glue 3.0 Python shell)
# with only boto3, as Glue provides it. Everything else the job imports must come from the bundled wheels, which
# the tests install offline (--no-index) from the synthesized assets. Idempotent; needs PyPI only the first time.
# (The Spark job's environment needs no download: tests/deployed/glue_emulator.py assembles it from the
# pyspark, py4j, boto3 and awsglue-dev that .venv already holds.)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup-glue-envs: %s\n' "$*" >&2; }
TARGET=.mldp/glue-envs/pyshell39
STAMP="$TARGET/.installed-boto3"

find_python39() {
  local root candidate
  root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
  # pyenv's own builds first: its python3.9 shim answers only when 3.9 is the selected version
  for candidate in $(ls -d "$root"/versions/3.9*/bin/python3.9 2>/dev/null | sort -V -r) $(command -v python3.9 || true); do
    if "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 9))' 2>/dev/null; then
      echo "$candidate"; return
    fi
  done
}

if [ -f "$STAMP" ] && [ -x "$TARGET/bin/python" ]; then
  say "Python 3.9 environment up to date ($TARGET)"
  exit 0
fi
PY39=$(find_python39)
if [ -z "$PY39" ]; then
  say "MISSING PREREQUISITE: Python 3.9 (the Glue Python-shell runtime): install it (e.g. 'pyenv install 3.9') or put python3.9 on PATH"
  exit 1
fi
say "creating $TARGET with $PY39 (boto3 only, as Glue's Python shell provides)"
rm -rf "$TARGET"
"$PY39" -m venv "$TARGET"
"$TARGET/bin/python" -m pip install -q --disable-pip-version-check boto3
touch "$STAMP"
say "ready"
