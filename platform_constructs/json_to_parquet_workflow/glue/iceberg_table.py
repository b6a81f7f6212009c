"""``IcebergTableAccess``: the Glue side of the curated table in the Iceberg format (issue 19).

What it declares, for the table ``<database>.json_parsed`` whose files live under the warehouse prefix
(``curated-data-lake/iceberg/``, :mod:`platform_contract.table`) of the data bucket:

* the job role's grants for pyiceberg's ``GlueCatalog`` commits (:meth:`IcebergTableAccess.grant_commit`):
  ``glue:GetDatabase`` on the catalog and the database; ``glue:GetTable``, ``glue:CreateTable`` and
  ``glue:UpdateTable`` on the catalog, the database and that one table; object read, write and delete under the
  warehouse prefix; the bucket key's data-key actions;
* with ``optimizers``: the three Glue table optimizers (``compaction``, ``retention``, ``orphan_file_deletion``,
  each an ``AWS::Glue::TableOptimizer``) and their own role, assumable by ``glue.amazonaws.com`` only: objects
  under the warehouse prefix, listing conditioned on that prefix, the bucket key, ``glue:GetTable`` and
  ``glue:UpdateTable`` on the table, and the optimizers' own log groups.

**Who creates the table: the processor, on its first run** (pyiceberg ``create_table_if_not_exists`` with the
runtime's schema and its year/month/day/mode identity partition spec). Not CloudFormation, for three reasons:

1. an ``AWS::Glue::Table`` with ``OpenTableFormatInput.IcebergInput`` can carry only ``MetadataOperation: CREATE``
   and a format version; Glue then derives an *unpartitioned* schema from the Hive columns ("Data Catalog doesn't
   support creating partitions", Lake Formation guide, "Creating Apache Iceberg tables");
2. every later change of that resource is a Glue ``UpdateTable`` with the template's ``TableInput``, which
   replaces the table's parameters wholesale, ``metadata_location`` and ``table_type`` included: the table stops
   being an Iceberg table (aws-cloudformation/cloudformation-coverage-roadmap#1919, aws/aws-cdk#37560); the
   parameters change with every commit, so the template could never hold them either;
3. the table's schema is the staged files' schema, which the runtime owns (its transform spec); one owner.

The price: an ``AWS::Glue::TableOptimizer`` needs its table when CloudFormation creates it, so the optimizers are
a second step (``iceberg_optimizers``, off by default): deploy, let one processor run create the table, turn them
on, deploy again. Removing the stack never drops the table or its files (CloudFormation never owned them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aws_cdk import Annotations, ArnFormat, Stack
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from platform_constructs._shared.nag import acknowledge, finding_value
from platform_contract import outputs as out
from platform_contract.table import ICEBERG, ICEBERG_TABLE_NAME, ICEBERG_WAREHOUSE_PREFIX

if TYPE_CHECKING:  # the workflow's props import this package: no import at run time
    from platform_constructs.json_to_parquet_workflow.props import JsonToParquetWorkflowProps
    from platform_constructs.tracked_raw_bucket.construct import TrackedRawBucket

#: The Glue catalog actions of pyiceberg's ``GlueCatalog`` on the table: load (``GetTable``), create on the first
#: run (``CreateTable``), commit (``GetTable`` then ``UpdateTable`` with the version id it read).
JOB_TABLE_ACTIONS = ("glue:CreateTable", "glue:GetTable", "glue:UpdateTable")
#: ``GetDatabase``: pyiceberg reads the namespace's properties (``create_table``, default location).
JOB_DATABASE_ACTIONS = ("glue:GetDatabase",)
#: Object actions of the job under the warehouse prefix: read data files and metadata, write new ones (and
#: multipart parts), delete its own uncommitted files on a retried publish.
WAREHOUSE_OBJECT_ACTIONS = (
    "s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts",
)
#: The bucket key's actions for SSE-KMS objects (read, write).
KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")
#: Id of the synth warning of an Iceberg table without optimizers (the second deployment is still to come).
OPTIMIZERS_OFF_WARNING = "mldp:iceberg-optimizers-off"
#: Glue table-optimizer types, in the order they are declared.
OPTIMIZER_TYPES = ("compaction", "retention", "orphan_file_deletion")
#: What the optimizer role may do on the table (Glue's "Table optimization prerequisites").
OPTIMIZER_TABLE_ACTIONS = ("glue:GetTable", "glue:UpdateTable")
#: The log groups Glue's table optimizers write to, one per type.
OPTIMIZER_LOG_GROUPS = (
    "/aws-glue/iceberg-compaction/logs",
    "/aws-glue/iceberg-retention/logs",
    "/aws-glue/iceberg-orphan-file-deletion/logs",
)


@dataclass(frozen=True)
class IcebergTableAccessProps:
    """Props of :class:`IcebergTableAccess`; see each field's comment."""

    #: Required. The data bucket that holds the warehouse.
    bucket: s3.IBucket
    #: Required. The Glue database (namespace) of the table.
    database_name: str
    #: The bucket's KMS key, ``None`` with SSE-S3.
    key: kms.IKey | None = None
    #: The table's name.
    table_name: str = ICEBERG_TABLE_NAME
    #: The warehouse prefix in the bucket.
    warehouse_prefix: str = ICEBERG_WAREHOUSE_PREFIX
    #: Declare the three table optimizers and their role (the table must exist).
    optimizers: bool = False
    #: Retention optimizer: expire snapshots older than this many days (tagged snapshots are kept).
    snapshot_retention_days: int = 5
    #: Retention optimizer: always keep this many of the newest snapshots.
    snapshots_to_retain: int = 1
    #: Orphan-file optimizer: delete unreferenced files older than this many days.
    orphan_file_retention_days: int = 3


class IcebergTableAccess(Construct):
    """IAM, job arguments and table optimizers of the Iceberg table (see the module docstring).

    Attributes:
        props: the props.
        warehouse_uri: ``s3://<bucket>/<warehouse prefix>`` (the processor's ``--iceberg-warehouse``).
        catalog_arn / database_arn / table_arn: the Glue ARNs every grant is scoped to.
        optimizer_role: the optimizers' role (``None`` without optimizers).
        optimizers: the ``glue.CfnTableOptimizer`` by type (empty without optimizers).
    """

    def __init__(self, scope: Construct, construct_id: str, props: IcebergTableAccessProps) -> None:
        super().__init__(scope, construct_id)
        self.props = props
        stack = Stack.of(self)
        self.warehouse_uri = f"s3://{props.bucket.bucket_name}/{props.warehouse_prefix}"
        self.catalog_arn = stack.format_arn(service="glue", resource="catalog")
        self.database_arn = stack.format_arn(service="glue", resource="database", resource_name=props.database_name)
        self.table_arn = stack.format_arn(
            service="glue", resource="table", resource_name=f"{props.database_name}/{props.table_name}"
        )
        self.optimizer_role: iam.Role | None = None
        self.optimizers: dict[str, glue.CfnTableOptimizer] = {}
        if props.optimizers:
            self._declare_optimizers(stack)

    @property
    def outputs(self) -> dict[str, str]:
        """The stack outputs that name the table (keys of :mod:`platform_contract.outputs`): ``database.table``
        and the warehouse URI, which ``mldp smoke`` reads the table through."""
        return {out.ICEBERG_TABLE: f"{self.props.database_name}.{self.props.table_name}",
                out.ICEBERG_WAREHOUSE: self.warehouse_uri}

    @property
    def warehouse_objects(self) -> str:
        """ARN of every object under the warehouse prefix."""
        return self.props.bucket.arn_for_objects(f"{self.props.warehouse_prefix}*")

    def grant_commit(self, role: iam.IRole) -> None:
        """What pyiceberg's ``GlueCatalog`` needs to create, load and commit the table, and nothing else."""
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="IcebergCatalogDatabase", actions=list(JOB_DATABASE_ACTIONS),
            resources=[self.catalog_arn, self.database_arn],
        ))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="IcebergCatalogTable", actions=list(JOB_TABLE_ACTIONS),
            resources=[self.catalog_arn, self.database_arn, self.table_arn],
        ))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="IcebergWarehouseObjects", actions=list(WAREHOUSE_OBJECT_ACTIONS), resources=[self.warehouse_objects],
        ))
        if self.props.key is not None:
            role.add_to_principal_policy(iam.PolicyStatement(
                sid="IcebergWarehouseKey", actions=list(KEY_ACTIONS), resources=[self.props.key.key_arn],
            ))
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::{finding_value(role, self.warehouse_objects)}]",
            f"Object-level grant limited to the Iceberg warehouse prefix {self.props.warehouse_prefix}: the "
            "processor publishes data files and writes manifests and metadata files whose names Iceberg and the "
            "batch id choose at run time",
        )

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read-only access for a reader of the table (a training job, pyiceberg, Spark on Glue, Athena's caller):
        ``glue:GetDatabase`` and ``glue:GetTable`` on the catalog, database and table; ``s3:GetObject`` under the
        warehouse prefix with ``s3:ListBucket`` conditioned on it; ``kms:Decrypt`` on the bucket key. Time travel
        (a tag, ``FOR VERSION AS OF``) needs nothing more: old snapshots' files are under the same prefix."""
        p = self.props
        grant = iam.Grant.add_to_principal(
            grantee=grantee, actions=["glue:GetDatabase", "glue:GetTable"],
            resource_arns=[self.catalog_arn, self.database_arn, self.table_arn],
        )
        grant = grant.combine(iam.Grant.add_to_principal(
            grantee=grantee, actions=["s3:GetObject"], resource_arns=[self.warehouse_objects]))
        grant = grant.combine(iam.Grant.add_to_principal(
            grantee=grantee, actions=["s3:ListBucket"], resource_arns=[p.bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [p.warehouse_prefix.rstrip("/"), f"{p.warehouse_prefix}*"]}},
        ))
        if p.key is not None:
            grant = grant.combine(iam.Grant.add_to_principal(
                grantee=grantee, actions=["kms:Decrypt"], resource_arns=[p.key.key_arn]))
        return grant

    # ----------------------------------------------------------------------------------------
    # Table optimizers
    # ----------------------------------------------------------------------------------------
    def _declare_optimizers(self, stack: Stack) -> None:
        p = self.props
        role = iam.Role(
            self, "OptimizerRole", assumed_by=iam.ServicePrincipal("glue.amazonaws.com"),
            description=f"Glue table optimizers of {p.database_name}.{p.table_name}: compaction, snapshot "
            "retention, orphan-file deletion",
        )
        role.add_to_policy(iam.PolicyStatement(
            sid="OptimizerWarehouseObjects", actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            resources=[self.warehouse_objects],
        ))
        role.add_to_policy(iam.PolicyStatement(
            sid="OptimizerWarehouseListing", actions=["s3:ListBucket"], resources=[p.bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [p.warehouse_prefix.rstrip("/"), f"{p.warehouse_prefix}*"]}},
        ))
        if p.key is not None:
            role.add_to_policy(iam.PolicyStatement(
                sid="OptimizerWarehouseKey", actions=list(KEY_ACTIONS), resources=[p.key.key_arn],
            ))
        role.add_to_policy(iam.PolicyStatement(
            sid="OptimizerTable", actions=list(OPTIMIZER_TABLE_ACTIONS),
            resources=[self.catalog_arn, self.database_arn, self.table_arn],
        ))
        log_groups = [
            stack.format_arn(service="logs", resource="log-group", resource_name=f"{name}:*",
                             arn_format=ArnFormat.COLON_RESOURCE_NAME)
            for name in OPTIMIZER_LOG_GROUPS
        ]
        role.add_to_policy(iam.PolicyStatement(
            sid="OptimizerLogs", actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            resources=log_groups,
        ))
        self.optimizer_role = role
        for arn in (self.warehouse_objects, *log_groups):
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::{finding_value(role, arn)}]",
                "Glue's table optimizers rewrite, expire and delete Iceberg files under the warehouse prefix, and "
                "log to per-run streams of their own /aws-glue/iceberg-* log groups; names chosen at run time",
            )
        configurations = {
            "compaction": {},
            "retention": {"retention_configuration": glue.CfnTableOptimizer.RetentionConfigurationProperty(
                iceberg_configuration=glue.CfnTableOptimizer.IcebergRetentionConfigurationProperty(
                    snapshot_retention_period_in_days=p.snapshot_retention_days,
                    number_of_snapshots_to_retain=p.snapshots_to_retain,
                    clean_expired_files=True,
                ))},
            "orphan_file_deletion": {
                "orphan_file_deletion_configuration": glue.CfnTableOptimizer.OrphanFileDeletionConfigurationProperty(
                    iceberg_configuration=glue.CfnTableOptimizer.IcebergConfigurationProperty(
                        orphan_file_retention_period_in_days=p.orphan_file_retention_days,
                    ))},
        }
        for kind in OPTIMIZER_TYPES:
            optimizer = glue.CfnTableOptimizer(
                self, "".join(part.title() for part in kind.split("_")) + "Optimizer",
                catalog_id=stack.account, database_name=p.database_name, table_name=p.table_name, type=kind,
                table_optimizer_configuration=glue.CfnTableOptimizer.TableOptimizerConfigurationProperty(
                    enabled=True, role_arn=role.role_arn, **configurations[kind]),
            )
            optimizer.node.add_dependency(role)  # the role's policy exists before Glue validates it
            self.optimizers[kind] = optimizer


def iceberg_table_access(
    scope: Construct, props: JsonToParquetWorkflowProps, bucket: TrackedRawBucket, role: iam.IRole
) -> IcebergTableAccess | None:
    """The workflow's :class:`IcebergTableAccess` (construct id ``IcebergTable``) with its grants on ``role``, or
    ``None`` when ``props.table_format`` is not Iceberg."""
    if props.table_format != ICEBERG:
        return None
    access = IcebergTableAccess(scope, "IcebergTable", IcebergTableAccessProps(
        bucket=bucket.bucket,
        key=bucket.encryption_key,
        database_name=props.catalog_database,
        optimizers=props.iceberg_optimizers,
        snapshot_retention_days=props.iceberg_snapshot_retention_days,
        snapshots_to_retain=props.iceberg_snapshots_to_retain,
        orphan_file_retention_days=props.iceberg_orphan_file_retention_days,
    ))
    access.grant_commit(role)
    if not props.iceberg_optimizers:
        Annotations.of(access).add_warning_v2(OPTIMIZERS_OFF_WARNING, (
            f"The Iceberg table {props.catalog_database}.{ICEBERG_TABLE_NAME} has no table optimizers: nothing "
            "compacts its small files or expires its snapshots. Once a processor run has created the table, set "
            "workflow.iceberg_optimizers=true and deploy again (docs/infrastructure.md, \"The Iceberg table\")."
        ))
    return access
