"""Shared helpers for the CDK assertion tests.

Importing aws_cdk takes seconds, so every test module builds its stacks once (module-scoped
fixtures) and asserts on the synthesized template through the ``cfn`` fixture below:

* ``cfn.render(value)`` turns CloudFormation intrinsics into a readable string
  (``{"Fn::GetAtt": ["Bucket", "Arn"]}`` -> ``"${Bucket.Arn}"``, ``Fn::Join`` concatenated, ``Ref`` ->
  ``"${Id}"``), so that tests can compare ARNs and prefixes as plain strings;
* ``cfn.logical_id(construct)`` is the logical id of an L2's default child (or of an L1);
* ``cfn.role_statements(template, role)`` lists the normalized IAM statements attached to a role;
* ``cfn.resources(template, type)`` lists ``(logical_id, resource)`` pairs of one type.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1")


class CfnHelpers:
    """Helpers to read synthesized CloudFormation templates (see the module docstring)."""

    @staticmethod
    def render(value: Any) -> Any:
        """Render intrinsics to strings; lists and dicts are rendered element-wise."""
        if isinstance(value, list):
            return [CfnHelpers.render(v) for v in value]
        if isinstance(value, dict):
            if set(value) == {"Ref"}:
                return "${" + str(value["Ref"]) + "}"
            if set(value) == {"Fn::GetAtt"}:
                target, attribute = value["Fn::GetAtt"]
                return "${" + f"{target}.{attribute}" + "}"
            if set(value) == {"Fn::Join"}:
                separator, parts = value["Fn::Join"]
                return separator.join(str(CfnHelpers.render(p)) for p in parts)
            return {k: CfnHelpers.render(v) for k, v in value.items()}
        return value

    @staticmethod
    def logical_id(construct: Any) -> str:
        """Logical id of a construct's CloudFormation resource (an L2's default child, or the L1 itself)."""
        from aws_cdk import CfnElement, Stack

        element = construct if isinstance(construct, CfnElement) else construct.node.default_child
        return Stack.of(element).get_logical_id(element)

    @staticmethod
    def resources(template: Any, resource_type: str) -> list[tuple[str, dict[str, Any]]]:
        """``(logical_id, resource)`` pairs of ``resource_type`` in a ``Template`` (or its JSON)."""
        body = template if isinstance(template, dict) else template.to_json()
        return [(k, v) for k, v in body["Resources"].items() if v["Type"] == resource_type]

    @staticmethod
    def as_list(value: Any) -> list[Any]:
        """``value`` if it is a list, else ``[value]``."""
        return value if isinstance(value, list) else [value]

    @staticmethod
    def role_statements(template: Any, role: Any) -> list[dict[str, Any]]:
        """IAM statements of every ``AWS::IAM::Policy`` attached to ``role`` (a construct or logical id).

        Each statement is normalized: ``Action`` and ``Resource`` are lists of rendered strings, and
        ``Condition`` is rendered (absent conditions become ``{}``).
        """
        role_id = role if isinstance(role, str) else CfnHelpers.logical_id(role)
        statements: list[dict[str, Any]] = []
        for _, policy in CfnHelpers.resources(template, "AWS::IAM::Policy"):
            roles = policy["Properties"].get("Roles", [])
            if {"Ref": role_id} not in roles:
                continue
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                statements.append(
                    {
                        "Effect": statement["Effect"],
                        "Action": CfnHelpers.as_list(statement["Action"]),
                        "Resource": [CfnHelpers.render(r) for r in CfnHelpers.as_list(statement["Resource"])],
                        "Condition": CfnHelpers.render(statement.get("Condition", {})),
                    }
                )
        return statements


@pytest.fixture(scope="session")
def cfn() -> type[CfnHelpers]:
    """The template-reading helpers (a class with static methods)."""
    return CfnHelpers


# ------------------------------------------------------------------------------------------------
# Engineer B: the whole CDK app (both environment stacks), synthesized once per test session and
# shared by test_stacks, test_snapshots, test_nag and test_cfn_lint.
# ------------------------------------------------------------------------------------------------
#: Context the shared app is built with on top of cdk.json's, as `make synth` passes it: production refuses to
#: synthesize without an alarm subscriber.
PLATFORM_CONTEXT = {"prod.alarms.alarm_emails": "prod-alarms@example.com"}


@pytest.fixture(scope="session")
def platform_app() -> Any:
    """``app.build_app()``: MlDataPlatform-dev and -prod with cdk.json's context plus :data:`PLATFORM_CONTEXT`, and
    the cdk-nag plugin."""
    from aws_cdk import App

    import app as cdk_app

    with pytest.MonkeyPatch.context() as patch:  # environment-agnostic, whatever the shell has set
        patch.delenv("CDK_DEFAULT_ACCOUNT", raising=False)
        patch.delenv("CDK_DEFAULT_REGION", raising=False)
        return cdk_app.build_app(App(context={**cdk_app.cdk_json_context(), **PLATFORM_CONTEXT}))


@pytest.fixture(scope="session")
def platform_templates(platform_app: Any) -> dict[str, dict[str, Any]]:
    """Synthesized templates of ``platform_app`` by stack name (synth also runs the cdk-nag plugin)."""
    assembly = platform_app.synth()
    return {stack.stack_name: stack.template for stack in assembly.stacks}
