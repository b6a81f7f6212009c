"""Reading S3 lifecycle rules of a synthesized template: which objects a rule applies to, and whether it deletes
current objects. Shared by ``test_tracked_raw_bucket`` (the construct on bare stacks) and ``test_stacks`` (the dev
and prod stacks, where the processor's ``--TempDir`` is known)."""

from __future__ import annotations

from typing import Any


def rule_prefix(rule: dict[str, Any]) -> str:
    """The key prefix a lifecycle rule applies to: ``Prefix``, ``Filter.Prefix`` or ``Filter.And.Prefix``; ``""``
    (every key) when it has none. Tag and size filters are ignored: they narrow a rule to objects one cannot rule
    out by key, so a check of what a rule may touch must treat the rule as applying to every key of its prefix."""
    rule_filter = rule.get("Filter", {})
    for holder in (rule, rule_filter, rule_filter.get("And", {})):
        if holder.get("Prefix"):
            return str(holder["Prefix"])
    return ""


def expires_current_objects(rule: dict[str, Any]) -> bool:
    """Whether an enabled rule deletes *current* objects (``ExpirationInDays`` or ``ExpirationDate``; non-current
    version expiry, expired delete markers and multipart aborts do not)."""
    return rule.get("Status") == "Enabled" and ("ExpirationInDays" in rule or "ExpirationDate" in rule)


def reaches(rule_prefix_: str, prefix: str, *, exempt: str) -> bool:
    """Whether a rule on ``rule_prefix_`` applies to some key under ``prefix`` that is not under ``exempt``: the rule
    covers the whole prefix (``""``, a parent folder, the prefix itself), or a part of it outside ``exempt``."""
    if prefix.startswith(rule_prefix_):
        return True
    return rule_prefix_.startswith(prefix) and not rule_prefix_.startswith(exempt)


def rules_expiring_staging(rules: list[dict[str, Any]], staging_prefix: str, glue_temp_prefix: str) -> list[str]:
    """Ids (or prefixes) of the rules that expire current objects under ``staging_prefix`` other than in Glue's
    scratch space ``glue_temp_prefix``: the objects an open batch may need."""
    return [
        str(rule.get("Id", rule_prefix(rule)))
        for rule in rules
        if expires_current_objects(rule) and reaches(rule_prefix(rule), staging_prefix, exempt=glue_temp_prefix)
    ]
