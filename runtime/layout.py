"""The bucket layout of the reference design: every prefix in one place, every prefix configurable."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from platform_contract.layout import (
    CURATED_PREFIX,
    DEAD_LETTER_PREFIX,
    HISTORICAL_FOLDER,
    PROCESSED_PREFIX,
    RAW_PREFIX,
    STAGING_PREFIX,
)
from runtime.errors import UsageError

#: Weekly drops under the raw prefix: ``YYYY/weekN/`` with one or two digits and any case of ``week`` (``week1``,
#: ``Week02``, ``WEEK3``). A file ``YYYY/week02.jsonl`` is not a weekly folder.
WEEKLY_FOLDER = re.compile(r"^([0-9]{4})/week([0-9]{1,2})/$", re.IGNORECASE)
#: S3's limit on the length of a key, in UTF-8 bytes: no archived key is longer, and the lister registers no
#: longer key (PostgreSQL's btree index on ``s3_key`` cannot hold much longer ones either).
MAX_KEY_BYTES = 1024
#: Folder under the processed prefix of the archived keys too long to keep their natural form
#: (see :meth:`Layout.archived_key`).
LONG_ARCHIVE_FOLDER = "_long/"
#: Longest processed prefix, in UTF-8 bytes: a shortened archived key keeps room for the end of the file name.
MAX_PROCESSED_PREFIX_BYTES = 512
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
        return key.startswith((self.processed_prefix, self.curated_prefix, self.staging_prefix,
                               self.dead_letter_prefix))

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
        ``<raw>/YYYY/weekN/`` (see :data:`WEEKLY_FOLDER`)."""
        if not key.startswith(self.raw_prefix):
            return False
        relative = key[len(self.raw_prefix):]
        if relative.startswith(HISTORICAL_FOLDER):
            return True
        parts = relative.split("/", 2)
        return len(parts) == 3 and WEEKLY_FOLDER.match(parts[0] + "/" + parts[1] + "/") is not None

    def __post_init__(self) -> None:
        for name in PREFIX_OPTIONS:
            value = getattr(self, name)
            if not value.endswith("/") or value.startswith("/"):
                raise UsageError(f"--{PREFIX_OPTIONS[name]} {value!r} must be a key prefix ending in '/'")
        for option, prefix in self.pipeline_prefixes.items():
            if self.raw_prefix.startswith(prefix):
                raise UsageError(f"--raw-prefix {self.raw_prefix!r} lies under the {option} {prefix!r}: raw files "
                                 "and the pipeline's output need separate prefixes")
        if _utf8_size(self.processed_prefix) > MAX_PROCESSED_PREFIX_BYTES:
            raise UsageError(f"--processed-prefix is longer than {MAX_PROCESSED_PREFIX_BYTES} bytes: archived keys "
                             f"must fit in S3's {MAX_KEY_BYTES:,} bytes")

    def archived_key(self, raw_key: str, version: int = 1) -> str:
        """The key a raw file is moved to once processed: the same relative key under the processed prefix, and
        for a later version of the same key (a new ETag) under ``_versions/vN/``, so that archiving it never
        overwrites the archive of an earlier version.

        Never longer than :data:`MAX_KEY_BYTES` (S3's limit) in UTF-8: when that natural key would be longer, the
        key is ``<processed>_long/<sha256 of the raw key>/v<version>/<end of the file name>``, the name cut at
        the front on a character boundary so the key fits (its suffix, such as ``.jsonl.gz``, is kept). The same
        raw key and version always give the same key (a re-run of an interrupted archive copies to the same
        place); different raw keys give different ones. The tracking row records the raw key (``s3_key``) next to
        this ``archived_key``, so ``mldp inspect`` finds the file by either."""
        relative = raw_key[len(self.raw_prefix):] if raw_key.startswith(self.raw_prefix) else raw_key
        if version > 1:
            natural = f"{self.processed_prefix}_versions/v{version}/{relative}"
        else:
            natural = self.processed_prefix + relative
        if _utf8_size(natural) <= MAX_KEY_BYTES:
            return natural
        return self._shortened_archived_key(raw_key, version)

    def _shortened_archived_key(self, raw_key: str, version: int) -> str:
        """``<processed>_long/<sha256 hex of raw_key>/v<version>/<end of the file name>``, at most
        :data:`MAX_KEY_BYTES` long."""
        digest = hashlib.sha256(raw_key.encode("utf-8", "surrogateescape")).hexdigest()
        folder = f"{self.processed_prefix}{LONG_ARCHIVE_FOLDER}{digest}/v{version}/"
        name = raw_key.rpartition("/")[2] or digest
        return folder + utf8_tail(name, MAX_KEY_BYTES - _utf8_size(folder))


def _utf8_size(text: str) -> int:
    """The length of ``text`` in UTF-8 bytes (a name that is not UTF-8 counts its original bytes)."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogateescape"))


def utf8_tail(text: str, max_bytes: int) -> str:
    """The longest end of ``text`` whose UTF-8 encoding fits in ``max_bytes``, never splitting a character."""
    encoded = text.encode("utf-8", "surrogateescape")
    if len(encoded) <= max_bytes:
        return text
    tail = encoded[len(encoded) - max_bytes:] if max_bytes > 0 else b""
    start = 0
    while start < len(tail) and tail[start] & 0xC0 == 0x80:  # a continuation byte: inside a character
        start += 1
    return tail[start:].decode("utf-8", "surrogateescape")
