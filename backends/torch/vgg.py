"""VGG-19 ``features`` as a torch nn.Sequential, and the extractor that taps named layers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from .. import common

layers = common.layers


def build(
    arrays: Mapping[str, np.ndarray],
    last: common.layers.Layer,
    pooling: str,
    dtype: str,
    device: torch.device,
) -> nn.Sequential:
    """nn.Sequential of VGG-19 layers 0..last.index, loaded from 'features.N.*' arrays, frozen, in eval mode.

    ReLUs are not in-place (torchvision's are): an in-place ReLU overwrites the conv output that a tapped
    conv layer returned, so 'conv1_1' would silently become relu1_1.
    """
    modules: list[nn.Module] = []
    for layer in layers.VGG19[: last.index + 1]:
        if layer.kind == "conv":
            modules.append(nn.Conv2d(layer.in_channels, layer.out_channels, 3, padding=1, device="meta"))
        elif layer.kind == "relu":
            modules.append(nn.ReLU(inplace=False))
        else:
            modules.append(nn.MaxPool2d(2, 2) if pooling == "max" else nn.AvgPool2d(2, 2))
    net = nn.Sequential(*modules)
    state = {key.removeprefix("features."): torch.tensor(value) for key, value in arrays.items()}
    net.load_state_dict(state, strict=True, assign=True)
    return net.to(device=device, dtype=getattr(torch, dtype)).eval().requires_grad_(False)


class FeatureExtractor(nn.Module):
    """Runs the net once and returns the outputs of the requested layers, in the requested order."""

    def __init__(self, net: nn.Sequential, names: Sequence[str]) -> None:
        super().__init__()
        self.names = list(names)
        self.taps = layers.taps(self.names, len(net))
        self.net = net[: max(self.taps) + 1]  # the layers after the deepest tap never run

    def forward(self, X: torch.Tensor) -> list[torch.Tensor]:
        """Outputs of the requested layers for input X."""
        outputs: dict[str, torch.Tensor] = {}
        for i, layer in enumerate(self.net):
            X = layer(X)
            if i in self.taps:
                outputs[self.taps[i]] = X
        return [outputs[name] for name in self.names]


def feature_extractor(net: nn.Sequential, names: Sequence[str | int]):
    """A callable image -> {name: output} over a FeatureExtractor module."""
    module = FeatureExtractor(net, layers.resolve_all(names))

    def extract(X: torch.Tensor) -> dict[str, torch.Tensor]:
        return dict(zip(module.names, module(X), strict=True))

    extract.module = module
    return extract
