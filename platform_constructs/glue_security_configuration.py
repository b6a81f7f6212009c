"""``GlueSecurityConfiguration``: encryption of what the Glue jobs write outside the data bucket's own rules.

* CloudWatch Logs of the jobs: SSE-KMS with a customer-managed key (rotation on) whose key policy lets the
  CloudWatch Logs service use it for this account's ``/aws-glue/*`` log groups;
* job bookmarks: CSE-KMS with the same key (bookmarks are disabled, but the setting is part of the config);
* S3 objects the jobs write: SSE-KMS with the data bucket's key when it has one, else SSE-S3.

Roles of jobs that run with this configuration need :meth:`grant_use`.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

_COLON_RESOURCE_NAME = ArnFormat.COLON_RESOURCE_NAME


@dataclass(frozen=True)
class GlueSecurityConfigurationProps:
    """Props of :class:`GlueSecurityConfiguration`.

    Attributes:
        name: physical name of the security configuration (unique per account and region).
        s3_key: the data bucket's KMS key; ``None`` means the bucket uses SSE-S3.
        removal_policy: what happens to the logs key when the stack is deleted.
    """

    name: str
    s3_key: kms.IKey | None = None
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN

    def validate(self) -> None:
        """Raise ``ValueError`` naming the field to fix."""
        if not self.name or len(self.name) > 255:
            raise ValueError("GlueSecurityConfigurationProps.name must be 1-255 characters")


class GlueSecurityConfiguration(Construct):
    """A Glue security configuration plus the KMS key for the jobs' logs and bookmarks.

    Attributes:
        key: the logs/bookmarks key.
        configuration: the ``glue.CfnSecurityConfiguration``.
        name: its physical name.
    """

    def __init__(self, scope: Construct, construct_id: str, props: GlueSecurityConfigurationProps) -> None:
        super().__init__(scope, construct_id)
        props.validate()
        self.props = props
        stack = Stack.of(self)
        self.name = props.name
        self.key = kms.Key(
            self,
            "LogsKey",
            description=f"Glue security configuration {props.name}: job logs and bookmarks",
            enable_key_rotation=True,
            removal_policy=props.removal_policy,
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogsForGlueLogGroups",
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                            service="logs", resource="log-group", resource_name="/aws-glue/*",
                            arn_format=_COLON_RESOURCE_NAME,
                        )
                    }
                },
            )
        )
        s3_encryption = (
            glue.CfnSecurityConfiguration.S3EncryptionProperty(
                s3_encryption_mode="SSE-KMS", kms_key_arn=props.s3_key.key_arn
            )
            if props.s3_key is not None
            else glue.CfnSecurityConfiguration.S3EncryptionProperty(s3_encryption_mode="SSE-S3")
        )
        self.configuration = glue.CfnSecurityConfiguration(
            self,
            "Resource",
            name=props.name,
            encryption_configuration=glue.CfnSecurityConfiguration.EncryptionConfigurationProperty(
                cloud_watch_encryption=glue.CfnSecurityConfiguration.CloudWatchEncryptionProperty(
                    cloud_watch_encryption_mode="SSE-KMS", kms_key_arn=self.key.key_arn
                ),
                job_bookmarks_encryption=glue.CfnSecurityConfiguration.JobBookmarksEncryptionProperty(
                    job_bookmarks_encryption_mode="CSE-KMS", kms_key_arn=self.key.key_arn
                ),
                s3_encryptions=[s3_encryption],
            ),
        )

    def grant_use(self, grantee: iam.IGrantable) -> iam.Grant:
        """What a job role running with this configuration needs: the logs key, and associating it with
        the ``/aws-glue/*`` log groups that Glue creates per security configuration and role."""
        # Bookmarks are client-side encrypted by the job (data keys); logs are encrypted by CloudWatch Logs
        # under the key policy above. No kms:ReEncrypt*/GenerateDataKey* wildcards needed.
        grant = self.key.grant(grantee, "kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey")
        stack = Stack.of(self)
        return grant.combine(
            iam.Grant.add_to_principal(
                grantee=grantee,
                actions=["logs:AssociateKmsKey"],
                resource_arns=[
                    stack.format_arn(
                        service="logs", resource="log-group", resource_name="/aws-glue/*",
                        arn_format=_COLON_RESOURCE_NAME,
                    )
                ],
            )
        )
