"""The bucket layout's default prefixes: ``runtime.layout.Layout`` (the jobs' ``--*-prefix`` options) and
``TrackedRawBucketProps`` (what the bucket and the workflow are deployed with) default to these. Each is a key
prefix ending in ``/``."""

from __future__ import annotations

#: Raw JSON files (the lister's default listing folders are under it).
RAW_PREFIX = "raw-json-data/"
#: The historical dump under the raw prefix.
HISTORICAL_FOLDER = "all_historical_files/"
#: :data:`RAW_PREFIX` + :data:`HISTORICAL_FOLDER`.
HISTORICAL_PREFIX = RAW_PREFIX + HISTORICAL_FOLDER
#: Archive of processed raw files.
PROCESSED_PREFIX = "raw-json-data-processed/"
#: Curated Parquet (the Data Catalog table's location).
CURATED_PREFIX = "curated-data-lake/json_parsed_parquet/"
#: Dead-letter records (malformed input).
DEAD_LETTER_PREFIX = "error-data-lake/json_malformed_records/"
#: Batch scratch space (``<staging_prefix><batch id>/``) and Glue's ``--TempDir``.
STAGING_PREFIX = "curated-data-lake/_staging/"
#: Glue scripts and transform specs.
SCRIPTS_PREFIX = "glue-scripts/"

__all__ = [
    "CURATED_PREFIX",
    "DEAD_LETTER_PREFIX",
    "HISTORICAL_FOLDER",
    "HISTORICAL_PREFIX",
    "PROCESSED_PREFIX",
    "RAW_PREFIX",
    "SCRIPTS_PREFIX",
    "STAGING_PREFIX",
]
