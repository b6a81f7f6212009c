"""cdk-nag (AwsSolutions) findings acknowledged at stack level, each with the reason it is accepted.

Findings inherent to a construct are acknowledged by the construct itself; this module covers what only
the stack can decide (per-environment choices) and CDK's own singleton helpers that the stack owns.
"""

from __future__ import annotations

from aws_cdk import Stack

from platform_constructs._shared.nag import acknowledge


def acknowledge_stack_findings(stack: Stack) -> None:
    """Acknowledge the remaining findings of a ``DataPlatformStack`` (see each reason)."""
    config = getattr(stack, "config", None)
    database = getattr(stack, "database", None)
    if database is not None and config is not None and not config.production:
        acknowledge(
            database.instance,
            "AwsSolutions-RDS3",
            f"{config.environment_name} is a non-production environment: a single-AZ instance halves the "
            "database cost; losing it only delays processing (files are re-registered by the next listing)",
        )
        acknowledge(
            database.instance,
            "AwsSolutions-RDS10",
            f"{config.environment_name} is disposable: deletion protection is off so that the stack can be "
            "deleted; the instance is snapshotted on deletion unless allow_destroy is set",
        )
    if database is not None:
        acknowledge(
            database.instance,
            "AwsSolutions-RDS11",
            "Port 5432 is part of the runtime contract (the secret's port); the instance sits in isolated "
            "subnets and admits only the Glue and rotation security groups, so a non-default port hides nothing",
        )
    for child in stack.node.children:
        if child.node.id.startswith("BucketNotificationsHandler"):
            acknowledge(
                child,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSLambdaBasicExecutionRole]",
                "CDK's bucket-notifications handler (turns on EventBridge notifications for the data bucket) "
                "runs only during deployments and uses the basic execution policy solely to write its own logs",
            )
        elif child.node.id.startswith("AWS679f53fac002430cb0da5b7982bd2287"):  # AwsCustomResource's provider
            acknowledge(
                child,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSLambdaBasicExecutionRole]",
                "CDK's AwsCustomResource handler (starts or stops the scheduled Glue trigger when schedule_enabled "
                "changes) runs only during deployments and uses the basic execution policy solely to write its "
                "own logs; its Glue permissions are a separate policy scoped to the trigger's ARN",
            )
        elif child.node.id.startswith("LogRetention"):
            acknowledge(
                child,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSLambdaBasicExecutionRole]",
                "CDK's log-retention handler (sets the retention of the RDS log groups) runs only during "
                "deployments and uses the basic execution policy solely to write its own logs",
            )
            acknowledge(
                child,
                "AwsSolutions-IAM5[Resource::*]",
                "CDK's log-retention handler calls logs:PutRetentionPolicy/DeleteRetentionPolicy on log groups "
                "that RDS creates by name at run time; CDK generates this policy and cannot scope it",
            )
