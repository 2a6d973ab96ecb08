"""photoreal-hrnet-repo computes what the source repository's code computes: its step-0 losses against a float64
re-implementation of that code (tests/repo_reference.py), in both backends; and the default differs from it. The
objective's two ways of comparing Gram matrices, against the document's formula."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import get_backend
from helpers import smooth_image

import cli
from common.core.hrnet import random_generator
from common.core.objective import LossWeights
from common.core.photoreal_objective import PhotorealObjective
from common.core.weights import random_vgg19

REL = 1e-6
SIZE = 48  # the content image's own size: no resize, whose filter the repository leaves to Pillow's version


@pytest.fixture
def reference():
    """tests/repo_reference.py (it needs torch and torchvision)."""
    get_backend("torch")
    import repo_reference

    return repo_reference


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    """A 48x48 content image and an 80x96 style image (3.3x the output's pixels, as the document's style is
    larger than its content)."""
    content, style = tmp_path / "content.png", tmp_path / "style.png"
    smooth_image(SIZE, SIZE, seed=1).save(content)
    smooth_image(80, 96, seed=2).save(style)
    return content, style


def step0(name: str, files, tmp_path: Path, capsys, *extra: str) -> tuple[list[float], str]:
    """Our first step's (content, style, total) losses in float64 with the repository preset, and stderr."""
    log = tmp_path / f"{name}.json"
    argv = ["stylize", "--preset", "photoreal-hrnet-repo", "--backend", name, "--content", str(files[0])]
    argv += ["--style", str(files[1]), "--output", str(tmp_path / f"{name}.png"), "--log", str(log), "--steps", "1"]
    argv += ["--size", str(SIZE), str(SIZE), "--dtype", "float64", "--weights", "random", "--seed", "0", "--quiet"]
    code = cli.main([*argv, *extra])
    err = capsys.readouterr().err
    assert code == 0, err
    first = json.loads(log.read_text())["history"][0]
    return [first["content"], first["style"], first["total"]], err


def relative(a: list[float], b: tuple[float, ...]) -> float:
    return max(abs(x - y) / abs(y) for x, y in zip(a, b, strict=True))


def test_the_repository_preset_gives_the_repositorys_step0_losses(backend, reference, files, tmp_path, capsys) -> None:
    expected = reference.step0_losses(files[0], files[1], SIZE, random_vgg19(0), random_generator(0))
    got, err = step0(backend.name, files, tmp_path, capsys)
    assert relative(got, expected) <= REL, (got, expected)
    assert err.count("\n") == 1 and "has 3.3x the output's pixels" in err  # the drift warning, one line


@pytest.mark.parametrize(
    "extra",
    [
        ["--style-gram", "per-pixel"],
        ["--style-layers", "conv1_1,conv2_1,conv3_1,conv4_1,conv5_1", "--content-layers", "conv4_2"],
    ],
)
def test_without_the_relu_taps_or_the_summed_gram_the_losses_are_not_the_repositorys(
    extra, reference, files, tmp_path, capsys
) -> None:
    """The comparison above can fail: each half of the repository's computation changes its losses far beyond 1e-6."""
    expected = reference.step0_losses(files[0], files[1], SIZE, random_vgg19(0), random_generator(0))
    got, _ = step0("torch", files, tmp_path, capsys, *extra)
    assert relative(got, expected) > 1e-3


def test_the_reference_taps_relu_outputs_as_the_repository_does(reference) -> None:
    """torchvision's in-place ReLU overwrites what get_features stored: no tapped 'conv' feature is negative."""
    import torch

    vgg = reference.vgg19_features(random_vgg19(0))
    X = torch.from_numpy(np.random.default_rng(0).standard_normal((1, 3, 32, 32)))
    features = reference.get_features(X, vgg)
    assert set(features) == {"conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1", "conv4_2"}
    assert all(float(f.min()) >= 0 for f in features.values())
    assert float(vgg[0](X).min()) < 0  # the conv output itself has negative values


def test_the_repository_preset_is_photoreal_hrnet_with_relu_taps_summed_grams_and_1001_steps() -> None:
    from common.jobs import presets

    repo, default = presets.settings({}, "photoreal-hrnet-repo"), presets.settings({}, "photoreal-hrnet")
    assert repo.content_layers == ("relu4_2",) and repo.style_layers == tuple(f"relu{i}_1" for i in range(1, 6))
    assert (repo.style_gram, repo.steps, default.style_gram) == ("sum", 1001, "per-pixel")
    same = ("method", "size", "lr", "lr_decay_every", "lr_decay_factor", "content_weight", "style_weight")
    assert all(getattr(repo, k) == getattr(default, k) for k in (*same, "style_layer_weights", "style_max_side"))


def test_the_gatys_method_refuses_the_summed_gram(files, tmp_path, capsys) -> None:
    argv = ["stylize", "--content", str(files[0]), "--style", str(files[1]), "--output", str(tmp_path / "o.png")]
    assert cli.main([*argv, "--style-gram", "sum", "--steps", "1", "--weights", "random"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--style-gram sum is for the photoreal method" in err
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize("gram", ["sum", "per-pixel"])
def test_the_objective_is_the_documents_formula(both, gram) -> None:
    """w_l mean((G(T) - G(S))^2) / (c h w) with un-normalized Gram matrices, the style image at its own size
    (sum); per pixel, G(S) is scaled to the output's positions, h w / (h_s w_s)."""
    ops = both[0]
    import torch

    rng = np.random.default_rng(0)
    C, S, T = (rng.standard_normal((1, 3, *hw)) for hw in ((32, 32), (40, 36), (32, 32)))
    net = ops.vgg19("random", seed=0, dtype="float64", upto="conv2_1")
    extract = ops.feature_extractor(net, ["conv1_1", "conv2_1"])
    w = LossWeights(150.0, 2.0, 0.0, (0.1, 0.2))
    layers = ["conv1_1", "conv2_1"]
    objective = PhotorealObjective(ops, extract, ["conv2_1"], layers, ops.asarray(C), ops.asarray(S), w, gram)
    content, style, tv, total = (float(v) for v in objective(ops.asarray(T)))
    fT, fC, fS = (extract(ops.asarray(x)) for x in (T, C, S))
    expected_style = 0.0
    for layer, lw in (("conv1_1", 0.1), ("conv2_1", 0.2)):
        _, c, h, width = fT[layer].shape
        gram_t = torch.mm(fT[layer].view(c, -1), fT[layer].view(c, -1).t())
        gram_s = torch.mm(fS[layer].view(c, -1), fS[layer].view(c, -1).t())
        if gram == "per-pixel":
            gram_s = gram_s * (h * width) / (fS[layer].shape[2] * fS[layer].shape[3])
        expected_style += lw * float(torch.mean((gram_t - gram_s) ** 2)) / (c * h * width)
    expected_content = 150.0 * float(torch.mean((fT["conv2_1"] - fC["conv2_1"]) ** 2))
    assert content == pytest.approx(expected_content, rel=1e-12)
    assert style == pytest.approx(2.0 * expected_style, rel=1e-12)
    assert tv == 0 and total == pytest.approx(content + style, rel=1e-12)
