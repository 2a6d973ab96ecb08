"""SIGINT and SIGTERM during weight loading, during a step, while saving, and at random moments, both backends.

Each time: the run ends within seconds, exit 130, one line; the image written is a complete one, the run
record is valid JSON, and --resume continues to exactly the image of a run that was never interrupted.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import get_backend
from helpers import stylize_argv
from PIL import Image
from test_cli import ROOT, run

import common

BACKENDS = ["torch", "mxnet"]
STEPS = 4


def job_args(name: str, files: tuple[Path, Path], folder: Path, steps: int = STEPS) -> list[str]:
    """A small stylize job writing out.png, run.json and ckpt.npz into folder."""
    return stylize_argv(
        name,
        files,
        folder / "out.png",
        "--checkpoint",
        str(folder / "ckpt.npz"),
        "--size",
        "32",
        "48",
        "--steps",
        str(steps),
        "--weights",
        "random",
        "--quiet",
        log=folder / "run.json",
    )


def uninterrupted(name: str, files, tmp_path: Path, capsys, steps: int = STEPS) -> bytes:
    """The output image's pixels of the same job run without interruption."""
    folder = tmp_path / "reference"
    folder.mkdir(exist_ok=True)
    assert run(job_args(name, files, folder, steps), capsys)[0] == 0
    return Image.open(folder / "out.png").tobytes()


def resume(folder: Path, capsys) -> bytes:
    """Continue the checkpoint in folder; the final image's pixels."""
    code, _, err = run(["stylize", "--resume", str(folder / "ckpt.npz"), "--output", str(folder / "out.png")], capsys)
    assert code == 0, err
    return Image.open(folder / "out.png").tobytes()


def check_interrupted(code: int, err: str, folder: Path, fragment: str, status: str = "interrupted") -> dict:
    """Exit 130, one line holding fragment, a complete image and a valid run record; the record."""
    assert code == 130, err
    assert err.count("\n") == 1 and fragment in err and "Traceback" not in err, err
    Image.open(folder / "out.png").load()
    record = json.loads((folder / "run.json").read_text())
    assert record["status"] == status
    return record


def kill_self(sig: int) -> None:
    """Send a signal to this process, as Ctrl-C or `kill` would."""
    os.kill(os.getpid(), sig)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("name", BACKENDS)
def test_a_signal_while_weights_load_stops_before_the_first_step(
    name, sig, image_files, tmp_path: Path, capsys, monkeypatch
) -> None:
    get_backend(name)
    before = signal.getsignal(sig)  # SIG_IGN under nohup or a background shell job
    expected = uninterrupted(name, image_files, tmp_path, capsys)
    real = common.jobs.stylize.vgg_weights

    def resolve_then_signal(*args, **kwargs):
        kill_self(sig)
        return real(*args, **kwargs)

    monkeypatch.setattr(common.jobs.stylize, "vgg_weights", resolve_then_signal)
    code, _, err = run(job_args(name, image_files, tmp_path), capsys)
    record = check_interrupted(code, err, tmp_path, "interrupted before the first step")
    assert record["history"] == []
    monkeypatch.setattr(common.jobs.stylize, "vgg_weights", real)
    assert resume(tmp_path, capsys) == expected
    assert signal.getsignal(sig) == before  # the handlers given back as they were


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("name", BACKENDS)
def test_a_signal_during_a_step_stops_after_it(name, sig, image_files, tmp_path: Path, capsys, monkeypatch) -> None:
    get_backend(name)
    expected = uninterrupted(name, image_files, tmp_path, capsys)
    real = common.jobs.stylize.make_trainer

    def trainer_that_is_signalled_in_step_2(*args, **kwargs):
        trainer = real(*args, **kwargs)
        step, calls = trainer.step, []

        def signalled_step():
            calls.append(1)
            if len(calls) == 2:
                kill_self(sig)
            return step()

        trainer.step = signalled_step
        return trainer

    monkeypatch.setattr(common.jobs.stylize, "make_trainer", trainer_that_is_signalled_in_step_2)
    code, _, err = run(job_args(name, image_files, tmp_path), capsys)
    record = check_interrupted(code, err, tmp_path, "interrupted after step 2")
    assert [h["step"] for h in record["history"]] == [1, 2]
    monkeypatch.setattr(common.jobs.stylize, "make_trainer", real)
    assert resume(tmp_path, capsys) == expected


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("name", BACKENDS)
def test_a_signal_while_saving_lets_the_outputs_finish(name, sig, image_files, tmp_path, capsys, monkeypatch) -> None:
    get_backend(name)
    expected = uninterrupted(name, image_files, tmp_path, capsys)
    real = common.jobs.images.save_image

    def save_with_signal(img, path):
        kill_self(sig)
        return real(img, path)

    monkeypatch.setattr(common.jobs.images, "save_image", save_with_signal)
    code, _, err = run(job_args(name, image_files, tmp_path), capsys)
    record = check_interrupted(code, err, tmp_path, "they are complete", status="completed")
    assert len(record["history"]) == STEPS
    assert Image.open(tmp_path / "out.png").tobytes() == expected


@pytest.mark.parametrize("name", BACKENDS)
def test_signals_at_random_moments_end_cleanly_and_resume_to_the_same_image(name, image_files, tmp_path, capsys):
    """A real process, signalled at seeded random moments from 1 s (the process has started) to 5 s (startup,
    importing the framework, drawing weights, steps and saving all happen in that window)."""
    get_backend(name)
    steps = 30
    expected = uninterrupted(name, image_files, tmp_path, capsys, steps)
    rng = random.Random(f"{name}-signals")
    for attempt in range(3):
        folder = tmp_path / f"attempt{attempt}"
        folder.mkdir()
        sig = rng.choice([signal.SIGINT, signal.SIGTERM])
        delay = rng.uniform(1.0, 5.0)
        argv = [sys.executable, str(ROOT / "cli.py"), *job_args(name, image_files, folder, steps)]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        proc.send_signal(sig)
        sent = time.time()
        _, err = proc.communicate(timeout=60)
        assert time.time() - sent < 10, "the run did not stop within seconds"
        if proc.returncode == 0:  # it finished before the signal came
            assert Image.open(folder / "out.png").tobytes() == expected
            continue
        note = f"signal {sig} after {delay:.2f} s: {err}"
        assert proc.returncode == 130 and err.count("\n") == 1 and "Traceback" not in err, note
        if "before anything was done" in err:  # still reading its arguments: nothing to continue
            assert not (folder / "out.png").exists()
            continue
        record = json.loads((folder / "run.json").read_text())
        assert record["status"] in ("interrupted", "completed"), note
        Image.open(folder / "out.png").load()
        if record["status"] == "interrupted":
            assert resume(folder, capsys) == expected, note
