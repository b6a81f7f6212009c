"""``mldp schema drift``: every field path the transform spec does not read (or whose values did not fit their
column), seen in which records and files, when, with which JSON types and examples, and a spec entry to paste.

**Where the evidence is.** Spark aggregates what it rescued per file, path and JSON type while it converts (in the
aggregation that counts the batch's records, :mod:`runtime.spark.convert`), and the processor writes those rows to
``rescued_field_sightings`` in the transaction that records the batch's outcomes (a batch records them once: its row
is the fence). The report is then one GROUP BY over a table as small as the drift
itself: no scan of the curated data, no Spark, and it also covers files that ``schema_policy: fail`` stopped and
fields that ``ignore`` dropped (neither leaves a ``_rescued_data`` value to scan). A file converted again (a new
version, ``mldp reprocess``) adds its rows again: ``records`` counts the records that held a field (once
however many of a record's list elements held it), ``files`` distinct files.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from runtime.db.operator_queries import DRIFT, DRIFT_FILES
from runtime.transforms import exact_json

#: The Spark SQL type a spec column takes for a JSON type; several types (or null only) read as string (JSON text).
_SPEC_TYPES = {"string": "string", "integer": "bigint", "number": "double", "boolean": "boolean",
               "object": "string", "array": "string"}
_PLAIN_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def suggested_entry(path: str, json_types: list[str]) -> dict[str, Any] | str:
    """A spec column that reads ``path`` (a dict, ready to paste into ``columns``), or why none can (a list
    element's field needs the list column's type to change; a name that is no plain identifier)."""
    if "[]" in path:
        column = path.split("[]", 1)[0]
        return (f"a field of the elements of {column}: add it to that column's element type, e.g. "
                f"array<struct<...,{path.rsplit('.', 1)[-1]}:{_spec_type(json_types)}>>")
    if not _PLAIN_PATH.match(path):
        return f"{path} is not a dotted path of plain names: a spec source cannot name it"
    entry: dict[str, Any] = {"name": path.replace(".", "_").lower(), "source": path, "type": _spec_type(json_types)}
    if set(json_types) - {"null"} - {"object", "array"} == set() and set(json_types) & {"object", "array"}:
        entry["description"] = "kept as its JSON text; read it as a struct/array type to get typed fields"
    return entry


def _spec_type(json_types: list[str]) -> str:
    real = sorted(set(json_types) - {"null"})
    if real == ["integer", "number"]:
        return "double"
    if len(real) == 1:
        return _SPEC_TYPES[real[0]]
    return "string"


def _example(text: str) -> Any:
    """An example value as stored: its JSON, or (cut at 200 characters) the text itself followed by ``...``."""
    try:
        return exact_json.loads(text)  # a number exactly as the record held it (1e400 stays 1e400)
    except ValueError:
        return text + "..."


def build_drift(conn: Any, since: dt.datetime | None = None) -> dict[str, Any]:
    """The drift report of the tracking database ``conn`` since ``since`` (``None``: all time), JSON-ready."""
    with conn.cursor() as cur:
        cur.execute(DRIFT, {"since": since})
        rows = cur.fetchall()
        cur.execute(DRIFT_FILES, {"since": since})
        files = {(row[0], row[1]): int(row[2]) for row in cur.fetchall()}
    conn.commit()
    fields: dict[tuple[str, str], dict[str, Any]] = {}
    for path, kind, json_type, records, _, first, last, examples, versions in rows:
        item = fields.setdefault((path, kind), {
            "path": path, "kind": kind, "records": 0, "files": files.get((path, kind), 0), "first_seen": first,
            "last_seen": last, "types": {}, "spec_versions": set()})
        item["records"] += int(records)
        item["first_seen"], item["last_seen"] = min(item["first_seen"], first), max(item["last_seen"], last)
        item["types"][json_type] = {"records": int(records), "examples": [_example(e) for e in examples if e]}
        item["spec_versions"].update(v for v in versions if v)
    report = []
    for item in sorted(fields.values(), key=lambda entry: (-entry["records"], entry["path"])):
        item["spec_versions"] = sorted(item["spec_versions"])
        if item["kind"] == "unknown":
            item["suggested_entry"] = suggested_entry(item["path"], list(item["types"]))
        report.append(item)
    return {"since": since, "fields": report}


def render_drift(report: dict[str, Any]) -> str:
    """The drift report as text: one block per field, the suggested entry as JSON to paste."""
    since = f" since {report['since']:%Y-%m-%d %H:%M UTC}" if report["since"] else ""
    if not report["fields"]:
        return f"No drift{since}: every field of every record was read by the spec."
    blocks = [f"Fields the spec does not read, or whose values did not fit{since}: {len(report['fields'])}"]
    for item in report["fields"]:
        what = "unknown field" if item["kind"] == "unknown" else "type mismatch"
        lines = [f"{item['path']}  ({what}): {item['records']:,} records in {item['files']:,} files, first seen "
                 f"{item['first_seen']:%Y-%m-%d %H:%M}, last seen {item['last_seen']:%Y-%m-%d %H:%M}"]
        for json_type, seen in item["types"].items():
            examples = ", ".join(exact_json.dumps(value, (", ", ": "))[:60] for value in seen["examples"])
            lines.append(f"  {json_type}: {seen['records']:,} records, e.g. {examples}")
        entry = item.get("suggested_entry")
        if isinstance(entry, dict):
            lines.append(f"  suggested spec column: {json.dumps(entry)}")
        elif entry:
            lines.append(f"  suggested: {entry}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
