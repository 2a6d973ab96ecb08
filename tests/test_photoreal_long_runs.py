"""Long photoreal runs as nst stylize has them: checkpoints, --resume, --save-every, and SIGINT/SIGTERM writing the
image, the run record, a checkpoint and the model; a resumed run equals one that never stopped, bit for bit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import get_backend
from PIL import Image
from test_cli import ROOT, run
from test_resume import interrupt_after

from common.jobs import checkpoint, job, models, photoreal

STEPS = 4


def photoreal_argv(name: str, files, folder: Path, *extra: str, steps: int = STEPS) -> list[str]:
    """nst photoreal on the small images, writing out.png, run.json and model.npz into folder."""
    argv = ["photoreal", "--backend", name, "--content", str(files[0]), "--style", str(files[1])]
    argv += ["--output", str(folder / "out.png"), "--log", str(folder / "run.json")]
    argv += ["--save-model", str(folder / "model.npz"), "--size", "32", "48", "--steps", str(steps)]
    return [*argv, "--weights", "random", "--quiet", *extra]


def resume_argv(folder: Path, ckpt: Path, command: str = "stylize") -> list[str]:
    """Continue a checkpoint, writing the same three files into folder."""
    argv = [command, "--resume", str(ckpt), "--output", str(folder / "out.png"), "--log", str(folder / "run.json")]
    return [*argv, "--save-model", str(folder / "model.npz"), "--quiet"]


def results(folder: Path) -> tuple[bytes, list[dict], dict[str, bytes]]:
    """The image's pixels, the record's losses of every step, and the model's arrays (as bytes) in folder."""
    record = json.loads((folder / "run.json").read_text())
    history = [{k: v for k, v in h.items() if k != "seconds"} for h in record["history"]]
    arrays, _ = models.load_model(folder / "model.npz")
    return np.asarray(Image.open(folder / "out.png")).tobytes(), history, {k: a.tobytes() for k, a in arrays.items()}


def uninterrupted(name: str, files, tmp_path: Path, capsys, steps: int = STEPS) -> tuple:
    """The results of the same run, never stopped."""
    folder = tmp_path / "whole"
    folder.mkdir()
    code, _, err = run(photoreal_argv(name, files, folder, steps=steps), capsys)
    assert code == 0, err
    return results(folder)


def check_interrupted(code: int, err: str, folder: Path, fragment: str, steps_done: int) -> None:
    """Exit 130 with one line; image, record, checkpoint and model written, the model as trained so far."""
    ckpt = folder / "out.ckpt.npz"
    assert code == 130, err
    assert err.count("\n") == 1 and fragment in err and f"--resume {ckpt}" in err and "Traceback" not in err, err
    assert f"the model {folder / 'model.npz'}" in err
    Image.open(folder / "out.png").load()
    record = json.loads((folder / "run.json").read_text())
    assert record["status"] == "interrupted" and len(record["history"]) == steps_done
    assert checkpoint.load(ckpt).stage_steps_done == steps_done
    meta = models.load_model(folder / "model.npz")[1]
    assert meta["steps"] == steps_done and meta["status"] == "interrupted"


def kill_self(sig: int) -> None:
    """Send a signal to this process, as Ctrl-C or `kill` would."""
    os.kill(os.getpid(), sig)


def test_interrupt_then_resume_equals_an_uninterrupted_run(backend, image_files, tmp_path, monkeypatch, capsys):
    expected = uninterrupted(backend.name, image_files, tmp_path, capsys)
    folder = tmp_path / "parts"
    folder.mkdir()
    with interrupt_after(monkeypatch, 2):
        code, _, err = run(photoreal_argv(backend.name, image_files, folder), capsys)
    check_interrupted(code, err, folder, "interrupted after step 2", 2)
    interrupted_model = models.load_model(folder / "model.npz")[0]
    code, _, err = run(resume_argv(folder, folder / "out.ckpt.npz"), capsys)
    assert code == 0, err
    assert results(folder) == expected
    final_model = models.load_model(folder / "model.npz")[0]
    assert any(not np.array_equal(interrupted_model[k], a) for k, a in final_model.items())


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_a_step_stops_after_it_and_resumes(backend, sig, image_files, tmp_path, monkeypatch, capsys):
    expected = uninterrupted(backend.name, image_files, tmp_path, capsys)
    real = photoreal.generator_trainer

    def trainer_signalled_in_step_2(*args, **kwargs):
        trainer = real(*args, **kwargs)
        step, calls = trainer.step, []

        def signalled_step():
            calls.append(1)
            if len(calls) == 2:
                kill_self(sig)
            return step()

        trainer.step = signalled_step
        return trainer

    monkeypatch.setattr(photoreal, "generator_trainer", trainer_signalled_in_step_2)
    code, _, err = run(photoreal_argv(backend.name, image_files, tmp_path), capsys)
    check_interrupted(code, err, tmp_path, "interrupted after step 2", 2)
    monkeypatch.setattr(photoreal, "generator_trainer", real)
    code, _, err = run(resume_argv(tmp_path, tmp_path / "out.ckpt.npz"), capsys)
    assert code == 0, err
    assert results(tmp_path) == expected


def test_a_signal_while_weights_load_stops_before_the_first_step(backend, image_files, tmp_path, monkeypatch, capsys):
    expected = uninterrupted(backend.name, image_files, tmp_path, capsys)
    real = job.vgg_weights

    def resolve_then_signal(*args, **kwargs):
        kill_self(signal.SIGTERM)
        return real(*args, **kwargs)

    monkeypatch.setattr(job, "vgg_weights", resolve_then_signal)
    code, _, err = run(photoreal_argv(backend.name, image_files, tmp_path), capsys)
    check_interrupted(code, err, tmp_path, "interrupted before the first step", 0)
    monkeypatch.setattr(job, "vgg_weights", real)
    code, _, err = run(resume_argv(tmp_path, tmp_path / "out.ckpt.npz", "photoreal"), capsys)
    assert code == 0, err
    assert results(tmp_path) == expected


def test_checkpoint_every_and_save_every(backend, image_files, tmp_path, capsys) -> None:
    ckpt = tmp_path / "c.npz"
    extra = ["--checkpoint", str(ckpt), "--checkpoint-every", "2", "--save-every", "2"]
    code, _, err = run(photoreal_argv(backend.name, image_files, tmp_path, *extra, steps=5), capsys)
    assert code == 0, err
    saved = checkpoint.load(ckpt)  # the last one: written at the end
    assert saved.stage_steps_done == 5 and len(saved.history) == 5 and saved.backend == backend.name
    assert saved.settings["method"] == "hrnet" and saved.settings["save_model"] == str(tmp_path / "model.npz")
    params = [k for k in saved.trainer if k.startswith("param.")]
    assert len(params) == len(models.load_model(tmp_path / "model.npz")[0])  # every generator array
    written = sorted(p.name for p in tmp_path.glob("out_step*.png"))
    assert written == ["out_step0002.png", "out_step0004.png"]
    assert Image.open(tmp_path / "out_step0002.png").size == (48, 32)


def test_a_finished_checkpoint_resumes_to_the_same_image_and_model(image_files, tmp_path, capsys) -> None:
    get_backend("torch")
    ckpt = tmp_path / "c.npz"
    code, _, err = run(photoreal_argv("torch", image_files, tmp_path, "--checkpoint", str(ckpt)), capsys)
    assert code == 0, err
    first = results(tmp_path)
    again = tmp_path / "again"
    again.mkdir()
    code, _, err = run(resume_argv(again, ckpt), capsys)
    assert code == 0, err
    assert results(again)[0] == first[0] and results(again)[2] == first[2]


def test_resume_refuses_a_changed_setting_or_input(image_files, tmp_path, monkeypatch, capsys) -> None:
    get_backend("torch")
    with interrupt_after(monkeypatch, 1):
        assert run(photoreal_argv("torch", image_files, tmp_path), capsys)[0] == 130
    ckpt = tmp_path / "out.ckpt.npz"
    code, _, err = run([*resume_argv(tmp_path, ckpt), "--lr", "0.01"], capsys)
    assert code == 2 and err.count("\n") == 1 and "--lr cannot change when resuming" in err
    code, _, err = run([*resume_argv(tmp_path, ckpt), "--style-gram", "sum"], capsys)
    assert code == 2 and "--style-gram cannot change when resuming" in err
    Image.new("RGB", (40, 40), "red").save(image_files[1])
    code, _, err = run(resume_argv(tmp_path, ckpt), capsys)
    assert code == 2 and err.count("\n") == 1 and "changed since the checkpoint" in err


def test_sigint_in_another_process_then_resume_equals_an_uninterrupted_run(image_files, tmp_path, capsys) -> None:
    get_backend("torch")
    steps = 15  # interrupted after step 3 or 4: the rest is margin for a slow machine
    expected = uninterrupted("torch", image_files, tmp_path, capsys, steps)
    folder = tmp_path / "parts"
    folder.mkdir()
    argv = photoreal_argv("torch", image_files, folder, "--save-every", "1", steps=steps)
    proc = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), *argv], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (folder / "out_step0003.png").exists():
        assert proc.poll() is None and time.time() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted after step" in err, err
    ckpt = folder / "out.ckpt.npz"
    command = [sys.executable, str(ROOT / "cli.py"), *resume_argv(folder, ckpt, "photoreal")]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert results(folder) == expected
