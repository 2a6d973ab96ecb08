"""VGG-19 ``features`` as a torch nn.Sequential, and the extractor that taps named layers."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from .. import core

layers = core.layers


def build(
    arrays: Mapping[str, np.ndarray],
    last: core.layers.Layer,
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


REDUCED = {"bf16": torch.bfloat16, "fp16": torch.float16}


class FeatureExtractor(nn.Module):
    """Runs the net once and returns the outputs of the requested layers, in the requested order.

    With precision "bf16" or "fp16" the net runs under torch.autocast, stored channels_last (oneDNN's fast
    reduced-precision path on CPU), and the outputs come back as float32 (channels_last), so Gram matrices and
    losses are not computed in reduced precision. A float32 net on the CPU runs channels_last where
    core.cpu.channels_last_fp32() says that is as accurate and faster (AVX2 without AVX-512), NCHW elsewhere.
    """

    def __init__(self, net: nn.Sequential, names: Sequence[str], precision: str = "fp32") -> None:
        super().__init__()
        self.names, self.precision = list(names), precision
        self.taps = layers.taps(self.names, len(net))
        self.net = net[: max(self.taps) + 1]  # the layers after the deepest tap never run
        weight = self.net[0].weight
        self.channels_last = precision != "fp32" or (
            weight.device.type == "cpu" and weight.dtype == torch.float32 and core.cpu.channels_last_fp32()
        )
        if self.channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)

    def forward(self, X: torch.Tensor) -> list[torch.Tensor]:
        """Outputs of the requested layers for input X."""
        if self.channels_last:
            X = X.contiguous(memory_format=torch.channels_last)
        if self.precision == "fp32":
            return self._run(X)
        with torch.autocast(X.device.type, dtype=REDUCED[self.precision]):
            outputs = self._run(X)
        return [Y.float() for Y in outputs]  # float32, still channels_last: losses.gram reads it without a copy

    def _run(self, X: torch.Tensor) -> list[torch.Tensor]:
        outputs: dict[str, torch.Tensor] = {}
        for i, layer in enumerate(self.net):
            X = layer(X)
            if i in self.taps:
                outputs[self.taps[i]] = X
        return [outputs[name] for name in self.names]


def feature_extractor(
    net: nn.Sequential, names: Sequence[str | int], precision: str = "fp32"
) -> Callable[[torch.Tensor], dict[str, torch.Tensor]]:
    """A callable image -> {name: output} over a FeatureExtractor module."""
    module = FeatureExtractor(net, layers.resolve_all(names), precision)

    def extract(X: torch.Tensor) -> dict[str, torch.Tensor]:
        return dict(zip(module.names, module(X), strict=True))

    extract.module = module
    return extract
