"""Freed memory kept for reuse while steps run (common/core/allocator.py): what a process does with a freed 40 MB
block inside kept_memory(), after it, and in core.training.optimize's steps.

Each case runs in a fresh interpreter (glibc's settings are per process). The figures are the process's own: its
resident memory (/proc/self/statm) and its minor page faults (getrusage), per page of the block; never time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from common.core import allocator

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(allocator._glibc() is None, reason="glibc's malloc only")

CHILD = """
import json, os, resource, sys
sys.path.insert(0, sys.argv[1])
import numpy as np
from common.core import allocator, training
page, n = os.sysconf("SC_PAGE_SIZE"), 10_000_000  # a 40 MB float32 block: above glibc's largest mmap threshold
rss = lambda: int(open("/proc/self/statm").read().split()[1]) * page
faults = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_minflt

def cycle():
    # fill a block, free it, fill another: the share of the first that the free gave back, the second's faults
    a = np.ones(n, np.float32); held = rss(); del a; freed = held - rss()
    before = faults(); a = np.ones(n, np.float32); again = faults() - before; del a
    return {"returned": freed / (4 * n), "faults": again * page / (4 * n)}

class Trainer:  # each step fills and frees a 40 MB block, recording its faults
    learning_rate = 0.1
    def __init__(self):
        self.faults = []
    def step(self):
        before = faults(); a = np.ones(n, np.float32); self.faults.append(faults() - before); del a
        return (1.0, 1.0, 1.0, 3.0)

how, out = sys.argv[2], {}
if how == "default":
    out["cycle"] = cycle()
elif how == "kept":
    with allocator.kept_memory() as out["in_force"]:
        with allocator.kept_memory():
            pass
        out["cycle"] = cycle()  # after a nested block ended: still in force
        held = rss()
    out["given_back"] = (held - rss()) / (4 * n)
    out["after"] = cycle()
elif how == "optimize":
    trainer, start = Trainer(), rss()
    training.optimize(trainer, 3)
    out["step_faults"] = max(trainer.faults[1:]) * page / (4 * n)
    out["kept_after"] = (rss() - start) / (4 * n)
print(json.dumps(out))
"""


def run(how: str, **env: str) -> dict:
    """CHILD in a fresh interpreter: `how` is default, kept or optimize; env is added to the environment."""
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
    r = run("default")["cycle"]
    assert r["returned"] > 0.9, r
    assert r["faults"] > 0.001, r


def test_inside_kept_memory_a_freed_block_stays_and_is_reused_and_after_it_goes_back() -> None:
    """Inside kept_memory (even after a nested one ended) the freed block stays resident and the next one reuses
    it without a fault; on leaving, the free pages are given back and glibc maps large blocks again."""
    r = run("kept")
    assert r["in_force"] is True
    assert r["cycle"]["returned"] < 0.05, r
    assert r["cycle"]["faults"] < 0.001, r
    assert r["given_back"] > 0.9, r
    assert r["after"]["returned"] > 0.9, r


def test_the_variable_turns_it_off() -> None:
    """NST_KEEP_FREED_MEMORY=0: kept_memory is not in force, and the block goes back as by default."""
    r = run("kept", **{allocator.ENV: "0"})
    assert r["in_force"] is False
    assert r["cycle"]["returned"] > 0.9, r


def test_optimizes_steps_reuse_freed_memory_and_give_it_back_when_the_loop_ends() -> None:
    """core.training.optimize runs its steps in kept_memory: from the second step on a step's 40 MB block is
    reused without a fault; once it returns, the process holds no more than before it. With the variable off,
    every step faults its block in again."""
    r = run("optimize")
    assert r["step_faults"] < 0.001, r
    assert r["kept_after"] < 0.1, r
    off = run("optimize", **{allocator.ENV: "0"})
    assert off["step_faults"] > 0.001, off


@pytest.mark.parametrize("value", ["0", "off", "No", "false"])
def test_the_off_values(value: str, monkeypatch) -> None:
    """The values that turn it off; anything else (unset, 1, yes) leaves it on."""
    monkeypatch.setenv(allocator.ENV, value)
    assert not allocator.wanted()
    monkeypatch.setenv(allocator.ENV, "1")
    assert allocator.wanted()
    monkeypatch.delenv(allocator.ENV)
    assert allocator.wanted()
