"""The HRNet photorealistic generator (arXiv 1904.11617) as hybridized Gluon blocks, wired as the document does."""

from __future__ import annotations

from collections.abc import Mapping

import mxnet as mx
import numpy as np
from mxnet import autograd, nd
from mxnet.gluon import nn

from .. import common

photoreal = common.photoreal
EPS = 1e-5  # torch's InstanceNorm2d default (Gluon's is the same)


def conv(cin: int, cout: int, kernel: int, stride: int = 1) -> nn.Conv2D:
    """A convolution with padding kernel // 2 (the document's ConvLayer and conv_down)."""
    return nn.Conv2D(cout, kernel, stride, padding=kernel // 2, in_channels=cin)


def instance_norm(F, x):
    """torch's InstanceNorm2d defaults: no affine parameters, biased variance, eps 1e-5.

    Written out, because Gluon's InstanceNorm trains a beta by default (center=True) and MXNet's InstanceNorm
    operator refuses float64.
    """
    centered = F.broadcast_sub(x, F.mean(x, axis=(2, 3), keepdims=True))
    variance = F.mean(F.square(centered), axis=(2, 3), keepdims=True)
    return F.broadcast_div(centered, F.sqrt(variance + EPS))


class BottleneckBlock(nn.HybridBlock):
    """1x1 to out/4, 3x3, 1x1 to out, each then InstanceNorm and ReLU; plus the input, or its 1x1 conv +
    InstanceNorm shortcut when the channel counts differ; then ReLU."""

    def __init__(self, cin: int, cout: int, **kwargs) -> None:
        super().__init__(**kwargs)
        mid = cout // 4
        with self.name_scope():
            self.conv1, self.conv2, self.conv3 = conv(cin, mid, 1), conv(mid, mid, 3), conv(mid, cout, 1)
            self.shortcut = conv(cin, cout, 1) if cin != cout else None

    def hybrid_forward(self, F, x):
        """The block's output."""
        out = F.relu(instance_norm(F, self.conv1(x)))
        out = F.relu(instance_norm(F, self.conv2(out)))
        out = F.relu(instance_norm(F, self.conv3(out)))
        residual = x if self.shortcut is None else instance_norm(F, self.shortcut(x))
        return F.relu(out + residual)


def upsample(F, x, scale: int):
    """Bilinear upsampling that does not align corners: BilinearResize2D's default is align_corners=True."""
    return F.contrib.BilinearResize2D(x, scale_height=scale, scale_width=scale, align_corners=False)


class HRNet(nn.HybridBlock):
    """The document's HRNet: layer1_1 ... layer8_1 with its channel counts and concatenations."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        with self.name_scope():
            for block in photoreal.BLOCKS:
                if block.kind == "bottleneck":
                    module = BottleneckBlock(block.in_channels, block.out_channels)
                else:
                    module = conv(block.in_channels, block.out_channels, 3, block.stride)
                setattr(self, block.name, module)

    def hybrid_forward(self, F, x):
        """The generated image for input image x (sides divisible by 4)."""
        map1_1 = self.layer1_1(x)
        map2_1 = self.layer2_1(map1_1)
        map2_2 = self.downsample2_1(map1_1)
        map3_1 = F.concat(self.layer3_1(map2_1), upsample(F, map2_2, 2), dim=1)
        map3_2 = F.concat(self.downsample3_1(map2_1), self.layer3_2(map2_2), dim=1)
        map3_3 = F.concat(self.downsample3_2(map2_1), self.downsample3_3(map2_2), dim=1)
        map4_1 = F.concat(self.layer4_1(map3_1), upsample(F, map3_2, 2), upsample(F, map3_3, 4), dim=1)
        out = self.layer5_1(map4_1)
        out = self.layer6_1(out)
        out = self.layer7_1(out)
        return self.layer8_1(out)


class Generator(nn.Block):
    """The hybridized HRNet, always run in training mode: with oneDNN a convolution gives other results in
    inference mode (docs/porting.md), so training and stylizing use the same one."""

    def __init__(self, net: HRNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: nd.NDArray) -> nd.NDArray:
        """The generated image."""
        with autograd.train_mode():
            return self.net(x)


def canonical(net: HRNet) -> dict[str, mx.gluon.Parameter]:
    """The generator's Gluon parameters under canonical names ('layer1_1.conv1.weight', ...)."""
    return dict(net._collect_params_with_prefix().items())


def build(arrays: Mapping[str, np.ndarray], dtype: str, ctx: mx.Context) -> Generator:
    """A hybridized HRNet holding validated canonical arrays, trainable, in ``dtype``."""
    net = HRNet()
    net.cast(dtype)
    params = canonical(net)
    assert set(params) == set(arrays), sorted(set(params) ^ set(arrays))
    for name, p in params.items():
        p.initialize(mx.init.Constant(nd.array(arrays[name], ctx=ctx, dtype=dtype)), ctx=ctx)
    net.hybridize(static_alloc=True, static_shape=True)
    return Generator(net)


def arrays(model: Generator) -> dict[str, np.ndarray]:
    """The generator's parameters as numpy arrays under their canonical names."""
    return {name: p.data().asnumpy() for name, p in canonical(model.net).items()}
