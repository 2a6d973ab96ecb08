"""The gradient of the style-transfer loss with respect to the image, in float64 numpy, for the settings tests.

An independent computation: the forward pass is common/core/reference.py's (every layer's output kept), the
backward pass is written here by hand (3x3 convolution, ReLU, 2x2 max or average pooling, the Gram matrix, the
mean squared errors and the total variation). No backend code is used; tests/test_settings_effect.py holds this
gradient to finite differences of the reference's own loss.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from common.core import layers, reference


@dataclass(frozen=True)
class Targets:
    """What a run's loss compares an image with, and the weights of its terms."""

    content_layers: tuple[str, ...]
    contents: tuple[np.ndarray, ...]  # the content features
    style_layers: tuple[str, ...]
    grams: tuple[np.ndarray, ...]
    content_weight: float
    style_weight: float
    tv_weight: float
    style_layer_weights: tuple[float, ...] = ()

    def layer_weight(self, i: int) -> float:
        """The weight of style layer i (all 1 when none are given)."""
        return self.style_layer_weights[i] if self.style_layer_weights else 1.0


def every_layer(X: np.ndarray, arrays: Mapping[str, np.ndarray], names: Sequence[str], pooling: str) -> dict:
    """The reference's output of every VGG-19 layer up to the deepest of ``names``."""
    last = layers.deepest(list(names)).index
    return reference.vgg_features(X, arrays, [layer.name for layer in layers.VGG19[: last + 1]], pooling)


def conv3x3(X: np.ndarray, W: np.ndarray) -> np.ndarray:
    """3x3 convolution (cross-correlation), stride 1, zero padding 1, no bias, of (1, c, h, w) with (o, c, 3, 3)."""
    _, c, h, w = X.shape
    P = np.pad(X[0], ((0, 0), (1, 1), (1, 1)))
    cols = np.stack([P[:, i : i + h, j : j + w] for i in range(3) for j in range(3)], axis=1)
    return np.tensordot(W.reshape(W.shape[0], c, 9), cols, axes=([1, 2], [0, 1]))[None]


def pool_backward(X: np.ndarray, dY: np.ndarray, mode: str) -> np.ndarray:
    """d/dX of 2x2 pooling: to the (first) maximum of each block, or a quarter to each; odd edges get nothing."""
    c, H, Wd = dY.shape[1], dY.shape[2], dY.shape[3]
    blocks = X[:, :, : 2 * H, : 2 * Wd].reshape(1, c, H, 2, Wd, 2).transpose(0, 1, 2, 4, 3, 5).reshape(1, c, H, Wd, 4)
    if mode == "max":
        share = np.eye(4)[blocks.argmax(axis=-1)] * dY[..., None]
    else:
        share = np.repeat(dY[..., None] / 4, 4, axis=-1)
    dX = np.zeros_like(X)
    dX[:, :, : 2 * H, : 2 * Wd] = (
        share.reshape(1, c, H, Wd, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(1, c, 2 * H, 2 * Wd)
    )
    return dX


def vgg_backward(
    X: np.ndarray, out: Mapping[str, np.ndarray], arrays: Mapping[str, np.ndarray], grads: dict, pooling: str
) -> np.ndarray:
    """d loss / d X, given d loss / d (output of each tapped layer) and every layer's output ``out``."""
    last = layers.deepest(list(grads)).index
    g = np.zeros_like(out[layers.VGG19[last].name])
    for layer in reversed(layers.VGG19[: last + 1]):
        if layer.name in grads:
            g = g + grads[layer.name]
        below = X if layer.index == 0 else out[layers.VGG19[layer.index - 1].name]
        if layer.kind == "conv":
            W = np.asarray(arrays[f"features.{layer.index}.weight"], np.float64)
            g = conv3x3(g, np.ascontiguousarray(W[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)))
        elif layer.kind == "relu":
            g = g * (out[layer.name] > 0)
        else:
            g = pool_backward(below, g, pooling)
    return g


def tv_gradient(X: np.ndarray, weight: float) -> np.ndarray:
    """d/dX of weight * 0.5 (mean |x[i+1, j] - x[i, j]| + mean |x[i, j+1] - x[i, j]|), with sign(0) = 0."""
    g = np.zeros_like(X)
    dh, dw = X[:, :, 1:, :] - X[:, :, :-1, :], X[:, :, :, 1:] - X[:, :, :, :-1]
    sh, sw = 0.5 * weight * np.sign(dh) / dh.size, 0.5 * weight * np.sign(dw) / dw.size
    g[:, :, 1:, :] += sh
    g[:, :, :-1, :] -= sh
    g[:, :, :, 1:] += sw
    g[:, :, :, :-1] -= sw
    return g


def gram_loss_gradient(Y: np.ndarray, target: np.ndarray, weight: float) -> np.ndarray:
    """d/dY of weight * mean((gram(Y) - target)^2), gram(Y) = M M^T / (c n) of the (c, n) reshape M."""
    c = Y.shape[1]
    M = Y.reshape(c, -1)
    n = M.shape[1]
    dG = weight * 2 * (M @ M.T / (c * n) - target) / (c * c)
    return ((dG + dG.T) @ M / (c * n)).reshape(Y.shape)


def loss_and_gradient(
    X: np.ndarray, arrays: Mapping[str, np.ndarray], pooling: str, t: Targets
) -> tuple[tuple[float, float, float, float], np.ndarray]:
    """((content, style, tv, total), d total / d X) of image X, each loss weighted as the run weighs it."""
    out = every_layer(X, arrays, t.content_layers + t.style_layers, pooling)
    grads: dict[str, np.ndarray] = {}
    content = style = 0.0
    for name, Y in zip(t.content_layers, t.contents, strict=True):
        content += t.content_weight * reference.content_loss(out[name], Y)
        grads[name] = grads.get(name, 0) + t.content_weight * 2 * (out[name] - Y) / Y.size
    for i, (name, G) in enumerate(zip(t.style_layers, t.grams, strict=True)):
        weight = t.style_weight * t.layer_weight(i)
        style += weight * reference.style_loss(out[name], G)
        grads[name] = grads.get(name, 0) + gram_loss_gradient(out[name], G, weight)
    tv = t.tv_weight * reference.tv_loss(X)
    grad = vgg_backward(X, out, arrays, grads, pooling) + tv_gradient(X, t.tv_weight)
    return (content, style, tv, content + style + tv), grad
