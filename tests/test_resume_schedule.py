"""Resume and the learning-rate schedule: a run stopped and resumed across a decay step or a stage boundary takes
every step at the learning rate of a run that never stopped, with the same losses and the same image, bit for bit,
for every optimizer the product declares, on every backend, and for the photoreal method's generator."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import stylize_argv
from test_cli import run
from test_resume import interrupt_after, outcome

from common.jobs import checkpoint
from common.jobs.settings import OPTIMIZERS

FACTOR = 0.5  # a power of two: every decayed learning rate is exact, so the expected schedule is too
SCHEDULE = ["--lr-decay-every", "2", "--lr-decay-factor", str(FACTOR)]
SMALL = ["--weights", "random", "--quiet", "--size", "32", "48"]
OPTIMIZER_FLAGS = {"sgd": ["--lr", "50"]}  # the lr tests/test_resume.py gives SGD; the others take their default
# (flags, steps of each stage, where to stop). One stage (decay steps after steps 2 and 4): stopped exactly on a
# decay step, and between two. Two stages (decay steps after steps 2 and 5): stopped in the first before its decay
# step (the resumed part crosses it, the stage boundary and the second stage's decay step), at the end of the first,
# and exactly on the second stage's decay step.
RUNS = {
    "one-stage": (["--steps", "5"], (5,), (2, 3)),
    "two-stages": (["--steps", "3", "--scales", "0.5,1"], (3, 3), (1, 3, 5)),
}


def schedule(history: list[dict], stage_steps: tuple[int, ...]) -> list[tuple[int, int, float]]:
    """(step, stage, lr) of every step as StepLR makes it: each stage from the first step's lr, x FACTOR every 2."""
    lr0, expected, step = history[0]["lr"], [], 0
    for stage, steps in enumerate(stage_steps, 1):
        for k in range(steps):
            step += 1
            expected.append((step, stage, lr0 * FACTOR ** (k // 2)))
    return expected


def stopped_then_resumed(
    argv: list[str], out: Path, k: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> tuple[bytes, list]:
    """Run argv (writing out and its .json record) stopped after step k, then resumed from its checkpoint."""
    with interrupt_after(monkeypatch, k):
        code, _, err = run(argv, capsys)
    ckpt = checkpoint.default_path(out)
    assert code == 130 and f"interrupted after step {k};" in err and f"--resume {ckpt}" in err, err
    assert len(checkpoint.load(ckpt).history) == k
    resume = ["stylize", "--resume", ckpt, "--output", str(out), "--log", str(out.with_suffix(".json")), "--quiet"]
    code, _, err = run(resume, capsys)
    assert code == 0, err
    return outcome(out)


def check_resumes(
    argv_for: Callable[[Path], list[str]],
    stage_steps: tuple[int, ...],
    stops: tuple[int, ...],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    """The run argv_for(output) makes, whole and then stopped after each of ``stops`` and resumed: the whole run
    follows the step schedule, and every resumed one has its learning rates, losses and image, bit for bit."""
    whole = tmp_path / "whole.png"
    code, _, err = run(argv_for(whole), capsys)
    assert code == 0, err
    expected = outcome(whole)
    history = expected[1]
    assert [(h["step"], h["stage"], h["lr"]) for h in history] == schedule(history, stage_steps)
    got = {}
    for k in stops:
        out = tmp_path / f"stop{k}.png"
        got[k] = stopped_then_resumed(argv_for(out), out, k, monkeypatch, capsys)
    lrs = {k: [h["lr"] for h in result[1]] for k, result in got.items()}
    assert lrs == {k: [h["lr"] for h in history] for k in stops}  # the schedule alone first: the clearest message
    assert got == {k: expected for k in stops}  # every step's losses and lr, and the image's bytes


@pytest.mark.parametrize("kind", list(RUNS))
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_resume_across_decay_steps_and_stages_equals_an_uninterrupted_run(
    optimizer, kind, backend, image_files, tmp_path, monkeypatch, capsys
):
    flags, stage_steps, stops = RUNS[kind]
    extra = [*SMALL, "--optimizer", optimizer, *OPTIMIZER_FLAGS.get(optimizer, []), *SCHEDULE, *flags]

    def argv_for(out: Path) -> list[str]:
        return stylize_argv(backend.name, image_files, out, *extra, log=out.with_suffix(".json"))

    check_resumes(argv_for, stage_steps, stops, tmp_path, monkeypatch, capsys)


def test_photoreal_resume_across_decay_steps_equals_an_uninterrupted_run(
    backend, image_files, tmp_path, monkeypatch, capsys
):
    def argv_for(out: Path) -> list[str]:
        """nst photoreal at 32x32 (the generator needs sides divisible by 4), 5 steps, decay every 2."""
        argv = ["photoreal", "--backend", backend.name, "--content", str(image_files[0])]
        argv += ["--style", str(image_files[1]), "--output", str(out), "--log", str(out.with_suffix(".json"))]
        return [*argv, "--size", "32", "32", "--steps", "5", *SCHEDULE, "--weights", "random", "--quiet"]

    check_resumes(argv_for, (5,), (2, 3), tmp_path, monkeypatch, capsys)  # stopped on a decay step, and between
    record = json.loads((tmp_path / "whole.json").read_text())
    assert record["settings"]["method"] == "hrnet"
