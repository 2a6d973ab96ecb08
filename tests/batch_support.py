"""What the nst batch tests share: Ray required or skipped, small image sets, this process's process tree, and a
Python start-up hook that logs every connection to an address other than the loopback one."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import REQUIRED
from helpers import random_pixels, smooth_image
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"size": (32, 48), "steps": 3, "weights": "random"}


def require_ray() -> None:
    """Skip without Ray, unless the backends are required (CI installs every extra): then fail."""
    if importlib.util.find_spec("ray") is None:
        if REQUIRED:
            pytest.fail("ray is not installed (pip install -e '.[batch]'); NST_REQUIRED_BACKENDS is set")
        pytest.skip("ray is not installed")


def make_images(folder: Path, contents: int, styles: int) -> tuple[list[str], list[str]]:
    """c0.png ... (48x64 photo-like) and s0.png ... (40x40 noise) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    cs, ss = [], []
    for i in range(contents):
        smooth_image(48, 64, seed=i).save(folder / f"c{i}.png")
        cs.append(str(folder / f"c{i}.png"))
    for i in range(styles):
        Image.fromarray(random_pixels(40, 40, seed=10 + i)).save(folder / f"s{i}.png")
        ss.append(str(folder / f"s{i}.png"))
    return cs, ss


def children() -> dict[int, list[int]]:
    """Parent pid -> child pids, for every process visible in /proc."""
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(ppid, []).append(int(entry))
    return tree


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``."""
    tree, out, todo = children(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def cmdline(pid: int) -> str:
    """A process's command line ('' if it is gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def short_temporary_folder() -> str:
    """A new folder of the test's own whose path is short enough to be TMPDIR for the drivers it starts: their Ray
    folders go there (common/batch/local.py), where no other run's clean-up looks. The test removes it."""
    return tempfile.mkdtemp(prefix="nst-t", dir="/tmp")


def pids_mentioning(text: str) -> list[int]:
    """Every process whose command line holds ``text`` (Ray's processes name their session folder)."""
    return [int(e) for e in os.listdir("/proc") if e.isdigit() and int(e) != os.getpid() and text in cmdline(int(e))]


# Atomic writes (common.jobs.outputs.atomic_path) of the paths given, each with half its bytes in its temporary
# file, in a process killed outright before any of them finishes: what a driver killed mid-write leaves.
KILLED_WRITES = """
import os, signal, sys
from common.jobs.outputs import atomic_path
writes = [atomic_path(path) for path in sys.argv[1:]]
for write in writes:
    with open(write.__enter__(), "wb") as f:
        f.write(b"half an image")
os.kill(os.getpid(), signal.SIGKILL)
"""


def killed_writes(*paths: Path) -> None:
    """Leave the temporary files of atomic writes of ``paths`` cut short by SIGKILL, by the real writing code."""
    r = subprocess.run([sys.executable, "-c", KILLED_WRITES, *map(str, paths)], cwd=ROOT, capture_output=True)
    assert r.returncode == -signal.SIGKILL, r.stderr.decode()[-2000:]


def titled(prefix: str, pids: list[int]) -> list[int]:
    """The processes among ``pids`` whose command line (a Ray worker's title) starts with ``prefix``."""
    found = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if f.read().startswith(prefix.encode()):
                    found.append(pid)
        except OSError:
            continue
    return found


def alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(condition, timeout: float, what: str, every: float = 0.02):
    """Poll until ``condition()`` is truthy; its value, or a test failure naming ``what``."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def ledger_lines(folder: Path) -> list[dict]:
    """The lines of folder/batch.jsonl."""
    path = folder / "batch.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


# Imported at start-up by every Python process that has this folder on PYTHONPATH (driver, Ray's dashboard and
# agents, workers): logs each socket connection to an address outside 127.0.0.0/8 (and ::1) with its stack.
SITECUSTOMIZE = """
import os, socket, sys, traceback
_LOG = {log!r}
with open({loaded!r}, "a") as f:
    f.write(" ".join(sys.argv[:1]) + "\\n")
_connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex
def _check(address):
    if isinstance(address, tuple) and not str(address[0]).startswith(("127.", "::1", "::ffff:127.", "localhost")):
        with open(_LOG, "a") as f:
            f.write(f"pid {{os.getpid()}} connected to {{address}}\\n" + "".join(traceback.format_stack(limit=8)))
def connect(self, address):
    _check(address)
    return _connect(self, address)
def connect_ex(self, address):
    _check(address)
    return _connect_ex(self, address)
socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
"""


def connection_logger(folder: Path) -> tuple[dict[str, str], Path]:
    """An environment whose Python processes log non-loopback connections, and the log's path (beside it,
    loaded.log lists the program of every Python process that loaded the logger)."""
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "connections.log"
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE.format(log=str(log), loaded=str(folder / "loaded.log")))
    path = os.pathsep.join(p for p in (str(folder), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path}, log
