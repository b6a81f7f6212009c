"""The spec versions line of ``mldp status``: which transform spec versions the last batches used, and how many of
their records carried rescued data (issue 20)."""

from __future__ import annotations

from typing import Any

from runtime.db.operator_queries import SPEC_VERSIONS


def spec_versions(cur: Any, limit: int) -> list[dict[str, Any]]:
    """The spec versions of the last ``limit`` committed batches (see :data:`SPEC_VERSIONS`)."""
    cur.execute(SPEC_VERSIONS, {"limit": max(limit, 1)})
    return [{"spec_version": row[0], "batches": int(row[1]), "records_rescued": int(row[2])}
            for row in cur.fetchall()]


def render_spec_versions(versions: list[dict[str, Any]]) -> str:
    """One line: ``Spec versions (last committed batches): 9d87208234f2 (8 batches, 120 records with rescued
    data), ...``; the first is the latest in use."""
    if not versions:
        return "Spec versions: no committed batch yet"
    parts = [f"{item['spec_version'] or 'unrecorded'} ({item['batches']} batches, {item['records_rescued']:,} records "
             "with rescued data)" for item in versions]
    return "Spec versions (last committed batches, latest first): " + ", ".join(parts)
