"""The HRNet photorealistic generator (arXiv 1904.11617) as hybridized Gluon blocks, wired as the document does."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import mxnet as mx
import numpy as np
from mxnet import autograd, nd
from mxnet.gluon import nn

from .. import core

photoreal = core.hrnet
EPS = 1e-5  # torch's InstanceNorm2d default (Gluon's is the same)


def conv(cin: int, cout: int, kernel: int, stride: int = 1) -> nn.Conv2D:
    """A convolution with padding kernel // 2 (the document's ConvLayer and conv_down)."""
    return nn.Conv2D(cout, kernel, stride, padding=kernel // 2, in_channels=cin)


class InstanceNorm(nn.HybridBlock):
    """torch's InstanceNorm2d defaults (no affine parameters, biased variance, eps 1e-5) for one image, computed in
    float64 whatever the network's dtype and rounded once to it.

    For a batch of one image, batch normalization with batch statistics normalizes each channel over its pixels,
    which is instance normalization; the generator always runs in training mode (Generator), where BatchNorm uses
    batch statistics, and only ever on one image. In float32, MXNet's BatchNorm (and its InstanceNorm operator)
    computes the variance in one pass and is 10-100x less accurate than float32 rounding (forward and backward),
    enough to fail the float32 generator row of nst parity; in float64 it is exact to float64 rounding, so the
    float32 network normalizes in float64 (about 1.2x the generator step: docs/porting.md, pitfall "float32
    BatchNorm"). Its fixed scale, shift and unused running statistics stay float64 when the network is cast.
    Not Gluon's InstanceNorm, which trains a beta by default (center=True), nor MXNet's InstanceNorm operator,
    which refuses float64; not mean and broadcast operators (a two-pass normalization), whose backward made the
    generator's step 2x slower; not LayerNorm over the pixels, which gave non-finite results now and then once
    hybridized (docs/porting.md).
    """

    def __init__(self, channels: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.dtype = "float32"
        fixed = {"shape": (channels,), "grad_req": "null", "dtype": "float64"}
        with self.name_scope():
            self.gamma = self.params.get("gamma", init="ones", **fixed)
            self.beta = self.params.get("beta", init="zeros", **fixed)
            self.running_mean = self.params.get("running_mean", init="zeros", differentiable=False, **fixed)
            self.running_var = self.params.get("running_var", init="ones", differentiable=False, **fixed)

    def cast(self, dtype: str) -> None:
        """Output in ``dtype``; the normalization and its fixed parameters stay float64."""
        self.dtype = dtype

    def hybrid_forward(self, F: Any, x: Any, gamma: Any, beta: Any, running_mean: Any, running_var: Any) -> Any:
        """Each channel of the one image normalized over its pixels, in float64, rounded to the network's dtype."""
        stats = {"eps": EPS, "fix_gamma": True, "use_global_stats": False, "axis": 1}
        y = F.BatchNorm(F.cast(x, "float64"), gamma, beta, running_mean, running_var, **stats)
        return F.cast(y, self.dtype)


class BottleneckBlock(nn.HybridBlock):
    """1x1 to out/4, 3x3, 1x1 to out, each then InstanceNorm and ReLU; plus the input, or its 1x1 conv +
    InstanceNorm shortcut when the channel counts differ; then ReLU."""

    def __init__(self, cin: int, cout: int, **kwargs) -> None:
        super().__init__(**kwargs)
        mid = cout // 4
        with self.name_scope():
            self.conv1, self.conv2, self.conv3 = conv(cin, mid, 1), conv(mid, mid, 3), conv(mid, cout, 1)
            self.norm1, self.norm2, self.norm3 = InstanceNorm(mid), InstanceNorm(mid), InstanceNorm(cout)
            self.shortcut = conv(cin, cout, 1) if cin != cout else None
            self.norm_shortcut = InstanceNorm(cout) if cin != cout else None

    def hybrid_forward(self, F: Any, x: Any) -> Any:
        """The block's output."""
        out = F.relu(self.norm1(self.conv1(x)))
        out = F.relu(self.norm2(self.conv2(out)))
        out = F.relu(self.norm3(self.conv3(out)))
        residual = x if self.shortcut is None else self.norm_shortcut(self.shortcut(x))
        return F.relu(out + residual)


def upsample(F: Any, x: Any, scale: int) -> Any:
    """Bilinear upsampling by an integer factor that does not align corners (torch's F.interpolate default).

    Separable and written with slices and element-wise products: output pixel k of each group of ``scale`` sits
    at offset d = (k + 0.5) / scale - 0.5 from its source pixel and blends it with the neighbour on that side
    (the edge pixel repeated at the borders, as torch clamps). MXNet's contrib.BilinearResize2D computes the
    same with align_corners=False, but its backward took 1 s of a 2.6 s generator step at 256x256.
    """
    return _upsample_axis(F, _upsample_axis(F, x, 3, scale), 2, scale)


def _upsample_axis(F: Any, x: Any, axis: int, scale: int) -> Any:
    first, last = F.slice_axis(x, axis=axis, begin=0, end=1), F.slice_axis(x, axis=axis, begin=-1, end=None)
    before = F.concat(first, F.slice_axis(x, axis=axis, begin=0, end=-1), dim=axis)
    after = F.concat(F.slice_axis(x, axis=axis, begin=1, end=None), last, dim=axis)
    parts = []
    for k in range(scale):
        d = (k + 0.5) / scale - 0.5
        parts.append(x * (1 + d) - before * d if d < 0 else x * (1 - d) + after * d)
    interleaved = F.stack(*parts, axis=axis + 1)
    return F.reshape(interleaved, shape=(0, 0, -3, 0) if axis == 2 else (0, 0, 0, -3))


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

    def hybrid_forward(self, F: Any, x: Any) -> Any:
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
        """The generated image (of one image: the instance norms are batch norms of a batch of one)."""
        if x.shape[0] != 1:
            raise ValueError(f"the generator takes one image at a time, not a batch of {x.shape[0]}")
        with autograd.train_mode():
            return self.net(x)


def canonical(net: HRNet) -> dict[str, mx.gluon.Parameter]:
    """The generator's Gluon parameters under canonical names ('layer1_1.conv1.weight', ...); the instance
    norms' fixed scale, shift and unused running statistics are not among them."""
    params = net._collect_params_with_prefix().items()
    return {k: p for k, p in params if not any(part.startswith("norm") for part in k.split(".")[:-1])}


def build(arrays: Mapping[str, np.ndarray], dtype: str, ctx: mx.Context) -> Generator:
    """A hybridized HRNet holding validated canonical arrays, trainable, in ``dtype``."""
    net = HRNet()
    net.collect_params(".*instancenorm.*").initialize(ctx=ctx)  # gamma 1, beta 0: fixed, float64
    net.cast(dtype)
    params = canonical(net)
    assert set(params) == set(arrays), sorted(set(params) ^ set(arrays))
    for name, p in params.items():
        p.initialize(mx.init.Constant(nd.array(arrays[name], ctx=ctx, dtype=dtype)), ctx=ctx)
    net.hybridize()  # not static_alloc: with it, this graph's weight gradients came out wrong (docs/porting.md)
    return Generator(net)


def arrays(model: Generator) -> dict[str, np.ndarray]:
    """The generator's parameters as numpy arrays under their canonical names."""
    return {name: p.data().asnumpy() for name, p in canonical(model.net).items()}
