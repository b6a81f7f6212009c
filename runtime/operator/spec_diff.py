"""``mldp schema diff OLD NEW``: which output columns a transform spec change adds, drops or retypes, and what it
means for the data already converted.

* An **added** column reads null in every row converted before (the Parquet files of those batches do not have it);
  to fill it from the raw records, the archived raw files must be converted again with the new spec
  (``mldp reprocess``; with the Parquet format a reader sees the column through the catalog table's schema).
* A **dropped** or **retyped** column (another type, cast, date formats or source) would leave existing rows and new
  rows disagreeing in one column: refused (exit status 1). The change is made as two steps that each say how: add
  the column under a new name (and reprocess if the old rows need it), then drop the old one from readers' views.
* A change of ``schema_policy``, ``on_type_mismatch``, partitions or hook is listed; it changes how new batches are
  converted, not the columns of existing ones (partitions: new batches write other folders).
"""

from __future__ import annotations

from typing import Any

from runtime.transforms.spec import ColumnSpec, TransformSpec


def _shape(column: ColumnSpec) -> dict[str, Any]:
    return {"source": column.source, "type": column.type, "cast": column.cast,
            "formats": [item.pattern for item in column.formats], "iso_timestamps": column.iso_timestamps}


def diff_specs(old: TransformSpec, new: TransformSpec) -> dict[str, Any]:
    """What changes from ``old`` to ``new`` (JSON-ready): ``added``, ``dropped``, ``retyped`` columns, other
    ``changes``, whether existing data must be reprocessed, and ``refused`` (a reason, or ``None``)."""
    before = {column.name: column for column in old.columns}
    after = {column.name: column for column in new.columns}
    added = [name for name in after if name not in before]
    dropped = [name for name in before if name not in after]
    retyped = [{"column": name, "old": _shape(before[name]), "new": _shape(after[name])}
               for name in after if name in before and _shape(before[name]) != _shape(after[name])]
    changes = [f"{key}: {getattr(old, key)!r} -> {getattr(new, key)!r}"
               for key in ("schema_policy", "on_type_mismatch", "hook", "partition_names")
               if getattr(old, key) != getattr(new, key)]
    refused = None
    if dropped or retyped:
        names = dropped + [item["column"] for item in retyped]
        refused = (f"column(s) {', '.join(names)} would be dropped or retyped: existing rows and new rows would "
                   "disagree; add the new shape under a new column name instead (and reprocess if old rows need it)")
    return {"old_version": old.content_hash, "new_version": new.content_hash, "added": added, "dropped": dropped,
            "retyped": retyped, "changes": changes, "reprocess_needed": bool(added),
            "reprocess_reason": ("existing rows read null in " + ", ".join(added) + " until their archived raw files "
                                 "are converted again (mldp reprocess)") if added else None,
            "refused": refused}


def render_diff(report: dict[str, Any]) -> str:
    """The diff as text."""
    lines = [f"spec {report['old_version']} -> {report['new_version']}"]
    lines.append("  added:   " + (", ".join(report["added"]) or "-"))
    lines.append("  dropped: " + (", ".join(report["dropped"]) or "-"))
    for item in report["retyped"]:
        changed = {key: (item["old"][key], item["new"][key]) for key in item["old"] if item["old"][key] !=
                   item["new"][key]}
        lines.append(f"  retyped: {item['column']}: " + "; ".join(f"{key} {a!r} -> {b!r}" for key, (a, b) in
                                                                  changed.items()))
    lines.extend(f"  changed: {change}" for change in report["changes"])
    lines.append("  existing data: " + (report["reprocess_reason"] or "nothing to reprocess"))
    if report["refused"]:
        lines.append(f"refused: {report['refused']}")
    return "\n".join(lines)
