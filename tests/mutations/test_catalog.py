"""The mutation catalog cannot rot silently: on every ``make test``, each mutation still applies to the code (its
snippet occurs exactly once) and its mapped tests exist (unless it is pending); and the check's own rules hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.mutations.catalog import MUTATIONS, Edit, Mutation
from tests.mutations.check import (
    ERROR,
    KILLED,
    SURVIVED,
    NoLongerApplies,
    apply,
    missing_tests,
    mutated_texts,
    verdict_of,
)

ROOT = Path(__file__).resolve().parents[2]
NUMBERED = list(enumerate(MUTATIONS, start=1))


@pytest.mark.parametrize(("number", "mutation"), NUMBERED, ids=[f"{n}" for n, _ in NUMBERED])
def test_each_mutation_still_applies_and_changes_the_code(number: int, mutation: Mutation):
    texts = mutated_texts(ROOT, number, mutation)
    assert all(texts[path] != (ROOT / path).read_text() for path in texts), f"mutation {number} changes nothing"


@pytest.mark.parametrize(("number", "mutation"), [(n, m) for n, m in NUMBERED if not m.pending],
                         ids=[f"{n}" for n, m in NUMBERED if not m.pending])
def test_each_mutation_names_tests_that_exist(number: int, mutation: Mutation):
    assert mutation.tests, f"mutation {number} names no test"
    assert missing_tests(ROOT, mutation.tests) == [], f"mutation {number}: mapped test missing, update the catalog"


@pytest.mark.parametrize(("number", "mutation"), [(n, m) for n, m in NUMBERED if not m.pending],
                         ids=[f"{n}" for n, m in NUMBERED if not m.pending])
def test_each_mutation_names_tests_the_guarantees_document_maps(number: int, mutation: Mutation):
    mapped = (ROOT / "docs" / "guarantees.md").read_text()
    assert [t for t in mutation.tests if f"`{t}`" not in mapped] == [], f"mutation {number}: not in docs/guarantees.md"


def test_the_names_are_unique():
    assert len({m.name for m in MUTATIONS}) == len(MUTATIONS)


def test_a_snippet_found_twice_or_not_at_all_no_longer_applies(tmp_path: Path):
    (tmp_path / "code.py").write_text("x = 1\nx = 1\ny = 2\n")
    for find in ("x = 1", "z = 3"):
        with pytest.raises(NoLongerApplies, match="mutation 7 no longer applies: update it"):
            mutated_texts(tmp_path, 7, Mutation("m", (Edit("code.py", find, "w = 0"),), ()))
    apply(tmp_path, 7, Mutation("m", (Edit("code.py", "y = 2", "y = 3"),), ()))
    assert (tmp_path / "code.py").read_text() == "x = 1\nx = 1\ny = 3\n"


def test_a_test_is_missing_when_its_file_or_its_function_is(tmp_path: Path):
    (tmp_path / "test_a.py").write_text("def test_here():\n    pass\n\nclass TestBox:\n    def test_in(self):\n"
                                        "        pass\n")
    node_ids = ["test_a.py::test_here", "test_a.py::test_here[param-1]", "test_a.py::TestBox::test_in",
                "test_a.py::test_gone", "test_b.py::test_here"]
    assert missing_tests(tmp_path, node_ids) == ["test_a.py::test_gone", "test_b.py::test_here"]


def test_killed_only_when_every_run_fails():
    assert verdict_of([1, 1, 1], 3)[0] == KILLED
    assert verdict_of([1, 0], 3) == (SURVIVED, "the tests passed in 1 of 2 runs")
    assert verdict_of([4], 1)[0] == ERROR and verdict_of([2], 1)[0] == ERROR
