"""The state model of :mod:`runtime.db.states` against the code: every transition names a function that exists
and runs the statement named; every SQL statement under ``runtime/db`` that writes a file's or a batch's state is
one a transition names; no SQL statement lives outside ``runtime/db``."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path

import pytest

import runtime
from runtime.db.states import TRANSITIONS, BatchState, FileState

RUNTIME = Path(runtime.__file__).parent
#: The SQL modules of runtime/db (module-level string constants).
SQL_MODULES = ("queries", "registration_queries", "lease_queries", "operator_queries", "demo")
_UPDATE = re.compile(r"UPDATE\s+(file_processing_status|processing_batches)(?:\s+AS\s+\w+)?\s+SET\b(.*?)"
                     r"(?=\bFROM\b|\bWHERE\b|\bRETURNING\b|$)", re.DOTALL)
_INSERT = re.compile(r"INSERT\s+INTO\s+(file_processing_status|processing_batches)\b")
#: The state column of each table, as a SET item (``, state = ...``, not ``o.state = ...`` inside a CASE).
_STATE_COLUMN = {"file_processing_status": re.compile(r"(?:^|,)\s*processing_status\s*="),
                 "processing_batches": re.compile(r"(?:^|,)\s*state\s*=")}


def writes_a_state(sql: str) -> bool:
    """Whether ``sql`` inserts a file or batch row, or updates a state column."""
    if _INSERT.search(sql):
        return True
    return any(_STATE_COLUMN[table].search(assignments) for table, assignments in _UPDATE.findall(sql))


def sql_constants() -> dict[str, str]:
    """Every module-level string constant of the SQL modules, by ``module.NAME``."""
    found = {}
    for name in SQL_MODULES:
        module = importlib.import_module(f"runtime.db.{name}")
        for attr, value in vars(module).items():
            if attr.isupper() and isinstance(value, str):
                found[f"{name}.{attr}"] = value
    return found


def resolve(dotted: str) -> object:
    """The function or method at ``dotted`` (``package.module.function`` or ``package.module.Class.method``)."""
    parts = dotted.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError:
            continue
        for attr in parts[split:]:
            target = getattr(target, attr)
        return target
    raise AssertionError(f"{dotted} names no module")


def runs(function: object, statement: str) -> bool:
    """Whether ``function``'s source, or that of a function of its module it calls, names ``statement``'s
    constant (one level down: ``requeue`` runs ``REQUEUE`` through the module's ``_move``)."""
    constant = statement.rsplit(".", 1)[1]
    source = inspect.getsource(function)
    if re.search(rf"\b{constant}\b", source):
        return True
    module = inspect.getmodule(function)
    called = set(re.findall(r"\b(_?\w+)\(", source))
    return any(re.search(rf"\b{constant}\b", inspect.getsource(helper))
               for name, helper in vars(module).items() if name in called and inspect.isfunction(helper))


@pytest.mark.parametrize("transition", TRANSITIONS, ids=lambda t: f"{t.method.rsplit('.', 1)[1]}->{t.to_state}")
def test_each_transition_names_a_function_that_runs_its_statement(transition):
    function = resolve(transition.method)
    assert callable(function), transition.method
    assert transition.statement in sql_constants(), f"{transition.statement} is no SQL constant of runtime/db"
    assert writes_a_state(sql_constants()[transition.statement]), f"{transition.statement} writes no state"
    assert runs(function, transition.statement), f"{transition.method} does not run {transition.statement}"
    kind = type(transition.to_state)
    assert kind in (FileState, BatchState) and all(type(s) is kind for s in transition.from_states), transition


def test_every_statement_that_writes_a_state_is_a_transition():
    writers = {name for name, sql in sql_constants().items() if writes_a_state(sql)}
    assert writers == {t.statement for t in TRANSITIONS}
    assert {"queries.CLAIM_BATCH", "lease_queries.UNCLAIM_FILES", "operator_queries.REQUEUE"} <= writers


def test_every_state_is_reached_and_left():
    for kind in (FileState, BatchState):
        moves = [t for t in TRANSITIONS if type(t.to_state) is kind]
        assert {t.to_state for t in moves} == set(kind), kind
        assert {s for t in moves for s in t.from_states} == set(kind) - {BatchState.COMMITTED, BatchState.ABANDONED}


def test_the_detector_tells_a_state_write_from_a_state_condition():
    assert writes_a_state("UPDATE file_processing_status SET processing_status = 'X' WHERE file_id = 1")
    assert writes_a_state("UPDATE processing_batches SET records_good = 1, state = 'X' WHERE batch_id = 1")
    assert not writes_a_state("UPDATE file_processing_status SET updated_at = now() WHERE processing_status = 'X'")
    assert not writes_a_state("UPDATE file_processing_status AS f SET claim_limit = CASE WHEN o.state = 'X' "
                              "THEN NULL END FROM o WHERE f.processing_status = 'PROCESSING'")


_SQL_START = re.compile(r"^\s*(SELECT|UPDATE|INSERT INTO|DELETE FROM|CREATE (TEMP )?TABLE|TRUNCATE|COPY|WITH \w+ AS)\b")


def test_no_sql_statement_lives_outside_runtime_db():
    found = []
    for path in sorted(RUNTIME.rglob("*.py")):
        if path.parent.name == "db" and path.parent.parent == RUNTIME:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and _SQL_START.match(node.value):
                found.append(f"{path.relative_to(RUNTIME.parent)}:{node.lineno}")
    assert found == []
