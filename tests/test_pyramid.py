"""A stage's pyramid levels (core/pyramid.py): the upsampling is torch's bilinear interpolation, every backend's
image is the float64 sum of its levels, Adam moves each level as torch's formula does on the float64 reference,
clamping keeps the summed image in range, and a run's stage with levels optimizes them (checkpointed, resumed)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from helpers import stylize_argv
from PIL import Image
from test_training import quadratic

import cli
from common.core import pyramid, reference
from common.core.errors import UserError
from common.jobs import checkpoint, presets
from common.jobs.settings import Stage

SHAPES = [((13, 17), (7, 9)), ((300, 450), (38, 57)), ((5, 3), (1, 1)), ((8, 8), (4, 4)), ((9, 2), (5, 1))]


@pytest.mark.parametrize("full,level", SHAPES, ids=[f"{f[0]}x{f[1]}-from-{k[0]}x{k[1]}" for f, k in SHAPES])
def test_the_upsampling_is_torchs_bilinear_interpolation(full, level) -> None:
    """An independent computation: F.interpolate(mode="bilinear", align_corners=False) on the same level."""
    torch = pytest.importorskip("torch")
    P = np.random.default_rng(0).standard_normal((1, 3, *level))
    expected = torch.nn.functional.interpolate(
        torch.from_numpy(P), size=full, mode="bilinear", align_corners=False
    ).numpy()
    got = pyramid.upsampling(full[0], level[0]) @ P @ pyramid.upsampling(full[1], level[1]).T
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_each_level_halves_the_sides_rounding_up() -> None:
    assert [pyramid.level_shape(300, 450, k) for k in range(4)] == [(300, 450), (150, 225), (75, 113), (38, 57)]
    assert pyramid.level_shape(5, 3, 3) == (1, 1)


def _reference_steps(X0: np.ndarray, T: np.ndarray, levels: int, rates: list[float]) -> list[np.ndarray]:
    """The float64 images after each Adam step on the levels of X0 (the others zero) under sum((X - T)^2) / 2."""
    h, w = X0.shape[-2:]
    params = [X0] + [np.zeros((1, 3, *pyramid.level_shape(h, w, k))) for k in range(1, levels)]
    m, v = [np.zeros_like(p) for p in params], [np.zeros_like(p) for p in params]
    images = []
    for t, lr in enumerate(rates, 1):
        grads = reference.pyramid_gradients(params, reference.pyramid_image(params) - T)
        for i, g in enumerate(grads):
            params[i], m[i], v[i] = reference.adam_step(params[i], g, m[i], v[i], t, lr)
        images.append(reference.pyramid_image(params))
    return images


@pytest.mark.parametrize("levels", [2, 4])
def test_adam_on_the_levels_matches_the_float64_reference(backend, levels) -> None:
    rng = np.random.default_rng(levels)
    X0, T = rng.standard_normal((1, 3, 11, 14)), rng.standard_normal((1, 3, 11, 14))
    model = backend.synthesized_image(backend.asarray(X0), levels=levels)
    trainer = backend.trainer(model, quadratic(backend, T), 0.05, 3, 0.5)
    np.testing.assert_array_equal(backend.to_numpy(trainer.image()), X0)  # the coarser levels start at zero
    expected = _reference_steps(X0, T, levels, reference.step_decay(0.05, 3, 0.5, 6))
    for want in expected:
        trainer.step()
        np.testing.assert_allclose(backend.to_numpy(trainer.image()), want, rtol=1e-12, atol=1e-13)
    shapes = sorted(a.shape for k, a in trainer.state().items() if k.startswith("param."))
    assert shapes == sorted([(1, 3, 11, 14)] + [(1, 3, *pyramid.level_shape(11, 14, k)) for k in range(1, levels)])


def test_the_levels_move_coarse_structure_that_one_level_moves_pixel_by_pixel(backend) -> None:
    """The control of the reference test: with one level the same steps give a different image."""
    rng = np.random.default_rng(4)
    X0, T = rng.standard_normal((1, 3, 11, 14)), rng.standard_normal((1, 3, 11, 14))
    images = []
    for levels in (1, 4):
        trainer = backend.trainer(
            backend.synthesized_image(backend.asarray(X0), levels=levels), quadratic(backend, T), 0.05, 3, 0.5
        )
        for _ in range(3):
            trainer.step()
        images.append(backend.to_numpy(trainer.image()))
    assert np.abs(images[0] - images[1]).max() > 0.01


def test_the_trainer_clamps_the_summed_image_of_a_pyramid(backend) -> None:
    """The loss sees the sum of the levels clamped (the full-size level moved by what clamping changes), though
    each step leaves it out of range; the coarser levels are not clamped themselves."""
    from common.jobs.gatys import pixel_bounds

    low, high = pixel_bounds(True)
    start = np.random.default_rng(0).normal(0, 5, (1, 3, 8, 8)).astype(np.float32)
    seen = []

    def loss_fn(Y):
        if backend.name == "jax":
            import jax

            jax.debug.callback(lambda y: seen.append(np.array(y)), Y)
        else:
            seen.append(backend.to_numpy(Y).copy())
        total = (Y * Y).mean() * -1.0  # pushes every pixel outward
        return total * 0, total * 0, total * 0, total

    model = backend.synthesized_image(backend.asarray(start), levels=3)
    trainer = backend.trainer(model, loss_fn, 0.5, 50, 1.0, bounds=(low, high))
    images = [start]
    for _ in range(3):
        trainer.step()
        images.append(backend.to_numpy(trainer.image()))
        assert (images[-1] < low - 0.1).any() and (images[-1] > high + 0.1).any()
    lo32, hi32 = low.astype(np.float32), high.astype(np.float32)
    for before, Y in zip(images[:-1], seen, strict=True):
        np.testing.assert_allclose(Y, np.clip(before, lo32, hi32), rtol=0, atol=2e-6)


def _run(name: str, image_files, tmp_path, *extra: str) -> tuple[np.ndarray, dict]:
    out = tmp_path / f"{name}.png"
    small = ["--weights", "random", "--quiet", "--size", "64", "96", "--preset", "fast", "--steps", "2"]
    argv = stylize_argv("torch", image_files, out, *small, *extra, log=out.with_suffix(".json"))
    assert cli.main([*argv, "--checkpoint", str(tmp_path / f"{name}.npz")]) == 0
    return np.asarray(Image.open(out)), json.loads(out.with_suffix(".json").read_text())


def test_the_fast_presets_last_stage_optimizes_its_levels(image_files, tmp_path, monkeypatch) -> None:
    """Its checkpoint holds every level of the last stage; without the levels (the same stages, one level) the
    same run writes another image."""
    stages = presets.get("fast").values["stages"]
    assert stages[-1].levels > 1 and stages[-1].scale == 1.0
    with_levels, record = _run("levels", image_files, tmp_path)
    assert record["settings"]["stages"][-1]["levels"] == stages[-1].levels
    saved = checkpoint.load(tmp_path / "levels.npz")
    shapes = sorted(a.shape for k, a in saved.trainer.items() if k.startswith("param."))
    levels = [(1, 3, *pyramid.level_shape(64, 96, k)) for k in range(stages[-1].levels)]
    assert shapes == sorted(levels)
    flat = tuple(replace(st, levels=1) for st in stages)
    monkeypatch.setitem(
        presets.PRESETS,
        "fast",
        replace(presets.PRESETS["fast"], values={**presets.PRESETS["fast"].values, "stages": flat}),
    )
    without, _ = _run("flat", image_files, tmp_path)
    assert np.abs(with_levels.astype(int) - without.astype(int)).max() > 0


@pytest.mark.parametrize(
    "stage,optimizer,preset,message",
    [
        (Stage(levels=0), "adam", None, "stage levels must be a positive integer, not 0"),
        (Stage(levels=9), "adam", None, "stage levels is 9; a pyramid has at most 8 levels"),
        (Stage(levels=2.5), "adam", None, "stage levels must be a positive integer, not 2.5"),
        (Stage(levels=3), "lbfgs", None, "cannot go with --optimizer lbfgs"),
        (Stage(levels=3), "adam", "photoreal-hrnet", "cannot go with the hrnet method"),
    ],
    ids=["zero", "nine", "fractional", "lbfgs", "hrnet"],
)
def test_bad_levels_are_refused(stage, optimizer, preset, message) -> None:
    with pytest.raises(UserError, match=message):
        presets.settings({"stages": (stage,), "optimizer": optimizer}, preset).validated()
    presets.settings({"stages": (replace(stage, levels=1),), "optimizer": optimizer}, preset).validated()  # control
