#!/usr/bin/env bash
# checkov over both synthesized stacks (CI: `make checkov`, run by .ci/run). Exit status 1 on any finding that
# stacks/checkov_acknowledgments.py does not acknowledge (docs/infrastructure.md, "checkov"). Synthesizes with the
# same placeholder alarm address as `make synth` into a temporary directory, and reports checkov's own runtime.
set -euo pipefail
cd "$(dirname "$0")/.."
checkov=$(scripts/setup-checkov.sh)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
CDK_OUTDIR="$out" .venv/bin/python app.py -c prod.alarms.alarm_emails=alarms-placeholder@example.com >/dev/null
templates=()
for template in "$out"/*.template.json; do templates+=(-f "$template"); done
[ ${#templates[@]} -gt 0 ] || { echo "checkov: synthesis produced no template" >&2; exit 1; }
start=$EPOCHREALTIME
status=0
# --skip-download: no call to Prisma Cloud (no API key here, and the scan must not depend on the network)
"$checkov" "${templates[@]}" --framework cloudformation --compact --quiet --skip-download || status=$?
awk -v n=$(( ${#templates[@]} / 2 )) -v s="$start" -v e="$EPOCHREALTIME" -v rc="$status" \
  'BEGIN { printf "checkov: %d template(s) scanned in %.1f s, exit status %d\n", n, e - s, rc }' >&2
exit "$status"
