"""nst batch as a user runs it: bad manifests refused whole, no Ray, and a driver killed mid-batch then rerun
(each Ray instance here is the command's own, on 127.0.0.1, and no Python process of it connects elsewhere)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from batch_support import (
    ROOT,
    alive,
    cmdline,
    connection_logger,
    descendants,
    ledger_lines,
    make_images,
    require_ray,
    short_temporary_folder,
    wait_for,
)
from PIL import Image

import common
import common.batch

CLI = [sys.executable, str(ROOT / "cli.py")]


def test_a_manifest_with_bad_rows_is_refused_and_every_bad_row_named(tmp_path: Path) -> None:
    contents, _ = make_images(tmp_path, 1, 1)
    (tmp_path / "notes.png").write_text("not an image")
    (tmp_path / "jobs.csv").write_text(
        "content,style,output,steps,preset\n"
        "c0.png,s0.png,a.png,3,\n"  # row 1: good
        "nowhere.png,s0.png,b.png,3,\n"  # row 2: missing content
        "c0.png,s0.png,c.png,-1,\n"  # row 3: bad steps
        "c0.png,s0.png,d.png,3,picasso\n"  # row 4: unknown preset
        "c0.png,s0.png,a.png,3,\n"  # row 5: output of row 1 again
        f"c0.png,s0.png,{contents[0]},3,\n"  # row 6: output is an input
        "c0.png,notes.png,g.png,3,\n"  # row 7: a text file as style
        "c0.png,s0.png,h.png,three,\n"  # row 8: not a number
    )
    out = tmp_path / "out"
    r = subprocess.run([*CLI, "batch", str(tmp_path / "jobs.csv"), "--output-dir", str(out)], capture_output=True)
    err = r.stderr.decode()
    assert r.returncode == 2, err
    assert "Traceback" not in err and err.startswith("nst: error: 7 of 8 jobs are invalid; nothing was run")
    for number, words in [
        (2, "nowhere.png' does not exist"),
        (3, "--steps must be a positive integer"),
        (4, "unknown preset 'picasso'"),
        (5, "is also written by jobs.csv row 1"),
        (6, "is the same file as the input --content"),  # the line nst stylize gives (the plan's own check)
        (7, "is not an image PIL can read"),
        (8, "--steps: cannot read 'three'"),
    ]:
        line = next((x for x in err.splitlines() if f"jobs.csv row {number} " in x), "")
        assert words in line, f"row {number}: {line!r}"
    assert "row 1 " not in err.replace("written by jobs.csv row 1", "")
    assert not out.exists()  # nothing was created


def test_json_lines_rows_with_unknown_settings_or_bad_json_are_named(tmp_path: Path) -> None:
    make_images(tmp_path, 1, 1)
    (tmp_path / "jobs.jsonl").write_text(
        '{"content": "c0.png", "style": ["s0.png"], "steps": 3}\n'
        '{"content": "c0.png", "style": "s0.png", "stpes": 3}\n'
        "\n"
        '{"content": "c0.png", "style": "s0.png", \n'
        '{"content": "c0.png", "style": "s0.png", "checkpoint": "x.npz"}\n'
    )
    with pytest.raises(common.UserError) as e:
        common.batch.run(tmp_path / "out", str(tmp_path / "jobs.jsonl"), progress=False)
    message = str(e.value)
    assert message.startswith("3 of 4 jobs are invalid")
    assert "jobs.jsonl row 2 (line 2): unknown setting 'stpes'" in message
    assert "jobs.jsonl row 3 (line 4): not a valid JSON row" in message
    assert "jobs.jsonl row 4 (line 5): --checkpoint is not supported by nst batch" in message


def test_without_ray_nst_batch_names_the_extra_in_one_line(tmp_path: Path) -> None:
    make_images(tmp_path, 1, 1)
    blocker = (
        "import sys\n"
        "class Blocker:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'ray':\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Blocker())\n"
        "import cli\n"
        "sys.exit(cli.main(sys.argv[1:]))\n"
    )
    argv = ["batch", "--content", str(tmp_path / "c0.png"), "--style", str(tmp_path / "s0.png")]
    r = subprocess.run(
        [sys.executable, "-c", blocker, *argv, "--output-dir", str(tmp_path / "out")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "pip install 'nst-crossframe[batch]'" in r.stderr
    assert not (tmp_path / "out").exists()


def test_the_connection_logger_sees_a_connection_to_another_address(tmp_path: Path) -> None:
    """The detector the next test relies on: a UDP connect (which sends no packet) to a documentation address."""
    env, log = connection_logger(tmp_path / "hook")
    code = "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).connect(('192.0.2.1', 9))"
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    assert "connected to ('192.0.2.1', 9)" in log.read_text()


def test_a_killed_driver_loses_only_the_jobs_in_flight_and_a_rerun_completes(tmp_path: Path) -> None:
    require_ray()
    make_images(tmp_path / "in", 3, 2)
    out = tmp_path / "out"
    argv = [*CLI, "batch", "--content", str(tmp_path / "in" / "c*.png"), "--style", str(tmp_path / "in" / "s*.png")]
    argv += ["--output-dir", str(out), "--workers", "1", "--backend", "torch", "--size", "32", "48", "--steps", "30"]
    argv += ["--weights", "random", "--quiet"]
    env, connections = connection_logger(tmp_path / "hook")
    root = env["TMPDIR"] = short_temporary_folder()  # the drivers' Ray folders go there, no other run's clean-up
    driver = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: ledger_lines(out), 240, "the first finished job")
        family = descendants(driver.pid)  # Ray's processes, started by the driver
        folders = set(re.findall(re.escape(root) + r"/nst-ray-[a-z0-9_]{8}", " ".join(map(cmdline, family))))
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    finally:
        if driver.poll() is None:
            driver.kill()
    done_before, killed_at = {line["job"] for line in ledger_lines(out)}, time.time()
    assert len(folders) == 1 and all(map(os.path.isdir, folders))  # the killed driver's Ray folder, left behind
    assert 1 <= len(done_before) < 6
    for image in out.glob("*.png"):  # every file there is complete
        Image.open(image).verify()
    rerun = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"6 of 6 jobs ok ({len(done_before)} done before, {6 - len(done_before)} run now)" in rerun.stdout
    kept = os.listdir(root)  # the rerun removed the killed driver's Ray folder, and its own at its end
    try:  # Ray's processes end with their driver (its agents notice the raylet's death within about a minute); on
        # a loaded machine the rerun alone may outlast that minute, so they get 30 s more after it in any case
        left = max(killed_at + 150 - time.time(), 30)
        wait_for(lambda: not any(map(alive, family)), left, "Ray's processes to end", 0.5)
    finally:
        for pid in filter(alive, family):
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(root, ignore_errors=True)
    assert kept == []
    lines = ledger_lines(out)
    assert len(lines) == len({line["job"] for line in lines}) == 6  # every job once: none lost, none twice
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"] == {"ok": 6, "failed": 0, "invalid": 0, "not run": 0}
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no temporary file left
    assert not connections.exists(), connections.read_text()[:3000]
    loaded = (connections.parent / "loaded.log").read_text()  # the logger ran in Ray's own Python processes
    assert all(program in loaded for program in ("cli.py", "dashboard.py", "agent.py", "default_worker.py"))
