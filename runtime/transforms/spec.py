"""The declarative transform spec: which source fields to read, how to map them, and how to partition.

A spec is a JSON or YAML file (see ``default_spec.json`` for the reference mapping)::

    version: 1
    columns:              # output columns, in output order
      - {name: id, source: id, type: string, required: true}
      - {name: event_date, source: DATE, type: date, formats: [yyyy-MM-dd, yyyy/MM/dd], iso_timestamps: true}
      - {name: score, source: stats.score, type: string, cast: double}
    partitions:           # Hive-style partition columns, in directory order
      - {name: year, from: event_date, part: year}
      - {name: mode, from: event_mode, part: value, pattern: "^[A-Za-z0-9_.-]{1,64}$"}
    hook: my_pkg.my_module:my_function    # or /path/to/file.py:function (relative to the spec file); optional
    json: {allow: [non_numeric_numbers]}  # optional JSON leniencies; none by default (RFC 8259 records only)
    schema_policy: rescue                 # rescue (default) | fail | ignore: fields the spec does not read
    on_type_mismatch: dead_letter         # dead_letter (default) | rescue: a value that does not fit its column

Rules the loader enforces (each violation is a :class:`~runtime.errors.SpecError`, a ``ValueError``, naming
the offending key):

* ``source`` is a dotted path into the JSON object (``a.b.c``, matched case-sensitively); the read schema is
  built from these paths, so Spark never infers a schema. Fields that no column mentions are not lost: with
  ``schema_policy: rescue`` (the default) they are kept, at any depth, in the ``_rescued_data`` column (a JSON
  object from JSON path to value, see :mod:`runtime.transforms.rescue`); ``fail`` stops a file that brings one
  (FAILED, "schema changed: new fields ...", not charged, until the spec changes and ``mldp requeue``);
  ``ignore`` drops them. Every policy counts the records that carry such fields.
* ``on_type_mismatch``: ``dead_letter`` (default) makes a record whose value does not fit its column malformed;
  ``rescue`` (needs ``schema_policy: rescue``) sets the column null and keeps the raw value in ``_rescued_data``
  (a required column, or a partition source, still dead-letters the record).
* ``type`` is the Spark SQL type the field is read as (``string``, ``bigint``, ``double``, ``boolean``,
  ``decimal(p,s)``, ``array<...>``, ``map<string,...>``, ``struct<a:...>``), or ``date``: a date column is
  read as a string and parsed with the accepted ``formats`` (default ``yyyy-MM-dd`` and ``yyyy/MM/dd``, see
  :func:`compile_date_format`) and, unless ``iso_timestamps`` is false, ISO-8601 timestamps truncated to
  their date (in UTC when they carry an offset).
  A value that is present but matches no format is a record-level error, never a silent null.
* ``cast`` (optional) converts the read value to another Spark SQL type; a present value that cannot be
  converted is a record-level error.
* ``required`` columns must be present and not null; the source column of every partition is required too.
* ``part`` is ``year``, ``month`` or ``day`` of a date column, or ``value`` of any column; a ``value``
  partition must match ``pattern`` (default :data:`SAFE_SEGMENT_PATTERN`) and is additionally never empty,
  ``.``, ``..``, the Hive default-partition marker, nor contains ``/`` or ``\\``. A record whose partition
  values cannot be derived is a record-level error: it is dead-lettered, never written to a
  ``__HIVE_DEFAULT_PARTITION__`` folder.
* ``source_s3_path`` (lineage) is added to every output row automatically; it is not a spec column.
* Records must be RFC 8259 JSON: single-quoted strings, ``NaN``/``Infinity`` tokens (and such strings read as
  numbers), comments, unquoted field names and numbers with leading zeros make a record malformed
  (dead-lettered) unless ``json.allow`` lists ``single_quotes``, ``non_numeric_numbers``, ``comments``,
  ``unquoted_field_names`` or ``numeric_leading_zeros``. An object that gives a name twice makes a record malformed
  too (no leniency: Spark would keep the last value and lose the earlier one; RFC 8259 §4 leaves such names to the
  reader). A UTF-8 byte-order mark at the start of a file is fine.
  Content after a complete record on the same line is ignored by Spark's parser (not detected).

Where each part lives (this module re-exports their public names):

* :mod:`runtime.transforms.loader`: :func:`load_spec`, :func:`spec_from_dict` and the document validation;
* :mod:`runtime.transforms.model`: :class:`TransformSpec`, :class:`ColumnSpec`, :class:`PartitionSpec`;
* :mod:`runtime.transforms.sql_types`: :func:`parse_type` (Spark SQL type strings);
* :mod:`runtime.transforms.dates`: :func:`compile_date_format` and :class:`DateFormat`;
* :mod:`runtime.transforms.names`: reserved column names and naming rules;
* :mod:`runtime.transforms.hooks`: importing the optional hook.
"""

from __future__ import annotations

from runtime.errors import SpecError
from runtime.transforms.dates import DEFAULT_DATE_FORMATS, DateFormat, compile_date_format
from runtime.transforms.loader import load_spec, spec_from_dict
from runtime.transforms.model import (
    DATE_PARTS,
    DATE_TYPE,
    PARTITION_PARTS,
    ColumnSpec,
    PartitionSpec,
    TransformSpec,
)
from runtime.transforms.names import (
    CORRUPT_RECORD_COLUMN,
    HIVE_DEFAULT_PARTITION,
    INTERNAL_PREFIX,
    LINEAGE_COLUMN,
    RESCUED_DATA_COLUMN,
    SAFE_SEGMENT_PATTERN,
    SOURCE_VERSION_COLUMN,
)
from runtime.transforms.sql_types import parse_type

__all__ = [
    "CORRUPT_RECORD_COLUMN",
    "DATE_PARTS",
    "DATE_TYPE",
    "DEFAULT_DATE_FORMATS",
    "HIVE_DEFAULT_PARTITION",
    "INTERNAL_PREFIX",
    "LINEAGE_COLUMN",
    "PARTITION_PARTS",
    "RESCUED_DATA_COLUMN",
    "SAFE_SEGMENT_PATTERN",
    "SOURCE_VERSION_COLUMN",
    "ColumnSpec",
    "DateFormat",
    "PartitionSpec",
    "SpecError",
    "TransformSpec",
    "compile_date_format",
    "load_spec",
    "parse_type",
    "spec_from_dict",
]
