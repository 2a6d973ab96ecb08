"""VGG-19 ``features`` as a Gluon HybridSequential, and a hybridized extractor that taps named layers."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import mxnet as mx
import numpy as np
from mxnet import autograd, nd
from mxnet.gluon import nn

from .. import core

layers = core.layers


def build(
    arrays: Mapping[str, np.ndarray], last: core.layers.Layer, pooling: str, dtype: str, ctx: mx.Context
) -> nn.HybridSequential:
    """HybridSequential of VGG-19 layers 0..last.index loaded from 'features.N.*' arrays; grad_req 'null'.

    The conv layers have no fused activation; each ReLU is its own layer, as in Gluon's model zoo vgg19.
    """
    net = nn.HybridSequential()
    for layer in layers.VGG19[: last.index + 1]:
        if layer.kind == "conv":
            net.add(nn.Conv2D(layer.out_channels, 3, padding=1, in_channels=layer.in_channels))
        elif layer.kind == "relu":
            net.add(nn.Activation("relu"))
        else:
            net.add(nn.MaxPool2D(2, 2) if pooling == "max" else nn.AvgPool2D(2, 2))
    net.cast(dtype)
    for layer in layers.VGG19[: last.index + 1]:
        if layer.kind == "conv":
            for p in ("weight", "bias"):
                value = nd.array(arrays[f"features.{layer.index}.{p}"], ctx=ctx, dtype=dtype)
                getattr(net[layer.index], p).initialize(mx.init.Constant(value), ctx=ctx)
    net.collect_params().setattr("grad_req", "null")
    return net


class FeatureExtractor(nn.HybridBlock):
    """Runs the net once and returns the outputs of the requested layers, in the requested order."""

    def __init__(self, net: nn.HybridSequential, names: Sequence[str]) -> None:
        super().__init__()
        self.names = list(names)
        self.taps = layers.taps(self.names, len(net))
        with self.name_scope():
            self.net = net[: max(self.taps) + 1]  # the layers after the deepest tap never run

    def hybrid_forward(self, F: Any, X: Any) -> tuple[Any, ...]:
        """Outputs of the requested layers for input X (a tuple, so that the block hybridizes)."""
        outputs = {}
        for i, layer in enumerate(self.net):
            X = layer(X)
            if i in self.taps:
                outputs[self.taps[i]] = X
        return tuple(outputs[name] for name in self.names)


def feature_extractor(
    net: nn.HybridSequential, names: Sequence[str | int], precision: str = "fp32"
) -> Callable[[nd.NDArray], dict[str, nd.NDArray]]:
    """A callable image -> {name: output} over a hybridized FeatureExtractor block, always in training mode.

    With oneDNN, MXNet runs a convolution through a different primitive in training mode (the default inside
    autograd.record()) than in inference mode, and the results differ by about 1e-6; and max-pooling backward
    after an inference-mode forward is wrong (apache/mxnet#10994). So every forward pass, the targets' too,
    runs in training mode: the same image then gives the same features in and out of record(). VGG has no
    dropout or batch norm, so training mode changes nothing else.

    With precision "bf16" the block is converted by MXNet's AMP (mxnet.contrib.amp) on its first call; AMP casts
    its outputs back to float32. fp16 on a CPU is refused: MXNet's AMP float16 needs a GPU.
    """
    if precision == "fp16" and net[0].weight.list_ctx()[0].device_type == "cpu":
        raise core.UserError("--precision fp16 needs a GPU with MXNet; on a CPU use bf16 or fp32")
    block = FeatureExtractor(net, layers.resolve_all(names))
    block.hybridize(static_alloc=True, static_shape=True)
    converted: list = []

    def run(X: nd.NDArray):
        if precision == "fp32":
            return block(X)
        if not converted:
            block(X)  # AMP converts the graph a first call has built
            from mxnet.contrib import amp

            target = {"bf16": "bfloat16", "fp16": "float16"}[precision]
            with warnings.catch_warnings():  # "Cannot decide type for ... data": AMP infers it from the call
                warnings.simplefilter("ignore", UserWarning)
                # its weights cast to bf16 once, not on every call
                amp_block = amp.convert_hybrid_block(block, target, ctx=X.context, cast_optional_params=True)
            amp_block.collect_params().setattr("grad_req", "null")  # AMP's copies would get weight gradients
            converted.append(amp_block)
        return converted[0](X)

    def extract(X: nd.NDArray) -> dict[str, nd.NDArray]:
        with autograd.train_mode():
            outputs = run(X)
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        return dict(zip(block.names, outputs, strict=True))

    extract.module = block
    extract.converted = converted  # bf16: AMP's block, once the first call has built it
    return extract
