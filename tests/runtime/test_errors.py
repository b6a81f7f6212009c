"""One root for the errors the CLI can surface: every exception class of the runtime derives from
:class:`runtime.errors.MldpError` (printed as one ``error:`` line, exit 2), or is one of the internal signals of
:data:`runtime.errors.INTERNAL_SIGNALS`, which say why in their docstring."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import runtime
from runtime.errors import INTERNAL_SIGNALS, MldpError


def runtime_exception_classes() -> dict[str, type[BaseException]]:
    """Every exception class defined in a module of the ``runtime`` package, by dotted name."""
    found = {}
    for info in pkgutil.walk_packages(runtime.__path__, "runtime."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == info.name:
                found[f"{info.name}.{name}"] = value
    return found


def test_every_exception_of_the_runtime_derives_from_the_root_or_is_a_documented_internal_signal():
    classes = runtime_exception_classes()
    assert len(classes) > 15, sorted(classes)  # the walk found the runtime's classes
    outside = {name for name, cls in classes.items() if not issubclass(cls, MldpError)}
    assert outside == set(INTERNAL_SIGNALS) & set(classes), (
        "derive it from runtime.errors.MldpError, or list it in INTERNAL_SIGNALS and say why in its docstring")


def test_each_internal_signal_exists_and_says_why_it_is_outside_the_root():
    classes = runtime_exception_classes()
    for name, why in INTERNAL_SIGNALS.items():
        if "dead" in why and name not in classes:
            continue  # removed since: the entry goes too
        assert name in classes, f"{name} is in INTERNAL_SIGNALS but defined nowhere"
        assert why and classes[name].__doc__, name
        assert not issubclass(classes[name], MldpError), name


def test_the_errors_a_command_surfaces_are_of_the_root():
    from runtime.db.tracking import LeaseLost
    from runtime.jobs.recovery import UnrecoverableBatch
    from runtime.operator.inspection import UnknownFile

    for cls in (LeaseLost, UnrecoverableBatch, UnknownFile):
        assert issubclass(cls, MldpError), cls
    assert issubclass(LeaseLost, RuntimeError) and issubclass(UnknownFile, LookupError)  # callers' catches kept
