"""A file that kills the process is narrowed across runs like a failed conversion within one: the files of an
abandoned batch are not charged and are claimed next in batches of half the size, until the culprit is alone
(charged, kept alone, quarantined after ``--max-attempts``). A model of the claim the tracking store implements
(a prefix of the queue no longer than the smallest claim limit in it) walks a killer file through the rule."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from runtime.jobs.retry import AfterAbandon, RetryPolicy


@pytest.mark.parametrize(("files", "limit", "expected"), [
    (1000, None, AfterAbandon(charged=False, claim_limit=500)),
    (7, None, AfterAbandon(charged=False, claim_limit=4)),
    (2, None, AfterAbandon(charged=False, claim_limit=1)),
    (1, None, AfterAbandon(charged=True, claim_limit=1)),
    (1000, 250, AfterAbandon(charged=False, claim_limit=125)),  # a limited file halves its own limit
])
def test_after_abandon(files, limit, expected):
    assert RetryPolicy().after_abandon(files, limit) == expected


@dataclass
class Queue:
    """Files in claim order with their claim limit and charged attempts; ``killer`` kills any run that reads it."""

    files: list[int]
    killer: int
    limits: dict[int, int] = field(default_factory=dict)
    attempts: dict[int, int] = field(default_factory=dict)
    quarantined: set[int] = field(default_factory=set)

    def claim(self, batch_size: int) -> list[int]:
        """The claim's rule (runtime.db.queries.CLAIM_BATCH, checked against the database by
        tests/runtime/db/test_tracking_claim_limits.py): the largest n that n candidates allow, at most the first
        one's limit, made of the first n candidates that allow it."""
        candidates = self.files[:batch_size]
        if not candidates:
            return []
        caps = {file: self.limits.get(file, batch_size) for file in candidates}
        ranked = sorted(caps.values(), reverse=True)
        allowed = max(k for k in range(1, len(ranked) + 1) if ranked[k - 1] >= k)
        n = min(allowed, caps[candidates[0]])
        return [file for file in candidates if caps[file] >= n][:n]

    def run(self, batch_size: int, policy: RetryPolicy) -> None:
        batch = self.claim(batch_size)
        self.files = [f for f in self.files if f not in batch]
        if self.killer not in batch:  # SUCCEEDED: limits dropped
            for file in batch:
                self.limits.pop(file, None)
            return
        for file in batch:  # the run died: recovery abandons the batch
            rule = policy.after_abandon(len(batch), self.limits.get(file))
            self.limits[file] = rule.claim_limit
            if rule.charged:
                self.attempts[file] = self.attempts.get(file, 0) + 1
            if self.attempts.get(file, 0) >= policy.max_attempts:
                self.quarantined.add(file)
            else:
                self.files.append(file)
        self.files.sort()


def test_a_process_killing_file_is_isolated_and_quarantined_alone():
    queue, policy = Queue(list(range(1000)), killer=637), RetryPolicy(max_attempts=3)
    runs = 0
    while queue.files and runs < 200:
        queue.run(1000, policy)
        runs += 1
    assert queue.quarantined == {637}
    assert queue.attempts == {637: 3}  # no batch-mate was ever charged
    assert runs <= 2 * 10 + 3 + 10  # about log2(1000) crashes to isolate it, plus the good batches
