"""Checkpoints and --resume: an interrupted-then-resumed run gives the same result as an uninterrupted one."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import get_backend
from helpers import stylize_argv
from PIL import Image

import cli
from common.jobs import checkpoint, job
from common.jobs import stylize as stylize_job

ROOT = Path(__file__).resolve().parents[1]


def argv(backend: str, files, out: Path, *extra: str) -> list[str]:
    small = ["--weights", "random", "--quiet", "--size", "32", "48"]
    return stylize_argv(backend, files, out, *small, *extra, log=out.with_suffix(".json"))


@contextlib.contextmanager
def interrupt_after(monkeypatch, steps: int):
    """Make the run stop after ``steps`` steps, as a SIGINT during step ``steps`` would."""
    done: list[int] = []
    on_step = job.Run.on_step

    def counting(self, rec) -> None:
        on_step(self, rec)
        done.append(rec.step)

    @contextlib.contextmanager
    def fake():
        yield lambda: len(done) >= steps

    monkeypatch.setattr(job.Run, "on_step", counting)
    monkeypatch.setattr(stylize_job, "stop_on_signals", fake)
    yield
    monkeypatch.undo()


def outcome(out: Path) -> tuple[bytes, list]:
    record = json.loads(out.with_suffix(".json").read_text())
    return np.asarray(Image.open(out)).tobytes(), [
        {k: v for k, v in h.items() if k != "seconds"} for h in record["history"]
    ]


CASES = {
    "adam": ["--steps", "6"],
    "lbfgs": ["--steps", "6", "--optimizer", "lbfgs"],
    "sgd": ["--steps", "6", "--optimizer", "sgd", "--lr", "50"],
    "two scales, stopped in the first": ["--steps", "4", "--scales", "0.5,1"],
    "two scales, stopped in the second": ["--steps", "2", "--scales", "0.5,1"],
    "the fast preset, stopped in a pyramid stage": ["--preset", "fast", "--steps", "2", "--size", "64", "96"],
}
STOP_AFTER = {"two scales, stopped in the second": 3, "the fast preset, stopped in a pyramid stage": 3}


@pytest.mark.parametrize("case", list(CASES))
def test_interrupt_then_resume_equals_an_uninterrupted_run(case, backend, image_files, tmp_path, monkeypatch, capsys):
    extra = CASES[case]
    whole = tmp_path / "whole.png"
    assert cli.main(argv(backend.name, image_files, whole, *extra)) == 0
    parts = tmp_path / "parts.png"
    with interrupt_after(monkeypatch, STOP_AFTER.get(case, 2)):
        assert cli.main(argv(backend.name, image_files, parts, *extra)) == 130
    err = capsys.readouterr().err
    ckpt = tmp_path / "parts.ckpt.npz"
    assert f"--resume {ckpt}" in err and ckpt.exists()
    assert (
        cli.main(
            [
                "stylize",
                "--resume",
                str(ckpt),
                "--output",
                str(parts),
                "--log",
                str(parts.with_suffix(".json")),
                "--quiet",
            ]
        )
        == 0
    )
    assert outcome(parts) == outcome(whole)


def test_checkpoint_every_n_steps(backend, image_files, tmp_path) -> None:
    out, ckpt = tmp_path / "o.png", tmp_path / "c.npz"
    assert (
        cli.main(
            argv(backend.name, image_files, out, "--steps", "5", "--checkpoint", str(ckpt), "--checkpoint-every", "2")
        )
        == 0
    )
    saved = checkpoint.load(ckpt)  # the last one: written at the end
    assert saved.stage_steps_done == 5 and len(saved.history) == 5 and saved.backend == backend.name
    assert {"param.0"} <= set(saved.trainer)


def test_a_finished_checkpoint_resumes_to_the_same_image(image_files, tmp_path) -> None:
    out, again, ckpt = tmp_path / "o.png", tmp_path / "again.png", tmp_path / "c.npz"
    assert cli.main(argv("torch", image_files, out, "--steps", "3", "--checkpoint", str(ckpt))) == 0
    assert cli.main(["stylize", "--resume", str(ckpt), "--output", str(again), "--quiet"]) == 0
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(again)))


@pytest.fixture
def made_checkpoint(image_files, tmp_path, monkeypatch) -> Path:
    with interrupt_after(monkeypatch, 1):
        assert cli.main(argv("torch", image_files, tmp_path / "o.png", "--steps", "4")) == 130
    return tmp_path / "o.ckpt.npz"


def test_resume_refuses_a_changed_setting(made_checkpoint, tmp_path, capsys) -> None:
    assert (
        cli.main(["stylize", "--resume", str(made_checkpoint), "--lr", "0.7", "--output", str(tmp_path / "x.png")]) == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--lr cannot change when resuming" in err


def test_resume_refuses_a_changed_input_image(made_checkpoint, image_files, tmp_path, capsys) -> None:
    Image.new("RGB", (40, 40), "red").save(image_files[1])
    assert cli.main(["stylize", "--resume", str(made_checkpoint), "--output", str(tmp_path / "x.png")]) == 2
    assert "changed since the checkpoint" in capsys.readouterr().err


def test_resume_refuses_another_backend(made_checkpoint, tmp_path, capsys) -> None:
    get_backend("mxnet")
    code = cli.main(
        ["stylize", "--resume", str(made_checkpoint), "--backend", "mxnet", "--output", str(tmp_path / "x.png")]
    )
    assert code == 2 and "--backend cannot change" in capsys.readouterr().err


@pytest.mark.parametrize("content", [b"", b"not a checkpoint", None])
def test_resume_refuses_what_is_not_a_checkpoint(content, tmp_path, capsys) -> None:
    path = tmp_path / "c.npz"
    if content is not None:
        path.write_bytes(content)
    assert cli.main(["stylize", "--resume", str(path), "--output", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ("not a checkpoint" in err or "does not exist" in err)


def test_sigint_in_another_process_then_resume_equals_an_uninterrupted_run(image_files, tmp_path) -> None:
    get_backend("torch")
    whole, parts = tmp_path / "whole.png", tmp_path / "parts.png"
    steps = ["--steps", "40", "--save-every", "1"]
    assert cli.main(argv("torch", image_files, whole, *steps)) == 0
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "cli.py"), *argv("torch", image_files, parts, *steps)],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    while not (tmp_path / "parts_step0003.png").exists():
        assert proc.poll() is None and time.time() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    ckpt = tmp_path / "parts.ckpt.npz"
    r = subprocess.run(
        [
            sys.executable,
            str(ROOT / "cli.py"),
            "stylize",
            "--resume",
            str(ckpt),
            "--output",
            str(parts),
            "--log",
            str(parts.with_suffix(".json")),
            "--quiet",
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert outcome(parts) == outcome(whole)
