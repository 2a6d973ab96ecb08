"""The default photoreal run gives a usable picture (issue 15): real runs of nst photoreal on the bundled samples
(chelsea as content, resized to a square; the 512x512 ihc style image at its own size) with seeded random VGG-19
weights, in both backends, long enough for drift to show. The document's summed Gram matrices drift there.

Three measures of the written image (README, "Photorealistic transfer", has the values measured for them):
- its mean pixel value, in [0, 1]: within MEAN_RANGE (the drift goes to black, or with ReLU taps to white);
- the share of pixels with a channel clipped to 0 or 255: under CLIPPED_MAX;
- the content's structure: the correlation of its Sobel edge magnitudes (of the luminance) with the content's
  at the same size, at least EDGES_MIN.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import cli
from common.core.pixels import resize
from common.jobs import samples

STEPS = 80
MEAN_RANGE, CLIPPED_MAX, EDGES_MIN = (0.2, 0.8), 0.05, 0.5


def luminance(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma of (H, W, 3) pixels in [0, 1]."""
    return rgb @ np.array([0.299, 0.587, 0.114])


def sobel_magnitude(gray: np.ndarray) -> np.ndarray:
    """|Sobel gradient| of a 2-D array at its interior pixels."""
    p = np.pad(gray, 1, mode="edge")
    gx = (p[:-2, 2:] + 2 * p[1:-1, 2:] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[1:-1, :-2] + p[2:, :-2])
    gy = (p[2:, :-2] + 2 * p[2:, 1:-1] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[:-2, 1:-1] + p[:-2, 2:])
    return np.hypot(gx, gy)[1:-1, 1:-1]


def measures(image: Image.Image, side: int) -> dict[str, float]:
    """Mean pixel value, share of clipped pixels and edge correlation with the sample content at side x side."""
    out = np.asarray(image.convert("RGB"), np.float64) / 255
    with Image.open(samples.sample_path(samples.CONTENT)) as img:
        content = np.asarray(resize(img.convert("RGB"), (side, side)), np.float64) / 255
    edges = [sobel_magnitude(luminance(a)).ravel() for a in (out, content)]
    return {
        "mean": float(out.mean()),
        "clipped": float(np.mean(np.any((out == 0) | (out == 1), axis=-1))),
        "edges": float(np.corrcoef(*edges)[0, 1]),
    }


def usable(m: dict[str, float]) -> bool:
    """All three measures within their bounds."""
    return MEAN_RANGE[0] <= m["mean"] <= MEAN_RANGE[1] and m["clipped"] < CLIPPED_MAX and m["edges"] >= EDGES_MIN


def photoreal(name: str, side: int, out: Path, *extra: str) -> Image.Image:
    """nst photoreal on the bundled samples at side x side, STEPS steps; the image it wrote."""
    argv = ["photoreal", "--backend", name, "--size", str(side), str(side), "--steps", str(STEPS)]
    assert cli.main([*argv, "--weights", "random", "--output", str(out), "--quiet", *extra]) == 0
    return Image.open(out)


@pytest.mark.parametrize("side", [128, 256])
def test_the_default_keeps_a_usable_picture(backend, side, tmp_path) -> None:
    m = measures(photoreal(backend.name, side, tmp_path / "out.png"), side)
    assert usable(m), m


def test_the_documents_summed_gram_drifts_and_the_measures_see_it(tmp_path, capsys) -> None:
    """The measures can fail: with the style image's Grams summed over its 16x more pixels, the output drifts."""
    from conftest import get_backend

    get_backend("torch")
    m = measures(photoreal("torch", 128, tmp_path / "out.png", "--style-gram", "sum"), 128)
    assert not usable(m), m
    assert "has 16.0x the output's pixels" in capsys.readouterr().err


def striped(h: int, w: int) -> Image.Image:
    """Mid-grey with every eighth row white: in range on average, 12% of its pixels clipped."""
    rows = np.where(np.arange(h) % 8 == 0, 255, 120).astype(np.uint8)
    return Image.fromarray(np.repeat(np.repeat(rows[:, None, None], w, axis=1), 3, axis=2))


@pytest.mark.parametrize(
    "image, bound",
    [
        (Image.new("RGB", (64, 64), (10, 10, 10)), "mean"),
        (striped(64, 64), "clipped"),
        (Image.fromarray(np.random.default_rng(0).integers(1, 255, (64, 64, 3), dtype=np.uint8)), "edges"),
    ],
)
def test_each_measure_rejects_what_it_is_for(image, bound) -> None:
    m = measures(image, 64)
    failing = {
        "mean": not MEAN_RANGE[0] <= m["mean"] <= MEAN_RANGE[1],
        "clipped": m["clipped"] >= CLIPPED_MAX,
        "edges": m["edges"] < EDGES_MIN,
    }
    assert not usable(m) and failing[bound], m
