"""nst stylize with the same flags on both backends of a pair gives the same per-step losses, option by option.

float64 runs (where the two programs agree to rounding) with the learning rate decaying inside each run; the
run records are compared step by step (relative 1e-9) and the 8-bit outputs must be practically identical.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import get_backend
from helpers import stylize_argv
from PIL import Image

import cli
from common.core import registry, weights
from common.studies import parity

BASE = ["--size", "32", "40", "--steps", "6", "--lr-decay-every", "2", "--dtype", "float64", "--quiet"]

OPTIONS = {
    "defaults": [],
    "size": ["--size", "36", "52"],
    "lr and decay": ["--lr", "0.05", "--lr-decay-every", "3", "--lr-decay-factor", "0.5"],
    "loss weights": ["--content-weight", "3", "--style-weight", "500", "--tv-weight", "0.5"],
    "no TV": ["--tv-weight", "0"],
    "layers by name": ["--content-layers", "relu3_2", "--style-layers", "conv1_2,relu2_1,pool3"],
    "layers by index": ["--content-layers", "25", "--style-layers", "0,5,10,19,28"],
    "avg pooling": ["--pooling", "avg"],
    "noise init": ["--init", "noise", "--seed", "3"],
    "seed of the weights": ["--seed", "11", "--weights", "random"],
    # a weights file in each backend's format ("weights from a .pth file", "... .params file"), read by its backend
    **{
        f"weights from a {weights.weight_format(name).suffixes[0]} file": ["--weights", f"{{{name}}}"]
        for name in registry.NAMES
    },
    "float32": ["--dtype", "float32", "--lr", "0.05"],
}


class WeightFiles(dict):
    """One VGG-19 weight file per backend, the same arrays, written by that backend in its own format when a test
    first asks for it (so a pair's tests need only the frameworks of the formats they read)."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder, self.state = folder, weights.random_vgg19(21, weights.layers.BY_NAME["conv5_1"])

    def __missing__(self, name: str) -> str:
        ops = get_backend(name)
        path = self.folder / f"w{ops.weight_suffix}"
        ops.write_weights(str(path), self.state)
        self[name] = str(path)
        return self[name]


@pytest.fixture(scope="module")
def weight_files(tmp_path_factory) -> WeightFiles:
    return WeightFiles(tmp_path_factory.mktemp("weights"))


@pytest.mark.parametrize("option", list(OPTIONS))
def test_both_backends_record_the_same_losses(option: str, both, image_files, weight_files, tmp_path: Path, capsys):
    extra = [arg.format_map(weight_files) for arg in OPTIONS[option]]
    content, style = image_files
    histories, pixels = [], []
    for ops in both:
        out, log = tmp_path / f"{ops.name}.png", tmp_path / f"{ops.name}.json"
        argv = stylize_argv(ops.name, (content, style), out, "--weights", "random", *BASE, *extra, log=log)
        assert cli.main(argv) == 0, capsys.readouterr().err
        record = json.loads(log.read_text())
        histories.append(
            np.array([[h[k] for k in ("content", "style", "tv", "total", "lr")] for h in record["history"]])
        )
        pixels.append(np.asarray(Image.open(out), np.float64))
    float32 = "float32" in extra
    _, rel = parity.step_differences(histories[0], histories[1])
    assert rel <= (1e-3 if float32 else 1e-9), f"{option}: per-step losses differ by {rel:.3g}"
    assert parity.psnr(*pixels) >= (40 if float32 else 80)
    assert len(histories[0]) == 6
