#!/usr/bin/env bash
# Set up everything this project needs, idempotently: checks prerequisites (Python 3.11, Java 17, PostgreSQL
# server binaries, Node.js for the CDK CLI), then creates .venv and installs the Python dependencies only when
# the requirement files changed since the last successful install.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: MISSING PREREQUISITE: %s\n' "$*" >&2; exit 1; }
as_root() { [ "$(id -u)" = 0 ]; }
apt_install() {
  if as_root && command -v apt-get >/dev/null; then
    say "installing $* with apt-get"
    (apt-get update -qq || true) >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    return 1
  fi
}

# --- Python 3.11 -------------------------------------------------------------------------------------------------
PYTHON=${PYTHON:-}
if [ -z "$PYTHON" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      PYTHON=$(command -v "$candidate"); break
    fi
  done
fi
[ -n "$PYTHON" ] || die "Python 3.11 (AWS Glue 5.0 runs Python 3.11): install python3.11 or set PYTHON=/path/to/python3.11"

# --- Java 17 (local Spark) ---------------------------------------------------------------------------------------
java_major() { java -version 2>&1 | awk -F'"' '/version/ {split($2, v, "."); print v[1]; exit}'; }
if ! command -v java >/dev/null || [ "$(java_major)" -lt 17 ]; then
  apt_install openjdk-17-jre-headless || die "Java 17 for local Spark (Glue 5.0 uses Java 17): apt-get install openjdk-17-jre-headless"
fi

# --- PostgreSQL server binaries (embedded tracking database) ------------------------------------------------------
have_pg() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v pg_ctl >/dev/null || [ -n "${DATABASE_URL:-}" ]; }
if ! have_pg; then
  apt_install postgresql || say "no PostgreSQL binaries and no apt: the pgserver wheel will be installed as a fallback"
fi

# --- Python virtual environment -----------------------------------------------------------------------------------
stamp_of() { cat requirements.txt requirements-runtime.txt requirements-dev.txt pyproject.toml | sha256sum | cut -c1-16; }
STAMP=".venv/.installed-$(stamp_of)"
if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi
if [ ! -f "$STAMP" ]; then
  say "installing Python dependencies (first time: ~2 minutes, pyspark is large)"
  .venv/bin/python -m pip install -q --upgrade pip wheel
  .venv/bin/python -m pip install -q -r requirements-dev.txt
  .venv/bin/python -m pip install -q --no-deps -e .
  if ! have_pg; then .venv/bin/python -m pip install -q "pgserver>=0.1.4"; fi
  rm -f .venv/.installed-*
  touch "$STAMP"
else
  say "Python dependencies up to date"
fi

# --- CDK CLI (npx cdk synth) ---------------------------------------------------------------------------------------
if [ -f package.json ]; then
  if command -v npm >/dev/null; then
    LOCK_STAMP="node_modules/.installed-$(cat package.json package-lock.json 2>/dev/null | sha256sum | cut -c1-16)"
    if [ ! -f "$LOCK_STAMP" ]; then
      say "installing the pinned CDK CLI with npm"
      if [ -f package-lock.json ]; then npm ci --silent --no-audit --no-fund >/dev/null; else npm install --silent --no-audit --no-fund >/dev/null; fi
      rm -f node_modules/.installed-*; touch "$LOCK_STAMP"
    fi
  else
    say "warning: npm not found: 'npx cdk synth' will not work (python app.py still synthesizes)"
  fi
fi
say "ready"
