"""Presets: every recipe of the source documents, on both backends, with explicit flags overriding them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import stylize_argv
from PIL import Image

import cli
from common.jobs import presets
from common.jobs.settings import Stage
from common.studies import parity

TINY = {
    "d2l": ["--size", "32", "48", "--steps", "3"],
    "d2l-mxnet": ["--size", "32", "48", "--steps", "3"],
    "d2l-2019": ["--size", "32", "48", "--steps", "3"],
    "fast": ["--size", "64", "96", "--steps", "3"],  # its first stage, a quarter: 16x24, conv5_1's least
    "mastering-pytorch": ["--min-side", "32", "--steps", "3"],
    "photoreal-hrnet": ["--size", "32", "48", "--steps", "3"],
    "photoreal-hrnet-repo": ["--size", "32", "48", "--steps", "3"],
}


def run(name: str, files, tmp_path: Path, capsys, *extra: str) -> dict:
    out, log = tmp_path / f"{name}.png", tmp_path / f"{name}.json"
    argv = stylize_argv(None, files, out, "--weights", "random", "--quiet", *extra, log=log)
    code = cli.main(argv)
    assert code == 0, capsys.readouterr().err
    return json.loads(log.read_text())


def test_every_preset_of_the_issue_exists() -> None:
    assert presets.names() == [
        "d2l",
        "d2l-2019",
        "d2l-mxnet",
        "fast",
        "mastering-pytorch",
        "photoreal-hrnet",
        "photoreal-hrnet-repo",
    ]


@pytest.mark.parametrize("name", sorted(TINY))
def test_each_preset_runs_on_each_backend_with_its_values(name, backend, image_files, tmp_path, capsys) -> None:
    record = run(name, image_files, tmp_path, capsys, "--backend", backend.name, "--preset", name, *TINY[name])
    s, values = record["settings"], presets.get(name).values
    assert s["preset"] == name and record["status"] == "completed"
    for key in ("optimizer", "lr", "content_weight", "style_weight", "tv_weight", "pooling", "normalize", "clamp"):
        assert s[key] == values[key], key
    assert s["style_layers"] == list(values["style_layers"]) and s["content_layers"] == list(values["content_layers"])
    assert len(record["history"]) == 3 * max(1, len(values["stages"]))


def test_d2l_2019_runs_two_stages_with_their_own_schedules(image_files, tmp_path, capsys) -> None:
    record = run("2019", image_files, tmp_path, capsys, "--preset", "d2l-2019", "--size", "32", "48")
    history = record["history"]
    assert [h["stage"] for h in history] == [1] * 500 + [2] * 300
    lr = [h["lr"] for h in history]
    assert lr[199] == 0.01 and lr[200] == pytest.approx(0.001) and lr[400] == pytest.approx(0.0001)
    assert lr[500] == 0.01 and lr[600] == pytest.approx(0.001) and lr[700] == pytest.approx(0.0001)
    assert Image.open(tmp_path / "2019.png").size == (48, 32)


def test_fast_runs_coarse_to_fine_each_stage_with_its_own_schedule(image_files, tmp_path, capsys) -> None:
    record = run("fast", image_files, tmp_path, capsys, "--preset", "fast", "--size", "64", "96")
    history, stages = record["history"], presets.get("fast").values["stages"]
    assert [st.scale for st in stages] == sorted({st.scale for st in stages}) and stages[-1].scale == 1.0
    expected = [
        (i, st.lr * st.lr_decay_factor ** (k // st.lr_decay_every))
        for i, st in enumerate(stages, 1)
        for k in range(st.steps)
    ]
    assert [h["stage"] for h in history] == [i for i, _ in expected]
    assert [h["lr"] for h in history] == pytest.approx([lr for _, lr in expected])
    assert Image.open(tmp_path / "fast.png").size == (96, 64)


def test_mastering_pytorch_uses_pixels_clamps_and_keeps_the_aspect_ratio(image_files, tmp_path, capsys) -> None:
    record = run(
        "m", image_files, tmp_path, capsys, "--preset", "mastering-pytorch", "--min-side", "32", "--steps", "2"
    )
    s = record["settings"]
    assert s["normalize"] is False and s["clamp"] is True and s["init"] == "noise" and s["tv_weight"] == 0
    assert Image.open(tmp_path / "m.png").size == (43, 32)  # content is 48x64: shorter side 32
    assert all(h["tv"] == 0 for h in record["history"])


def test_explicit_flags_override_the_preset(image_files, tmp_path, capsys) -> None:
    record = run(
        "o",
        image_files,
        tmp_path,
        capsys,
        "--preset",
        "d2l-mxnet",
        "--size",
        "32",
        "48",
        "--steps",
        "2",
        "--lr",
        "0.5",
        "--pooling",
        "avg",
        "--style-weight",
        "7",
    )
    s = record["settings"]
    assert (s["lr"], s["pooling"], s["style_weight"]) == (0.5, "avg", 7) and s["lr_decay_factor"] == 0.8


def test_explicit_schedule_flags_apply_to_every_stage_of_a_preset() -> None:
    stages = presets.settings({"steps": 3, "lr": 0.2}, "d2l-2019").run_stages()
    assert [(st.scale, st.steps, st.lr, st.lr_decay_every) for st in stages] == [(0.5, 3, 0.2, 200), (1.0, 3, 0.2, 100)]


def test_explicit_scales_replace_a_presets_stages() -> None:
    s = presets.settings({"scales": (0.5, 1.0), "steps": 4}, "d2l-2019")
    assert s.stages == () and [st.steps for st in s.run_stages()] == [4, 4]
    assert presets.settings({}, "d2l-2019").run_stages()[0] == Stage(0.5, 500, 0.01, 200, 0.1)


def test_presets_lists_every_preset_with_its_document_and_choices(capsys) -> None:
    assert cli.main(["presets"]) == 0
    out = capsys.readouterr().out
    for p in presets.PRESETS.values():
        assert out.count(f"{p.name}: ") == 1 and p.document in out
    assert "choice:" in out and "stage 2: scale 1, 300 steps, lr 0.01, x0.1 every 100" in out


def test_an_unknown_preset_is_refused_with_the_known_ones(capsys) -> None:
    assert cli.main(["stylize", "--preset", "picasso"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "d2l-2019" in err and "mastering-pytorch" in err


@pytest.mark.parametrize("name", ["d2l", "d2l-2019", "fast", "mastering-pytorch"])
def test_each_preset_gives_the_same_losses_on_both_backends(name, both, image_files, tmp_path, capsys) -> None:
    extra = TINY[name]
    histories = []
    for ops in both:
        record = run(
            f"{name}-{ops.name}",
            image_files,
            tmp_path,
            capsys,
            "--backend",
            ops.name,
            "--preset",
            name,
            "--dtype",
            "float64",
            *extra,
        )
        histories.append(np.array([[h[k] for k in ("content", "style", "tv", "total")] for h in record["history"]]))
    assert parity.step_differences(*histories)[1] <= 1e-9
