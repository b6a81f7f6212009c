"""The names a transform spec may not use and the naming rules its loader and type parser share."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from runtime.errors import SpecError

#: Default (and recommended) pattern for ``value`` partitions: a short, plain path segment.
SAFE_SEGMENT_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
#: The column Spark fills with the raw text of a record it could not parse (PERMISSIVE mode).
CORRUPT_RECORD_COLUMN = "_corrupt_record"
#: The lineage column added to every output row.
LINEAGE_COLUMN = "source_s3_path"
#: Output column: the tracking version of the raw object the row came from (readers keep the latest per source).
SOURCE_VERSION_COLUMN = "source_version"
#: Output column: the fields of a record the spec does not read, and values that do not fit their column, as a JSON
#: object from JSON path to value (null when nothing was rescued); see :mod:`runtime.transforms.rescue`.
RESCUED_DATA_COLUMN = "_rescued_data"
#: Prefix of the internal columns the converter adds; spec names may not use it.
INTERNAL_PREFIX = "__mldp_"
#: Prefix of the helper columns an Iceberg table's staged files are partitioned by (so that the files keep their
#: partition source columns, which Spark's ``partitionBy`` drops); a hyphen, so no spec name can take it, and no
#: leading ``_`` or ``.``, so Hadoop does not hide the folders. Stripped from the published folders' names.
PARTITION_HELPER_PREFIX = "mldp-part-"
#: What Spark writes for a null or empty partition value; never a valid partition value here.
HIVE_DEFAULT_PARTITION = "__HIVE_DEFAULT_PARTITION__"

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_unique(names: Sequence[str], what: str) -> None:
    """Raise :class:`SpecError` when two of ``names`` are equal, compared case-insensitively (as Spark does)."""
    seen: set[str] = set()
    for name in names:
        if name.lower() in seen:
            raise SpecError(f"duplicate name {name!r} in {what} (names are compared case-insensitively)")
        seen.add(name.lower())


def valid_name(value: Any, where: str) -> str:
    """``value`` when it is a usable, non-reserved column or partition name; raises :class:`SpecError`."""
    if not isinstance(value, str) or not _NAME.match(value):
        raise SpecError(f"{where}: {value!r} is not a valid name; use letters, digits and '_' "
                        "(not starting with a digit)")
    if value.startswith(INTERNAL_PREFIX) or value in {LINEAGE_COLUMN, SOURCE_VERSION_COLUMN, CORRUPT_RECORD_COLUMN,
                                                      RESCUED_DATA_COLUMN}:
        raise SpecError(f"{where}: {value!r} is reserved (the converter adds {LINEAGE_COLUMN} and "
                        f"{SOURCE_VERSION_COLUMN} itself)")
    return value
