#!/usr/bin/env python3
"""CDK entry point: builds ``MlDataPlatform-dev`` and ``MlDataPlatform-prod`` from ``stacks.config``.

Account and region come from the CDK environment (``CDK_DEFAULT_ACCOUNT`` / ``CDK_DEFAULT_REGION``, set by the
CDK CLI from your credentials); without them the stacks are environment-agnostic and synth works offline.
Overrides come from CDK context (see ``stacks.config.apply_context_overrides``), e.g.
``npx cdk synth -c prod.alarm_emails=ops@example.com``. ``python app.py`` reads ``cdk.json``'s context itself,
so it synthesizes the same templates as ``npx cdk synth``.
cdk-nag's ``AwsSolutionsChecks`` runs as a policy-validation plugin: any unacknowledged finding fails synth.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1")

from aws_cdk import App, Environment, Validations
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


if __name__ == "__main__":
    build_app().synth()
