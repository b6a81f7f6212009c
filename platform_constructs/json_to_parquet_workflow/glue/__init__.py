"""The workflow's private Glue parts (not part of the public API; :class:`JsonToParquetWorkflow` wires them).

* :mod:`.assets`: the jobs' code (entry scripts, runtime and contract zip and wheel, the vendored ``wheels/``);
* :mod:`.job_role`: one least-privilege role per job;
* :mod:`.network`: the Glue connection, its security group and the VPC endpoints;
* :mod:`.schedule`: the Glue cron rule;
* :mod:`.security_configuration`: encryption of logs, bookmarks and job output;
* :mod:`.catalog_table`: the Data Catalog table over the curated Parquet;
* :mod:`.iceberg_table`: the Iceberg table's grants and table optimizers (``table_format`` iceberg).
"""
