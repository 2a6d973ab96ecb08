"""A whole `nst stylize` run (the Gatys method) computed independently, in float64 numpy, from docs/stylize.md's
description of every setting: what tests/test_settings_effect.py holds each run of the real command to.

The numbers put in are the product's documented inputs (the image files, the seeded random VGG-19 weights of
common/core/weights.py, the noise a seed gives); the computation is common/core/reference.py's forward pass, the
gradient of tests/settings_effect_gradient.py and the optimizers' formulas written out here (Adam as
reference.adam_step, SGD, torch.optim.LBFGS without line search), with PIL's bilinear resize for every size.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image
from settings_effect_gradient import Targets, every_layer, loss_and_gradient

from common.core import reference
from common.core.weights import random_vgg19

Stage = tuple  # (scale, steps, lr, lr_decay_every, lr_decay_factor); None: the run's value


@dataclass(frozen=True)
class Sim:
    """The values of a run that the simulation reads, with docs/stylize.md's defaults (file names as strings)."""

    content: str = ""
    style: tuple[str, ...] = ()
    style_weights: tuple[float, ...] = ()
    style_scale: float | None = None
    style_layer_weights: tuple[float, ...] = ()
    size: tuple[int, int] | None = (300, 450)
    max_side: int | None = None
    min_side: int | None = None
    scales: tuple[float, ...] = (1.0,)
    stages: tuple[Stage, ...] = ()
    steps: int = 500
    optimizer: str = "adam"
    lr: float = 0.3
    lr_decay_every: int = 50
    lr_decay_factor: float = 0.8
    content_weight: float = 1.0
    style_weight: float = 1e4
    tv_weight: float = 10.0
    content_layers: tuple[str, ...] = ("conv4_4",)
    style_layers: tuple[str, ...] = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
    pooling: str = "max"
    normalize: bool = True
    clamp: bool = False
    init: str = "content"
    preserve_colors: bool = False
    seed: int = 0
    weights: str = "random"  # or a .pth file of 'features.N.*' arrays
    method: str = "gatys"
    style_max_side: int | None = None
    style_gram: str = "per-pixel"

    def with_(self, **changes) -> Sim:
        """A copy with some values changed."""
        return replace(self, **changes)


@dataclass
class Outcome:
    """What a run gives: per step (stage, content, style, tv, total), the last image and the picture written."""

    history: list[tuple[int, float, float, float, float]]
    image: np.ndarray  # (1, 3, H, W) float64, after the last step
    picture: np.ndarray  # (H, W, 3) uint8


def load_rgb(path: str) -> Image.Image:
    """An image file as RGB."""
    with Image.open(path) as img:
        return img.convert("RGB")


def resized(img: Image.Image, hw: tuple[int, int]) -> Image.Image:
    """The image at (H, W), PIL bilinear (unchanged when it already is that size)."""
    return img if img.size == (hw[1], hw[0]) else img.resize((hw[1], hw[0]), Image.Resampling.BILINEAR)


def tensor(img: Image.Image, hw: tuple[int, int], normalize: bool) -> np.ndarray:
    """The network's float64 input for an image at (H, W)."""
    return reference.preprocess(np.asarray(resized(img, hw)), normalize)


def keep_aspect(img: Image.Image, side: int, longer: bool = True) -> tuple[int, int]:
    """(H, W) of the image scaled so that its longer (or shorter) side is ``side``."""
    w, h = img.size
    scale = side / (max(w, h) if longer else min(w, h))
    return max(1, round(h * scale)), max(1, round(w * scale))


def run_size(sim: Sim, content: Image.Image) -> tuple[int, int]:
    """--size, else the content's aspect with --max-side or --min-side."""
    if sim.max_side is not None:
        return keep_aspect(content, sim.max_side)
    if sim.min_side is not None:
        return keep_aspect(content, sim.min_side, longer=False)
    return sim.size


def vgg_arrays(sim: Sim) -> dict[str, np.ndarray]:
    """The VGG-19 weights of the run: seeded random, or read from a torch file here (with torch itself)."""
    if sim.weights == "random":
        return random_vgg19(sim.seed)
    import torch

    return {k: v.numpy() for k, v in torch.load(sim.weights, weights_only=True).items()}


def noise(seed: int, hw: tuple[int, int]) -> np.ndarray:
    """The uniform random uint8 pixels --init noise starts from for a seed."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 1])))
    return rng.integers(0, 256, size=(*hw, 3), dtype=np.uint8)


def bounds(normalize: bool) -> tuple[np.ndarray, np.ndarray]:
    """Valid pixels [0, 1] in the network's input space."""
    low, high = np.zeros((1, 3, 1, 1)), np.ones((1, 3, 1, 1))
    if not normalize:
        return low, high
    mean, std = (a.reshape(1, 3, 1, 1) for a in (reference.IMAGENET_MEAN, reference.IMAGENET_STD))
    return (low - mean) / std, (high - mean) / std


def picture(X: np.ndarray, sim: Sim, content: Image.Image) -> np.ndarray:
    """The 8-bit picture of an image; with --preserve-colors its luminance with the content's chroma (YCbCr)."""
    pixels = np.rint(reference.postprocess(X, sim.normalize) * 255).astype(np.uint8)
    if not sim.preserve_colors:
        return pixels
    y = Image.fromarray(pixels).convert("YCbCr").split()[0]
    _, cb, cr = content.resize(y.size, Image.Resampling.BILINEAR).convert("YCbCr").split()
    return np.asarray(Image.merge("YCbCr", (y, cb, cr)).convert("RGB"))


def stage_plan(sim: Sim) -> list[tuple[float, int, float, int, float]]:
    """Every stage with every value filled in: --scales with the run's schedule, or a preset's stages."""
    given = sim.stages or tuple((s, None, None, None, None) for s in sim.scales)
    run = (None, sim.steps, sim.lr, sim.lr_decay_every, sim.lr_decay_factor)
    return [tuple(r if v is None else v for v, r in zip(stage, run, strict=True)) for stage in given]


def targets(sim: Sim, arrays: dict, content_X: np.ndarray, style_Xs: list[np.ndarray]) -> Targets:
    """The content features and the (blended) style Gram matrices an image is compared with."""
    names = sim.content_layers + sim.style_layers
    fc = every_layer(content_X, arrays, names, sim.pooling)
    grams = [
        [reference.gram(f[n]) for n in sim.style_layers]
        for f in (every_layer(X, arrays, names, sim.pooling) for X in style_Xs)
    ]
    mixed = tuple(grams[0])
    if len(grams) > 1:  # each layer's target: the mean of the styles' Gram matrices, weighted by --style-weights
        blend = np.asarray(sim.style_weights or [1.0] * len(grams), np.float64)
        blend = blend / blend.sum()
        mixed = tuple(sum(g[i] * w for g, w in zip(grams, blend, strict=True)) for i in range(len(mixed)))
    contents = tuple(fc[n] for n in sim.content_layers)
    weights = (sim.content_weight, sim.style_weight, sim.tv_weight, sim.style_layer_weights)
    return Targets(sim.content_layers, contents, sim.style_layers, mixed, *weights)


class Optimizer:
    """Adam (torch's formula), SGD or L-BFGS (torch.optim.LBFGS, one iteration per step, no line search)."""

    def __init__(self, kind: str, lr: float) -> None:
        self.kind, self.lr, self.t = kind, lr, 0
        self.m = self.v = self.d = self.prev = None
        self.pairs: list[tuple[np.ndarray, np.ndarray]] = []
        self.step_size, self.H = 0.0, 1.0

    def step(self, x: np.ndarray, g: np.ndarray) -> np.ndarray:
        """The next image from x and the gradient at x."""
        self.t += 1
        if self.kind == "sgd":
            return x - self.lr * g
        if self.kind == "adam":
            if self.m is None:
                self.m, self.v = np.zeros_like(x), np.zeros_like(x)
            x, self.m, self.v = reference.adam_step(x, g, self.m, self.v, self.t, self.lr)
            return x
        return self.lbfgs(x, g)

    def lbfgs(self, x: np.ndarray, g: np.ndarray) -> np.ndarray:
        """torch.optim.LBFGS's iteration: two-loop recursion over the pairs kept, the first step lr min(1, 1/|g|_1)."""
        flat = g.ravel()
        if np.abs(flat).max() <= 1e-7:
            return x
        if self.d is None:
            d = -flat
        else:
            y, s = flat - self.prev, self.d * self.step_size
            if y @ s > 1e-10:
                self.pairs = [*self.pairs, (y, s)][-100:]
                self.H = (y @ s) / (y @ y)
            q, alphas = -flat, []
            for y_i, s_i in reversed(self.pairs):
                alphas.append((s_i @ q) / (y_i @ s_i))
                q = q - alphas[-1] * y_i
            d = q * self.H
            for (y_i, s_i), a in zip(self.pairs, reversed(alphas), strict=True):
                d = d + (a - (y_i @ d) / (y_i @ s_i)) * s_i
        self.step_size = min(1.0, 1.0 / np.abs(flat).sum()) * self.lr if self.d is None else self.lr
        self.prev, self.d = flat.copy(), d
        if flat @ d > -1e-9:
            return x
        return x + (self.step_size * d).reshape(x.shape)


def start_image(sim: Sim, content: Image.Image, styles: list[Image.Image], at: tuple[int, int]) -> np.ndarray:
    """The first stage's starting image: the content, noise, the (first) style image or an image file."""
    if sim.init == "content":
        return tensor(content, at, sim.normalize)
    if sim.init == "noise":
        return reference.preprocess(noise(sim.seed, at), sim.normalize)
    return tensor(styles[0] if sim.init == "style" else load_rgb(sim.init), at, sim.normalize)


def style_at(sim: Sim, img: Image.Image, at: tuple[int, int]) -> tuple[int, int]:
    """A style image's size in a stage of size ``at``: the same (d2l), or its longer side --style-scale x at's."""
    return at if sim.style_scale is None else keep_aspect(img, max(1, round(sim.style_scale * max(at))))


@functools.lru_cache(maxsize=64)
def simulate(sim: Sim) -> Outcome:
    """The run, stage after stage: each step records the losses of the image it starts from, then updates it."""
    content, styles = load_rgb(sim.content), [load_rgb(p) for p in sim.style]
    arrays, size = vgg_arrays(sim), run_size(sim, content)
    history: list[tuple[int, float, float, float, float]] = []
    X, previous = None, None
    for index, (scale, steps, lr, every, factor) in enumerate(stage_plan(sim)):
        at = max(1, round(size[0] * scale)), max(1, round(size[1] * scale))
        style_Xs = [tensor(img, style_at(sim, img, at), sim.normalize) for img in styles]
        goal = targets(sim, arrays, tensor(content, at, sim.normalize), style_Xs)
        X = start_image(sim, content, styles, at) if previous is None else tensor(previous, at, sim.normalize)
        optimizer = Optimizer(sim.optimizer, lr)
        for rate in reference.step_decay(lr, every, factor, steps):
            if sim.clamp:
                X = np.clip(X, *bounds(sim.normalize))
            losses, grad = loss_and_gradient(X, arrays, sim.pooling, goal)
            history.append((index + 1, *losses))
            optimizer.lr = rate
            X = optimizer.step(X, grad)
        previous = Image.fromarray(picture(X, sim, content))
    return Outcome(history, X, picture(X, sim, content))


def differences(a: Outcome, b: Outcome) -> tuple[float, int]:
    """How far outcome a is from b: the largest relative difference of a loss (each relative to its largest value
    in b) or of the image, infinite when their steps, stages or sizes differ; and of a pixel, in 8-bit levels."""
    if len(a.history) != len(b.history) or a.image.shape != b.image.shape or a.picture.shape != b.picture.shape:
        return float("inf"), 255
    ha, hb = np.asarray(a.history), np.asarray(b.history)
    if not np.array_equal(ha[:, 0], hb[:, 0]):
        return float("inf"), 255
    scale = np.maximum(np.abs(hb[:, 1:]).max(axis=0), 1e-300)
    losses = (np.abs(ha[:, 1:] - hb[:, 1:]).max(axis=0) / scale).max()
    image = np.abs(a.image - b.image).max() / np.abs(b.image).max()
    return float(max(losses, image)), int(np.abs(a.picture.astype(int) - b.picture.astype(int)).max())
