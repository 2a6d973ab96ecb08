"""A driver killed outright (SIGKILL) at a chosen point of recording a job, then the same command again: no job
is recorded as done without its files, the job cut short is run again, and the next run removes what the killed
one left behind (the temporary file of its interrupted write, its Ray folder) and nothing of the user's.

The fault is injected, not timed: the driver runs under a hook that kills it right after the third write of a
job's files or ledger line (the first job's two writes, then the second job's first), or in the middle of the
second job's file write (its temporary file written, not yet renamed over the output)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from batch_support import ROOT, ledger_lines, make_images, pids_mentioning, require_ray, short_temporary_folder

CLI = [sys.executable, str(ROOT / "cli.py")]

DRIVER = """
import contextlib, json, os, signal, sys
import cli
from common.batch import ledger, local, scheduler
from common.jobs import outputs

AT, MARK = sys.argv[1], sys.argv[2]
writes = []

def die(what, path):
    with open(MARK, "w") as f:
        json.dump({"after": what, "path": os.path.abspath(path), "folder": str(local._active[-1].folder)}, f)
    os.kill(os.getpid(), signal.SIGKILL)

def after(write, what, path_of):
    def wrapped(*args, **kwargs):
        result = write(*args, **kwargs)
        writes.append(what)
        if AT == "between" and len(writes) == 3:
            die(what, path_of(args))
        return result
    return wrapped

scheduler.write_atomic = after(scheduler.write_atomic, "files", lambda args: args[0])
ledger.Ledger.append = after(ledger.Ledger.append, "ledger line", lambda args: args[1]["output"])
atomic_path = outputs.atomic_path

@contextlib.contextmanager
def cut_short(path):
    with atomic_path(path) as tmp:
        yield tmp
        if AT == "mid-write" and writes.count("files") == 1:
            die("half a file", path)

outputs.atomic_path = cut_short
sys.exit(cli.main(sys.argv[3:]))
"""


def run_killed(at: str, argv: list[str], folder: Path, env: dict[str, str]) -> dict:
    """Run the batch under the hook that kills it at ``at``; where it was killed."""
    mark, hook = folder / "killed.json", [sys.executable, "-c", DRIVER, at, str(folder / "killed.json")]
    with open(folder / "killed.out", "w") as out, open(folder / "killed.err", "w") as err:
        code = subprocess.run([*hook, *argv], cwd=ROOT, env=env, stdout=out, stderr=err)
    assert code.returncode == -signal.SIGKILL, (folder / "killed.err").read_text()[-2000:]
    return json.loads(mark.read_text())


def recorded_without_files(out: Path) -> list[str]:
    """The jobs whose latest ledger line says ok while a file of theirs is missing."""
    latest = {line["job"]: line for line in ledger_lines(out)}
    return [
        job
        for job, line in latest.items()
        if line["status"] == "ok" and not all(map(os.path.isfile, [line["output"], *line["files"]]))
    ]


def temporary_looking(out: Path) -> set[str]:
    """The names in ``out`` that look like a temporary file's."""
    return {p.name for p in out.iterdir() if p.name.startswith(".") or p.name.endswith(".tmp")}


@pytest.mark.parametrize("at", ["between", "mid-write"])
def test_a_driver_killed_while_recording_a_job_leaves_it_to_the_next_run(at: str, tmp_path: Path) -> None:
    require_ray()
    make_images(tmp_path / "in", 2, 2)
    out = tmp_path / "out"
    out.mkdir()
    mine = {".nst-abcdefgh.tmp.png", ".c0__s0.png.abcdefgh.png", "c0__s1.png.tmp"}  # the user's, named alike
    for name in mine:
        (out / name).write_bytes(b"mine")
    argv = ["batch", "--content", str(tmp_path / "in" / "c*.png"), "--style", str(tmp_path / "in" / "s*.png")]
    argv += ["--output-dir", str(out), "--workers", "1", "--backend", "torch", "--size", "32", "48", "--steps", "3"]
    argv += ["--weights", "random", "--quiet"]
    root = short_temporary_folder()  # the drivers' TMPDIR: their Ray folders go there
    env = {**os.environ, "TMPDIR": root}
    killed = {"folder": root + "/nst-ray-"}
    try:
        killed = run_killed(at, argv, tmp_path, env)
        assert recorded_without_files(out) == []
        assert [line["status"] for line in ledger_lines(out)] == ["ok"]  # the first job only
        assert killed["path"] not in {line["output"] for line in ledger_lines(out)}
        leftovers = temporary_looking(out) - mine
        if at == "between":  # the second job's file is written, its line is not
            assert killed["after"] == "files" and Path(killed["path"]).is_file() and not leftovers
        else:  # the second job's file is half written: its temporary file is there, the output is not
            assert killed["after"] == "half a file" and not Path(killed["path"]).exists() and len(leftovers) == 1
        assert os.listdir(root) == [Path(killed["folder"]).name]  # the killed driver's Ray folder, left behind
        rerun = subprocess.run([*CLI, *argv], env=env, capture_output=True, text=True, timeout=600)
        assert rerun.returncode == 0, rerun.stderr[-2000:]
        assert "4 of 4 jobs ok (1 done before, 3 run now)" in rerun.stdout
        lines = ledger_lines(out)
        assert len(lines) == len({line["job"] for line in lines}) == 4 and recorded_without_files(out) == []
        assert killed["path"] in {line["output"] for line in lines}  # the job cut short ran again
        assert temporary_looking(out) == mine  # the leftover gone, the user's files kept
        assert all((out / name).read_bytes() == b"mine" for name in mine)
        assert os.listdir(root) == []  # the killed driver's Ray folder removed by the rerun, the rerun's own at its end
    finally:  # Ray's processes of the killed driver end within about a minute; they are not waited for here
        for pid in pids_mentioning(killed["folder"]):
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(root, ignore_errors=True)
