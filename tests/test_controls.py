"""The controls of nst stylize, each on both backends: optimizers, styles, sizes, scales, colours, inits, GIF."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import random_pixels, smooth_image, stylize_argv
from PIL import Image

import cli
import common
from common.core import pixels
from common.jobs import images
from common.studies import parity

BASE = ["--weights", "random", "--quiet"]


def stylize(files, out: Path, capsys, *extra: str, backend: str = "torch") -> tuple[int, str, dict]:
    log = out.with_suffix(".json")
    argv = stylize_argv(backend, files, out, *BASE, *extra, log=log)
    code = cli.main(argv)
    err = capsys.readouterr().err
    return code, err, (json.loads(log.read_text()) if log.exists() else {})


def history(record: dict) -> np.ndarray:
    return np.array([[h[k] for k in ("content", "style", "tv", "total")] for h in record["history"]])


@pytest.mark.parametrize("optimizer,lr", [("lbfgs", "1"), ("sgd", "100")])
def test_each_optimizer_lowers_the_loss_and_agrees_across_backends(optimizer, lr, both, image_files, tmp_path, capsys):
    histories = []
    for ops in both:
        code, err, record = stylize(
            image_files,
            tmp_path / f"{ops.name}.png",
            capsys,
            "--size",
            "32",
            "48",
            "--steps",
            "8",
            "--optimizer",
            optimizer,
            "--lr",
            lr,
            "--dtype",
            "float64",
            backend=ops.name,
        )
        assert code == 0, err
        assert record["settings"]["optimizer"] == optimizer
        histories.append(history(record))
        assert histories[-1][-1, 3] < 0.8 * histories[-1][0, 3]
    assert parity.step_differences(*histories)[1] <= 1e-9


def test_lbfgs_defaults_to_learning_rate_1(image_files, tmp_path, capsys) -> None:
    code, err, record = stylize(
        image_files, tmp_path / "l.png", capsys, "--size", "32", "48", "--steps", "2", "--optimizer", "lbfgs"
    )
    assert code == 0, err
    assert record["settings"]["lr"] == 1.0 and record["history"][0]["lr"] == 1.0


def test_lbfgs_reaches_a_lower_loss_than_adam_in_the_same_steps(image_files, tmp_path, capsys) -> None:
    totals = {}
    for optimizer in ("adam", "lbfgs"):
        code, err, record = stylize(
            image_files,
            tmp_path / f"{optimizer}.png",
            capsys,
            "--size",
            "32",
            "48",
            "--steps",
            "30",
            "--optimizer",
            optimizer,
        )
        assert code == 0, err
        totals[optimizer] = record["history"][-1]["total"]
    assert totals["lbfgs"] < totals["adam"]


def test_several_styles_blend_their_gram_matrices(backend) -> None:
    rng = np.random.default_rng(0)
    net = backend.vgg19("random", upto="conv2_1")
    ex = backend.feature_extractor(net, ["conv1_1", "conv2_1"])
    content, a, b = (backend.to_tensor(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8), "float64") for _ in range(3))
    net64 = backend.vgg19("random", upto="conv2_1", dtype="float64")
    ex = backend.feature_extractor(net64, ["conv1_1", "conv2_1"])
    blended = common.Objective(backend, ex, [], ["conv1_1", "conv2_1"], content, [a, b], common.LossWeights(), (3, 1))
    ga, gb = (
        common.Objective(backend, ex, [], ["conv1_1", "conv2_1"], content, s, common.LossWeights()) for s in (a, b)
    )
    for i in range(2):
        expected = 0.75 * backend.to_numpy(ga.styles_Y_gram[i]) + 0.25 * backend.to_numpy(gb.styles_Y_gram[i])
        np.testing.assert_allclose(backend.to_numpy(blended.styles_Y_gram[i]), expected, rtol=1e-12)


def test_several_styles_on_the_command_line(backend, image_files, tmp_path, capsys) -> None:
    second = tmp_path / "second.png"
    Image.fromarray(random_pixels(50, 30, seed=9)).save(second)
    out = tmp_path / "o.png"
    argv = [
        "stylize",
        "--backend",
        backend.name,
        "--content",
        str(image_files[0]),
        "--style",
        str(image_files[1]),
        str(second),
        "--style-weights",
        "2",
        "1",
        "--size",
        "32",
        "48",
        "--steps",
        "2",
        "--output",
        str(out),
        *BASE,
    ]
    assert cli.main(argv) == 0, capsys.readouterr().err
    argv[argv.index("--style-weights") + 1 : argv.index("--style-weights") + 3] = ["2"]
    assert cli.main(argv) == 2
    assert "--style-weights has 1 values for 2 style images" in capsys.readouterr().err


def test_a_zero_style_layer_weight_is_the_same_as_leaving_the_layer_out(image_files, tmp_path, capsys) -> None:
    common_args = ["--size", "32", "48", "--steps", "3", "--dtype", "float64"]
    _, _, weighted = stylize(
        image_files,
        tmp_path / "a.png",
        capsys,
        *common_args,
        "--style-layers",
        "0,5,10",
        "--style-layer-weights",
        "1",
        "0",
        "1",
    )
    _, _, fewer = stylize(image_files, tmp_path / "b.png", capsys, *common_args, "--style-layers", "0,10")
    np.testing.assert_allclose(history(weighted), history(fewer), rtol=1e-12)


def test_style_scale_keeps_the_style_images_aspect_ratio(tmp_path) -> None:
    from common.jobs.gatys import style_size

    s = common.Settings(style_scale=0.5)
    assert style_size(s, (100, 200), Image.new("RGB", (300, 600))) == (100, 50)  # (H, W): 600x300 image, side 100
    assert style_size(common.Settings(), (100, 200), Image.new("RGB", (300, 600))) == (100, 200)


def test_a_style_scale_too_small_for_the_layers_is_refused(image_files, tmp_path, capsys) -> None:
    code, err, _ = stylize(image_files, tmp_path / "o.png", capsys, "--size", "32", "48", "--style-scale", "0.2")
    assert code == 2 and "use a larger --style-scale" in err and err.count("\n") == 1


def chroma_kept(result: Image.Image, content: Image.Image) -> None:
    """The result has the content's Cb and Cr (to 8-bit rounding) wherever its RGB did not have to be clipped."""
    got = np.asarray(result.convert("YCbCr"), np.float64)
    want = np.asarray(content.resize(result.size, Image.Resampling.BILINEAR).convert("YCbCr"), np.float64)
    rgb = np.asarray(result)
    clipped = ((rgb == 0) | (rgb == 255)).any(axis=-1)
    assert np.abs(got[..., 1:] - want[..., 1:]).max(axis=-1)[~clipped].max() <= 2
    assert (~clipped).mean() > 0.3  # enough pixels for the check to mean something


def test_preserve_colors_keeps_the_contents_chroma(backend, image_files, tmp_path, capsys) -> None:
    out = tmp_path / "c.png"
    code, err, _ = stylize(
        image_files,
        out,
        capsys,
        "--size",
        "48",
        "64",
        "--steps",
        "4",
        "--preserve-colors",
        "--init",
        "noise",
        backend=backend.name,
    )
    assert code == 0, err
    result, content = Image.open(out).convert("RGB"), images.load_image(image_files[0])
    chroma_kept(result, content)
    y_result = np.asarray(result.convert("YCbCr"), np.float64)[..., 0]
    y_content = np.asarray(content.resize((64, 48)).convert("YCbCr"), np.float64)[..., 0]
    assert np.abs(y_result - y_content).mean() > 5  # the luminance is the stylized one


def test_preserve_colors_takes_y_from_the_result_and_cb_cr_from_the_content() -> None:
    result, content = smooth_image(20, 30, seed=1), smooth_image(40, 60, seed=2)
    mixed = images.preserve_colors(result, content)
    chroma_kept(mixed, content)
    y = np.asarray(result.convert("YCbCr"), np.float64)[..., 0]
    unclipped = ~((np.asarray(mixed) == 0) | (np.asarray(mixed) == 255)).any(axis=-1)
    assert np.abs(np.asarray(mixed.convert("YCbCr"), np.float64)[..., 0] - y)[unclipped].max() <= 2


@pytest.mark.parametrize("init", ["content", "style", "noise", "PATH"])
def test_each_init_starts_from_its_image(init, backend, image_files, tmp_path, capsys) -> None:
    start = tmp_path / "start.png"
    smooth_image(30, 30, seed=5).save(start)
    value = str(start) if init == "PATH" else init
    out = tmp_path / "o.png"
    code, err, _ = stylize(
        image_files,
        out,
        capsys,
        "--size",
        "32",
        "48",
        "--steps",
        "1",
        "--lr",
        "1e-9",
        "--init",
        value,
        backend=backend.name,
    )
    assert code == 0, err
    expected = {"content": image_files[0], "style": image_files[1], "PATH": start}.get(init)
    got = np.asarray(Image.open(out), np.float64)
    if expected is None:
        from common.jobs.gatys import noise_image

        np.testing.assert_allclose(got, noise_image(0, (32, 48)), atol=1)
    else:
        np.testing.assert_allclose(got, pixels.pixels(images.load_image(expected), (32, 48)), atol=1)


def test_max_side_and_min_side_keep_the_contents_aspect_ratio(image_files, tmp_path, capsys) -> None:
    for flag, value, size in (("--max-side", "40", (40, 30)), ("--min-side", "36", (48, 36))):
        out = tmp_path / f"{flag}.png"
        code, err, _ = stylize(image_files, out, capsys, flag, value, "--steps", "1")
        assert code == 0, err
        assert Image.open(out).size == size  # content is 64 wide, 48 high
    code, err, _ = stylize(image_files, tmp_path / "x.png", capsys, "--size", "32", "32", "--max-side", "40")
    assert code == 2 and "not both" in err


def test_scales_run_coarse_to_fine(backend, image_files, tmp_path, capsys) -> None:
    out = tmp_path / "s.png"
    code, err, record = stylize(
        image_files, out, capsys, "--size", "32", "48", "--scales", "0.5,1", "--steps", "3", backend=backend.name
    )
    assert code == 0, err
    assert [h["stage"] for h in record["history"]] == [1, 1, 1, 2, 2, 2]
    assert [h["step"] for h in record["history"]] == [1, 2, 3, 4, 5, 6]
    assert Image.open(out).size == (48, 32)
    code, err, _ = stylize(image_files, tmp_path / "t.png", capsys, "--size", "32", "48", "--scales", "0.25,1")
    assert code == 2 and "stage 1 would be 8x12 pixels" in err


def test_gif_writes_an_animation_of_the_progress(backend, image_files, tmp_path, capsys) -> None:
    gif = tmp_path / "p.gif"
    code, err, _ = stylize(
        image_files,
        tmp_path / "g.png",
        capsys,
        "--size",
        "32",
        "48",
        "--steps",
        "6",
        "--save-every",
        "2",
        "--gif",
        str(gif),
        backend=backend.name,
    )
    assert code == 0, err
    animation = Image.open(gif)
    assert animation.format == "GIF" and animation.n_frames == 4  # steps 1, 2, 4 and 6, which is the result
    assert animation.size == (48, 32)
    animation.seek(3)
    assert (
        np.abs(np.asarray(animation.convert("RGB"), int) - np.asarray(Image.open(tmp_path / "g.png"), int)).mean() < 8
    )


@pytest.mark.parametrize("clamped", [True, False])
def test_the_trainer_clamps_the_image_before_every_step(backend, clamped) -> None:
    """Every image the loss sees is the trainer's own clamp of the image (no clamp by the test): the first one is
    np.clip of the out-of-range start, and the loss pushes every pixel outward so each step leaves it out of
    range again. Without bounds the loss sees the unclamped image (the control: the start is out of range)."""
    from common.jobs.gatys import pixel_bounds

    low, high = pixel_bounds(True)
    start = np.random.default_rng(0).normal(0, 5, (1, 3, 8, 8)).astype(np.float32)
    seen = []

    def loss_fn(Y):
        if backend.name == "jax":  # traced once and compiled: the image is recorded each time the step runs
            import jax

            jax.debug.callback(lambda y: seen.append(np.array(y)), Y)
        else:
            seen.append(backend.to_numpy(Y).copy())
        total = (Y * Y).mean() * -1.0  # pushes every pixel outward
        return total * 0, total * 0, total * 0, total

    bounds = (low, high) if clamped else None
    trainer = backend.trainer(backend.synthesized_image(backend.asarray(start)), loss_fn, 0.5, 50, 1.0, bounds=bounds)
    images = [start]
    for _ in range(3):
        trainer.step()
        images.append(backend.to_numpy(trainer.image()))
        assert (images[-1] < low - 0.1).any() and (images[-1] > high + 0.1).any()  # the step left the range
    lo32, hi32 = low.astype(np.float32), high.astype(np.float32)
    for before, Y in zip(images[:-1], seen, strict=True):  # the image each step started from, and what the loss saw
        np.testing.assert_array_equal(Y, np.clip(before, lo32, hi32) if clamped else before)
    inside = [bool(((lo32 <= Y) & (hi32 >= Y)).all()) for Y in seen]
    assert inside == [clamped] * 3
