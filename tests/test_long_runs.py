"""Runs that end early: a diverging loss (exit 3) and an interrupt (exit 130) keep a valid image and record."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import stylize_argv
from PIL import Image

import cli

ROOT = Path(__file__).resolve().parents[1]


def test_a_diverging_run_keeps_the_last_finite_image_and_exits_3(backend, image_files, tmp_path: Path, capsys):
    out, log = tmp_path / "out.png", tmp_path / "run.json"
    extra = ["--size", "32", "48", "--steps", "20", "--weights", "random", "--lr", "1e30", "--quiet"]
    code = cli.main(stylize_argv(backend.name, image_files, out, *extra, log=log))
    err = capsys.readouterr().err
    assert code == 3, err
    assert err.count("\n") == 1 and "non-finite" in err and "lower --lr" in err
    record = json.loads(log.read_text())
    assert record["status"] == "diverged"
    assert not np.isfinite(record["history"][-1]["total"]) and len(record["history"]) < 20
    pixels = np.asarray(Image.open(out))
    assert pixels.shape == (32, 48, 3) and pixels.std() > 5  # a real image, not a black or NaN one


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_writes_the_image_and_record_and_exits_130(sig, image_files, tmp_path: Path) -> None:
    from conftest import get_backend

    get_backend("torch")
    out, log = tmp_path / "out.png", tmp_path / "run.json"
    argv = [sys.executable, str(ROOT / "cli.py"), *stylize_argv("torch", image_files, out, log=log)]
    argv += ["--size", "32", "48", "--steps", "100000", "--weights", "random", "--save-every", "1", "--quiet"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (tmp_path / "out_step0002.png").exists():
        assert proc.poll() is None and time.time() < deadline, proc.stderr.read() if proc.poll() else "timeout"
        time.sleep(0.05)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted after step" in err and "Traceback" not in err
    record = json.loads(log.read_text())
    assert record["status"] == "interrupted" and len(record["history"]) >= 2
    assert Image.open(out).size == (48, 32)
