"""The curated dataset as an Apache Iceberg table (``--table-format iceberg``; docs/iceberg.md).

:mod:`runtime.table.catalog` opens the catalog (a ``SqlCatalog`` in the tracking database locally, the Glue Data
Catalog on AWS) and loads or creates the table; :mod:`runtime.table.commit` commits one batch exactly once;
:mod:`runtime.table.snapshots`, :mod:`runtime.table.compact` and :mod:`runtime.table.view` serve the operator
commands. pyiceberg is imported by these modules: the commands import them inside their handlers only.
"""
