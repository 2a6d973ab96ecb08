"""The HRNet photorealistic generator (arXiv 1904.11617) as torch nn.Modules, wired as the document wires it."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import core

photoreal = core.hrnet


def conv(cin: int, cout: int, kernel: int, stride: int = 1) -> nn.Conv2d:
    """A convolution with padding kernel // 2 (the document's ConvLayer and conv_down)."""
    return nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2, device="meta")


def instance_norm(x: torch.Tensor) -> torch.Tensor:
    """InstanceNorm2d's defaults (no affine parameters, biased variance, eps 1e-5), computed in float64 and rounded
    once to x's dtype: in float32, torch's own is up to 26 units of roundoff off where a channel's mean is large
    against its spread, and its first steps then drift from float64 10x faster than rounding (docs/porting.md)."""
    return F.instance_norm(x.double()).to(x.dtype)


class BottleneckBlock(nn.Module):
    """1x1 to out/4, 3x3, 1x1 to out, each then InstanceNorm2d (no affine, eps 1e-5) and ReLU; plus the input,
    or its 1x1 conv + InstanceNorm shortcut when the channel counts differ; then ReLU."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        mid = cout // 4
        self.conv1, self.conv2, self.conv3 = conv(cin, mid, 1), conv(mid, mid, 3), conv(mid, cout, 1)
        self.shortcut = conv(cin, cout, 1) if cin != cout else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The block's output."""
        out = F.relu(instance_norm(self.conv1(x)))
        out = F.relu(instance_norm(self.conv2(out)))
        out = F.relu(instance_norm(self.conv3(out)))
        residual = x if self.shortcut is None else instance_norm(self.shortcut(x))
        return F.relu(out + residual)  # the document's in-place `out += residual` would break ReLU's backward


def upsample(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Bilinear upsampling that does not align corners (the document's upsample)."""
    return F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False)


class HRNet(nn.Module):
    """The document's HRNet: layer1_1 ... layer8_1 with its channel counts and concatenations."""

    def __init__(self) -> None:
        super().__init__()
        for block in photoreal.BLOCKS:
            if block.kind == "bottleneck":
                module = BottleneckBlock(block.in_channels, block.out_channels)
            else:
                module = conv(block.in_channels, block.out_channels, 3, block.stride)
            setattr(self, block.name, module)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The generated image for input image x (sides divisible by 4)."""
        map1_1 = self.layer1_1(x)
        map2_1 = self.layer2_1(map1_1)
        map2_2 = self.downsample2_1(map1_1)
        map3_1 = torch.cat((self.layer3_1(map2_1), upsample(map2_2, 2)), 1)
        map3_2 = torch.cat((self.downsample3_1(map2_1), self.layer3_2(map2_2)), 1)
        map3_3 = torch.cat((self.downsample3_2(map2_1), self.downsample3_3(map2_2)), 1)
        map4_1 = torch.cat((self.layer4_1(map3_1), upsample(map3_2, 2), upsample(map3_3, 4)), 1)
        out = self.layer5_1(map4_1)
        out = self.layer6_1(out)
        out = self.layer7_1(out)
        return self.layer8_1(out)


def build(arrays: Mapping[str, np.ndarray], dtype: str, device: torch.device) -> HRNet:
    """An HRNet holding validated canonical arrays ('layer1_1.conv1.weight', ...), trainable, in ``dtype``."""
    net = HRNet()
    net.load_state_dict({k: torch.tensor(v) for k, v in arrays.items()}, strict=True, assign=True)
    return net.to(device=device, dtype=getattr(torch, dtype)).train()


def arrays(net: HRNet) -> dict[str, np.ndarray]:
    """The generator's parameters as numpy arrays under their canonical names."""
    return {k: v.detach().cpu().numpy().copy() for k, v in net.state_dict().items()}
