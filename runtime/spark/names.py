"""How Spark 3.5 (Hadoop 3.3) treats a file by its name, in plain Python, so the pre-check decides with Spark's own
rules (no Spark needed to ask):

* **compression codec**: Hadoop's ``CompressionCodecFactory.getCodec`` picks a codec by the end of the file name,
  case-sensitively (:data:`HADOOP_CODECS`; ``X.JSONL.GZ`` is read as plain bytes);
* **hidden files**: Spark's file index skips names starting with ``_`` or ``.`` (unless ``_`` names hold ``=``
  or start ``_metadata`` / ``_common_metadata``) and names ending ``._COPYING_``, even when the file is named
  explicitly: it reads nothing and says nothing (``HadoopFSUtils.shouldFilterOutPathName``).

Such a file is still the user's: Spark reads it under an alias (:func:`spark_alias`, a link or a copy with a
name Spark reads as intended), never by its own name. ``tests/runtime/spark/test_names.py`` checks these rules
against the bundled Spark.
"""

from __future__ import annotations

import posixpath
import re

#: Hadoop's glob characters: Spark globs every path that holds one of them.
GLOB_CHARS = re.compile(r"([\\{}\[\]*?])")
_SCHEME_AND_AUTHORITY = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*://[^/]*|file:)")

#: Hadoop 3.3's codecs by file-name suffix (exact case), as ``CompressionCodecFactory`` of Spark 3.5 lists them.
HADOOP_CODECS: dict[str, str] = {
    ".gz": "gzip",
    ".bz2": "bzip2",
    ".deflate": "deflate",
    ".lz4": "lz4",
    ".snappy": "snappy",
    ".zst": "zstd",
}


def base_name(key: str) -> str:
    """The last segment of a key or path (what Hadoop's ``Path.getName`` returns)."""
    return posixpath.basename(key.rstrip("/"))


def hadoop_codec_suffix(name: str) -> str | None:
    """The codec suffix Hadoop decompresses ``name`` with (case-sensitive, as Hadoop does), or ``None``."""
    name = base_name(name)
    return next((suffix for suffix in HADOOP_CODECS if name.endswith(suffix)), None)


def intended_codec_suffix(name: str) -> str | None:
    """The codec suffix the name asks for whatever its case (``X.JSONL.GZ`` -> ``.gz``), or ``None``."""
    lower = base_name(name).lower()
    return next((suffix for suffix in HADOOP_CODECS if lower.endswith(suffix)), None)


def hidden_from_spark(name: str) -> bool:
    """Whether Spark's file index skips a file of this name (see the module docstring)."""
    name = base_name(name)
    excluded = (name.startswith("_") and "=" not in name) or name.startswith(".") or name.endswith("._COPYING_")
    included = name.startswith("_common_metadata") or name.startswith("_metadata")
    return excluded and not included


def spark_alias(file_id: int, key: str) -> str | None:
    """The file name Spark must read ``key`` under, or ``None`` when its own name reads as intended.

    An alias is needed when Spark would skip the name (hidden) or pick another codec than the name asks for
    (``.GZ``): it is ``mldp-<file_id>`` plus the lower-case codec suffix, unique within a batch.
    """
    if not hidden_from_spark(key) and hadoop_codec_suffix(key) == intended_codec_suffix(key):
        return None
    return id_name(file_id, key)


def id_name(file_id: int, key: str) -> str:
    """A file name Spark reads ``key`` under as intended, whatever the key: ``mldp-<file_id>.json`` plus the
    lower-case codec suffix the key asks for. Unique within a batch, short, never hidden, and holdable by any local
    file system (a key may hold ``//``, a segment over 255 bytes, or be the folder of another key)."""
    return f"mldp-{file_id}.json{intended_codec_suffix(key) or ''}"


def unreadable_reason(spark_path: str) -> str | None:
    """Why Spark cannot open ``spark_path`` as the object it names, or None (then it is read under an alias,
    :func:`runtime.jobs.conversion.spark_read_alias`, when the store allows one).

    * Spark globs every path holding ``{}[]*?\\`` (escaped or not), and Hadoop's globber rebuilds each matched
      name with ``new Path(parent, name)``, which fails for a name containing ``:`` (read as a URI scheme).
    * Hadoop normalises paths (``a//b`` -> ``a/b``, ``a/./b`` -> ``a/b``, ``a/../b`` -> ``b``): harmless on a
      local disk, but in an object store (``s3://...``) that names another object.
    """
    rest = _SCHEME_AND_AUTHORITY.sub("", spark_path)
    if GLOB_CHARS.search(rest) and ":" in rest:
        return ("Spark cannot read this path: it holds both a glob character ({}[]*?\\) and ':' "
                "(rename the object)")
    in_object_store = "://" in spark_path and not spark_path.startswith("file:")
    if in_object_store and ("//" in rest or any(part in {".", ".."} for part in rest.split("/"))):
        return ("Spark cannot read this key: Hadoop rewrites '//', '.' and '..' in paths, so it would read "
                "another object (rename the object)")
    return None
