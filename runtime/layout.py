"""The bucket layout of the reference design: every prefix in one place, every prefix configurable."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

RAW_PREFIX = "raw-json-data/"
HISTORICAL_PREFIX = "raw-json-data/all_historical_files/"
PROCESSED_PREFIX = "raw-json-data-processed/"
CURATED_PREFIX = "curated-data-lake/json_parsed_parquet/"
DEAD_LETTER_PREFIX = "error-data-lake/json_malformed_records/"
STAGING_PREFIX = "curated-data-lake/_staging/"
SCRIPTS_PREFIX = "glue-scripts/"

#: Weekly drops: ``raw-json-data/YYYY/weekXX/``.
WEEKLY_FOLDER = re.compile(r"^raw-json-data/(\d{4})/week(\d{2})/$")


@dataclass(frozen=True)
class Layout:
    """Where each kind of object lives in the bucket (or local directory)."""

    raw_prefix: str = RAW_PREFIX
    historical_prefix: str = HISTORICAL_PREFIX
    processed_prefix: str = PROCESSED_PREFIX
    curated_prefix: str = CURATED_PREFIX
    dead_letter_prefix: str = DEAD_LETTER_PREFIX
    staging_prefix: str = STAGING_PREFIX
    listing_prefixes: tuple[str, ...] = field(default=())

    def archived_key(self, raw_key: str, version: int = 1) -> str:
        """The key a raw file is moved to once processed: the same relative key under the processed prefix, and
        for a later version of the same key (a new ETag) under ``_versions/vN/``, so that archiving it never
        overwrites the archive of an earlier version."""
        relative = raw_key[len(self.raw_prefix):] if raw_key.startswith(self.raw_prefix) else raw_key
        if version > 1:
            return f"{self.processed_prefix}_versions/v{version}/{relative}"
        return self.processed_prefix + relative
