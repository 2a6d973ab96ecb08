"""Freed memory kept for reuse: glibc's malloc told not to map and unmap a step's large tensors every step.

glibc serves an allocation above its mmap threshold (at most 32 MiB) with a fresh mmap and returns it to the
system on free; the next step's tensor of the same size is mapped again, and the kernel zero-fills every page
of it on first touch. A d2l step at 300x450 allocates such tensors by the dozen (conv1's outputs alone are 35 MB):
measured on an AMD EPYC Zen 4, 2026-12-07, 114,000 page faults and 0.26 s of system time per torch step. With no
mmap and no trimming of the heap's free top, freed blocks stay in the process and the next step reuses them: few
faults, the step 9% faster (torch; MXNet 7%, JAX 6%: docs/speed.md, "Freed memory kept for reuse"), the peak
resident memory higher (torch: +8% at 300x450, +34% at 768x1024: glibc's heap splits and merges blocks where each
mapping was one tensor). A process keeps its high-water mark of memory until it exits, as a framework's own
caching allocator would (MXNet's pools do that for its own arrays). The fitted memory model
(backends/<name>/memory.toml) is measured this way, so a run that would not fit is still refused.

Applied once per process when a backend is made (core.Backend.__init__); NST_KEEP_FREED_MEMORY=0 keeps glibc's
defaults (the comparison: benchmarks/step_time.py's -glibc contenders). Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os

# mallopt's parameters (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
NEVER_TRIM = 2**31 - 1  # the largest value mallopt takes (an int): a free top of the heap under 2 GiB is kept
ENV = "NST_KEEP_FREED_MEMORY"


def wanted() -> bool:
    """Whether this process should keep freed memory: unless $NST_KEEP_FREED_MEMORY is 0 (or off, no, false)."""
    return os.environ.get(ENV, "1").strip().lower() not in ("0", "off", "no", "false")


def _glibc() -> ctypes.CDLL | None:
    """The C library if it is glibc (it has gnu_get_libc_version and mallopt), else None."""
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    return libc if hasattr(libc, "gnu_get_libc_version") and hasattr(libc, "mallopt") else None


@functools.cache
def keep_freed_memory() -> bool:
    """Tell glibc's malloc to serve large blocks from its heap and never trim it, once; whether that was done."""
    libc = _glibc() if wanted() else None
    if libc is None:
        return False
    return bool(libc.mallopt(M_MMAP_MAX, 0)) and bool(libc.mallopt(M_TRIM_THRESHOLD, NEVER_TRIM))
