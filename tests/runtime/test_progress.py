"""Progress of long runs: a redrawn line (rate, estimate) on a terminal, a periodic log line elsewhere (Glue), and
nothing on the stream when it is not a terminal. Time is a fake clock, so no test depends on the machine's speed."""

from __future__ import annotations

import io
import logging
import re
import sys

import pytest

from runtime import progress as progress_module
from runtime.cli import main
from runtime.jobs.lister import run_lister
from runtime.progress import Progress, format_duration
from runtime.sample_data import generate_sample
from runtime.storage.local import LocalStore


class FakeClock:
    """``time.monotonic`` for :mod:`runtime.progress`: ``now`` is set by the test, or advances ``step`` per call."""

    def __init__(self, step: float = 0.0) -> None:
        self.now = 1000.0
        self.step = step

    def monotonic(self) -> float:
        self.now += self.step
        return self.now


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(progress_module, "time", fake)
    return fake


def progress_lines(caplog) -> list[str]:
    """The human half of each progress log line (the other half is its JSON, see test below)."""
    return [r.getMessage().split(" | ")[0] for r in caplog.records if r.name == "mldp.progress"]


def test_log_lines_carry_the_progress_as_json(clock, caplog):
    import json

    progress = Progress("processing", unit="files", total=100, stream=io.StringIO(), log_interval=30)
    with caplog.at_level(logging.INFO, logger="mldp.progress"):
        clock.now += 40
        progress.advance(20, good=7)
    (message,) = [r.getMessage() for r in caplog.records if r.name == "mldp.progress"]
    assert json.loads(message.split(" | ", 1)[1]) == {
        "progress": "processing", "done": 20, "unit": "files", "seconds": 40.0, "rate_per_s": 0.5, "total": 100,
        "left": 80, "eta_seconds": 160, "good": 7}


def test_a_terminal_gets_a_redrawn_line_at_most_every_interval(clock, caplog):
    terminal = FakeTerminal()
    progress = Progress("processing", unit="files", total=200, stream=terminal, tty_interval=0.5)
    clock.now += 0.2
    progress.advance(10)
    assert terminal.getvalue() == ""  # too soon
    clock.now += 9.8
    progress.advance(40, good=400, bad=3)
    assert terminal.getvalue() == ("\r\x1b[2Kprocessing: 50 files in 10s (5 files/s), 150 left, ETA 30s, "
                                   "good=400, bad=3")
    progress.finish()
    assert terminal.getvalue().endswith("bad=3\n")
    assert progress_lines(caplog) == []


def test_elsewhere_a_log_line_every_log_interval_and_nothing_on_the_stream(clock, caplog):
    stream = io.StringIO()
    progress = Progress("listing", unit="keys", stream=stream, log_interval=30)
    with caplog.at_level(logging.INFO, logger="mldp.progress"):
        for _ in range(7):  # 10 s per step: reports at 30 s and 60 s
            clock.now += 10
            progress.advance(1000, new=5)
        progress.finish()
    assert stream.getvalue() == ""
    assert progress_lines(caplog) == ["listing: 3,000 keys in 30s (100 keys/s), new=5",
                                      "listing: 6,000 keys in 60s (100 keys/s), new=5"]


def test_disabled_progress_is_silent(clock, caplog):
    terminal = FakeTerminal()
    progress = Progress("x", stream=terminal, enabled=False)
    with caplog.at_level(logging.INFO, logger="mldp.progress"):
        clock.now += 3600
        progress.advance(5)
        progress.finish()
    assert terminal.getvalue() == "" and progress_lines(caplog) == []


def test_estimate_is_unknown_before_any_progress(clock):
    progress = Progress("processing", unit="files", total=10, stream=io.StringIO())
    assert progress.line(now=clock.now + 5) == "processing: 0 files in 5s (0 files/s), 10 left, ETA ?"


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (12.7, "12s"), (245, "4m05s"), (3720, "1h02m"), (90_000, "25h00m"),
    (float("inf"), "?"), (float("nan"), "?"),
])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def make_keys(tmp_path, count: int) -> LocalStore:
    store = LocalStore(tmp_path)
    for i in range(count):
        store.put_bytes(f"raw-json-data/2024/week01/part-{i:03d}.jsonl", b"{}\n")
    return store


def test_list_shows_progress_on_a_terminal(tmp_path, db_conn, monkeypatch):
    clock = FakeClock(step=1.0)
    monkeypatch.setattr(progress_module, "time", clock)
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    run_lister(make_keys(tmp_path, 12), db_conn, chunk_size=5)
    frames = terminal.getvalue().split("\r\x1b[2K")[1:]
    assert [f.split(" in ")[0] for f in frames] == ["listing: 5 keys", "listing: 10 keys", "listing: 12 keys"]
    assert all(re.search(r"\(\d+ keys/s\), new=\d+, changed=0", f) for f in frames)
    assert terminal.getvalue().endswith("\n")


def test_list_in_glue_logs_progress_and_keeps_stderr_clean(tmp_path, db_url, monkeypatch, caplog, capsys):
    monkeypatch.setattr(progress_module, "time", FakeClock(step=31.0))
    store = make_keys(tmp_path, 12)
    with caplog.at_level(logging.INFO, logger="mldp.progress"):
        code = main(["list", "--store", str(store.url), "--db", db_url, "--chunk-size", "5", "--no-metrics"])
    assert code == 0
    assert [line.split(" in ")[0] for line in progress_lines(caplog)] == [
        "listing: 5 keys", "listing: 10 keys", "listing: 12 keys"]
    assert "listing:" not in capsys.readouterr().err


@pytest.mark.spark
def test_process_drain_reports_progress_against_the_backlog(tmp_path, db_url, spark, monkeypatch, caplog):
    store = LocalStore(tmp_path)
    generate_sample(store, files=4, records_per_file=5, include_bad_inputs=False)
    job = ["--store", str(tmp_path), "--db", db_url, "--no-metrics"]
    assert main(["list", *job]) == 0
    monkeypatch.setattr(progress_module, "time", FakeClock(step=31.0))
    with caplog.at_level(logging.INFO, logger="mldp.progress"):
        assert main(["process", *job, "--drain", "--batch-size", "2"]) == 0
    lines = progress_lines(caplog)
    assert len(lines) == 2
    assert re.fullmatch(r"processing: 2 files in \d+s \(\d+ files/s\), 2 left, ETA \S+, good=10, bad=0", lines[0])
    assert re.fullmatch(r"processing: 4 files in \d+s \(\d+ files/s\), 0 left, ETA 0s, good=10, bad=0", lines[1])
