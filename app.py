#!/usr/bin/env python3
"""CDK entry point: builds ``MlDataPlatform-dev`` and ``MlDataPlatform-prod`` from ``stacks.config``.

Account and region come from the CDK environment (``CDK_DEFAULT_ACCOUNT`` / ``CDK_DEFAULT_REGION``, set by the
CDK CLI from your credentials); without them the stacks are environment-agnostic and synth works offline.
Overrides come from CDK context (see ``stacks.config.apply_context_overrides``; every key is listed in
``docs/configuration.md``), e.g. ``npx cdk synth -c prod.alarms.alarm_emails=ops@example.com``. ``python app.py``
reads ``cdk.json``'s context itself and takes the same ``-c key=value`` options, so it synthesizes the same
templates as ``npx cdk synth``.
cdk-nag's ``AwsSolutionsChecks`` runs as a policy-validation plugin: any unacknowledged finding fails synth.

Production needs an alarm subscriber: without ``-c prod.alarms.alarm_emails=...`` or
``-c prod.alarms.existing_topic_arn=...`` the prod stack carries a synth error
(``EnvironmentConfig.missing_alarm_subscriber``). The CDK CLI fails the commands that select that stack
(``cdk synth``, ``cdk deploy MlDataPlatform-prod``) and still deploys dev alone; ``python app.py`` fails
whenever a stack has an error (``make synth`` passes a placeholder address).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1")

from aws_cdk import App, Environment, Validations, cx_api
from cdk_nag import AwsSolutionsChecks

from stacks.config import ENVIRONMENTS, apply_context_overrides
from stacks.data_platform_stack import DataPlatformStack

CDK_JSON = Path(__file__).resolve().parent / "cdk.json"


def cdk_json_context() -> dict[str, Any]:
    """The ``context`` of ``cdk.json`` (feature flags and default overrides)."""
    return dict(json.loads(CDK_JSON.read_text())["context"])


def build_app(app: App | None = None) -> App:
    """Add both environment stacks and the cdk-nag plugin to ``app`` (default: an ``App`` with cdk.json's context;
    context from the CDK CLI takes precedence)."""
    app = app or App(context=cdk_json_context())
    env = Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION"))
    context = app.node.get_all_context()
    for base in ENVIRONMENTS:
        config = apply_context_overrides(base, context)
        DataPlatformStack(app, config.stack_name, config=config, env=env)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def synthesis_errors(assembly: cx_api.CloudAssembly) -> list[str]:
    """Error annotations of the synthesized stacks as ``<stack>: <message>`` (what the CDK CLI reports as
    "Found errors" for the stacks it selects)."""
    return [
        f"{stack.stack_name}: {message.entry.data}"
        for stack in assembly.stacks
        for message in stack.messages
        if message.level == cx_api.SynthesisMessageLevel.ERROR
    ]


def main(argv: list[str] | None = None) -> int:
    """``python app.py [-c key=value ...]``: synthesize (into ``CDK_OUTDIR`` or a temporary directory); exit 1 if
    a stack has a synth error.

    Run by the CDK CLI (``CDK_OUTDIR`` set), it leaves the errors to the CLI, which fails only the commands that
    select an erroneous stack.
    """
    parser = argparse.ArgumentParser(description="Synthesize the ML data platform stacks (like `cdk synth`).")
    parser.add_argument(
        "-c", "--context", action="append", default=[], metavar="KEY=VALUE",
        help="context value, as for the CDK CLI (e.g. -c prod.alarms.alarm_emails=oncall@example.com); repeatable",
    )
    args = parser.parse_args(argv)
    context = cdk_json_context()
    for pair in args.context:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            parser.error(f"-c {pair!r}: expected KEY=VALUE")
        context[key] = value
    assembly = build_app(App(context=context)).synth()
    errors = synthesis_errors(assembly)
    if errors and "CDK_OUTDIR" not in os.environ:
        for error in errors:
            print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
