"""PatchCore's coreset step grew memory ~6.5 MB per step until the process died at 24 GB; serving large
allocations with mmap (glibc M_MMAP_THRESHOLD = 1 MiB, as MALLOC_MMAP_THRESHOLD_=1048576 would) keeps it near
1 GB. The cap is scoped to the fit that needs it (a `with capped_mmap_threshold():` block): every other large
allocation then costs fresh pages (page faults, munmap), which made YOLO training 1.5x slower per batch on the 2-core
CPU (detection_malloc.json)."""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import os
import resource

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
THRESHOLD = 1 << 20
# glibc's own ceiling for its dynamic threshold on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX) and the trim threshold it
# pairs with it; setting a threshold switches the dynamic mode off for good, so leaving the cap restores these
RELEASED_MMAP = 32 << 20
RELEASED_TRIM = 2 * RELEASED_MMAP
ENV = "MALLOC_MMAP_THRESHOLD_"


@functools.lru_cache(maxsize=1)
def _libc():
    """glibc, looked up once (find_library runs ldconfig); None where there is none."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


def _mallopt(param: int, value: int) -> None:
    libc = _libc()
    if libc is not None and hasattr(libc, "mallopt"):
        libc.mallopt(param, value)


@contextlib.contextmanager
def capped_mmap_threshold():
    """Inside: large allocations are mmapped and returned at once (child processes started inside inherit the
    setting through the environment). After: glibc's largest thresholds, so large buffers are reused again."""
    set_env = ENV not in os.environ
    if set_env:
        os.environ[ENV] = str(THRESHOLD)
    _mallopt(M_MMAP_THRESHOLD, THRESHOLD)
    try:
        yield
    finally:
        if set_env:
            os.environ.pop(ENV, None)
        _mallopt(M_MMAP_THRESHOLD, RELEASED_MMAP)
        _mallopt(M_TRIM_THRESHOLD, RELEASED_TRIM)


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far (Linux reports kilobytes)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
