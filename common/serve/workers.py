"""Starting worker processes (common/serve/child.py) and reading what they report."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# The package this code is in (common.serve in a checkout, nst.common.serve installed), and the folder that
# holds its top-level package: the worker imports it from there.
PACKAGE = __name__.rpartition(".")[0]
IMPORT_ROOT = Path(__file__).resolve().parents[len(PACKAGE.split("."))]
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def environment(threads: int) -> dict[str, str]:
    """The worker's environment: this one, the package importable, the server's pid (for PR_SET_PDEATHSIG's
    race), and ``threads`` threads per worker unless the user set thread counts himself."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(IMPORT_ROOT), env.get("PYTHONPATH", "")) if p)
    env["NST_SERVE_PARENT"] = str(os.getpid())
    for name in THREAD_VARIABLES:
        env.setdefault(name, str(threads))
    return env


def start(args: list[str], folder: Path, threads: int) -> tuple[subprocess.Popen, int]:
    """Start a worker with args ("{fd}" in them becomes the number of its event pipe's write end); its output goes
    to folder/worker.log. Return the process and the pipe's read end."""
    read, write = os.pipe()
    try:
        with open(folder / "worker.log", "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", f"{PACKAGE}.child", *[a.replace("{fd}", str(write)) for a in args]],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=(write,),
                env=environment(threads),
                cwd=folder,
            )
    except BaseException:
        os.close(read)
        raise
    finally:
        os.close(write)
    return proc, read


def events(read: int) -> Iterator[dict[str, Any]]:
    """The worker's events until it closes its end of the pipe (it ends)."""
    with os.fdopen(read, "rb") as pipe:
        for line in pipe:
            try:
                yield json.loads(line)
            except ValueError:
                continue  # not an event: ignore it


def wait(proc: subprocess.Popen, lock: Any = None) -> tuple[int, int]:
    """Wait for a worker; its exit code (negative: killed by that signal) and peak resident memory in bytes.

    It is reaped under ``lock``, the lock under which others signal it, so that no signal can reach another
    process that got its pid afterwards."""
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
    with lock or contextlib.nullcontext():
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss * 1024


def run_to_end(args: list[str], folder: Path, threads: int, on_event: Callable[[dict[str, Any]], None]) -> int:
    """Start a worker, hand each event to on_event, and return its exit code (a short worker, no stopping)."""
    proc, read = start(args, folder, threads)
    for event in events(read):
        on_event(event)
    return wait(proc)[0]
