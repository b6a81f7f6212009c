"""The key-policy statement that lets CloudWatch Logs encrypt log groups with a customer-managed KMS key."""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms


def allow_cloudwatch_logs(key: kms.IKey, sid: str, log_groups: str) -> None:
    """Let CloudWatch Logs of the key's region use ``key`` for the log groups of this account and region whose
    names match ``log_groups`` (``*``, ``/aws-glue/*``), only: the encryption-context condition CloudWatch Logs
    sets. The principal is regional and built with the partition's URL suffix (``amazonaws.com.cn`` in aws-cn).
    A no-op on an imported key (whose owner grants this)."""
    stack = Stack.of(key)
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid=sid,
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.{stack.url_suffix}")],
            actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            resources=["*"],
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                        service="logs", resource="log-group", resource_name=log_groups,
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                }
            },
        )
    )
