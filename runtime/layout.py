"""The bucket layout of the reference design: every prefix in one place, every prefix configurable."""

from __future__ import annotations

import re
from dataclasses import dataclass

from runtime.errors import UsageError

RAW_PREFIX = "raw-json-data/"
HISTORICAL_PREFIX = "raw-json-data/all_historical_files/"
PROCESSED_PREFIX = "raw-json-data-processed/"
CURATED_PREFIX = "curated-data-lake/json_parsed_parquet/"
DEAD_LETTER_PREFIX = "error-data-lake/json_malformed_records/"
STAGING_PREFIX = "curated-data-lake/_staging/"
SCRIPTS_PREFIX = "glue-scripts/"

#: Weekly drops under the raw prefix: ``YYYY/weekXX/``.
WEEKLY_FOLDER = re.compile(r"^(\d{4})/week(\d{2})/$")
#: The historical dump under the raw prefix.
HISTORICAL_FOLDER = "all_historical_files/"
#: Prefix options every job takes (``--raw-prefix`` ...): Layout field -> CLI option.
PREFIX_OPTIONS = {
    "raw_prefix": "raw-prefix",
    "processed_prefix": "processed-prefix",
    "curated_prefix": "curated-prefix",
    "staging_prefix": "staging-prefix",
    "dead_letter_prefix": "dead-letter-prefix",
}


@dataclass(frozen=True)
class Layout:
    """Where each kind of object lives in the bucket (or local directory)."""

    raw_prefix: str = RAW_PREFIX
    processed_prefix: str = PROCESSED_PREFIX
    curated_prefix: str = CURATED_PREFIX
    dead_letter_prefix: str = DEAD_LETTER_PREFIX
    staging_prefix: str = STAGING_PREFIX

    @property
    def default_historical_prefix(self) -> str:
        return self.raw_prefix + HISTORICAL_FOLDER

    @property
    def pipeline_prefixes(self) -> dict[str, str]:
        """The prefixes the pipeline writes (processed, curated, staging, dead-letter) by ``--`` option name:
        nothing under them is ever a raw file, even when a layout nests one under the raw prefix."""
        return {PREFIX_OPTIONS[name]: getattr(self, name) for name in PREFIX_OPTIONS if name != "raw_prefix"}

    def is_pipeline_key(self, key: str) -> bool:
        """True for a key under one of the :attr:`pipeline_prefixes` (the pipeline's own output)."""
        return any(key.startswith(prefix) for prefix in self.pipeline_prefixes.values())

    def is_registrable_key(self, key: str) -> bool:
        """True for a key the lister may register: under the raw prefix and under no pipeline prefix."""
        return key.startswith(self.raw_prefix) and not self.is_pipeline_key(key)

    def check_listing_prefix(self, prefix: str) -> str:
        """``prefix`` if the lister may list it: it must lie under the raw prefix (``''``, the raw prefix without
        its ``/`` or any prefix outside it would also reach the pipeline's own output) and not under a pipeline
        prefix; otherwise a :class:`~runtime.errors.UsageError` naming the rule."""
        if not prefix.startswith(self.raw_prefix):
            shown = "'' (empty: an unset variable?)" if not prefix.strip() else repr(prefix)
            hint = f" (did you mean {self.raw_prefix!r}?)" if self.raw_prefix.startswith(prefix) and prefix else ""
            raise UsageError(f"--prefix {shown} is not under the raw prefix {self.raw_prefix!r}{hint}: the lister "
                             "only lists raw files; nothing was registered")
        for option, pipeline_prefix in self.pipeline_prefixes.items():
            if prefix.startswith(pipeline_prefix):
                raise UsageError(f"--prefix {prefix!r} is under the {option} {pipeline_prefix!r}: the pipeline's "
                                 "own output is never registered; nothing was registered")
        return prefix

    def is_default_raw_key(self, key: str) -> bool:
        """True for keys under the reference listing folders: ``<raw>/all_historical_files/`` and every
        ``<raw>/YYYY/weekXX/``."""
        if not key.startswith(self.raw_prefix):
            return False
        relative = key[len(self.raw_prefix):]
        if relative.startswith(HISTORICAL_FOLDER):
            return True
        parts = relative.split("/")
        return len(parts) >= 3 and WEEKLY_FOLDER.match("/".join(parts[:2]) + "/") is not None

    def __post_init__(self) -> None:
        for name in PREFIX_OPTIONS:
            value = getattr(self, name)
            if not value.endswith("/") or value.startswith("/"):
                raise UsageError(f"--{PREFIX_OPTIONS[name]} {value!r} must be a key prefix ending in '/'")
        for option, prefix in self.pipeline_prefixes.items():
            if self.raw_prefix.startswith(prefix):
                raise UsageError(f"--raw-prefix {self.raw_prefix!r} lies under the {option} {prefix!r}: raw files "
                                 "and the pipeline's output need separate prefixes")

    def archived_key(self, raw_key: str, version: int = 1) -> str:
        """The key a raw file is moved to once processed: the same relative key under the processed prefix, and
        for a later version of the same key (a new ETag) under ``_versions/vN/``, so that archiving it never
        overwrites the archive of an earlier version."""
        relative = raw_key[len(self.raw_prefix):] if raw_key.startswith(self.raw_prefix) else raw_key
        if version > 1:
            return f"{self.processed_prefix}_versions/v{version}/{relative}"
        return self.processed_prefix + relative
