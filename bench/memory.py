"""Peak memory of the benchmark's own process, for the memory figures of the discovery benchmarks."""

from __future__ import annotations

import resource
from pathlib import Path


def peak_rss_mb() -> float:
    """This process's peak RSS in MB (``VmHWM``: its own, unlike ``ru_maxrss``, which a child inherits from its
    parent across ``exec`` on Linux; ``ru_maxrss`` where ``/proc`` has no ``VmHWM``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
