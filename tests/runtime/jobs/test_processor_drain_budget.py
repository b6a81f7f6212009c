"""``--max-minutes``: a drain stops starting batches once the next one could overrun its time budget (README:
scheduled and backfill runs both rely on it). The drain's clock is replaced by one the test advances, 10 s per
batch, so the outcome does not depend on how fast this machine converts."""

from __future__ import annotations

import types

import pytest

from runtime.jobs import batch as batch_module
from runtime.jobs import processor as processor_module
from runtime.jobs.lister import run_lister
from runtime.sample_data import generate_sample
from runtime.storage.local import LocalStore
from tests.support.pipeline import processor, states

pytestmark = pytest.mark.spark


def test_a_drain_stops_before_a_batch_could_overrun_its_budget(tmp_path, db_conn, spark, monkeypatch):
    store = LocalStore(tmp_path)
    generate_sample(store, files=6, records_per_file=3, include_bad_inputs=False)
    run_lister(store, db_conn, show_progress=False)
    clock = types.SimpleNamespace(now=0.0)
    fake_time = types.SimpleNamespace(monotonic=lambda: clock.now)
    monkeypatch.setattr(processor_module, "time", fake_time)  # the drain's budget
    monkeypatch.setattr(batch_module, "time", fake_time)  # each batch's duration (the drain keeps the longest)

    def checkpoint(name: str) -> None:
        if name == "after_claim":
            clock.now += 10.0  # every batch takes 10 s of the drain's clock

    reports = processor(store, db_conn, spark, batch_size=1, checkpoint=checkpoint).drain(max_minutes=0.5)

    # batches start at 0 s, 10 s and 20 s, each lasting 10 s; at 30 s a fourth would end at 40 s, past the 30 s
    # budget: the drain stops there
    assert len(reports) == 3
    assert sorted(states(db_conn).values()) == ["PENDING"] * 3 + ["SUCCEEDED"] * 3


def test_without_a_budget_the_drain_empties_the_backlog(tmp_path, db_conn, spark):
    store = LocalStore(tmp_path)
    generate_sample(store, files=3, records_per_file=3, include_bad_inputs=False)
    run_lister(store, db_conn, show_progress=False)
    reports = processor(store, db_conn, spark, batch_size=1).drain()
    assert len(reports) == 3 and set(states(db_conn).values()) == {"SUCCEEDED"}
