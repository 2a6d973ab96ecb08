"""The style-transfer objective, written once for every backend (the documents' ``#@tab all`` cell).

It only calls the backend's loss functions and uses + and *, which torch tensors and MXNet NDArrays share.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from . import layers
from .interface import Backend, Tensor
from .recipe import D2L


@dataclass(frozen=True)
class LossWeights:
    """Weights of the three terms of the total loss (the d2l defaults), and optionally of each style layer."""

    content: float = D2L["content_weight"]
    style: float = D2L["style_weight"]
    tv: float = D2L["tv_weight"]
    style_layers: tuple[float, ...] = ()  # one per style layer; empty: all 1

    def style_layer(self, i: int) -> float:
        """The weight of style layer i."""
        return self.style_layers[i] if self.style_layers else 1.0


def compute_loss(
    ops: Backend,
    X: Tensor,
    contents_Y_hat: Sequence[Tensor],
    styles_Y_hat: Sequence[Tensor],
    contents_Y: Sequence[Tensor],
    styles_Y_gram: Sequence[Tensor],
    weights: LossWeights,
) -> tuple[list[Tensor], list[Tensor], Tensor, Tensor]:
    """Per-layer weighted content and style losses, the weighted TV loss, and their sum (in the documents' order)."""
    contents_l = [
        ops.content_loss(Y_hat, Y) * weights.content for Y_hat, Y in zip(contents_Y_hat, contents_Y, strict=True)
    ]
    styles_l = [
        ops.style_loss(Y_hat, G) * (weights.style * weights.style_layer(i))
        for i, (Y_hat, G) in enumerate(zip(styles_Y_hat, styles_Y_gram, strict=True))
    ]
    tv_l = ops.tv_loss(X) * weights.tv
    total = sum([*styles_l, *contents_l, tv_l])
    return contents_l, styles_l, tv_l, total


class Objective:
    """Image -> (content, style, tv, total) against fixed targets: content features and style Gram matrices.

    Several style images are blended as neural-style does: each layer's target is the weighted mean of their
    Gram matrices (weights normalized to sum to 1).
    """

    def __init__(
        self,
        ops: Backend,
        extractor: Callable[[Tensor], dict[str, Tensor]],
        content_layers: Sequence[str],
        style_layers: Sequence[str],
        content_X: Tensor,
        style_X: Tensor | Sequence[Tensor],
        weights: LossWeights,
        style_blend: Sequence[float] = (),
    ) -> None:
        self.ops, self.extractor, self.weights = ops, extractor, weights
        self.content_layers, self.style_layers = list(content_layers), list(style_layers)
        content_features = extractor(content_X)
        self.contents_Y = [content_features[name] for name in self.content_layers]
        styles = list(style_X) if isinstance(style_X, (list, tuple)) else [style_X]
        blend = list(style_blend) or [1.0] * len(styles)
        grams_per_style = [[ops.gram(f[name]) for name in self.style_layers] for f in map(extractor, styles)]
        if len(styles) == 1:
            self.styles_Y_gram = grams_per_style[0]
        else:
            share = [w / sum(blend) for w in blend]
            self.styles_Y_gram = [
                sum(g[i] * w for g, w in zip(grams_per_style, share, strict=True))
                for i in range(len(self.style_layers))
            ]

    def __call__(self, X: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The four losses of image X (each a scalar tensor that can be back-propagated)."""
        features = self.extractor(X)
        contents_l, styles_l, tv_l, total = compute_loss(
            self.ops,
            X,
            [features[name] for name in self.content_layers],
            [features[name] for name in self.style_layers],
            self.contents_Y,
            self.styles_Y_gram,
            self.weights,
        )
        zero = tv_l * 0  # a tensor, so that a run without content (or style) layers still reports one
        return sum(contents_l, zero), sum(styles_l, zero), tv_l, total


def make_objective(
    ops: Backend,
    content_X: Tensor,
    style_X: Tensor | Sequence[Tensor],
    content_layers: Sequence[str | int],
    style_layers: Sequence[str | int],
    weights: LossWeights | None = None,
    *,
    style_blend: Sequence[float] = (),
    vgg_weights: Any = "random",
    seed: int = 0,
    pooling: str = "max",
    dtype: str = "float32",
    precision: str = "fp32",
) -> Objective:
    """VGG-19 cut after the deepest requested layer, its extractor, and the Objective over them.

    ``vgg_weights`` is anything Backend.vgg19 takes: "random", "imagenet", "auto", a path, Weights or a dict.
    """
    content_layers, style_layers = layers.resolve_all(content_layers), layers.resolve_all(style_layers)
    names = tuple(dict.fromkeys(content_layers + style_layers))
    net = ops.vgg19(vgg_weights, seed=seed, pooling=pooling, dtype=dtype, upto=layers.deepest(names).name)
    extractor = ops.feature_extractor(net, names, precision)
    return Objective(
        ops, extractor, content_layers, style_layers, content_X, style_X, weights or LossWeights(), style_blend
    )
