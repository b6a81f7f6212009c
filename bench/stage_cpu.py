"""Executor CPU time per Spark stage of an action, read from the driver's status store (the data behind the Spark UI
and its REST API, kept even with the UI off). CPU time is what the work costs whatever else runs on the machine;
wall-clock time on a shared machine is not."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import SparkSession


@dataclass(frozen=True)
class Stage:
    """One completed stage: its id, the call site Spark names it by, its tasks, and the executors' CPU and run
    time summed over its tasks (seconds)."""

    stage_id: int
    name: str
    tasks: int
    cpu_s: float
    run_s: float

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {"stage": self.stage_id, "name": self.name, "tasks": self.tasks, "cpu_s": round(self.cpu_s, 3),
                "run_s": round(self.run_s, 3)}


def stages(spark: SparkSession) -> list[Stage]:
    """Every stage the status store still holds (Spark keeps the last 1,000), by id."""
    context = spark.sparkContext
    jvm = context._jvm
    listed = context._jsc.sc().statusStore().stageList(
        jvm.java.util.ArrayList(), False, False, context._gateway.new_array(jvm.double, 0), None)
    found = []
    iterator = listed.iterator()
    while iterator.hasNext():
        item = iterator.next()
        found.append(Stage(item.stageId(), item.name(), item.numTasks(), item.executorCpuTime() / 1e9,
                           item.executorRunTime() / 1e3))
    return sorted(found, key=lambda stage: stage.stage_id)


def timed(spark: SparkSession, action: Callable[[], object]) -> tuple[float, list[Stage]]:
    """Run ``action``: its wall-clock seconds and the stages it ran."""
    before = {stage.stage_id for stage in stages(spark)}
    started = time.perf_counter()
    action()
    seconds = time.perf_counter() - started
    return seconds, [stage for stage in stages(spark) if stage.stage_id not in before]


def cpu(ran: list[Stage]) -> float:
    """Executor CPU seconds of ``ran``, all stages together."""
    return sum(stage.cpu_s for stage in ran)
