#!/usr/bin/env bash
# checkov in its own virtualenv, .venv-checkov (its pinned dependencies conflict with .venv's), installed only when
# requirements-checkov.txt changed since the last successful install. Prints the checkov executable's path.
# CHECKOV=/path/to/checkov skips the install and uses that one.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${CHECKOV:-}" ]; then echo "$CHECKOV"; exit 0; fi
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}  # checkov 3.3 runs on 3.9-3.12; setup.sh wants 3.11
VENV=.venv-checkov
STAMP="$VENV/.installed-$(sha256sum requirements-checkov.txt | cut -c1-16)"
if [ ! -x "$VENV/bin/python" ]; then
  printf 'setup-checkov: creating %s with %s\n' "$VENV" "$PYTHON" >&2
  "$PYTHON" -m venv "$VENV"
fi
if [ ! -f "$STAMP" ]; then
  printf 'setup-checkov: installing checkov (first time: about a minute)\n' >&2
  "$VENV/bin/python" -m pip install -q --upgrade pip >&2
  "$VENV/bin/python" -m pip install -q -r requirements-checkov.txt >&2
  rm -f "$VENV"/.installed-*
  touch "$STAMP"
fi
echo "$PWD/$VENV/bin/checkov"
