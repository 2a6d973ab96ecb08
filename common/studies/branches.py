"""Where VGG-19's gradient is discontinuous: the branch taken at every ReLU and max-pool window, and images at
which two float32 backends take float64's branch everywhere (so their gradients can be compared)."""

from __future__ import annotations

import numpy as np

from ..core import layers
from ..core.interface import Backend


def branches(ops: Backend, pixels: np.ndarray, dtype: str, seed: int, upto: str = "conv5_1") -> dict[str, np.ndarray]:
    """The branch VGG-19 takes at every ReLU (input > 0) and max-pool window (which input is largest) up to a layer.

    The gradient is discontinuous where a ReLU input is 0 or two inputs of a pooling window are equal; near such
    a point, float32 rounding decides the branch, and one branch taken differently changes the gradient of every
    pixel below it by far more than rounding (a pitfall in docs/porting.md).
    """
    last = layers.resolve(upto)
    convs = [c for c in layers.CONV_LAYERS if c.index < last.index]  # followed by a ReLU inside the graph
    before_pools = [layers.VGG19[p.index - 1] for p in layers.VGG19 if p.kind == "pool" and p.index <= last.index]
    net = ops.vgg19("random", seed=seed, dtype=dtype, upto=last.name)
    names = [layer.name for layer in convs + before_pools]
    out = {k: ops.to_numpy(v) for k, v in ops.feature_extractor(net, names)(ops.to_tensor(pixels, dtype)).items()}
    pattern = {c.name: out[c.name] > 0 for c in convs}
    for layer in before_pools:
        a = out[layer.name][0]
        c, h, w = a.shape[0], a.shape[1] // 2, a.shape[2] // 2
        windows = a[:, : 2 * h, : 2 * w].reshape(c, h, 2, w, 2).transpose(0, 1, 3, 2, 4).reshape(c, h, w, 4)
        pattern[layer.name] = np.where(windows.max(axis=-1) > 0, windows.argmax(axis=-1), -1)
    return pattern


def same_branches(p: dict[str, np.ndarray], q: dict[str, np.ndarray]) -> bool:
    """Whether two branch patterns agree everywhere."""
    return all(np.array_equal(p[name], q[name]) for name in p)


def branch_stable_pixels(
    a: Backend, b: Backend, size: tuple[int, int], dtype: str, seed: int, tries: int = 20
) -> tuple[np.ndarray, int]:
    """Random pixels (and their index) at which both backends in ``dtype`` branch as float64 does everywhere."""
    for k in range(tries):
        pixels = np.random.default_rng([seed, 7, k]).integers(0, 256, (*size, 3), dtype=np.uint8)
        truth = branches(a, pixels, "float64", seed)
        if all(same_branches(branches(ops, pixels, dtype, seed), truth) for ops in (a, b)):
            return pixels, k
    return pixels, -1
