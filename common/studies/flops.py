"""Floating-point operations of one optimization step, counted from the layer shapes.

A step is: the VGG-19 forward pass up to the deepest requested layer, the Gram matrix of every style layer,
and the backward pass to the image (input gradients only: the weights are frozen). Convolutions and matrix
products are counted (2 per multiply-add); pooling, ReLU and the losses' elementwise work are well under 1%.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..core import layers
from ..core.layers import feature_sizes


def step_flops(size: tuple[int, int], content_layers: Sequence[str], style_layers: Sequence[str]) -> dict[str, float]:
    """FLOPs of one step: conv forward, conv backward (input gradient), Gram forward and backward, total."""
    names = tuple(content_layers) + tuple(style_layers)
    deepest = layers.deepest(names)
    sizes = {layer.name: (layer, h, w) for layer, h, w in feature_sizes(size, deepest)}
    conv_fwd = sum(
        2.0 * layer.in_channels * 9 * layer.out_channels * h * w
        for layer, h, w in sizes.values()
        if layer.kind == "conv"
    )
    gram_fwd = sum(2.0 * sizes[n][0].out_channels ** 2 * sizes[n][1] * sizes[n][2] for n in style_layers)
    # backward: a conv's input gradient costs what its forward does; Y Y^T's gradient, (G' + G'^T) Y, one product
    flops = {
        "conv forward": conv_fwd,
        "conv backward": conv_fwd,
        "gram forward": gram_fwd,
        "gram backward": gram_fwd,
    }
    flops["total"] = sum(flops.values())
    return flops
