"""Where the Iceberg table is and how to open it: :class:`TableLocation` names the catalog, namespace, table and
warehouse; :func:`open_catalog` opens it; :func:`load_or_create` loads the table or creates it from the schema of
the first staged file, partitioned identity on the spec's partition columns.

* **Locally** the catalog is a pyiceberg ``SqlCatalog`` held in the tracking database itself, in the schema
  :data:`platform_contract.table.ICEBERG_SQL_CATALOG_SCHEMA` (created on first use: nothing to install or start),
  and the warehouse is the store's ``curated-data-lake/iceberg/`` folder (a local folder, or ``s3://bucket/...``).
* **On AWS** (``--iceberg-database`` given) it is the Glue Data Catalog, so Athena sees the table.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from platform_contract.table import (
    ICEBERG_LOCAL_NAMESPACE,
    ICEBERG_SQL_CATALOG_SCHEMA,
    ICEBERG_TABLE_NAME,
    ICEBERG_WAREHOUSE_PREFIX,
)
from runtime.db.iceberg_catalog import ensure_schema, schema_exists
from runtime.errors import MldpError

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table

    from runtime.storage.base import ObjectStore

#: The catalog's name (pyiceberg's, recorded in the SqlCatalog's rows).
CATALOG_NAME = "mldp"


class TableUnavailable(MldpError):
    """The Iceberg catalog or table cannot be opened (exit status 3: no file is charged)."""

    exit_status = 3


@dataclass(frozen=True)
class TableLocation:
    """Where the table is: ``sql_uri`` (a SQLAlchemy URL, the local ``SqlCatalog``) or ``glue`` (the Glue Data
    Catalog), the namespace (a Glue database), the table's name and the warehouse URI."""

    namespace: str
    table: str
    warehouse: str
    sql_uri: str | None = None
    glue: bool = False
    #: extra catalog properties (e.g. ``s3.endpoint``, ``glue.endpoint`` for a moto server)
    properties: tuple[tuple[str, str], ...] = ()

    @property
    def identifier(self) -> tuple[str, str]:
        """``(namespace, table)``."""
        return (self.namespace, self.table)

    @property
    def name(self) -> str:
        """``namespace.table``."""
        return f"{self.namespace}.{self.table}"


def sql_catalog_uri(database_url: str, schema: str = ICEBERG_SQL_CATALOG_SCHEMA) -> str:
    """The SQLAlchemy URL of the local ``SqlCatalog``: the tracking database's URL, its tables in ``schema``
    (``search_path`` through libpq's ``options``, merged with any the URL already has)."""
    parts = urlsplit(database_url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    options = query.get("options", "")
    query["options"] = (options + " " if options else "") + f"-csearch_path={schema}"
    scheme = "postgresql+psycopg2"
    return urlunsplit((scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def warehouse_uri(store: ObjectStore) -> str:
    """The warehouse of ``store``: ``s3://bucket/curated-data-lake/iceberg`` or a local folder's ``file://`` URI."""
    path = store.spark_path(ICEBERG_WAREHOUSE_PREFIX).rstrip("/")
    return path if "://" in path else "file://" + path


def local_location(store: ObjectStore, database_url: str, table: str = ICEBERG_TABLE_NAME) -> TableLocation:
    """The local table: a ``SqlCatalog`` in the tracking database at ``database_url``, the store's warehouse."""
    return TableLocation(ICEBERG_LOCAL_NAMESPACE, table, warehouse_uri(store), sql_uri=sql_catalog_uri(database_url))


def glue_location(database: str, table: str | None, warehouse: str | None, store: ObjectStore) -> TableLocation:
    """The table in the Glue Data Catalog (the job arguments ``--iceberg-database/-table/-warehouse``)."""
    return TableLocation(database, table or ICEBERG_TABLE_NAME, (warehouse or warehouse_uri(store)).rstrip("/"),
                         glue=True)


def endpoint_properties(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The S3 endpoint of the environment as pyiceberg properties: boto3 (the store) reads ``AWS_ENDPOINT_URL_S3``
    or ``AWS_ENDPOINT_URL``, pyarrow's S3 client (through which pyiceberg reads and writes the warehouse) does not,
    so the table would look for the store's bucket on AWS (MinIO, LocalStack, a moto server). With it, the region
    of the environment too (pyiceberg would otherwise ask AWS for the bucket's)."""
    env = os.environ if environ is None else environ
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    if not endpoint:
        return {}
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    return {"s3.endpoint": endpoint, **({"s3.region": region} if region else {})}


def open_catalog(location: TableLocation) -> Catalog:
    """The catalog of ``location`` (the ``SqlCatalog``'s schema created first when missing); the environment's S3
    endpoint (:func:`endpoint_properties`) unless ``location`` names one."""
    properties = {**endpoint_properties(), **dict(location.properties)}
    try:
        if location.glue:
            from pyiceberg.catalog.glue import GlueCatalog

            return GlueCatalog(CATALOG_NAME, warehouse=location.warehouse, **properties)
        from pyiceberg.catalog.sql import SqlCatalog

        assert location.sql_uri is not None
        ensure_schema(location.sql_uri.replace("postgresql+psycopg2://", "postgresql://", 1),
                      ICEBERG_SQL_CATALOG_SCHEMA)
        return SqlCatalog(CATALOG_NAME, uri=location.sql_uri, warehouse=location.warehouse, **properties)
    except MldpError:
        raise
    except Exception as exc:
        raise TableUnavailable(f"the Iceberg catalog of {location.name} cannot be opened: "
                               f"{type(exc).__name__}: {exc}") from exc


def load_table(catalog: Catalog, location: TableLocation) -> Table | None:
    """The table, or ``None`` when it does not exist yet."""
    from pyiceberg.exceptions import NoSuchTableError

    try:
        return catalog.load_table(location.identifier)
    except NoSuchTableError:
        return None


def load_or_create(catalog: Catalog, location: TableLocation, schema: pa.Schema,
                   partition_names: tuple[str, ...] | list[str]) -> Table:
    """The table, created when missing from ``schema`` (a staged file's arrow schema), partitioned identity on
    ``partition_names``, its location ``<warehouse>/<namespace>.db/<table>``. A concurrent creator wins: its table
    is loaded."""
    from pyiceberg.exceptions import NamespaceAlreadyExistsError, TableAlreadyExistsError

    table = load_table(catalog, location)
    if table is not None:
        return table
    if not location.glue:  # the Glue database is the workflow construct's
        with contextlib.suppress(NamespaceAlreadyExistsError):
            catalog.create_namespace(location.namespace)
    try:
        transaction = catalog.create_table_transaction(
            location.identifier, schema=schema,
            location=f"{location.warehouse}/{location.namespace}.db/{location.table}")
        with transaction.update_spec() as spec:
            for name in partition_names:
                spec.add_identity(name)
        return transaction.commit_transaction()
    except TableAlreadyExistsError:
        return catalog.load_table(location.identifier)


def describe(location: TableLocation) -> dict[str, Any]:
    """The location as plain values (for ``--json`` and messages; never a database URL)."""
    return {"catalog": "glue" if location.glue else "sql", "table": location.name, "warehouse": location.warehouse}


def table_location(store: ObjectStore, database_url: str | None, database: str | None = None,
                   table: str | None = None, warehouse: str | None = None) -> TableLocation:
    """The table a command means: in the Glue Data Catalog when ``database`` (``--iceberg-database``) is given,
    else the local ``SqlCatalog`` in the tracking database at ``database_url``."""
    if database:
        return glue_location(database, table, warehouse, store)
    if database_url is None:
        raise TableUnavailable("the local Iceberg catalog lives in the tracking database: give --db (or "
                               "--iceberg-database for the Glue Data Catalog)")
    location = local_location(store, database_url, table or ICEBERG_TABLE_NAME)
    if warehouse:
        return TableLocation(location.namespace, location.table, warehouse.rstrip("/"), sql_uri=location.sql_uri)
    return location


def operator_location(database_url: str | None, database: str | None = None,
                      table: str | None = None) -> TableLocation | None:
    """The table an operator command reads: in the Glue Data Catalog with ``database``, else the local
    ``SqlCatalog`` of the tracking database (``None`` when it has none: no Iceberg table was ever written)."""
    if database:
        return TableLocation(database, table or ICEBERG_TABLE_NAME, "", glue=True)
    if database_url is None or not schema_exists(database_url, ICEBERG_SQL_CATALOG_SCHEMA):
        return None
    return TableLocation(ICEBERG_LOCAL_NAMESPACE, table or ICEBERG_TABLE_NAME, "",
                         sql_uri=sql_catalog_uri(database_url))


def manifest_record(location: TableLocation) -> dict[str, str]:
    """What a batch's manifest records of the table it commits to (:attr:`runtime.jobs.publish.Manifest.table`):
    the format, the catalog kind, namespace, table and warehouse; never a database URL or credential (the local
    ``SqlCatalog`` lives in the tracking database, which every run that finishes the batch is connected to)."""
    return {"format": "iceberg", "catalog": "glue" if location.glue else "sql", "namespace": location.namespace,
            "table": location.table, "warehouse": location.warehouse}


def is_recorded_table(location: TableLocation, record: dict[str, str]) -> bool:
    """Whether ``location`` is the table ``record`` (a manifest's) names: same catalog kind, namespace and table."""
    return (record.get("catalog") == ("glue" if location.glue else "sql")
            and record.get("namespace") == location.namespace and record.get("table") == location.table)


def recorded_location(record: dict[str, str], conn: Any) -> TableLocation:
    """The table a manifest's ``record`` names, for a run that was not given it: in the Glue Data Catalog, or the
    local ``SqlCatalog`` of the tracking database ``conn`` is connected to."""
    if record.get("format", "iceberg") != "iceberg" or record.get("catalog") not in ("sql", "glue"):
        raise TableUnavailable(f"the batch's manifest names a table this runtime cannot open: {record}")
    namespace, table, warehouse = record["namespace"], record["table"], record["warehouse"]
    if record["catalog"] == "glue":
        return TableLocation(namespace, table, warehouse, glue=True)
    return TableLocation(namespace, table, warehouse, sql_uri=sql_catalog_uri(connection_url(conn)))


def connection_url(conn: Any) -> str:
    """The libpq URL of the psycopg2 connection ``conn`` (its parameters and password)."""
    from urllib.parse import quote

    params = dict(conn.info.dsn_parameters)
    user, password = params.pop("user", ""), conn.info.password or ""
    host, port, dbname = params.pop("host", ""), params.pop("port", ""), params.pop("dbname", "")
    auth = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
    netloc = f"{auth}@{quote(host, safe='')}" + (f":{port}" if port else "")
    keep = {k: v for k, v in params.items() if k in ("sslmode", "sslrootcert", "options")}
    return urlunsplit(("postgresql", netloc, "/" + dbname, urlencode(keep), ""))
