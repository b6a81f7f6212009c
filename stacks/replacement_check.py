"""Would deploying a template replace a stateful resource? A check to run before ``cdk deploy``.

CloudFormation replaces a resource (creates a new, empty one, then deletes or, with ``UpdateReplacePolicy: Retain``,
orphans the old one) when a *create-only* property changes, when its type changes, and when its logical ID changes
(the old ID disappears, a new one appears). For the tracking database, its secret, a KMS key or a bucket that means
an empty tracking table, a new password nobody uses, unreadable ciphertext or an empty data lake, with the real
one orphaned and no warning. :func:`find_replacements` compares two templates and names each such change.

* The create-only properties come from the CloudFormation resource provider schemas that ``cfn-lint`` ships
  (``createOnlyProperties``), read through its schema manager; nothing is listed from memory. ``AWS::KMS::Key``
  has none: an immutable key property (``KeySpec``, ``KeyUsage``) makes the update *fail* instead of replacing
  the key, so for keys only the logical ID can cause a replacement.
* A replacement propagates: a create-only property that refers (``Ref``, ``Fn::GetAtt``, ``Fn::Sub``) to a
  replaced resource changes too (the database's ``DBSubnetGroupName`` when its subnet group is replaced). Every
  resource type with a schema is checked for that reason; only :data:`STATEFUL_TYPES` are reported.

Run it as a module before a deploy, with the deployed template as the baseline (JSON)::

    aws cloudformation get-template --stack-name MlDataPlatform-prod --query TemplateBody --output json > old.json
    make synth   # or cdk synth with your context
    python -m stacks.replacement_check old.json cdk.out/MlDataPlatform-prod.template.json --stack MlDataPlatform-prod

It exits 1 and prints one line per finding. ``tests/infra/stacks/test_replacement_check.py`` runs the same
comparison against the committed snapshots in the test command. Why a module of ``stacks`` rather than test-only
code: the deployed template, not the repository's snapshot, is what a deploy replaces against, and an operator
who deploys from a branch can only check that with a command.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

#: The resources whose replacement loses or orphans data; other types are checked only as causes (references).
STATEFUL_TYPES = frozenset(
    {"AWS::RDS::DBInstance", "AWS::SecretsManager::Secret", "AWS::KMS::Key", "AWS::S3::Bucket"}
)
#: The ``property`` of a finding whose logical ID disappeared.
LOGICAL_ID = "LogicalId"
#: The ``property`` of a finding whose resource type changed.
TYPE = "Type"
_SCHEMA_REGION = "us-east-1"
_SUB_REFERENCE = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}")
_MISSING = object()


@dataclass(frozen=True)
class Replacement:
    """One change that would replace (or orphan) a stateful resource.

    Attributes:
        stack: the stack name given to :func:`find_replacements` (may be empty).
        resource: the logical ID in the baseline template.
        resource_type: its CloudFormation type.
        property: the create-only property path (``DBName``, ``Tags/0`` style for nested paths), :data:`TYPE`
            or :data:`LOGICAL_ID`.
        detail: what changed, in words.
    """

    stack: str
    resource: str
    resource_type: str
    property: str
    detail: str

    def __str__(self) -> str:
        where = f"{self.stack}: " if self.stack else ""
        return f"{where}{self.resource} ({self.resource_type}) would be replaced: {self.property}: {self.detail}"


@cache
def create_only_properties(resource_type: str) -> tuple[str, ...]:
    """The ``createOnlyProperties`` of ``resource_type`` from cfn-lint's provider schemas, as paths below
    ``Properties`` (``("DBName", ...)``); empty for a type without a schema (custom resources, transforms)."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER, ResourceNotFoundError

    try:
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(_SCHEMA_REGION, resource_type).schema
    except ResourceNotFoundError:
        return ()
    prefix = "/properties/"
    return tuple(p[len(prefix):] for p in schema.get("createOnlyProperties", []) if p.startswith(prefix))


def _at(properties: Mapping[str, Any], path: str) -> Any:
    value: Any = properties
    for part in path.split("/"):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def _references(value: Any) -> Iterator[str]:
    """Logical IDs that ``value`` refers to through ``Ref``, ``Fn::GetAtt`` or ``Fn::Sub``."""
    if isinstance(value, Mapping):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                yield inner
            elif key == "Fn::GetAtt":
                target = inner[0] if isinstance(inner, list) and inner else str(inner).split(".")[0]
                if isinstance(target, str):
                    yield target
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) and inner else inner
                if isinstance(text, str):
                    yield from _SUB_REFERENCE.findall(text)
                yield from _references(inner[1:] if isinstance(inner, list) else [])
            else:
                yield from _references(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _references(inner)


def _shown(value: Any) -> str:
    return "(absent)" if value is _MISSING else json.dumps(value, sort_keys=True)


def replaced_resources(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """Logical IDs present in both templates that the update would replace, with ``(property, detail)`` reasons.

    Any resource type with a schema counts here, so that a replacement propagates through references.
    """
    old_resources = old.get("Resources", {})
    new_resources = new.get("Resources", {})
    common = [name for name in old_resources if name in new_resources]
    replaced: dict[str, list[tuple[str, str]]] = {}
    for name in common:
        before, after = old_resources[name], new_resources[name]
        if before.get("Type") != after.get("Type"):
            replaced[name] = [(TYPE, f"{before.get('Type')} -> {after.get('Type')}")]
            continue
        reasons = []
        for path in create_only_properties(after["Type"]):
            was, now = _at(before.get("Properties", {}), path), _at(after.get("Properties", {}), path)
            if was != now:
                reasons.append((path, f"create-only property changed from {_shown(was)} to {_shown(now)}"))
        if reasons:
            replaced[name] = reasons
    changed = True
    while changed:  # propagate through create-only properties that refer to a replaced resource
        changed = False
        for name in common:
            if name in replaced:
                continue
            after = new_resources[name]
            for path in create_only_properties(after["Type"]):
                hit = sorted(set(_references(_at(after.get("Properties", {}), path))) & replaced.keys())
                if hit:
                    replaced[name] = [(path, f"create-only property refers to {', '.join(hit)}, which is replaced")]
                    changed = True
                    break
    return replaced


def find_replacements(old: Mapping[str, Any], new: Mapping[str, Any], *, stack: str = "") -> list[Replacement]:
    """Every change from ``old`` to ``new`` that would replace or orphan a resource of :data:`STATEFUL_TYPES`.

    Compare like with like: both templates masked the same way (the snapshot tests' mask), or both unmasked.
    """
    old_resources = old.get("Resources", {})
    new_resources = new.get("Resources", {})
    findings = []
    for name, resource in sorted(old_resources.items()):
        kind = resource.get("Type", "")
        if kind in STATEFUL_TYPES and name not in new_resources:
            added = sorted(n for n, r in new_resources.items() if r.get("Type") == kind and n not in old_resources)
            hint = f"; new {kind} in the template: {', '.join(added)}" if added else ""
            detail = f"the logical ID is no longer in the template (renamed, moved or removed){hint}"
            findings.append(Replacement(stack, name, kind, LOGICAL_ID, detail))
    for name, reasons in sorted(replaced_resources(old, new).items()):
        kind = old_resources[name].get("Type", "")
        if kind in STATEFUL_TYPES or new_resources[name].get("Type") in STATEFUL_TYPES:
            findings.extend(Replacement(stack, name, kind, prop, detail) for prop, detail in reasons)
    return findings


def unacknowledged(findings: Iterable[Replacement], acknowledged: Iterable[Mapping[str, str]]) -> list[Replacement]:
    """``findings`` without those matched by an acknowledgement ``{"stack", "resource", "property", "reason"}``.

    An acknowledgement without a non-empty ``reason`` acknowledges nothing.
    """
    keys = {
        (a.get("stack", ""), a.get("resource", ""), a.get("property", ""))
        for a in acknowledged
        if str(a.get("reason", "")).strip()
    }
    return [f for f in findings if (f.stack, f.resource, f.property) not in keys]


def main(argv: list[str] | None = None) -> int:
    """``python -m stacks.replacement_check OLD.json NEW.json``: 1 (and the findings) when a stateful resource
    would be replaced, 0 otherwise."""
    parser = argparse.ArgumentParser(prog="python -m stacks.replacement_check", description=__doc__.split("\n")[0])
    parser.add_argument("old", type=Path, help="baseline template (JSON): the deployed one, or a snapshot")
    parser.add_argument("new", type=Path, help="synthesized template (JSON), e.g. cdk.out/<stack>.template.json")
    parser.add_argument("--stack", default="", help="stack name shown in the findings")
    args = parser.parse_args(argv)
    old = json.loads(args.old.read_text(encoding="utf-8"))
    new = json.loads(args.new.read_text(encoding="utf-8"))
    findings = find_replacements(old, new, stack=args.stack)
    for finding in findings:
        print(finding)
    if findings:
        print(
            f"{len(findings)} change(s) would replace a stateful resource; see docs/infrastructure.md, "
            "'Changes that replace stateful resources'",
            file=sys.stderr,
        )
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
