"""The narrowing of a failed conversion, with a fake conversion: culprits found by bisection (each with its own
cause), and the failures that belong to no file told apart (a failing probe, every file failing the same way)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from runtime.errors import RunStopped
from runtime.jobs.narrowing import Attempt, Narrowing
from runtime.spark.failures import signature

HOOK_CAUSE = "java.lang.RuntimeException: the transform hook h.py:f produced a null or unsafe 'mode' partition value"


class FakeConversion:
    """Files are ints; a part fails when it holds a poison file (its cause) or when ``everything_fails``."""

    def __init__(self, poison: dict[int, str], everything_fails: str | None = None, good_per_file: int = 1):
        self.poison, self.everything_fails, self.good_per_file = poison, everything_fails, good_per_file
        self.parts: list[list[int]] = []

    def __call__(self, files: Sequence[int]) -> Attempt:
        self.parts.append(list(files))
        if self.everything_fails:
            return Attempt(self.everything_fails)
        causes = [self.poison[f] for f in files if f in self.poison]
        return Attempt(causes[0]) if causes else Attempt(None, self.good_per_file * len(files))


def narrow(files, conversion, probe=lambda: None, cause="batch failed"):
    return Narrowing(conversion, probe).run(files, cause)


def test_one_poison_file_among_many_is_found_alone_with_its_cause():
    conversion = FakeConversion({13: "java.io.IOException: incorrect header check"})
    assert narrow(list(range(20)), conversion) == [(13, "java.io.IOException: incorrect header check")]
    assert len(conversion.parts) <= 2 * 5  # two dry runs per level of a 20-file bisection


def test_several_culprits_each_with_their_own_cause():
    conversion = FakeConversion({0: "cause A", 5: "cause B", 6: "cause A"})
    assert sorted(narrow(list(range(8)), conversion)) == [(0, "cause A"), (5, "cause B"), (6, "cause A")]


def test_two_files_failing_differently_are_both_culprits_even_with_nothing_good():
    conversion = FakeConversion({1: "cause A", 2: "cause B"})
    assert sorted(narrow([1, 2], conversion, cause="cause A")) == [(1, "cause A"), (2, "cause B")]


def test_every_file_failing_the_same_way_stops_the_run_after_a_few_files():
    conversion = FakeConversion({}, everything_fails=HOOK_CAUSE)
    with pytest.raises(RunStopped) as stopped:
        narrow(list(range(1000)), conversion, cause=HOOK_CAUSE)
    assert stopped.value.cause == HOOK_CAUSE and "no file was charged" in str(stopped.value)
    # both halves of each failing part down one path (2 x 10 levels), the third single file and three controls:
    # about twice the batch's data, not the 2,000 parts of a full bisection
    assert len(conversion.parts) <= 2 * 10 + 1 + 3
    controls = [part for part in conversion.parts[-3:]]
    assert all(len(part) == 1 for part in controls) and max(p[0] for p in controls) > 500  # spread over the batch


def test_the_same_cause_with_different_paths_and_numbers_is_the_same_failure():
    assert signature("java.io.IOException: Mkdirs failed to create file:/s/b-1/curated/x=12 (exists=false)") == \
        signature("java.io.IOException: Mkdirs failed to create file:/s/b-2/scratch/y=3 (exists=false)")


def test_files_that_convert_with_good_records_prove_the_cause_is_in_the_files():
    # three poison files with the very same cause, but the others convert: they are culprits, the run goes on
    conversion = FakeConversion({0: HOOK_CAUSE, 1: HOOK_CAUSE, 3: HOOK_CAUSE})
    assert sorted(file for file, _ in narrow(list(range(6)), conversion, cause=HOOK_CAUSE)) == [0, 1, 3]


def test_a_conversion_with_no_good_record_proves_nothing_about_the_hook():
    # files 3..7 convert, but with no good record (all malformed: they never reach the hook). Three files failing
    # alike with such controls prove nothing about the spec: the three are the culprits (a review found the old
    # rule stopped every run on such a batch, never charging the bad files)
    conversion = FakeConversion({0: HOOK_CAUSE, 1: HOOK_CAUSE, 2: HOOK_CAUSE}, good_per_file=0)
    assert sorted(f for f, _ in narrow(list(range(8)), conversion, cause=HOOK_CAUSE)) == [0, 1, 2]
    with_good = FakeConversion({0: HOOK_CAUSE, 1: HOOK_CAUSE, 2: HOOK_CAUSE}, good_per_file=1)
    assert len(narrow([3, 0, 1, 2], with_good, cause=HOOK_CAUSE)) == 3  # file 3 converts a good record first


def test_a_control_failing_like_the_batch_is_needed_to_stop_the_run():
    # three culprits with the batch's cause, controls that convert nothing but one that fails alike: the run stops
    conversion = FakeConversion({0: HOOK_CAUSE, 1: HOOK_CAUSE, 2: HOOK_CAUSE, 6: HOOK_CAUSE}, good_per_file=0)
    with pytest.raises(RunStopped):
        narrow(list(range(8)), conversion, cause=HOOK_CAUSE)


def test_with_no_file_left_to_compare_the_failing_files_are_charged():
    # every file of the batch was tried alone (a batch of a few files, or culprits retried together): nothing to
    # compare with, so the run cannot conclude the cause is no file's; the files are charged (never a livelock)
    small = FakeConversion({0: HOOK_CAUSE, 1: HOOK_CAUSE, 2: HOOK_CAUSE}, good_per_file=0)
    assert sorted(f for f, _ in narrow([0, 1, 2, 3], small, cause=HOOK_CAUSE)) == [0, 1, 2]
    retried = FakeConversion({}, everything_fails=HOOK_CAUSE)
    assert sorted(f for f, _ in narrow([0, 1, 2], retried, cause=HOOK_CAUSE)) == [0, 1, 2]


def test_a_failing_probe_stops_the_run_before_any_dry_run():
    conversion = FakeConversion({1: "x"})
    cause = "org.apache.hadoop.fs.ParentNotDirectoryException: Parent path is not a directory: file:/s/_staging"
    with pytest.raises(RunStopped) as stopped:
        narrow([1, 2, 3], conversion, probe=lambda: cause)
    assert stopped.value.cause == cause and conversion.parts == []


def test_a_batch_of_one_file_cannot_tell_so_the_file_is_the_culprit():
    conversion = FakeConversion({}, everything_fails=HOOK_CAUSE)
    assert narrow([9], conversion, cause=HOOK_CAUSE) == [(9, HOOK_CAUSE)]
    assert conversion.parts == []  # the batch's own conversion was that file alone


def test_bad_files_at_the_front_are_charged_and_the_good_halves_are_proved_first():
    # the reproduction of the stall: 3 bad files with the batch's cause at the front of 16, depth-first bisection
    # used to stop after them ("no file to blame") before trying the 13 good files, on every run
    conversion = FakeConversion({0: HOOK_CAUSE, 1: HOOK_CAUSE, 2: HOOK_CAUSE})
    narrowing = Narrowing(conversion, lambda: None)
    assert sorted(f for f, _ in narrowing.run(list(range(16)), HOOK_CAUSE)) == [0, 1, 2]
    assert conversion.parts[:2] == [list(range(8)), list(range(8, 16))]  # both halves before any deeper split
    assert sorted(f for part in narrowing.good_parts for f in part) == list(range(3, 16))


def test_control_files_refute_a_cause_shared_by_densely_packed_bad_files():
    # every part tried fails until three single files failed alike; the controls, spread over the batch, convert
    bad = {0: HOOK_CAUSE, 1: HOOK_CAUSE, 2: HOOK_CAUSE, 4: HOOK_CAUSE, 8: HOOK_CAUSE}
    conversion = FakeConversion(bad)
    narrowing = Narrowing(conversion, lambda: None)
    assert sorted(f for f, _ in narrowing.run(list(range(16)), HOOK_CAUSE)) == sorted(bad)
    assert sorted(f for part in narrowing.good_parts for f in part) == sorted(set(range(16)) - set(bad))


def test_every_file_not_blamed_ends_in_a_part_proved_good():
    conversion = FakeConversion({3: "cause A", 9: "cause B", 10: "cause A", 30: "cause C"})
    narrowing = Narrowing(conversion, lambda: None)
    culprits = {f for f, _ in narrowing.run(list(range(37)), "cause A")}
    proved = [f for part in narrowing.good_parts for f in part]
    assert culprits == {3, 9, 10, 30} and sorted(proved) == sorted(set(range(37)) - culprits)


class StopNow(BaseException):
    pass


def test_a_stop_request_ends_the_narrowing_before_the_next_dry_run():
    conversion = FakeConversion({5: "cause"})
    requested = []

    def stop_check() -> None:
        if len(conversion.parts) >= 2:
            requested.append(True)
            raise StopNow

    with pytest.raises(StopNow):
        Narrowing(conversion, lambda: None, stop_check=stop_check).run(list(range(8)), "cause")
    assert len(conversion.parts) == 2 and requested
