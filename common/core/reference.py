"""A float64 numpy reference of everything the backends compute: the ground truth the tests hold them to.

Written for clarity, not speed: the VGG forward pass is an im2col convolution, fine for test-sized images.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from . import layers as vgg_layers
from . import pyramid

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406])
IMAGENET_STD = np.array([0.229, 0.224, 0.225])


def preprocess(pixels: np.ndarray, normalize: bool = True) -> np.ndarray:
    """uint8 (H, W, 3) pixels -> float64 (1, 3, H, W): scaled to [0, 1], ImageNet-normalized if asked."""
    X = pixels.astype(np.float64) / 255
    if normalize:
        X = (X - IMAGENET_MEAN) / IMAGENET_STD
    return X.transpose(2, 0, 1)[None]


def postprocess(X: np.ndarray, normalized: bool = True) -> np.ndarray:
    """(1, 3, H, W) -> (H, W, 3) float64 in [0, 1]: the inverse of preprocess, clipped."""
    img = X[0].transpose(1, 2, 0).astype(np.float64)
    if normalized:
        img = img * IMAGENET_STD + IMAGENET_MEAN
    return np.clip(img, 0, 1)


def gram(Y: np.ndarray) -> np.ndarray:
    """Y Y^T / (c h w) on the (c, h w) reshape of a (1, c, h, w) feature map."""
    c = Y.shape[1]
    n = Y.size // c
    M = Y.reshape(c, n).astype(np.float64)
    return M @ M.T / (c * n)


def content_loss(Y_hat: np.ndarray, Y: np.ndarray) -> float:
    """Mean squared error between two feature maps."""
    return float(np.mean((np.asarray(Y_hat, np.float64) - Y) ** 2))


def style_loss(Y_hat: np.ndarray, gram_Y: np.ndarray) -> float:
    """Mean squared error between gram(Y_hat) and a precomputed Gram matrix."""
    return float(np.mean((gram(Y_hat) - gram_Y) ** 2))


def tv_loss(X: np.ndarray) -> float:
    """0.5 (mean |x[i+1, j] - x[i, j]| + mean |x[i, j+1] - x[i, j]|)."""
    X = np.asarray(X, np.float64)
    return float(
        0.5 * (np.abs(X[:, :, 1:, :] - X[:, :, :-1, :]).mean() + np.abs(X[:, :, :, 1:] - X[:, :, :, :-1]).mean())
    )


def total_loss(
    X: np.ndarray,
    contents_Y_hat: Sequence[np.ndarray],
    styles_Y_hat: Sequence[np.ndarray],
    contents_Y: Sequence[np.ndarray],
    styles_Y_gram: Sequence[np.ndarray],
    weights: tuple[float, float, float] = (1.0, 1e4, 10.0),
) -> tuple[float, float, float, float]:
    """(content, style, tv, total): weighted content/style sums over layers, weighted TV, and their sum."""
    cw, sw, tw = weights
    content = sum(content_loss(a, b) * cw for a, b in zip(contents_Y_hat, contents_Y, strict=True))
    style = sum(style_loss(a, g) * sw for a, g in zip(styles_Y_hat, styles_Y_gram, strict=True))
    tv = tv_loss(X) * tw
    return content, style, tv, content + style + tv


def _conv3x3(X: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """3x3 convolution, stride 1, zero padding 1, of (1, c, h, w) with (o, c, 3, 3)."""
    _, c, h, w = X.shape
    P = np.pad(X[0], ((0, 0), (1, 1), (1, 1)))
    cols = np.stack([P[:, i : i + h, j : j + w] for i in range(3) for j in range(3)], axis=1)  # (c, 9, h, w)
    out = np.tensordot(W.reshape(W.shape[0], c, 9), cols, axes=([1, 2], [0, 1]))
    return (out + b[:, None, None])[None]


def _pool2x2(X: np.ndarray, mode: str) -> np.ndarray:
    _, c, h, w = X.shape
    H, Wd = h // 2, w // 2
    blocks = X[:, :, : 2 * H, : 2 * Wd].reshape(1, c, H, 2, Wd, 2)
    return blocks.max(axis=(3, 5)) if mode == "max" else blocks.mean(axis=(3, 5))


def vgg_features(
    X: np.ndarray, weights: Mapping[str, np.ndarray], names: Sequence[str], pooling: str = "max"
) -> dict[str, np.ndarray]:
    """float64 outputs of the named VGG-19 layers for input X, given a 'features.N.weight' weight dict."""
    X = np.asarray(X, np.float64)
    last = vgg_layers.deepest(names).index
    out: dict[str, np.ndarray] = {}
    for layer in vgg_layers.VGG19[: last + 1]:
        if layer.kind == "conv":
            W = np.asarray(weights[f"features.{layer.index}.weight"], np.float64)
            b = np.asarray(weights[f"features.{layer.index}.bias"], np.float64)
            X = _conv3x3(X, W, b)
        elif layer.kind == "relu":
            X = np.maximum(X, 0)
        else:
            X = _pool2x2(X, pooling)
        if layer.name in names:
            out[layer.name] = X
    return out


def step_decay(lr: float, every: int, factor: float, steps: int) -> list[float]:
    """The learning rate of each of ``steps`` steps: x factor after every ``every`` steps (chained products)."""
    rates, current = [], lr
    for step in range(steps):
        if step > 0 and step % every == 0:
            current = current * factor
        rates.append(current)
    return rates


def adam_step(
    param: np.ndarray,
    grad: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    t: int,
    lr: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One Adam update as torch.optim.Adam computes it (epsilon added after bias correction); t counts from 1."""
    b1, b2 = betas
    m = m + (1 - b1) * (grad - m)
    v = v * b2 + (1 - b2) * grad * grad
    denom = np.sqrt(v) / np.sqrt(1 - b2**t) + eps
    return param - (lr / (1 - b1**t)) * m / denom, m, v


def mxnet_adam_step(
    param: np.ndarray,
    grad: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    t: int,
    lr: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One update of MXNet's built-in 'adam' (bias correction folded into lr, epsilon added before it)."""
    b1, b2 = betas
    m = b1 * m + (1 - b1) * grad
    v = b2 * v + (1 - b2) * grad * grad
    lr_t = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
    return param - lr_t * m / (np.sqrt(v) + eps), m, v


def pyramid_image(levels: list[np.ndarray]) -> np.ndarray:
    """The image of pyramid levels (full size first, each (1, 3, hk, wk); core/pyramid.py): the full-size level
    plus each coarser one upsampled, A_k @ (P_k @ B_k^T)."""
    X = np.asarray(levels[0], np.float64)
    h, w = X.shape[-2:]
    for P, (A, Bt) in zip(levels[1:], pyramid.matrices(h, w, len(levels)), strict=True):
        X = X + A @ (np.asarray(P, np.float64) @ Bt)
    return X


def pyramid_gradients(levels: list[np.ndarray], grad: np.ndarray) -> list[np.ndarray]:
    """d loss / d each pyramid level given d loss / d image: the image's gradient itself, then A_k^T G B_k."""
    h, w = grad.shape[-2:]
    return [grad] + [A.T @ grad @ Bt.T for A, Bt in pyramid.matrices(h, w, len(levels))]
