"""Loading of the optional transform hook: ``package.module:function`` or ``/path/to/file.py:function``.

A hook takes the mapped DataFrame of one batch (the spec's output columns, ``source_s3_path`` and the
partition columns) and returns a DataFrame. It may add, change or drop columns and drop rows, but must keep
``source_s3_path`` and every partition column with a valid value (the converter fails the batch otherwise).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runtime.errors import SpecError

Hook = Callable[[Any], Any]
#: The two ways to name a hook.
HOOK_FORMS = "'package.module:function' or '/path/to/file.py:function'"


def load_hook(reference: str) -> Hook:
    """Import and return the hook function named by ``reference``; raises :class:`~runtime.errors.SpecError`
    naming the problem."""
    target, _, function_name = reference.rpartition(":")
    if not target or not function_name:
        raise SpecError(f"hook: {reference!r} must be {HOOK_FORMS}")
    module = _load_file(target) if target.endswith(".py") else _load_module(target)
    function = getattr(module, function_name, None)
    if function is None:
        raise SpecError(f"hook: {target!r} has no attribute {function_name!r}")
    if not callable(function):
        raise SpecError(f"hook: {target}:{function_name} is not callable")
    return function


def _load_module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise SpecError(f"hook: module {name!r} cannot be imported ({error}); is it installed?") from None


def _load_file(path: str) -> Any:
    file = Path(path)
    if not file.is_file():
        raise SpecError(f"hook: file {path!r} does not exist")
    # A stable, unique module name per file, so loading twice returns the same module.
    module_name = "mldp_hook_" + hashlib.sha256(str(file.resolve()).encode()).hexdigest()[:16]
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise SpecError(f"hook: file {path!r} cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        raise SpecError(f"hook: importing {path!r} failed: {type(error).__name__}: {error}") from None
    sys.modules[module_name] = module
    return module
