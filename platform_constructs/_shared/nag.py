"""Acknowledging cdk-nag findings (cdk-nag 3.x reads CDK's native ``Validations`` acknowledgments).

The constructs acknowledge only the findings that are inherent to their design, each with a reason that
says why the flagged permission or setting is needed; this needs ``aws_cdk`` only, not ``cdk_nag``.

A finding id embeds the flagged value as cdk-nag renders it (``Ref`` -> ``<Name>``, ``Fn::GetAtt`` ->
``<Id.Attr>``, ``Fn::Join`` concatenated), and that rendering depends on the environment: with a concrete
region (``CDK_DEFAULT_REGION``) ``<AWS::Region>`` becomes ``us-east-1``. :func:`finding_value` renders a value
the same way, so acknowledgments match in every environment.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one finding id (e.g. ``AwsSolutions-IAM5[Resource::*]``) on ``scope`` and its children."""
    if len(reason) < 30:
        raise ValueError(f"acknowledgment of {rule_id} needs a specific reason (got {reason!r})")
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((intrinsic, argument),) = value.items()
        if intrinsic == "Ref":
            return f"<{argument}>"
        if intrinsic == "Fn::GetAtt":
            return f"<{argument[0]}.{argument[1]}>"
        if intrinsic == "Fn::Join":
            separator, parts = argument
            return separator.join(_render(part) for part in parts)
    raise ValueError(f"cannot render {value!r} as a cdk-nag finding value")


def finding_value(scope: IConstruct, value: str) -> str:
    """``value`` (an ARN, possibly with tokens) as it appears in a cdk-nag finding id of ``scope``'s stack."""
    return _render(Stack.of(scope).resolve(value))
