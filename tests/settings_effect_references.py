"""The first-step losses the float64 run simulation (settings_effect_support.py) cannot give: the photoreal method's
(the HRNet generator of tests/repo_reference.py, torch float64, then the reference's VGG-19 and the document's
un-normalized Gram matrices) and a float32 run's with the network in bfloat16 or float16 (the reference's forward
pass with every convolution's inputs, weights and output rounded as autocast rounds them)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
from settings_effect_gradient import conv3x3, every_layer
from settings_effect_support import Sim, keep_aspect, load_rgb, run_size, simulate, tensor, vgg_arrays

from common.core import layers, reference
from common.core.hrnet import random_generator

Losses = tuple[float, float, float, float]


def bf16(a: np.ndarray) -> np.ndarray:
    """float32 values rounded to the nearest bfloat16 (ties to even), as float64."""
    u = np.ascontiguousarray(a, np.float32).view(np.uint32).astype(np.uint64)
    u = ((u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000).astype(np.uint32)
    return u.view(np.float32).astype(np.float64)


def fp16(a: np.ndarray) -> np.ndarray:
    """float32 values rounded to the nearest float16, as float64."""
    return np.asarray(a, np.float32).astype(np.float16).astype(np.float64)


ROUNDING: dict[str, Callable[[np.ndarray], np.ndarray]] = {"bf16": bf16, "fp16": fp16}


def reduced_features(
    X: np.ndarray, arrays: Mapping[str, np.ndarray], names: Sequence[str], pooling: str, rnd: Callable
) -> dict[str, np.ndarray]:
    """The named layers' outputs with each convolution computed from rounded inputs, weights and bias and its
    output rounded (exact sums in between); ReLU and pooling on the rounded values, an average rounded again."""
    out: dict[str, np.ndarray] = {}
    X = rnd(X)
    for layer in layers.VGG19[: layers.deepest(list(names)).index + 1]:
        if layer.kind == "conv":
            W, b = arrays[f"features.{layer.index}.weight"], arrays[f"features.{layer.index}.bias"]
            X = rnd(conv3x3(X, rnd(W)) + rnd(b)[:, None, None])
        elif layer.kind == "relu":
            X = np.maximum(X, 0)
        else:
            _, c, h, w = X.shape
            blocks = X[:, :, : h // 2 * 2, : w // 2 * 2].reshape(1, c, h // 2, 2, w // 2, 2)
            X = blocks.max(axis=(3, 5)) if pooling == "max" else rnd(blocks.mean(axis=(3, 5)))
        out[layer.name] = X
    return {name: out[name] for name in names}


def reduced_first_losses(sim: Sim, precision: str) -> Losses:
    """The first step's losses of a float32 run whose network runs in ``precision`` (bf16 or fp16)."""
    content, style = load_rgb(sim.content), load_rgb(sim.style[0])
    size, arrays, rnd = run_size(sim, content), vgg_arrays(sim), ROUNDING[precision]
    names = sim.content_layers + sim.style_layers

    def features(img) -> dict[str, np.ndarray]:
        return reduced_features(tensor(img, size, sim.normalize).astype(np.float32), arrays, names, sim.pooling, rnd)

    fx, fs = features(content), features(style)
    X = tensor(content, size, sim.normalize)
    style_loss = sum(reference.style_loss(fx[n], reference.gram(fs[n])) for n in sim.style_layers) * sim.style_weight
    tv = reference.tv_loss(X) * sim.tv_weight
    return 0.0, style_loss, tv, style_loss + tv


def document_style_term(T: np.ndarray, S: np.ndarray, gram: str) -> float:
    """mean((G(T) - G_target)^2) / (c h w), G = F F^T un-normalized; the target G(S) summed over the style's own
    positions ('sum'), or scaled to the output's positions, h w / (h_s w_s) ('per-pixel')."""
    c, h, w = T.shape[1:]
    MT, MS = T.reshape(c, -1), S.reshape(c, -1)
    target = MS @ MS.T
    if gram == "per-pixel":
        target = target * (h * w) / MS.shape[1]
    return float(np.mean((MT @ MT.T - target) ** 2) / (c * h * w))


def photoreal_first_losses(sim: Sim) -> Losses:
    """The first step's losses of a photoreal run: the seeded generator's output of the content image against the
    content's features and the style's Gram matrices (the style at its own size, its longer side capped)."""
    import repo_reference
    import torch

    content, style = load_rgb(sim.content), load_rgb(sim.style[0])
    own = (style.size[1], style.size[0])
    capped = sim.style_max_side is not None and max(own) > sim.style_max_side
    style_hw = keep_aspect(style, sim.style_max_side) if capped else own
    C = tensor(content, run_size(sim, content), sim.normalize)
    with torch.no_grad():
        T = repo_reference.hrnet(random_generator(sim.seed))(torch.from_numpy(C)).numpy()
    arrays, names = vgg_arrays(sim), sim.content_layers + sim.style_layers
    fT, fC = every_layer(T, arrays, names, sim.pooling), every_layer(C, arrays, names, sim.pooling)
    fS = every_layer(tensor(style, style_hw, sim.normalize), arrays, names, sim.pooling)
    content_loss = sum(reference.content_loss(fT[n], fC[n]) for n in sim.content_layers) * sim.content_weight
    weights = sim.style_layer_weights or (1.0,) * len(sim.style_layers)
    style_loss = sim.style_weight * sum(
        w * document_style_term(fT[n], fS[n], sim.style_gram) for n, w in zip(sim.style_layers, weights, strict=True)
    )
    tv = reference.tv_loss(T) * sim.tv_weight
    return content_loss, style_loss, tv, content_loss + style_loss + tv


def first_losses(sim: Sim) -> Losses:
    """The first step's losses of either method."""
    if sim.method == "hrnet":
        return photoreal_first_losses(sim)
    return simulate(sim.with_(steps=1, stages=(), scales=(1.0,))).history[0][1:]
