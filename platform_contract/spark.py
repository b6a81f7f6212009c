"""Spark settings that both halves name: the runtime's local session sets them, and the workflow construct passes
them to the Glue jobs (``--conf``). Plain constants, Python 3.9-compatible."""

from __future__ import annotations

#: Spark's static setting that picks how a cached DataFrame is held (set before the session starts).
CACHE_SERIALIZER_CONF = "spark.sql.cache.serializer"
#: The runtime jar's cache of binary rows (``runtime/spark/native/src/mldp/spark/RowCacheSerializer.java``): the
#: processor caches each batch once and reads it two or three times in full, where Spark's columnar cache spends
#: about 1 CPU-second per 200 MB of JSON encoding and decoding columns it never prunes.
ROW_CACHE_SERIALIZER = "mldp.spark.RowCacheSerializer"
#: The Spark settings of the processor's session that need the runtime jar on its classpath.
NATIVE_SPARK_CONF = {CACHE_SERIALIZER_CONF: ROW_CACHE_SERIALIZER}
