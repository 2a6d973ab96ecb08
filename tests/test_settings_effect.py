"""Every setting that decides a run's computation changes it as docs/stylize.md says (issue 22, item 7): the real
`nst stylize`, with the setting at a value other than its default, against an independent float64 computation of
that run (tests/settings_effect_support.py), never by reading the setting back from the run record. Each case also
shows that the computation without the setting differs, so a run that ignored it would fail.

DECIDES and DOES_NOT_DECIDE (tests/settings_effect_cases.py) classify every field of common.Settings; a new field
fails test_every_field_of_settings_is_classified_once until it is in one of them.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import get_backend, skip_mxnet_bf16_without_units
from helpers import rel_err, smooth_image
from PIL import Image
from settings_effect_cases import BASE, BASE_FLAGS, DECIDES, DOES_NOT_DECIDE, Case
from settings_effect_gradient import Targets, every_layer, loss_and_gradient
from settings_effect_references import first_losses, reduced_first_losses
from settings_effect_support import Outcome, Sim, differences, simulate

import cli
from common.core import layers, reference
from common.core.weights import random_vgg19
from common.jobs.settings import SPECS, Role, Settings

LOSSES_REL = 1e-9  # float64 against float64: both backends agree with the simulation to 7e-13 or better
FLOAT32_REL = 1e-5  # a float32 computation of the losses against float64 (measured 2e-7)
MATTERS = 1e-6  # the least relative change a setting must make in its case, far above LOSSES_REL


# ---- the inputs and one run of the real command ----------------------------------------------------------------
def vivid_image(h: int, w: int, seed: int) -> Image.Image:
    """A smooth picture whose colours saturate in places (pixels at 0 and 255: what --clamp acts on)."""
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    phase = np.random.default_rng(seed).uniform(0, 6.28, 3)
    img = np.stack([0.5 + 0.8 * np.sin(5 * x + 3 * y + p) for p in phase], axis=-1)
    return Image.fromarray(np.rint(np.clip(img, 0, 1) * 255).astype(np.uint8))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The input files: two content images, two style images, an --init image and a VGG-19 weights file."""
    folder = tmp_path_factory.mktemp("inputs")
    images = {
        "content": vivid_image(48, 64, 1),
        "content2": vivid_image(44, 60, 3),
        "style": smooth_image(40, 40, 2),
        "style2": smooth_image(36, 52, 4),
        "init": smooth_image(30, 30, 5),
    }
    paths = {name: str(folder / f"{name}.png") for name in images}
    for name, img in images.items():
        img.save(paths[name])
    paths["weights"] = str(folder / "weights.pth")
    try:
        import torch

        torch.save({k: torch.from_numpy(v) for k, v in random_vgg19(7).items()}, paths["weights"])
    except ImportError:
        pass  # the weights case skips
    return paths


def resolved(value: Any, files: dict[str, str]) -> Any:
    """A flag's or a simulation's value with every "@name" replaced by that input file's path."""
    if isinstance(value, tuple):
        return tuple(resolved(v, files) for v in value)
    return files[value[1:]] if isinstance(value, str) and value.startswith("@") else value


def case_sim(case: Case, files: dict[str, str]) -> Sim:
    """The simulation of a case's run."""
    return resolved_sim(BASE.with_(**case.changes), files)


def resolved_sim(sim: Sim, files: dict[str, str]) -> Sim:
    """A simulation with its input files' paths."""
    return sim.with_(**{f.name: resolved(getattr(sim, f.name), files) for f in fields(Sim)})


def run(name: str, flags: dict, files: dict[str, str], folder: Path) -> tuple[dict, Outcome]:
    """Run `nst stylize` with the base flags changed by ``flags``: its run record, and what it computed: each
    step's losses (the record), the last image (the checkpoint written at the end) and the picture (--output)."""
    given = {**BASE_FLAGS, **flags}
    out, log, ckpt = folder / f"{name}.png", folder / f"{name}.json", folder / f"{name}.npz"
    argv = ["stylize", "--backend", name, "--output", str(out), "--log", str(log), "--checkpoint", str(ckpt)]
    for flag, values in given.items():
        if values is not None:
            argv += [flag, *resolved(values, files)]
    assert cli.main(argv) == 0
    record = json.loads(log.read_text())
    history = [(h["stage"], h["content"], h["style"], h["tv"], h["total"]) for h in record["history"]]
    with np.load(ckpt) as saved:
        image = saved["trainer/param.0"]
    with Image.open(out) as img:
        return record, Outcome(history, image, np.asarray(img.convert("RGB")))


# ---- the checks, one per kind of case ----------------------------------------------------------------------------
def contrast_sim(setting: str, case: Case, sim: Sim, files: dict[str, str]) -> Sim:
    """The case's run without the setting: at the base's value (its default, or the base's size, steps, weights)."""
    without = {setting: getattr(BASE, setting)} if case.without is None else case.without
    return resolved_sim(sim.with_(**without), files)


def check_run(
    setting: str, case: Case, name: str, files: dict[str, str], folder: Path, request: pytest.FixtureRequest
) -> None:
    """The whole run (every step's losses, the last image, the picture) is the simulation's with the setting, and
    that differs from the simulation without it."""
    if case.changes.get("weights") == "@weights" and not Path(files["weights"]).exists():
        pytest.skip("the weights file is written with torch, which is not installed")
    sim = case_sim(case, files)
    expected = simulate(sim)
    numbers, pixels = differences(expected, simulate(contrast_sim(setting, case, sim, files)))
    assert numbers > MATTERS or pixels > 1, f"{setting} changes nothing in this case: it cannot show an effect"
    _, got = run(name, case.flags, files, folder)
    assert got.image.dtype == np.float64
    numbers, pixels = differences(got, expected)
    assert numbers <= LOSSES_REL and pixels <= 1, (numbers, pixels, got.history, expected.history)


def check_first(
    setting: str, case: Case, name: str, files: dict[str, str], folder: Path, request: pytest.FixtureRequest
) -> None:
    """The first step's losses (a photoreal run's: its generator trains, not the pixels) are the independent
    computation's with the setting, which differ from those without it."""
    get_backend("torch")  # the photoreal reference's generator is torch (tests/repo_reference.py)
    sim = case_sim(case, files)
    expected = first_losses(sim)
    assert rel_err(first_losses(contrast_sim(setting, case, sim, files)), expected) > MATTERS
    record, _ = run(name, case.flags, files, folder)
    got = [record["history"][0][k] for k in ("content", "style", "tv", "total")]
    assert rel_err(got, expected) <= LOSSES_REL, (got, expected)


def check_dtype(
    setting: str, case: Case, name: str, files: dict[str, str], folder: Path, request: pytest.FixtureRequest
) -> None:
    """--dtype float64 computes in float64: the image is float64 and the run is the float64 simulation's to 1e-9,
    which the same run in float32 (the default) cannot meet."""
    expected = simulate(resolved_sim(BASE, files))
    _, got = run(name, {}, files, folder)
    assert got.image.dtype == np.float64 and differences(got, expected)[0] <= LOSSES_REL
    (folder / "float32").mkdir()
    _, single = run(name, {"--dtype": None}, files, folder / "float32")
    assert single.image.dtype == np.float32
    assert LOSSES_REL < rel_err(single.history[0][1:], expected.history[0][1:]) <= FLOAT32_REL


def check_precision(
    setting: str, case: Case, name: str, files: dict[str, str], folder: Path, request: pytest.FixtureRequest
) -> None:
    """--precision runs the network in bfloat16 or float16: the first losses are those of the reference's forward
    pass rounded as autocast rounds, far closer to them than to the exact ones (float32 runs, not float64). MXNet's
    AMP chooses its own bf16 operators, so its bf16 run is held to bf16-sized differences from the exact losses,
    beyond float32's; MXNet refuses fp16 on a CPU, JAX both (XLA's CPU compiler computes them in float32)."""
    precision = case.flags["--precision"][0]
    sim = resolved_sim(BASE.with_(steps=1), files)
    rounded, exact = reduced_first_losses(sim, precision), first_losses(sim)
    assert rel_err(rounded, exact) > 1e-4  # what the rounding does to them (bf16 1.5e-3, fp16 8e-4)
    if name == "jax" or (name == "mxnet" and precision == "fp16"):
        check_refused_precision(precision, name, folder)
        return
    if name == "mxnet":
        check_mxnet_bf16(case, name, files, folder, exact)
        return
    request.getfixturevalue("cpu_with_bf16")
    record, _ = run(name, case.flags, files, folder)
    got = [record["history"][0][k] for k in ("content", "style", "tv", "total")]
    assert rel_err(got, rounded) <= FLOAT32_REL, (got, rounded, exact)  # measured 5e-7


def check_refused_precision(precision: str, name: str, folder: Path) -> None:
    """A precision the backend cannot compute on a CPU: refused with exit code 2, nothing written."""
    argv = ["stylize", "--backend", name, "--output", str(folder / "o.png"), "--precision", precision]
    assert cli.main(argv) == 2 and not (folder / "o.png").exists()


def check_mxnet_bf16(case: Case, name: str, files: dict, folder: Path, exact) -> None:
    """MXNet bf16 (where the CPU has bf16 units): 1e-4 to 1e-2 from the exact losses."""
    skip_mxnet_bf16_without_units(name)
    record, _ = run(name, case.flags, files, folder)
    got = [record["history"][0][k] for k in ("content", "style", "tv", "total")]
    assert 1e-4 < rel_err(got, exact) <= 1e-2, (got, exact)


CHECKS = {"run": check_run, "first": check_first, "dtype": check_dtype, "precision": check_precision}
CASES = [
    pytest.param(setting, case, id=f"{setting}={case.label}") for setting, cases in DECIDES.items() for case in cases
]


# ---- the tests -----------------------------------------------------------------------------------------------------
def test_every_field_of_settings_is_classified_once() -> None:
    names = [f.name for f in fields(Settings)]
    unclassified = [n for n in names if n not in DECIDES and n not in DOES_NOT_DECIDE]
    assert not unclassified, f"add each to DECIDES (with a case) or DOES_NOT_DECIDE (with a reason): {unclassified}"
    assert not set(DECIDES) & set(DOES_NOT_DECIDE)
    assert set(DECIDES) | set(DOES_NOT_DECIDE) == set(names)
    simulated = {f.name for f in fields(Sim)}
    for setting, cases in DECIDES.items():
        assert cases and all(c.kind in CHECKS for c in cases)
        assert all(setting in simulated for c in cases if c.kind in ("run", "first")), setting


def test_the_classification_agrees_with_the_declarations() -> None:
    """A setting its declaration says decides the result (common/jobs/declared.py) has a case here, and one it says
    decides nothing has none; the declarations' deciding settings that are no computation (which implementation,
    where it runs) are named."""
    for name, spec in SPECS.items():
        declared = spec.role is Role.INPUT or (spec.role is Role.RECIPE and spec.decides)
        assert (name in DECIDES) == (declared and name not in ("backend", "device")), name


@pytest.mark.parametrize("setting, case", CASES)
def test_the_setting_changes_the_computation_as_specified(setting, case, backend, files, tmp_path, request) -> None:
    CHECKS[case.kind](setting, case, backend.name, files, tmp_path, request)


def test_output_settings_leave_the_run_alone(backend, files, tmp_path: Path) -> None:
    """Intermediate pictures, an animation, a plot and a checkpoint every step: the run is the simulation's."""
    written = {"--gif": tmp_path / "a.gif", "--plot": tmp_path / "p.png"}
    flags = {"--save-every": ("1",), "--checkpoint-every": ("1",), **{k: (str(v),) for k, v in written.items()}}
    _, got = run(backend.name, flags, files, tmp_path)
    numbers, pixels = differences(got, simulate(resolved_sim(BASE, files)))
    assert numbers <= LOSSES_REL and pixels <= 1
    assert all(p.exists() for p in written.values()) and (tmp_path / f"{backend.name}_step0001.png").exists()


@pytest.mark.parametrize("pooling", ["max", "avg"])
def test_the_independent_gradient_is_the_derivative_of_the_reference_loss(pooling: str) -> None:
    """The simulation's gradient against central differences of common/core/reference.py's loss."""
    rng = np.random.default_rng(0)
    arrays = random_vgg19(0, layers.BY_NAME["conv2_1"])
    X, C, S = (rng.standard_normal((1, 3, 18, 20)) for _ in range(3))
    content, style = ("relu1_2", "pool1"), ("conv1_1", "conv2_1")
    fc, fs = (every_layer(Y, arrays, content + style, pooling) for Y in (C, S))
    goal = Targets(
        content_layers=content,
        contents=tuple(fc[n] for n in content),
        style_layers=style,
        grams=tuple(reference.gram(fs[n]) for n in style),
        content_weight=2.0,
        style_weight=1e3,
        tv_weight=10.0,
        style_layer_weights=(1.0, 0.5),
    )
    losses, grad = loss_and_gradient(X, arrays, pooling, goal)
    assert losses[3] == pytest.approx(sum(losses[:3]), rel=1e-12) and min(losses) > 0
    for k in range(3):
        D, h = np.random.default_rng(k + 1).standard_normal(X.shape), 1e-6
        up, down = (loss_and_gradient(X + s * h * D, arrays, pooling, goal)[0][3] for s in (1, -1))
        assert (up - down) / (2 * h) == pytest.approx(float((grad * D).sum()), rel=1e-6)
