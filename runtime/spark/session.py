"""One way to get a SparkSession: reuse Glue's (or any active) session, or start a small local one."""

from __future__ import annotations

import os

from pyspark import SparkContext
from pyspark.sql import SparkSession

from platform_contract.spark import CACHE_SERIALIZER_CONF, NATIVE_SPARK_CONF, ROW_CACHE_SERIALIZER
from runtime.spark.native_json import JAR_NAME, jar_path

#: Correctness settings applied to every session, including a reused Glue session (runtime SQL confs).
SESSION_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    # A file Spark cannot read must fail the batch, never vanish from it silently.
    "spark.sql.files.ignoreCorruptFiles": "false",
    "spark.sql.files.ignoreMissingFiles": "false",
    # The only cache is one batch, read twice and dropped: compressing it costs more CPU than it saves
    # (measured about 10% of the batch conversion time).
    "spark.sql.inMemoryColumnarStorage.compressed": "false",
    # Dates and timestamps before 1582-10-15 are written as they are (the proleptic Gregorian calendar of Spark 3
    # and of every current reader). The default, EXCEPTION, fails the Parquet write of such a record but not a dry
    # run (which writes nothing), so a file with a typo year converted in every dry run and failed for real.
    "spark.sql.parquet.datetimeRebaseModeInWrite": "CORRECTED",
    "spark.sql.parquet.int96RebaseModeInWrite": "CORRECTED",
}

#: Settings of the local session only (they must be set before the JVM starts).
LOCAL_CONF: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    # The checksummed local file system cannot open names containing ':' (it builds '.name:x.crc' paths);
    # the raw one can, and writes no .crc side files.
    "spark.hadoop.fs.file.impl": "org.apache.hadoop.fs.RawLocalFileSystem",
    # A batch's files are listed on the driver, not by a Spark job of one task per file (from 32 paths on by
    # default): local files are a stat each, and the job cost about 0.2 s a batch of 40 (measured). On Glue (S3)
    # the default stays, where a big batch's listing is worth spreading.
    "spark.sql.sources.parallelPartitionDiscovery.threshold": "100000",
}

#: Driver memory of the local session, unless MLDP_SPARK_DRIVER_MEMORY says otherwise.
DEFAULT_LOCAL_DRIVER_MEMORY = "2g"


def on_glue() -> bool:
    """Whether Spark is provided by the platform: this Python driver was started by the Spark launcher, as Glue
    starts a Spark job's script (``spark-submit``'s ``PythonRunner`` hands the driver the JVM gateway through
    ``PYSPARK_GATEWAY_PORT``; ``pyspark.java_gateway`` connects to it instead of starting a JVM).

    Whether ``awsglue`` is importable says nothing: a laptop or a test may have it (PyPI's ``awsglue-dev``), and
    a script run with plain ``python`` there must still start its own local session and mirror ``s3://`` paths.
    """
    return "PYSPARK_GATEWAY_PORT" in os.environ


def get_spark(app_name: str = "mldp") -> SparkSession:
    """The SparkSession for this process; calling it again returns the same session.

    On Glue (or whenever a session or SparkContext is already running) the existing session is reused and only
    :data:`SESSION_CONF` is applied. Otherwise a local session is started: ``local[2]`` (override with
    ``MLDP_SPARK_MASTER``), UI off, 4 shuffle partitions, UTC, driver memory
    ``MLDP_SPARK_DRIVER_MEMORY`` (default 2g), the runtime's jar on the classpath (:mod:`runtime.spark.native_json`)
    and its cache of binary rows (:data:`platform_contract.spark.NATIVE_SPARK_CONF`).
    """
    session = SparkSession.getActiveSession()
    if session is None and (SparkContext._active_spark_context is not None or on_glue()):
        session = SparkSession.builder.appName(app_name).getOrCreate()
    if session is None:
        builder = (
            SparkSession.builder.appName(app_name)
            .master(os.environ.get("MLDP_SPARK_MASTER", "local[2]"))
            .config("spark.driver.memory", os.environ.get("MLDP_SPARK_DRIVER_MEMORY", DEFAULT_LOCAL_DRIVER_MEMORY))
        )
        for key, value in {**LOCAL_CONF, **SESSION_CONF}.items():
            builder = builder.config(key, value)
        native_jar = jar_path()  # the one-parse JSON reader (runtime.spark.native_json); on Glue: --extra-jars
        if native_jar is not None:  # and its cache of binary rows (on Glue: the workflow's --conf)
            builder = builder.config("spark.driver.extraClassPath", native_jar)
            for key, value in NATIVE_SPARK_CONF.items():
                builder = builder.config(key, value)
        session = builder.getOrCreate()
        session.sparkContext.setLogLevel(os.environ.get("MLDP_SPARK_LOG_LEVEL", "WARN"))
    for key, value in SESSION_CONF.items():
        session.conf.set(key, value)
    check_cache_serializer(session)
    return session


#: Spark's own cache serializer (what ``spark_conf`` sets to do without the runtime jar's).
SPARK_CACHE_SERIALIZER = "org.apache.spark.sql.execution.columnar.DefaultCachedBatchSerializer"


def check_cache_serializer(session: SparkSession, name: str | None = None) -> None:
    """Fail at once, saying what to fix, when the session's cache serializer (``name``: by default the session's
    ``spark.sql.cache.serializer``) is the runtime jar's and this JVM cannot load it: Spark would only find out at
    the first cached batch, and fail every batch. (A Glue job gets the setting from the workflow's ``--conf`` and the
    class from its ``--extra-jars``.)"""
    name = name or session.conf.get(CACHE_SERIALIZER_CONF, None)
    if not name or not name.startswith(ROW_CACHE_SERIALIZER.rsplit(".", 1)[0] + "."):
        return
    try:
        session.sparkContext._jvm.org.apache.spark.util.Utils.classForName(name, True, False)
    except Exception as exc:
        raise RuntimeError(
            f"{CACHE_SERIALIZER_CONF} is {name}, which this Spark cannot load ({str(exc).splitlines()[0]}): put the "
            f"runtime jar ({JAR_NAME}) on the classpath (the workflow passes it as --extra-jars), or set the "
            f"workflow's spark_conf {{'{CACHE_SERIALIZER_CONF}': '{SPARK_CACHE_SERIALIZER}'}}") from exc
