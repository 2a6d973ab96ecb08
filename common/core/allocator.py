"""Freed memory kept for reuse while steps run: glibc's malloc told not to map and unmap a step's large tensors.

glibc serves an allocation above its mmap threshold (at most 32 MiB) with a fresh mmap and returns it to the
system on free; the next step's tensor of the same size is mapped again, and the kernel zero-fills every page
of it on first touch. A d2l step at 300x450 allocates such tensors by the dozen (conv1's outputs alone are 35 MB):
measured on an AMD EPYC Zen 4, 2026-12-07, 114,000 page faults and 0.26 s of system time per torch step. With no
mmap and no trimming of the heap's free top, freed blocks stay in the process and the next step reuses them: few
faults, the step 9% faster (torch; MXNet 7%, JAX 6%: docs/speed.md, "Freed memory kept for reuse"), the peak
resident memory higher (torch: +8% at 300x450, +38% at 768x1024: glibc's heap splits and merges blocks where each
mapping was one tensor). The fitted memory model (backends/<name>/memory.toml) is measured this way, so a run that
would not fit is still refused.

Scoped: ``with kept_memory():`` around a loop of steps (core.training.optimize, the benchmarks' timed steps). On
leaving it glibc's settings are put back as its dynamic threshold would have left them after large blocks (mmap
above 32 MiB, trimming above 64 MiB) and malloc_trim hands the free pages back, so a long-lived process (a Ray
worker, the test suite, a Python session) does not keep each run's high-water mark. NST_KEEP_FREED_MEMORY=0 turns
it off (the comparison: benchmarks/step_time.py's -glibc contenders). Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import os
import threading
from collections.abc import Iterator

# mallopt's parameters (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_MMAP_MAX = -4
NEVER_TRIM = 2**31 - 1  # the largest value mallopt takes (an int): a free top of the heap under 2 GiB is kept
# What glibc's dynamic thresholds reach once large blocks were freed: mmap above 32 MiB (its maximum on 64-bit
# machines), trim above twice that; and its default count of mappings.
MMAP_THRESHOLD, TRIM_THRESHOLD, MMAP_MAX = 32 * 2**20, 64 * 2**20, 65536
ENV = "NST_KEEP_FREED_MEMORY"
_lock = threading.Lock()
_depth = 0


def wanted() -> bool:
    """Whether steps should keep freed memory: unless $NST_KEEP_FREED_MEMORY is 0 (or off, no, false)."""
    return os.environ.get(ENV, "1").strip().lower() not in ("0", "off", "no", "false")


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """The C library if it is glibc (it has gnu_get_libc_version, mallopt and malloc_trim), else None."""
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    names = ("gnu_get_libc_version", "mallopt", "malloc_trim")
    return libc if all(hasattr(libc, n) for n in names) else None


@contextlib.contextmanager
def kept_memory() -> Iterator[bool]:
    """Within: large blocks from glibc's heap, never trimmed; after: glibc's settings back, free pages given back.
    Yields whether it is in force (not on another C library, nor with NST_KEEP_FREED_MEMORY=0); nests."""
    global _depth
    libc = _glibc() if wanted() else None
    if libc is None:
        yield False
        return
    with _lock:
        _depth += 1
        if _depth == 1:
            libc.mallopt(M_MMAP_MAX, 0)
            libc.mallopt(M_TRIM_THRESHOLD, NEVER_TRIM)
    try:
        yield True
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                libc.mallopt(M_MMAP_MAX, MMAP_MAX)
                libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
                libc.malloc_trim(0)
