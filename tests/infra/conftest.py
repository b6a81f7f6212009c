"""Shared helpers for the CDK assertion tests.

Importing aws_cdk takes seconds, so every test module builds its stacks once (module-scoped
fixtures) and asserts on the synthesized template through the ``cfn`` fixture below:

* ``cfn.render(value)`` turns CloudFormation intrinsics into a readable string
  (``{"Fn::GetAtt": ["Bucket", "Arn"]}`` -> ``"${Bucket.Arn}"``, ``Fn::Join`` concatenated, ``Ref`` ->
  ``"${Id}"``), so that tests can compare ARNs and prefixes as plain strings;
* ``cfn.logical_id(construct)`` is the logical id of an L2's default child (or of an L1);
* ``cfn.role_statements(template, role)`` lists the normalized IAM statements attached to a role;
* ``cfn.resources(template, type)`` lists ``(logical_id, resource)`` pairs of one type;
* ``cfn.one(template, type, **properties)`` is the one resource of a type with those properties, ``cfn.job(template,
  name)`` the properties of the Glue job of that name, ``cfn.subs(value)`` the value with ``Fn::Sub`` strings
  unwrapped (asset URLs).

The ``lifecycle`` fixture reads S3 lifecycle rules (which keys a rule applies to, whether it deletes current
objects), for the bucket's tests and the stacks' tests alike.
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

    @staticmethod
    def subs(value: Any) -> Any:
        """Replace ``{"Fn::Sub": "s3://...${AWS::AccountId}..."}`` by its string (asset URLs), recursively."""
        if isinstance(value, list):
            return [CfnHelpers.subs(v) for v in value]
        if isinstance(value, dict):
            if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
                return value["Fn::Sub"]
            return {k: CfnHelpers.subs(v) for k, v in value.items()}
        return value

    @staticmethod
    def one(template: dict[str, Any], resource_type: str, **properties: Any) -> dict[str, Any]:
        """The one resource of ``resource_type`` whose properties include ``properties`` (fails unless exactly one)."""
        found = [
            r for r in template["Resources"].values()
            if r["Type"] == resource_type and all(r["Properties"].get(k) == v for k, v in properties.items())
        ]
        assert len(found) == 1, f"expected one {resource_type} with {properties}, found {len(found)}"
        return found[0]

    @staticmethod
    def job(template: dict[str, Any], name: str) -> dict[str, Any]:
        """The properties of the Glue job named ``name``."""
        return CfnHelpers.one(template, "AWS::Glue::Job", Name=name)["Properties"]


@pytest.fixture(scope="session")
def cfn() -> type[CfnHelpers]:
    """The template-reading helpers (a class with static methods)."""
    return CfnHelpers


class LifecycleRules:
    """Reading S3 lifecycle rules of a synthesized template: which objects a rule applies to, and whether it deletes
    current objects (the bucket's tests on bare stacks, and the stacks' tests, where the processor's ``--TempDir`` is
    known)."""

    @staticmethod
    def rule_prefix(rule: dict[str, Any]) -> str:
        """The key prefix a lifecycle rule applies to: ``Prefix``, ``Filter.Prefix`` or ``Filter.And.Prefix``; ``""``
        (every key) when it has none. Tag and size filters are ignored: they narrow a rule to objects one cannot rule
        out by key, so a check of what a rule may touch must treat the rule as applying to every key of its prefix."""
        rule_filter = rule.get("Filter", {})
        for holder in (rule, rule_filter, rule_filter.get("And", {})):
            if holder.get("Prefix"):
                return str(holder["Prefix"])
        return ""

    @staticmethod
    def expires_current_objects(rule: dict[str, Any]) -> bool:
        """Whether an enabled rule deletes *current* objects (``ExpirationInDays`` or ``ExpirationDate``; non-current
        version expiry, expired delete markers and multipart aborts do not)."""
        return rule.get("Status") == "Enabled" and ("ExpirationInDays" in rule or "ExpirationDate" in rule)

    @staticmethod
    def reaches(rule_prefix_: str, prefix: str, *, exempt: str) -> bool:
        """Whether a rule on ``rule_prefix_`` applies to some key under ``prefix`` that is not under ``exempt``: the
        rule covers the whole prefix (``""``, a parent folder, the prefix itself), or a part of it outside
        ``exempt``."""
        if prefix.startswith(rule_prefix_):
            return True
        return rule_prefix_.startswith(prefix) and not rule_prefix_.startswith(exempt)

    @staticmethod
    def rules_expiring_staging(rules: list[dict[str, Any]], staging_prefix: str, glue_temp_prefix: str) -> list[str]:
        """Ids (or prefixes) of the rules that expire current objects under ``staging_prefix`` other than in Glue's
        scratch space ``glue_temp_prefix``: the objects an open batch may need."""
        return [
            str(rule.get("Id", LifecycleRules.rule_prefix(rule)))
            for rule in rules
            if LifecycleRules.expires_current_objects(rule)
            and LifecycleRules.reaches(LifecycleRules.rule_prefix(rule), staging_prefix, exempt=glue_temp_prefix)
        ]


@pytest.fixture(scope="session")
def lifecycle() -> type[LifecycleRules]:
    """The lifecycle-rule readers (a class with static methods)."""
    return LifecycleRules


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
