"""The knobs of one processor run (CLI options / Glue job arguments), their defaults from
:mod:`platform_contract.defaults`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from platform_contract import defaults
from runtime.jobs.retry import RetryPolicy


def local_job_run_id() -> str:
    """The run id of a run not started by Glue: ``local-`` and 12 hex digits."""
    return f"local-{uuid.uuid4().hex[:12]}"


def lease_too_short(lease_seconds: object) -> str:
    """Why a lease shorter than :data:`platform_contract.defaults.MIN_LEASE_SECONDS` is refused."""
    return (f"lease-seconds must be at least {defaults.MIN_LEASE_SECONDS}, got {lease_seconds}: the heartbeat renews "
            "the lease every fifth of it, and a shorter lease can lapse between two renewals of a live run (a slow "
            "database, a reconnect), letting another run take its batch over")


@dataclass
class ProcessorSettings:
    """Knobs of one processor run (CLI options / Glue job arguments)."""

    batch_size: int = defaults.BATCH_SIZE
    max_attempts: int = defaults.MAX_ATTEMPTS
    lease_seconds: int = defaults.LEASE_SECONDS
    job_run_id: str = field(default_factory=local_job_run_id)
    backoff_base_seconds: int = defaults.BACKOFF_BASE_SECONDS
    backoff_max_seconds: int = defaults.BACKOFF_MAX_SECONDS
    io_workers: int = defaults.IO_WORKERS
    archive: bool = True

    def __post_init__(self) -> None:
        for name in ("batch_size", "max_attempts", "io_workers"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name.replace('_', '-')} must be a positive integer, got {getattr(self, name)}")
        if self.max_attempts > defaults.MAX_ATTEMPTS_LIMIT:
            raise ValueError(f"max-attempts must be at most {defaults.MAX_ATTEMPTS_LIMIT}, got {self.max_attempts}")
        if self.lease_seconds < defaults.MIN_LEASE_SECONDS:
            raise ValueError(lease_too_short(self.lease_seconds))

    @property
    def retry_policy(self) -> RetryPolicy:
        """The retry rule these settings describe."""
        return RetryPolicy(self.max_attempts, self.backoff_base_seconds, self.backoff_max_seconds)
