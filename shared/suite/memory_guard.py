"""PatchCore's coreset step grew memory ~6.5 MB per step until the process died at 24 GB; serving large
allocations with mmap (glibc M_MMAP_THRESHOLD = 1 MiB) keeps it near 1 GB. Applied by
shared.suite.console.setup() (the CLI and the service) and by anomaly training, never by an import; equivalent to MALLOC_MMAP_THRESHOLD_=1048576 set before Python starts."""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource

M_MMAP_THRESHOLD = -3
THRESHOLD = 1 << 20


def cap_mmap_threshold() -> bool:
    """True when glibc accepted the setting (or the environment already set it)."""
    os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", str(THRESHOLD))  # for child processes
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        return bool(ctypes.CDLL(name).mallopt(M_MMAP_THRESHOLD, THRESHOLD))
    except (OSError, AttributeError):
        return False


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far (Linux reports kilobytes)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
