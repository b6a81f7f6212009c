"""The CDK stacks of the ML data platform: per-environment configuration and the stack that composes the
four ``platform_constructs``."""
