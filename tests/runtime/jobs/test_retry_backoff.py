"""Exponential backoff (README): a failed file waits ``backoff_base_seconds * 2 ** (attempts - 1)``, capped at
``backoff_max_seconds``, and is quarantined once it has had ``max_attempts`` attempts."""

from __future__ import annotations

from runtime.db.records import FileOutcome
from runtime.db.states import FileState
from runtime.jobs.retry import RetryPolicy


def test_failed_files_wait_twice_as_long_after_each_attempt_up_to_the_cap_then_are_quarantined():
    policy = RetryPolicy(max_attempts=8, backoff_base_seconds=60, backoff_max_seconds=3600)
    failed = FileOutcome(1, "raw-json-data/x.json", FileState.FAILED, "object vanished after listing")
    waits = [policy.resolve(failed, attempts) for attempts in range(1, 8)]
    assert [(r.state, r.retry_in_seconds) for r in waits] == [
        (FileState.FAILED, 60.0), (FileState.FAILED, 120.0), (FileState.FAILED, 240.0), (FileState.FAILED, 480.0),
        (FileState.FAILED, 960.0), (FileState.FAILED, 1920.0), (FileState.FAILED, 3600.0)]
    last = policy.resolve(failed, 8)
    assert last.state is FileState.QUARANTINED
    assert last.error == "gave up after 8 attempts: object vanished after listing"


def test_the_backoff_never_overflows_whatever_the_attempt_count():
    policy = RetryPolicy(max_attempts=100)
    assert policy.backoff_seconds(5000) == policy.backoff_max_seconds
