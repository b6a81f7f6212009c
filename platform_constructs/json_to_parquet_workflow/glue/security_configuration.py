"""``GlueSecurityConfiguration``: encryption of what the Glue jobs write outside the data bucket's own rules.

* CloudWatch Logs of the jobs: SSE-KMS with a customer-managed key (rotation on) whose key policy lets the
  CloudWatch Logs service use it for this account's ``/aws-glue/*`` log groups;
* job bookmarks: CSE-KMS with the same key (bookmarks are disabled, but the setting is part of the config);
* S3 objects the jobs write: SSE-KMS with the data bucket's key when it has one, else SSE-S3.

Roles of jobs that run with this configuration need :meth:`grant_use`, and :meth:`add_job_log_groups` creates
their log groups.

**Log groups.** With a security configuration, Glue writes a job's logs to
``/aws-glue/jobs/<security-configuration-name>-role/<role-name>/output`` and ``.../error`` (Glue 5.0's real-time
logs, and the Python shell's, go to these two groups), and creates the groups itself, without retention, on the
first run. :meth:`add_job_log_groups` creates them with the stack instead: a retention and this configuration's
key (the key policy below lets CloudWatch Logs use it for any ``/aws-glue/*`` group of this account and region).
A stack that already ran its jobs has these groups: delete them (or ``cdk import`` them) before deploying this.

**Physical name.** Glue cannot update a security configuration in place: CloudFormation replaces it on any change
of its encryption settings, and the replacement, created before the old one is deleted, would collide with a
fixed name. The physical name is therefore ``<name>-<hash>``, where ``<hash>`` is a short digest of the resolved
encryption configuration (``Stack.resolve`` turns the key ARN tokens into stable ``Fn::GetAtt`` JSON): the same
settings keep the same name, other settings get a new name, and the jobs, which refer to the configuration by
name, follow it (:attr:`GlueSecurityConfiguration.name`).

**Partitions.** The CloudWatch Logs service principal is regional: ``logs.<region>.<URL suffix>``, with the
stack's URL suffix, so the key policy is right in ``aws-cn`` (``amazonaws.com.cn``) as well.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from platform_constructs._shared.kms_logs import allow_cloudwatch_logs
from platform_constructs._shared.removal_policy import guard_removal_policy
from platform_constructs._shared.validation import PropsError, check_not_destroyed_in_production

_COLON_RESOURCE_NAME = ArnFormat.COLON_RESOURCE_NAME
#: Hex digits of the content hash appended to the physical name.
NAME_HASH_LENGTH = 8
#: Glue's limit on a security configuration name.
MAX_NAME_LENGTH = 255
#: The log groups Glue writes a job's logs to under a security configuration, by suffix.
JOB_LOG_STREAMS = ("output", "error")
#: Longest ``GlueSecurityConfigurationProps.name``: the ``-<hash>`` suffix must still fit.
MAX_BASE_NAME_LENGTH = MAX_NAME_LENGTH - NAME_HASH_LENGTH - 1


def content_name(base: str, resolved_encryption_configuration: object) -> str:
    """``<base>-<hash>``: ``hash`` is the first :data:`NAME_HASH_LENGTH` hex digits of the SHA-256 of the
    resolved encryption configuration as canonical JSON (sorted keys)."""
    canonical = json.dumps(resolved_encryption_configuration, sort_keys=True, separators=(",", ":"))
    return f"{base}-{hashlib.sha256(canonical.encode()).hexdigest()[:NAME_HASH_LENGTH]}"


@dataclass(frozen=True)
class GlueSecurityConfigurationProps:
    """Props of :class:`GlueSecurityConfiguration`; see each field's comment."""

    #: Required. Base of the physical name (unique per account and region, at most :data:`MAX_BASE_NAME_LENGTH`
    #: characters); the configuration is named ``<name>-<content hash>``.
    name: str
    #: The data bucket's KMS key; ``None`` means the bucket uses SSE-S3.
    s3_key: kms.IKey | None = None
    #: What happens to the logs key when the stack is deleted; ``DESTROY`` is reverted to ``RETAIN`` unless the
    #: context allows it, and refused with ``production`` (:mod:`platform_constructs._shared.removal_policy`).
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN
    #: The key encrypts production logs: ``RemovalPolicy.DESTROY`` is an error, not a reverted warning.
    production: bool = False

    def validate(self) -> None:
        """Raise :class:`~platform_constructs._shared.validation.PropsError` (a ``ValueError``) naming the field
        to fix."""
        owner = type(self).__name__
        if not self.name or len(self.name) > MAX_BASE_NAME_LENGTH:
            raise PropsError(
                owner, "name",
                f"must be 1-{MAX_BASE_NAME_LENGTH} characters (Glue allows {MAX_NAME_LENGTH} and a "
                f"'-<{NAME_HASH_LENGTH}-digit content hash>' is appended), got {len(self.name)}: shorten it",
            )
        check_not_destroyed_in_production(owner, "removal_policy", self.removal_policy, self.production)


class GlueSecurityConfiguration(Construct):
    """A Glue security configuration plus the KMS key for the jobs' logs and bookmarks.

    Attributes:
        key: the logs/bookmarks key.
        removal_policy: the key's removal policy actually applied (after
            :mod:`platform_constructs._shared.removal_policy`).
        configuration: the ``glue.CfnSecurityConfiguration``.
        name: its physical name, ``<props.name>-<hash of the encryption configuration>``; jobs that run with
            this configuration refer to it by this name.
    """

    def __init__(self, scope: Construct, construct_id: str, props: GlueSecurityConfigurationProps) -> None:
        super().__init__(scope, construct_id)
        props.validate()
        self.props = props
        stack = Stack.of(self)
        self.removal_policy = guard_removal_policy(
            self, props.removal_policy, setting=f"{type(props).__name__}.removal_policy", production=props.production
        )
        self.key = kms.Key(
            self,
            "LogsKey",
            description=f"Glue security configuration {props.name}: job logs and bookmarks",
            enable_key_rotation=True,
            removal_policy=self.removal_policy,
        )
        allow_cloudwatch_logs(self.key, "AllowCloudWatchLogsForGlueLogGroups", "/aws-glue/*")
        s3_encryption = (
            glue.CfnSecurityConfiguration.S3EncryptionProperty(
                s3_encryption_mode="SSE-KMS", kms_key_arn=props.s3_key.key_arn
            )
            if props.s3_key is not None
            else glue.CfnSecurityConfiguration.S3EncryptionProperty(s3_encryption_mode="SSE-S3")
        )
        encryption_configuration = glue.CfnSecurityConfiguration.EncryptionConfigurationProperty(
            cloud_watch_encryption=glue.CfnSecurityConfiguration.CloudWatchEncryptionProperty(
                cloud_watch_encryption_mode="SSE-KMS", kms_key_arn=self.key.key_arn
            ),
            job_bookmarks_encryption=glue.CfnSecurityConfiguration.JobBookmarksEncryptionProperty(
                job_bookmarks_encryption_mode="CSE-KMS", kms_key_arn=self.key.key_arn
            ),
            s3_encryptions=[s3_encryption],
        )
        # Replaced (never updated) by CloudFormation on any change: the name must change with the content.
        self.name = content_name(props.name, stack.resolve(encryption_configuration))
        self.configuration = glue.CfnSecurityConfiguration(
            self, "Resource", name=self.name, encryption_configuration=encryption_configuration
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

    def job_log_group_name(self, role: iam.IRole, stream: str) -> str:
        """``/aws-glue/jobs/<configuration name>-role/<role name>/<stream>``: where Glue writes the logs of a job
        that runs as ``role`` with this configuration (``stream`` is ``output`` or ``error``)."""
        return f"/aws-glue/jobs/{self.name}-role/{role.role_name}/{stream}"

    def add_job_log_groups(
        self, construct_id: str, role: iam.IRole, retention: logs.RetentionDays
    ) -> list[logs.LogGroup]:
        """Create the ``output`` and ``error`` log groups of the jobs that run as ``role``, with ``retention`` and
        this configuration's key (removed with the key's removal policy)."""
        return [
            logs.LogGroup(
                self,
                f"{construct_id}{stream.title()}Logs",
                log_group_name=self.job_log_group_name(role, stream),
                retention=retention,
                encryption_key=self.key,
                removal_policy=self.removal_policy,
            )
            for stream in JOB_LOG_STREAMS
        ]
