"""VGG-19 ``features`` as a pure function of its parameters, and a jitted extractor that taps named layers."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .. import core

layers = core.layers
REDUCED = {"bf16": jnp.bfloat16, "fp16": jnp.float16}
NCHW = ("NCHW", "OIHW", "NCHW")


@dataclass(frozen=True)
class VGG:
    """VGG-19 layers 0..last: each layer's kind, and (weight, bias) arrays for the convolutions (None elsewhere).

    Frozen: nothing differentiates with respect to these arrays (a function closes over them, or takes them as an
    argument it is not differentiated by)."""

    kinds: tuple[str, ...]
    params: tuple[tuple[jax.Array, jax.Array] | None, ...]
    pooling: str

    def __len__(self) -> int:
        return len(self.kinds)


def build(
    arrays: Mapping[str, np.ndarray], last: core.layers.Layer, pooling: str, dtype: str, device: jax.Device
) -> VGG:
    """VGG-19 layers 0..last.index from 'features.N.*' arrays, in ``dtype`` on a device."""
    kinds, params = [], []
    for layer in layers.VGG19[: last.index + 1]:
        kinds.append(layer.kind)
        if layer.kind == "conv":
            w, b = (np.asarray(arrays[f"features.{layer.index}.{p}"]).astype(dtype) for p in ("weight", "bias"))
            params.append((jax.device_put(w, device), jax.device_put(b, device)))
        else:
            params.append(None)
    return VGG(tuple(kinds), tuple(params), pooling)


def conv(X: jax.Array, w: jax.Array, b: jax.Array, stride: int = 1) -> jax.Array:
    """A convolution with padding kernel // 2 and a bias, NCHW (torch's and Gluon's layout).

    float64 is computed as one matrix product of the shifted copies of the image (im2col): XLA's CPU float64
    convolution has no fast kernel and ran 30-80x slower than float32 (docs/porting.md, pitfall "float64
    convolutions"); its matrix product has one.
    """
    pad = w.shape[2] // 2
    if X.dtype != jnp.float64:
        Y = lax.conv_general_dilated(
            X, w, (stride, stride), ((pad, pad), (pad, pad)), dimension_numbers=NCHW, precision=lax.Precision.HIGHEST
        )
        return Y + b.reshape(1, -1, 1, 1)
    k, (h, width) = w.shape[2], X.shape[2:]
    padded = jnp.pad(X, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    rows, cols = (h + 2 * pad - k) // stride + 1, (width + 2 * pad - k) // stride + 1
    shifted = [
        padded[:, :, i : i + (rows - 1) * stride + 1 : stride, j : j + (cols - 1) * stride + 1 : stride]
        for i in range(k)
        for j in range(k)
    ]
    patches = jnp.stack(shifted, axis=2)  # (1, c, k k, rows, cols)
    Y = jnp.einsum("ncprs,ocp->nors", patches, w.reshape(w.shape[0], w.shape[1], k * k), precision="highest")
    return Y + b.reshape(1, -1, 1, 1)


def relu(X: jax.Array) -> jax.Array:
    """max(X, 0) with gradient 0 at 0, as torch's and MXNet's (jnp.maximum(X, 0)'s is 1/2 there)."""
    return jnp.where(X > 0, X, jnp.zeros((), X.dtype))


def pool(X: jax.Array, kind: str) -> jax.Array:
    """2x2 max or average pooling with stride 2.

    The initial values are numpy constants: under jit a jnp one is traced, lax.reduce_window then no longer sees a
    max (or sum) over windows but a general reduction, which cannot be differentiated inside jit."""
    window = (1, 1, 2, 2)
    if kind == "max":
        return lax.reduce_window(X, np.array(-np.inf, X.dtype), lax.max, window, window, "VALID")
    return lax.reduce_window(X, np.array(0, X.dtype), lax.add, window, window, "VALID") / 4


@functools.partial(jax.jit, static_argnames=("kinds", "pooling", "taps", "precision"))
def apply(
    params: tuple, X: jax.Array, kinds: tuple[str, ...], pooling: str, taps: tuple[int, ...], precision: str
) -> tuple[jax.Array, ...]:
    """The outputs of layers ``taps`` (in that order) for image X: one pass, stopped after the deepest tap."""
    if precision != "fp32":
        X = X.astype(REDUCED[precision])
        params = jax.tree_util.tree_map(lambda a: a.astype(REDUCED[precision]), params)
    outputs = {}
    for i in range(max(taps) + 1):
        if kinds[i] == "conv":
            X = conv(X, *params[i])
        elif kinds[i] == "relu":
            X = relu(X)
        else:
            X = pool(X, pooling)
        outputs[i] = X
    return tuple(outputs[i] if precision == "fp32" else outputs[i].astype(jnp.float32) for i in taps)


def feature_extractor(
    net: VGG, names: Sequence[str | int], precision: str = "fp32"
) -> Callable[[jax.Array], dict[str, jax.Array]]:
    """A callable image -> {name: output}: the jitted ``apply`` with the net's arrays, compiled once per shape.

    With precision "bf16" or "fp16" the network's arrays and the image are cast to it and the outputs come back as
    float32 (what torch's autocast and MXNet's AMP return); the Gram matrices and losses stay float32. On a CPU
    both are refused: XLA's CPU compiler (jaxlib 0.4.30) computes them in float32 and removes the roundings, so the
    run would be float32's numbers at float32's speed under another name (docs/porting.md, pitfall "bfloat16 on a CPU").
    """
    if precision != "fp32" and net.params[0][0].devices().pop().platform == "cpu":
        raise core.UserError(
            f"--precision {precision} with jax on a CPU: XLA computes it in float32 (same numbers, same speed); "
            "use --precision fp32, or torch or mxnet for bf16 on a CPU"
        )
    names = layers.resolve_all(names)
    found = layers.taps(names, len(net))
    index = {name: i for i, name in found.items()}
    taps = tuple(index[name] for name in names)

    def extract(X: jax.Array) -> dict[str, jax.Array]:
        outputs = apply(net.params, X, net.kinds, net.pooling, taps, precision)
        return dict(zip(names, outputs, strict=True))

    extract.module = net
    return extract
