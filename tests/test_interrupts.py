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
from conftest import BACKEND_NAMES, get_backend
from helpers import stylize_argv
from PIL import Image
from test_cli import ROOT, run

import common

BACKENDS = list(BACKEND_NAMES)
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
    real = common.jobs.job.vgg_weights

    def resolve_then_signal(*args, **kwargs):
        kill_self(sig)
        return real(*args, **kwargs)

    monkeypatch.setattr(common.jobs.job, "vgg_weights", resolve_then_signal)
    code, _, err = run(job_args(name, image_files, tmp_path), capsys)
    record = check_interrupted(code, err, tmp_path, "interrupted before the first step")
    assert record["history"] == []
    monkeypatch.setattr(common.jobs.job, "vgg_weights", real)
    assert resume(tmp_path, capsys) == expected
    assert signal.getsignal(sig) == before  # the handlers given back as they were


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("name", BACKENDS)
def test_a_signal_during_a_step_stops_after_it(name, sig, image_files, tmp_path: Path, capsys, monkeypatch) -> None:
    get_backend(name)
    expected = uninterrupted(name, image_files, tmp_path, capsys)
    real = common.jobs.gatys.make_trainer

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

    monkeypatch.setattr(common.jobs.gatys, "make_trainer", trainer_that_is_signalled_in_step_2)
    code, _, err = run(job_args(name, image_files, tmp_path), capsys)
    record = check_interrupted(code, err, tmp_path, "interrupted after step 2")
    assert [h["step"] for h in record["history"]] == [1, 2]
    monkeypatch.setattr(common.jobs.gatys, "make_trainer", real)
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


def signal_at(argv: list[str], sig: int, delay: float, limit: float) -> tuple[subprocess.Popen, str, float | None]:
    """Start argv, send sig after delay seconds unless it exits first; the process, its stderr, and how long it
    ran when it finished before the signal (else None). It must end within limit seconds of the signal."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    start = time.time()
    while proc.poll() is None and time.time() - start < delay:
        time.sleep(0.02)
    ran = time.time() - start if proc.poll() is not None else None
    if ran is None:
        proc.send_signal(sig)
    sent = time.time()
    _, err = proc.communicate(timeout=limit + 60)
    took = time.time() - sent
    assert took < limit, f"the run took {took:.1f} s to stop after the signal, more than {limit:.1f} s"
    return proc, err, ran


def timed_reference(name: str, files, tmp_path: Path, steps: int) -> tuple[bytes, float, float]:
    """The job run uninterrupted as a fresh process: its image's pixels, its wall time, and the time it spent
    outside its steps (starting: imports and weights; ending: the outputs) plus its longest step."""
    folder = tmp_path / "reference"
    folder.mkdir()
    argv = [sys.executable, str(ROOT / "cli.py"), *job_args(name, files, folder, steps)]
    start = time.time()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    wall = time.time() - start
    assert done.returncode == 0, done.stderr
    seconds = [h["seconds"] for h in json.loads((folder / "run.json").read_text())["history"]]
    assert len(seconds) == steps
    return Image.open(folder / "out.png").tobytes(), wall, wall - sum(seconds) + max(seconds)


@pytest.mark.parametrize("name", BACKENDS)
def test_signals_at_random_moments_end_cleanly_and_resume_to_the_same_image(name, image_files, tmp_path, capsys):
    """A real process, signalled at seeded random moments from 1 s (the process has started) to the time the same
    job took uninterrupted, or to less than the time a run took once one finished before its signal. At least one
    try must be a real interrupt (exit 130, a checkpoint to resume from): three tries, and up to three more while
    none was.

    Each must stop soon after its signal. How soon is measured here, not assumed: a signal that arrives while the
    framework is imported or the weights load is acted on only when that is done (the run then stops before its
    first step), one that arrives during a step after that step, and then the outputs are written. So a try may
    take at most what the uninterrupted process of the same job, run first in this test, spent outside its steps
    (start-up and writing the outputs) plus its longest step; x1.5, as the load of this shared machine may change
    between that run and the tries (a fixed 10 s failed at load average 10 on 2 cores, where start-up took 13 s).
    """
    get_backend(name)
    steps = 30
    expected, wall, outside_steps = timed_reference(name, image_files, tmp_path, steps)
    limit = 1.5 * outside_steps
    rng = random.Random(f"{name}-signals")
    window, outcomes = [1.0, max(1.0, wall)], []
    for attempt in range(6):
        if attempt >= 3 and "interrupted" in outcomes:
            break
        folder = tmp_path / f"attempt{attempt}"
        folder.mkdir()
        sig = rng.choice([signal.SIGINT, signal.SIGTERM])
        delay = rng.uniform(*window)
        argv = [sys.executable, str(ROOT / "cli.py"), *job_args(name, image_files, folder, steps)]
        proc, err, ran = signal_at(argv, sig, delay, limit)
        if proc.returncode == 0:  # it finished before the signal came: later signals come sooner
            assert Image.open(folder / "out.png").tobytes() == expected
            window[1] = max(window[0], 0.8 * (ran or delay))
            outcomes.append("finished")
            continue
        note = f"signal {sig} after {delay:.2f} s: {err}"
        assert proc.returncode == 130 and err.count("\n") == 1 and "Traceback" not in err, note
        if "before anything was done" in err:  # still reading its arguments: nothing to continue
            assert not (folder / "out.png").exists()
            outcomes.append("before anything")
            continue
        record = json.loads((folder / "run.json").read_text())
        assert record["status"] in ("interrupted", "completed"), note
        Image.open(folder / "out.png").load()
        if record["status"] == "interrupted":
            assert (folder / "ckpt.npz").exists(), note
            assert resume(folder, capsys) == expected, note
        outcomes.append(record["status"])
    assert "interrupted" in outcomes, f"no try was a real interrupt: {outcomes}"
