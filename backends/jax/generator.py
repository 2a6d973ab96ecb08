"""The HRNet photorealistic generator (arXiv 1904.11617) as a pure function of a dict of parameters, wired as the
document wires it, and a small holder that calls it with the current parameters."""

from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from .. import core
from .vgg import conv, relu

photoreal = core.hrnet
EPS = 1e-5  # torch's InstanceNorm2d default


def instance_norm(x: jax.Array) -> jax.Array:
    """InstanceNorm2d's defaults (no affine parameters, biased variance, eps 1e-5), computed in float64 and rounded
    once to x's dtype, as the other backends do (docs/porting.md, pitfall "float32 BatchNorm").

    In a float64 run the values are torch's CPU kernel's (each channel summed left to right, then x * a + b), about
    1e-14 from exact as torch's and MXNet's are, and the gradient the exact formula's: the recipe's lr amplifies
    any 1e-14 about 10x a step (docs/porting.md, pitfall "float64 instance norm")."""
    y = x.astype(jnp.float64)
    mean = jnp.mean(y, axis=(2, 3), keepdims=True)
    exact = (y - mean) / jnp.sqrt(jnp.mean(jnp.square(y - mean), axis=(2, 3), keepdims=True) + EPS)
    if x.dtype == jnp.float64:
        exact = exact + jax.lax.stop_gradient(torch_order_norm(jax.lax.stop_gradient(y)) - exact)
    return exact.astype(x.dtype)


def torch_order_norm(y: jax.Array) -> jax.Array:
    """Instance norm as torch's CPU batch-norm kernel computes it in float64: the mean and the sum of squared
    deviations of each channel summed left to right (a numpy callback: XLA's sums are pairwise), then y * a + b with
    a = 1 / sqrt(var + eps) and b = -mean * a. No gradient (the caller's exact formula gives it)."""
    n = y.shape[2] * y.shape[3]
    flat = y.reshape(-1, n)  # a row per image and channel
    mean = left_to_right_sums(flat) / n
    deviations = flat - mean[:, None]
    alpha = 1 / jnp.sqrt(left_to_right_sums(deviations * deviations) / n + EPS)
    return (flat * alpha[:, None] + (-(mean * alpha))[:, None]).reshape(y.shape)


def left_to_right_sums(rows: jax.Array) -> jax.Array:
    """Each row's sum, added left to right (np.add.accumulate), under jit by a host callback."""
    shape = jax.ShapeDtypeStruct(rows.shape[:1], rows.dtype)
    return jax.pure_callback(lambda r: np.add.accumulate(np.asarray(r), axis=1)[:, -1], shape, rows)


def layer(params: Mapping[str, jax.Array], prefix: str, x: jax.Array, stride: int = 1) -> jax.Array:
    """The convolution named ``prefix`` (padding kernel // 2)."""
    return conv(x, params[f"{prefix}.weight"], params[f"{prefix}.bias"], stride)


def bottleneck(params: Mapping[str, jax.Array], name: str, x: jax.Array) -> jax.Array:
    """1x1 to out/4, 3x3, 1x1 to out, each then instance norm and ReLU; plus the input, or its 1x1 conv + instance
    norm shortcut when the channel counts differ; then ReLU."""
    out = relu(instance_norm(layer(params, f"{name}.conv1", x)))
    out = relu(instance_norm(layer(params, f"{name}.conv2", out)))
    out = relu(instance_norm(layer(params, f"{name}.conv3", out)))
    residual = instance_norm(layer(params, f"{name}.shortcut", x)) if f"{name}.shortcut.weight" in params else x
    return relu(out + residual)


def block(params: Mapping[str, jax.Array], name: str, x: jax.Array) -> jax.Array:
    """One named block of common/core/hrnet.py: a Bottleneck or a plain (strided) 3x3 convolution."""
    b = photoreal.BY_NAME[name]
    return bottleneck(params, name, x) if b.kind == "bottleneck" else layer(params, name, x, b.stride)


def upsample(x: jax.Array, scale: int) -> jax.Array:
    """Bilinear upsampling by an integer factor that does not align corners (torch's F.interpolate default): output
    pixel k of each group of ``scale`` sits at offset d = (k + 0.5) / scale - 0.5 from its source pixel and blends it
    with the neighbour on that side (the edge pixel repeated at the borders, as torch clamps)."""
    return _upsample_axis(_upsample_axis(x, 3, scale), 2, scale)


def _upsample_axis(x: jax.Array, axis: int, scale: int) -> jax.Array:
    n = x.shape[axis]
    before = jnp.take(x, jnp.clip(jnp.arange(n) - 1, 0, n - 1), axis=axis)
    after = jnp.take(x, jnp.clip(jnp.arange(n) + 1, 0, n - 1), axis=axis)
    parts = []
    for k in range(scale):
        d = (k + 0.5) / scale - 0.5
        parts.append(x * (1 + d) - before * d if d < 0 else x * (1 - d) + after * d)
    interleaved = jnp.stack(parts, axis=axis + 1)
    shape = list(x.shape)
    shape[axis] *= scale
    return interleaved.reshape(shape)


@jax.jit
def apply(params: Mapping[str, jax.Array], x: jax.Array) -> jax.Array:
    """The generated image for input image x (sides divisible by 4): the document's HRNet.forward."""
    map1_1 = block(params, "layer1_1", x)
    map2_1 = block(params, "layer2_1", map1_1)
    map2_2 = block(params, "downsample2_1", map1_1)
    map3_1 = jnp.concatenate((block(params, "layer3_1", map2_1), upsample(map2_2, 2)), 1)
    map3_2 = jnp.concatenate((block(params, "downsample3_1", map2_1), block(params, "layer3_2", map2_2)), 1)
    map3_3 = jnp.concatenate((block(params, "downsample3_2", map2_1), block(params, "downsample3_3", map2_2)), 1)
    map4_1 = jnp.concatenate((block(params, "layer4_1", map3_1), upsample(map3_2, 2), upsample(map3_3, 4)), 1)
    out = block(params, "layer5_1", map4_1)
    out = block(params, "layer6_1", out)
    out = block(params, "layer7_1", out)
    return block(params, "layer8_1", out)


class Generator:
    """The generator's current parameters (a dict of arrays under canonical names) and ``apply`` over them; the
    trainer replaces ``params`` after each step (the parameters themselves are never changed in place)."""

    def __init__(self, params: dict[str, jax.Array]) -> None:
        self.params = params

    def apply(self, params: Mapping[str, jax.Array], x: jax.Array) -> jax.Array:
        """The generated image for x with the given parameters (what the trainer differentiates)."""
        if x.shape[0] != 1:
            raise ValueError(f"the generator takes one image at a time, not a batch of {x.shape[0]}")
        return apply(params, x)

    def __call__(self, x: jax.Array) -> jax.Array:
        """The generated image for x with the current parameters."""
        return self.apply(self.params, x)


def build(arrays: Mapping[str, np.ndarray], dtype: str, device: jax.Device) -> Generator:
    """A generator holding validated canonical arrays in ``dtype`` on a device."""
    return Generator({k: jax.device_put(np.asarray(v).astype(dtype), device) for k, v in arrays.items()})


def arrays(model: Generator) -> dict[str, np.ndarray]:
    """The generator's parameters as numpy arrays under their canonical names."""
    return {k: np.array(v) for k, v in model.params.items()}
