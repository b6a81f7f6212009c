"""How each Glue job of the workflow reaches the tracking database: its job arguments and its IAM grants.

With IAM database authentication (the tracking database's default, ``TrackingDatabaseProps.iam_authentication``):

* the **lister** (first in the workflow, a short Python-shell job) is the only job that reads the master secret,
  and only to apply pending migrations as the owner. It gets ``--db-secret-arn`` and ``secretsmanager:
  GetSecretValue`` on that secret (with its key's decrypt), and works as ``mldp_app`` with IAM tokens;
* the **processor and backfill jobs** (hours long, the 9 TB backfill) hold no password at all: the endpoint comes
  from non-secret arguments (``--db-host``, ``--db-port``, ``--db-name``, ``--db-iam-user``), they connect as
  ``mldp_app`` with a token per connection (``rds-db:connect`` as that user only), and they check that the schema
  is at their code's version instead of migrating (a pending migration stops the run before anything is claimed,
  exit status 3, naming the fix). Their role has no ``secretsmanager:GetSecretValue`` on the master secret.

Without IAM authentication every job reads the secret and works as its user (the old behaviour), since a
password is then the only credential there is. docs/infrastructure.md, 'Database credentials', argues the
split.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam

from platform_constructs.json_to_parquet_workflow.props import JsonToParquetWorkflowProps
from platform_constructs.tracking_database.props import APP_USERNAME


def reads_secret(p: JsonToParquetWorkflowProps, *, migrates: bool) -> bool:
    """Whether the job (``migrates``: the lister) reads the database secret: the lister always, the processor
    and backfill jobs only without IAM database authentication."""
    return migrates or not p.database.props.iam_authentication


def database_arguments(p: JsonToParquetWorkflowProps, *, migrates: bool) -> dict[str, str]:
    """The ``--db-*`` job arguments of a job (``migrates``: the lister)."""
    database = p.database
    arguments: dict[str, str] = {}
    if database.props.iam_authentication:
        # the endpoint, not secret: no job needs the secret to find the database
        arguments.update({
            "--db-host": database.instance.db_instance_endpoint_address,
            "--db-port": database.instance.db_instance_endpoint_port,
            "--db-name": database.props.database_name,
            "--db-iam-user": APP_USERNAME,
        })
    if reads_secret(p, migrates=migrates):
        arguments["--db-secret-arn"] = database.secret.secret_arn
    if p.database_ca_bundle:  # else the RDS CA bundle shipped in the runtime (sslmode=verify-full either way)
        arguments["--db-ca-bundle"] = p.database_ca_bundle
    return arguments


def grant_database_access(p: JsonToParquetWorkflowProps, role: iam.IRole, *, migrates: bool) -> None:
    """``rds-db:connect`` as ``mldp_app`` for every job, and read access to the secret (and its key) only for a
    job that :func:`reads_secret`."""
    if reads_secret(p, migrates=migrates):
        p.database.grant_connect(role)
    else:
        p.database.instance.grant_connect(role, APP_USERNAME)
