"""What an environment name may be: the one rule for the stack suffix (``MlDataPlatform-<env>``), the props'
``environment_name``, ``mldp --environment`` and the ``Environment`` metric dimension."""

from __future__ import annotations

import re

#: An environment name: a lowercase letter, then up to 19 lowercase letters, digits or ``-``.
ENVIRONMENT_NAME_PATTERN = r"^[a-z][a-z0-9-]{0,19}$"
#: :data:`ENVIRONMENT_NAME_PATTERN`, compiled.
ENVIRONMENT_NAME = re.compile(ENVIRONMENT_NAME_PATTERN)


def is_environment_name(name: object) -> bool:
    """Whether ``name`` is a string that :data:`ENVIRONMENT_NAME_PATTERN` accepts."""
    return isinstance(name, str) and ENVIRONMENT_NAME.match(name) is not None


__all__ = ["ENVIRONMENT_NAME", "ENVIRONMENT_NAME_PATTERN", "is_environment_name"]
