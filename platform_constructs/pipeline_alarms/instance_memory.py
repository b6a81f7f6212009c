"""Memory of the RDS instance classes the tracking database may use, for memory thresholds relative to the class.

``RdsFreeableMemory`` fires below a share of the instance's memory (``rds_freeable_memory_percent``), so the
threshold follows the instance class: 128 MiB means "nearly out of memory" on a 1 GiB ``t4g.micro`` and nothing at
all on an 8 GiB ``m7g.large``. Sizes are those of the RDS instance class tables (memory per vCPU is fixed per
family: 4 GiB for ``m``, 8 GiB for ``r``; the burstable ``t`` classes have their own sizes). A class not listed
fails at synth (:func:`instance_memory_bytes`) with what to do: set ``rds_freeable_memory_bytes``.
"""

from __future__ import annotations

import re

GIB = 1024 * 1024 * 1024

#: Burstable classes (t3, t4g): memory in GiB by size.
_BURSTABLE_GIB = {"micro": 1, "small": 2, "medium": 4, "large": 8, "xlarge": 16, "2xlarge": 32}
#: Memory per vCPU (GiB) of the general-purpose and memory-optimised families the database accepts.
_GIB_PER_VCPU = {
    "m5": 4, "m6g": 4, "m6gd": 4, "m6i": 4, "m7g": 4, "m7i": 4,
    "r5": 8, "r6g": 8, "r6gd": 8, "r6i": 8, "r7g": 8, "r7i": 8,
}
_BURSTABLE = ("t3", "t4g")
_SIZE = re.compile(r"(?:(\d+)?xlarge|large)")


def _vcpus(size: str) -> int | None:
    if size == "large":
        return 2
    match = _SIZE.fullmatch(size)
    if match is None:
        return None
    return 4 * int(match.group(1) or 1)


def instance_memory_bytes(instance_class: str) -> int | None:
    """Memory of ``instance_class`` (``t4g.micro``, ``db.m7g.large``) in bytes; ``None`` for a class not listed."""
    family, _, size = instance_class.removeprefix("db.").partition(".")
    if family in _BURSTABLE:
        gib = _BURSTABLE_GIB.get(size)
        return None if gib is None else gib * GIB
    vcpus = _vcpus(size) if family in _GIB_PER_VCPU else None
    return None if vcpus is None else vcpus * _GIB_PER_VCPU[family] * GIB


def known_families() -> tuple[str, ...]:
    """The instance families :func:`instance_memory_bytes` knows (for error messages)."""
    return (*_BURSTABLE, *_GIB_PER_VCPU)
