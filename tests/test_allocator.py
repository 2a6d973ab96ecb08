"""Freed memory kept for reuse (common/core/allocator.py): what the process does with a freed 40 MB block.

Each case runs in a fresh interpreter (glibc's settings are per process and cannot be undone). The figures are
the process's own: its resident memory (/proc/self/statm) and its minor page faults (getrusage), never time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from common.core import allocator, registry

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(allocator._glibc() is None, reason="glibc's malloc only")

# Allocates and fills a 40 MB numpy array (above glibc's largest mmap threshold, 32 MiB), frees it, and does it
# again: the resident memory the free gave back, and the page faults of the second fill, per page of the block.
CHILD = """
import json, os, resource, sys
sys.path.insert(0, sys.argv[1])
import numpy as np
how = sys.argv[2]
if how == "keep":
    from common.core import allocator
    done = allocator.keep_freed_memory()
elif how != "default":
    import common
    common.load_backend(how)
    done = None
page = os.sysconf("SC_PAGE_SIZE")
rss = lambda: int(open("/proc/self/statm").read().split()[1]) * page
faults = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_minflt
n = 10_000_000
a = np.ones(n, np.float32); held = rss(); del a; freed = held - rss()
before = faults(); a = np.ones(n, np.float32); again = faults() - before; del a
result = {"returned": freed / (4 * n), "faults": again * page / (4 * n)}
print(json.dumps({"done": done if how == "keep" else None, **result}))
"""


def run(how: str, **env: str) -> dict:
    """CHILD in a fresh interpreter, `how` = default, keep or a backend's name, with extra environment."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT), how],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_by_default_glibc_gives_a_freed_large_block_back_and_faults_it_in_again() -> None:
    """The premise: without the setting a freed 40 MB block goes back to the system, and filling a new one
    faults its pages in again (every page with 4 KiB pages; fewer where the kernel backs it with huge pages)."""
    r = run("default", **{allocator.ENV: "0"})
    assert r["returned"] > 0.9, r
    assert r["faults"] > 0.001, r


def test_kept_a_freed_large_block_stays_and_is_reused_without_a_fault() -> None:
    """With keep_freed_memory the freed block stays resident and the next one of its size reuses it: no faults."""
    r = run("keep")
    assert r["done"] is True
    assert r["returned"] < 0.05, r
    assert r["faults"] < 0.001, r


def test_the_variable_turns_it_off() -> None:
    """NST_KEEP_FREED_MEMORY=0: keep_freed_memory does nothing, and the block goes back as by default."""
    r = run("keep", **{allocator.ENV: "0"})
    assert r["done"] is False
    assert r["returned"] > 0.9, r


@pytest.mark.parametrize("name", [n for n in registry.NAMES if registry.is_installed(n)])
def test_making_a_backend_keeps_freed_memory(name: str) -> None:
    """Every backend's process gets it when its backend is made (core.Backend.__init__), with no call of its own."""
    r = run(name)
    assert r["returned"] < 0.05, r
    assert r["faults"] < 0.001, r


@pytest.mark.parametrize("value", ["0", "off", "No", "false"])
def test_the_off_values(value: str, monkeypatch) -> None:
    """The values that turn it off; anything else (unset, 1, yes) leaves it on."""
    monkeypatch.setenv(allocator.ENV, value)
    assert not allocator.wanted()
    monkeypatch.setenv(allocator.ENV, "1")
    assert allocator.wanted()
    monkeypatch.delenv(allocator.ENV)
    assert allocator.wanted()
