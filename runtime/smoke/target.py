"""What a smoke run acts on: the deployed bucket layout and Glue job names (from the stack outputs, or given
explicitly), and the AWS clients it uses (injectable, so tests can hook botocore events on them)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from platform_contract import outputs as out
from runtime.errors import UsageError
from runtime.layout import CURATED_PREFIX, DEAD_LETTER_PREFIX, PROCESSED_PREFIX, RAW_PREFIX, STAGING_PREFIX, Layout

#: SmokeTarget field -> the stack output it is read from.
OUTPUT_OF_FIELD = {
    "bucket": out.BUCKET_NAME,
    "raw_prefix": out.RAW_PREFIX,
    "processed_prefix": out.PROCESSED_PREFIX,
    "curated_prefix": out.CURATED_PREFIX,
    "staging_prefix": out.STAGING_PREFIX,
    "dead_letter_prefix": out.DEAD_LETTER_PREFIX,
    "lister_job": out.LISTER_JOB_NAME,
    "processor_job": out.PROCESSOR_JOB_NAME,
    "workflow": out.WORKFLOW_NAME,
    "event_queue": out.EVENT_QUEUE_URL,
    "inventory_location": out.INVENTORY_LOCATION,
    "iceberg_table": out.ICEBERG_TABLE,
    "iceberg_warehouse": out.ICEBERG_WAREHOUSE,
}


@dataclass(frozen=True)
class SmokeTarget:
    """The deployment under test.

    Attributes:
        bucket: the data-lake bucket.
        raw_prefix ... staging_prefix: its layout (the reference layout by default).
        lister_job / processor_job: the Glue job names.
        workflow: the Glue workflow name (reported only: smoke starts the jobs directly, with its own arguments).
        event_queue / inventory_location: the S3 event queue's URL and the inventory report folder, when the
            stack's ``discovery_mode`` creates them (``""`` otherwise).
        stack: the stack the values came from, if any.
        iceberg_table / iceberg_warehouse: ``database.table`` of the curated Iceberg table and its warehouse (the
            Iceberg format; empty: loose Parquet under the curated prefix).
    """

    bucket: str = ""
    raw_prefix: str = RAW_PREFIX
    processed_prefix: str = PROCESSED_PREFIX
    curated_prefix: str = CURATED_PREFIX
    dead_letter_prefix: str = DEAD_LETTER_PREFIX
    staging_prefix: str = STAGING_PREFIX
    lister_job: str = ""
    processor_job: str = ""
    workflow: str = ""
    event_queue: str = ""
    inventory_location: str = ""
    stack: str | None = None
    iceberg_table: str = ""
    iceberg_warehouse: str = ""

    @property
    def layout(self) -> Layout:
        """The bucket layout (validated: every prefix ends in ``/``)."""
        return Layout(raw_prefix=self.raw_prefix, processed_prefix=self.processed_prefix,
                      curated_prefix=self.curated_prefix, dead_letter_prefix=self.dead_letter_prefix,
                      staging_prefix=self.staging_prefix)

    def validate(self) -> SmokeTarget:
        """Raise ``ValueError`` naming what is missing; return ``self``."""
        missing = [f"--{name.replace('_', '-')}" for name in ("bucket", "lister_job", "processor_job")
                   if not getattr(self, name)]
        if missing:
            raise UsageError(f"smoke needs {', '.join(missing)}: pass --stack NAME (its outputs name them) or give "
                             "them explicitly")
        self.layout  # noqa: B018 - validates the prefixes
        return self

    def with_overrides(self, **values: str | None) -> SmokeTarget:
        """A copy with every non-empty value of ``values`` replacing the field of the same name."""
        return replace(self, **{k: v for k, v in values.items() if v})


@dataclass
class SmokeClients:
    """The boto3 clients smoke uses (one of each, from one session)."""

    s3: Any
    glue: Any
    cloudformation: Any

    @classmethod
    def from_session(cls, session: Any) -> SmokeClients:
        """The clients of a ``boto3.Session``."""
        return cls(s3=session.client("s3"), glue=session.client("glue"),
                   cloudformation=session.client("cloudformation"))

    @classmethod
    def create(cls, region: str | None = None, profile: str | None = None) -> SmokeClients:
        """Clients of a new session (``--region`` / ``--profile``, else the usual AWS configuration)."""
        import boto3

        return cls.from_session(boto3.Session(region_name=region, profile_name=profile))


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    """The outputs of ``stack_name`` (``describe_stacks``), by output key."""
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as err:
        message = err.response.get("Error", {}).get("Message", str(err))
        raise UsageError(f"cannot read stack {stack_name!r}: {message} (deployed in another region? pass "
                         "--region)") from err
    except BotoCoreError as err:
        raise UsageError(f"cannot read stack {stack_name!r}: {err}") from err
    if not stacks:
        raise UsageError(f"stack {stack_name!r} not found")
    stack = stacks[0]
    status = stack.get("StackStatus", "")
    if status.endswith("_IN_PROGRESS") or status.endswith("_FAILED") or status.startswith("ROLLBACK"):
        raise UsageError(f"stack {stack_name!r} is {status}: smoke runs against a completed deployment")
    return {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])}


def target_from_stack(cloudformation: Any, stack_name: str) -> SmokeTarget:
    """The :class:`SmokeTarget` the outputs of ``stack_name`` describe (keys of :mod:`platform_contract.outputs`)."""
    outputs = stack_outputs(cloudformation, stack_name)
    needed = [key for key in (out.BUCKET_NAME, out.LISTER_JOB_NAME, out.PROCESSOR_JOB_NAME) if not outputs.get(key)]
    if needed:
        raise UsageError(f"stack {stack_name!r} has no output {', '.join(needed)}: is it an MlDataPlatform stack "
                         "deployed from this version? (or give --bucket, --lister-job, --processor-job)")
    values = {name: outputs[key] for name, key in OUTPUT_OF_FIELD.items() if outputs.get(key)}
    if outputs.get(out.BACKFILL_JOB_NAME):
        # the same code and arguments as the scheduled processor, with slots of its own: a smoke run never holds
        # the schedule's only slot (docs/infrastructure.md, "The 9 TB backfill")
        values["processor_job"] = outputs[out.BACKFILL_JOB_NAME]
    return SmokeTarget(stack=stack_name, **values)
