"""The validated transform spec: its columns, its partitions and the explicit read schema they imply. Build one
with :func:`runtime.transforms.loader.load_spec` or :func:`~runtime.transforms.loader.spec_from_dict`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql.types import DataType, StringType, StructField, StructType

from runtime.transforms.dates import DateFormat
from runtime.transforms.hooks import load_hook
from runtime.transforms.names import CORRUPT_RECORD_COLUMN
from runtime.transforms.sql_types import parse_type

#: The type name that marks a date column (read as string, parsed with the column's formats).
DATE_TYPE = "date"
#: Partition parts taken from a date column (integers).
DATE_PARTS = ("year", "month", "day")
#: Every partition part: a date part, or ``value`` (the column's value as is).
PARTITION_PARTS = (*DATE_PARTS, "value")


@dataclass(frozen=True)
class ColumnSpec:
    """One output column: where it comes from, how it is read and whether it must be present."""

    name: str
    source: str  # dotted path into the JSON object
    type: str  # canonical Spark SQL read type (DataType.simpleString()), or "date"
    required: bool = False
    cast: str | None = None  # canonical output type when the column is cast after reading
    formats: tuple[DateFormat, ...] = ()  # date columns only
    iso_timestamps: bool = False  # date columns only
    description: str = ""

    @property
    def source_path(self) -> tuple[str, ...]:
        """The source path split into its segments."""
        return tuple(self.source.split("."))

    @property
    def is_date(self) -> bool:
        """Whether this column is parsed into a ``date`` from a string."""
        return self.type == DATE_TYPE

    def read_type(self) -> DataType:
        """The type the source field is read as (string for date columns)."""
        return StringType() if self.is_date else parse_type(self.type)

    def accepted_formats_text(self) -> str:
        """Human-readable list of accepted date formats, for error reasons."""
        names = [item.pattern for item in self.formats]
        if self.iso_timestamps:
            names.append("ISO-8601 timestamp")
        return ", ".join(names)


@dataclass(frozen=True)
class PartitionSpec:
    """One Hive-style partition column and how its value is derived from an output column."""

    name: str
    source_column: str  # the output column it is derived from (the spec's "from")
    part: str  # "year" | "month" | "day" | "value"
    pattern: str | None = None  # "value" partitions only

    @property
    def is_date_part(self) -> bool:
        """Whether the value is the year, month or day of a date column (an integer)."""
        return self.part in DATE_PARTS


#: What the spec does with fields it does not read (``schema_policy``): ``rescue`` keeps them in ``_rescued_data``,
#: ``fail`` stops a file that brings any (FAILED until the spec changes and the file is requeued), ``ignore`` drops
#: them (counted). Every mode counts the records that carry them.
SCHEMA_POLICIES = ("rescue", "fail", "ignore")
#: What a value whose type does not fit its column makes of the record (``on_type_mismatch``): ``dead_letter`` (the
#: record is malformed) or ``rescue`` (the column is null, the raw value is kept in ``_rescued_data``; a required
#: column still dead-letters the record).
TYPE_MISMATCH_RULES = ("dead_letter", "rescue")


#: Leniencies a spec may opt into (``json: {allow: [...]}``), each a Spark JSON reader option that is otherwise
#: off. Without them a record with single-quoted strings, ``NaN``/``Infinity`` tokens, comments, unquoted field
#: names or numbers with leading zeros is malformed (dead-lettered), as RFC 8259 says.
JSON_LENIENCIES: dict[str, str] = {
    "single_quotes": "allowSingleQuotes",
    "non_numeric_numbers": "allowNonNumericNumbers",
    "comments": "allowComments",
    "unquoted_field_names": "allowUnquotedFieldNames",
    "numeric_leading_zeros": "allowNumericLeadingZeros",
}


@dataclass(frozen=True)
class TransformSpec:
    """A validated transform spec; build it with :func:`load_spec` or :func:`spec_from_dict`."""

    columns: tuple[ColumnSpec, ...]
    partitions: tuple[PartitionSpec, ...]
    hook: str | None = None
    version: int = 1
    description: str = field(default="", compare=False)
    #: JSON leniencies the reader accepts (names of :data:`JSON_LENIENCIES`); none by default: RFC 8259 only
    json_allow: frozenset[str] = frozenset()
    schema_policy: str = "rescue"
    on_type_mismatch: str = "dead_letter"
    #: the spec's version: the content hash of its document (:func:`runtime.transforms.loader.spec_from_dict`)
    content_hash: str = field(default="", compare=False)

    @property
    def writes_rescued_data(self) -> bool:
        """Whether the curated output has the ``_rescued_data`` column (schema policy ``rescue``)."""
        return self.schema_policy == "rescue"

    @property
    def partition_names(self) -> tuple[str, ...]:
        """Partition column names in directory order."""
        return tuple(item.name for item in self.partitions)

    def column(self, name: str) -> ColumnSpec:
        """The output column called ``name``; raises ``KeyError``."""
        for item in self.columns:
            if item.name == name:
                return item
        raise KeyError(name)

    def effectively_required(self, column: ColumnSpec) -> bool:
        """Whether a null value of ``column`` is a record-level error (required, or a partition source)."""
        return column.required or any(item.source_column == column.name for item in self.partitions)

    def json_reader_options(self) -> dict[str, str]:
        """The Spark JSON reader options of this spec: every leniency off unless the spec allows it."""
        return {option: "true" if name in self.json_allow else "false" for name, option in JSON_LENIENCIES.items()}

    def source_schema(self) -> StructType:
        """The fields of a record the spec reads: every source path as (nested) struct fields."""
        root: dict[str, Any] = {}
        for column in self.columns:
            node = root
            *parents, leaf = column.source_path
            for segment in parents:
                node = node.setdefault(segment, {})
            node[leaf] = column.read_type()
        return _to_struct(root)

    def read_schema(self) -> StructType:
        """The explicit read schema: every source path as (nested) struct fields, plus ``_corrupt_record``."""
        schema = self.source_schema()
        return StructType([*schema.fields, StructField(CORRUPT_RECORD_COLUMN, StringType(), True)])

    def resolve_hook(self) -> Callable[[Any], Any] | None:
        """Import the hook function (``None`` when the spec has no hook); raises :class:`~runtime.errors.SpecError`.
        """
        return None if self.hook is None else load_hook(self.hook)


def _to_struct(node: Mapping[str, Any]) -> StructType:
    return StructType([
        StructField(name, _to_struct(value) if isinstance(value, dict) else value, True)
        for name, value in node.items()
    ])
