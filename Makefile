# The README's two commands: `make demo` (set up, run the whole pipeline locally on sample data) and
# `make test` (set up, run every test). Both are safe to re-run.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 1

.PHONY: setup demo test test-fast lint synth checkov bench clean-local

setup:
	@scripts/setup.sh

demo: setup
	.venv/bin/mldp demo

test: setup
	scripts/setup-glue-envs.sh
	.venv/bin/ruff check .
	.venv/bin/python -m pytest

# The fast tier: no Spark, no CDK synthesis (a test that starts Spark there fails, naming the marker it lacks),
# spread over every core (pytest-xdist; each worker starts its own PostgreSQL server).
test-fast: setup
	.venv/bin/ruff check .
	MLDP_TEST_TIER=fast .venv/bin/python -m pytest -m "not spark and not infra and not deployed" -q -n auto

lint: setup
	.venv/bin/ruff check .
	.venv/bin/lint-imports

# `make synth` checks that both stacks synthesize (offline). Production refuses to synthesize without an alarm
# subscriber, so the check passes a placeholder address (example.com receives no mail); deploy with real
# recipients (docs/infrastructure.md), or check your own: make synth SYNTH_CONTEXT="-c prod.alarms.existing_topic_arn=arn:..."
SYNTH_CONTEXT ?= -c prod.alarms.alarm_emails=alarms-placeholder@example.com

synth: setup
	.venv/bin/python app.py $(SYNTH_CONTEXT)

# checkov over both synthesized templates, in its own virtualenv (.venv-checkov; its dependencies conflict with
# .venv's). Fails on any finding that stacks/checkov_acknowledgments.py does not acknowledge (docs/infrastructure.md).
checkov: setup
	scripts/checkov.sh

bench: setup
	.venv/bin/python -m bench.report

clean-local:
	-.venv/bin/mldp db stop
	rm -rf .mldp cdk.out

# The mutation check: each listed mutation breaks one guarantee of docs/guarantees.md in a temporary copy of the
# working tree, and the tests that guarantee is mapped to must fail (tests/mutations/catalog.py; a few minutes on
# 2 cores). Exit status 1 when a mutation survives or no longer applies. Options: MUTATION_ARGS="--only 1 2".
.PHONY: mutation-check
mutation-check: setup
	.venv/bin/python -m tests.mutations $(MUTATION_ARGS)
